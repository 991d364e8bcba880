// Shared by the benchmarks: the median of timings, and a peer program driven line by line over
// pipes: benchmarks start it once, then alternate their own measurements with its replies.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"

namespace llmtune::bench {

// The median of a set of timings (the upper one of an even count; 0 when there are none).
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

class Peer {
 public:
  // Runs argv[0] with argv (env: extra NAME=VALUE settings) and waits for its "ready" line.
  Peer(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
    int to[2], from[2];
    if (pipe(to) != 0 || pipe(from) != 0) throw Error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(to[0], 0);
      dup2(from[1], 1);
      close(to[1]);
      close(from[0]);
      for (const std::string& kv : env) putenv(const_cast<char*>(kv.c_str()));
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      std::perror("execv");
      _exit(127);
    }
    close(to[0]);
    close(from[1]);
    in_ = fdopen(to[1], "w");
    out_ = fdopen(from[0], "r");
    if (read_line() != "ready") throw Error(str(argv.at(1), " did not start (see its stderr)"));
  }
  ~Peer() {
    std::fputs("quit\n", in_);
    std::fflush(in_);
    std::fclose(in_);
    std::fclose(out_);
    waitpid(pid_, nullptr, 0);
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // Sends one command line and returns the reply line.
  std::string ask(const std::string& command) {
    std::fprintf(in_, "%s\n", command.c_str());
    std::fflush(in_);
    return read_line();
  }

 private:
  std::string read_line() {
    char buf[512];
    if (!std::fgets(buf, sizeof buf, out_)) throw Error("the peer process stopped");
    std::string s(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }

  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  FILE* out_ = nullptr;
};

}  // namespace llmtune::bench
