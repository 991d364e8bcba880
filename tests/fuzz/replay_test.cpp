// Every fuzz target's seeds and regression inputs, replayed through the target function: each
// must end in llmtune::Error or success, never another exception (or, in the sanitizer build,
// a report). A file in tests/fuzz_regressions/<target>/ is an input that once crashed it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz/targets.h"

namespace llmtune::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs_of(const std::string& target) {
  std::vector<fs::path> files;
  for (const char* root : {LLMTUNE_FUZZ_SEEDS, LLMTUNE_FUZZ_REGRESSIONS}) {
    const fs::path dir = fs::path(root) / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class FuzzReplay : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzReplay, SeedsAndRegressionsEndInErrorOrSuccess) {
  const Target& target = GetParam();
  const std::vector<fs::path> files = inputs_of(target.name);
  for (const fs::path& file : files) {
    const std::string bytes = bytes_of(file);
    try {
      target.fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      ADD_FAILURE() << file << ": " << e.what();
    }
  }
  // The seed corpus of every target has inputs (fuzz_seeds wrote them).
  EXPECT_FALSE(files.empty()) << "no inputs for " << target.name;
}

TEST(FuzzTargets, EmptyAndOneByteInputsEndInErrorOrSuccess) {
  for (const Target& target : fuzz_targets()) {
    for (const std::string& bytes : {std::string(), std::string("{"), std::string(1, '\0')}) {
      EXPECT_NO_THROW(target.fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()))
          << target.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(fuzz_targets()),
                         [](const ::testing::TestParamInfo<Target>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace llmtune::fuzz
