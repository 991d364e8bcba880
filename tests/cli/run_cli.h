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

// `program args`, through the shell.
inline CliResult run_llmtune_with(const std::string& program, const std::string& args) {
  CliResult r{-1, ""};
  FILE* p = popen((program + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// `n` text-to-SQL records as JSON Lines, each of the easy subset's length.
inline std::string easy_rows(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s +=
        R"x({"instruction": "How many heads are older than )x" + std::to_string(i) +
        R"x( ?", "input": "CREATE TABLE head (age INTEGER)", "response": "SELECT COUNT(*) FROM head WHERE age > )x" +
        std::to_string(i) + "\"}\n";
  }
  return s;
}

inline CliResult run_llmtune(const std::string& args) {
  return run_llmtune_with(LLMTUNE_CLI, args);
}

#ifdef LLMTUNE_MPIEXEC
// The same under `mpirun -np N` (oversubscribed, and allowed as root as CI containers run).
inline CliResult run_llmtune_mpi(int np, const std::string& args) {
  return run_llmtune_with(std::string(LLMTUNE_MPIEXEC) +
                              " --oversubscribe --allow-run-as-root -np " + std::to_string(np) +
                              " " + LLMTUNE_CLI,
                          args);
}
#endif

}  // namespace llmtune::test
