// Runs the llmtune program as a user would, capturing what it prints and its exit code.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace llmtune::test {

struct CliResult {
  int code;
  std::string output;  // stdout and stderr
};

inline CliResult run_llmtune(const std::string& args) {
  CliResult r{-1, ""};
  FILE* p = popen((std::string(LLMTUNE_CLI) + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace llmtune::test
