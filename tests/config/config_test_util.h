// Helpers shared by the config tests: files in a scratch directory, the reference configs'
// folder, and checks of thrown error messages.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "support/compare.h"
#include "support/scratch.h"

namespace llmtune::test {

inline std::string write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

// The reference repository's lora.yaml, deepspeed.yaml and ds_config_*.json.
inline std::string reference_configs() {
  return shared_dir() + "/fixtures/reference-configs";
}

// Success when `fn` throws llmtune::Error holding every one of `parts`.
inline ::testing::AssertionResult error_with(const std::function<void()>& fn,
                                             const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const InternalError& e) {
    return ::testing::AssertionFailure() << "an internal check failed: " << e.what();
  } catch (const Error& e) {
    const std::string msg = e.what();
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

}  // namespace llmtune::test
