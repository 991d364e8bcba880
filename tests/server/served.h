// The dashboard tests' server: a Dashboard over a runs directory on a free loopback port,
// serving from a thread, and an HTTP client for it (cpp-httplib's, a real one over TCP).
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "server/http.h"

namespace llmtune::test {

// The store the server_store fixture fills (tests/server/make_store.cpp).
inline std::string fixture_dir() {
  return LLMTUNE_SERVER_STORE;
}

class Served {
 public:
  explicit Served(const std::string& runs) : dashboard_(options(runs)) {
    port_ = dashboard_.bind();
    thread_ = std::thread([this] { dashboard_.run(); });
    while (!dashboard_.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Served() {
    dashboard_.stop();
    thread_.join();
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60);
    return c;
  }
  // GET path: the response, which must have come.
  httplib::Response get(const std::string& path, const httplib::Headers& headers = {}) const {
    httplib::Client c = client();
    httplib::Result r = c.Get(path, headers);
    EXPECT_TRUE(r) << path << ": " << httplib::to_string(r.error());
    return r ? r.value() : httplib::Response();
  }
  // GET path answered 200 with JSON: the JSON.
  nlohmann::json json(const std::string& path) const {
    const httplib::Response r = get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(r.get_header_value("Content-Type"), "application/json") << path;
    return nlohmann::json::parse(r.body);
  }
  int port() const { return port_; }

 private:
  static server::ServeOptions options(const std::string& runs) {
    server::ServeOptions o;
    o.runs = runs;
    o.port = 0;
    return o;
  }

  server::Dashboard dashboard_;
  int port_ = 0;
  std::thread thread_;
};

// Skips the test, saying why, when the fixture's store was not made (no shared tokenizer).
#define LLMTUNE_NEEDS_FIXTURE_STORE()                                                \
  if (!std::filesystem::exists(::llmtune::test::fixture_dir() + "/runs/llmtune.db")) \
  GTEST_SKIP() << "no fixture store at " << ::llmtune::test::fixture_dir()           \
               << "/runs (the server_store test makes it; it needs the shared tokenizer)"

}  // namespace llmtune::test
