// The dashboard's HTTP server (cpp-httplib): the JSON API of server/api.h and the pages of web/,
// which are built into the program. Safe by default: GET and HEAD only, the store read-only,
// nothing served from the file system but the files the store names (configs, trial logs),
// bounded requests, a Host check against DNS rebinding while bound to loopback, and a Content
// Security Policy that allows only the built-in scripts.
#pragma once

#include <memory>
#include <string>

namespace llmtune::server {

struct ServeOptions {
  std::string runs = "runs";       // the store is track::store_path(runs): runs/llmtune.db
  std::string host = "127.0.0.1";  // the address to bind
  int port = 8080;                 // 0: any free port
  int threads = 8;                 // requests served at once
};

class Dashboard {
 public:
  // Opens the store read-only: throws llmtune::Error when it is missing or not a store.
  explicit Dashboard(const ServeOptions& options);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // Binds the address; returns the port (the one chosen when options.port is 0). Throws
  // llmtune::Error when the address cannot be had.
  int bind();
  // Serves until stop() (from another thread or a signal handler's thread).
  void run();
  void stop();
  bool running() const;  // run() is accepting connections
  // "http://127.0.0.1:8080/" once bound.
  std::string url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True for addresses that only this machine reaches: 127.0.0.0/8, ::1, localhost.
bool is_loopback(const std::string& host);

}  // namespace llmtune::server
