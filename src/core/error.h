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

// Memory that could not be had: what was being allocated, how much, and (through Activity)
// what for. Reported to the user as a resource problem, not a bug.
class OutOfMemory : public Error {
 public:
  explicit OutOfMemory(const std::string& message) : Error(message) {}
};

// Concatenates any streamable values into one string: str("tensor ", name, " has ", n, " dims").
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// Names what the program is doing while it lives ("loading model runs/base"), nested scopes
// joined by ": ". Failures that cannot say it themselves (out of memory deep inside a library)
// report activity_describe() so the user learns what was being done and why.
class Activity {
 public:
  explicit Activity(std::string what);
  ~Activity();
  Activity(const Activity&) = delete;
  Activity& operator=(const Activity&) = delete;

 private:
  int uncaught_;  // exceptions in flight when it began: more at its end means it failed
};
// The live activities of this thread, outermost first; "" when there is none.
std::string activity_describe();
// What this thread was doing when an exception last unwound an Activity (the innermost one and
// those around it), for the handler at the top that catches it after the scopes are gone.
std::string activity_at_failure();

[[noreturn]] void throw_check_failure(const char* cond, const char* file, int line,
                                      const std::string& message);

}  // namespace llmtune

#define LLMTUNE_CHECK(cond, ...)                                                              \
  do {                                                                                        \
    if (!(cond)) [[unlikely]]                                                                 \
      ::llmtune::throw_check_failure(#cond, __FILE__, __LINE__, ::llmtune::str(__VA_ARGS__)); \
  } while (0)
