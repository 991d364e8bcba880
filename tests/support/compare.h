// Helpers for tests: tensor comparison against an oracle, and the shared-fixtures path.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace llmtune::test {

// max |a - b| / max |b|: the error relative to the reference tensor's scale. Elementwise
// relative error is meaningless where the reference crosses zero.
inline double max_rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return scale == 0 ? diff : diff / scale;
}

inline double max_rel_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(shape_str(a.shape()), shape_str(b.shape()));
  return max_rel_error(a.to_f32(), b.to_f32());
}

inline std::string shared_dir() {
  return LLMTUNE_SHARED_DIR;
}

// Skips the current test, saying why, when the shared fixtures are absent.
#define LLMTUNE_REQUIRE_SHARED(path)                                                       \
  do {                                                                                     \
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture " << (path) << " absent"; \
  } while (0)

}  // namespace llmtune::test
