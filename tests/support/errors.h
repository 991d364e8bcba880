// Checks of thrown error messages: a user-caused problem must be an llmtune::Error that says
// what is wrong, never an internal check failure or another exception.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace llmtune::test {

// Success when `fn` throws llmtune::Error whose message holds every one of `parts` and is not
// an internal check failure (a user-caused problem must be reported as such).
inline ::testing::AssertionResult throws_error(const std::function<void()>& fn,
                                               const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const InternalError& e) {
    return ::testing::AssertionFailure() << "an internal check failed: " << e.what();
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.find("internal error") != std::string::npos) {
      return ::testing::AssertionFailure() << "reported as an internal check failure: " << msg;
    }
    for (const std::string& p : parts) {
      if (msg.find(p) == std::string::npos) {
        return ::testing::AssertionFailure() << "message \"" << msg << "\" lacks \"" << p << "\"";
      }
    }
    return ::testing::AssertionSuccess() << msg;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-llmtune exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// The config tests' name for the same check.
inline ::testing::AssertionResult error_with(const std::function<void()>& fn,
                                             const std::vector<std::string>& parts) {
  return throws_error(fn, parts);
}

}  // namespace llmtune::test
