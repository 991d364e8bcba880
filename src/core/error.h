// Errors. A user-caused problem (bad file, bad config, bad data) throws llmtune::Error with
// what went wrong, where (file:line or key path) and what to do about it. Broken internal
// invariants fail LLMTUNE_CHECK, which also throws, so tests can observe them.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace llmtune {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A broken internal invariant (LLMTUNE_CHECK): a bug in llmtune, not in the user's input.
class InternalError : public Error {
 public:
  explicit InternalError(const std::string& message) : Error(message) {}
};

// Concatenates any streamable values into one string: str("tensor ", name, " has ", n, " dims").
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

[[noreturn]] void throw_check_failure(const char* cond, const char* file, int line,
                                      const std::string& message);

}  // namespace llmtune

#define LLMTUNE_CHECK(cond, ...)                                                              \
  do {                                                                                        \
    if (!(cond)) [[unlikely]]                                                                 \
      ::llmtune::throw_check_failure(#cond, __FILE__, __LINE__, ::llmtune::str(__VA_ARGS__)); \
  } while (0)
