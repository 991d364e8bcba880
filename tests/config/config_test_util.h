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
#include "support/errors.h"
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

}  // namespace llmtune::test
