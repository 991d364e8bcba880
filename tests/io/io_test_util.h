// Helpers shared by the io tests: a scratch directory per test, checks of thrown error
// messages, bit-exact tensor comparison, raw safetensors bytes for malformed files, and edits
// of saved safetensors files.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "io/safetensors.h"
#include "support/errors.h"
#include "support/scratch.h"

namespace llmtune::test {

// The tensor's bytes, as stored.
inline std::string tensor_bytes(const Tensor& t) {
  std::string out(t.nbytes(), '\0');
  t.copy_to_host(out.data());
  return out;
}

// Success when both tensors have the same dtype, shape and bytes.
inline ::testing::AssertionResult bit_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) {
    return ::testing::AssertionFailure() << a.str() << " vs " << b.str();
  }
  const std::string x = tensor_bytes(a), y = tensor_bytes(b);
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] != y[i]) {
      return ::testing::AssertionFailure() << a.str() << ": first difference at byte " << i;
    }
  }
  return ::testing::AssertionSuccess();
}

// A safetensors file from a header (used as given, unpadded) and a data buffer.
inline std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}

// Rewrites a safetensors file with `edit` applied to its tensors (copied out of the mapping).
inline void rewrite(const std::string& path, const std::function<void(io::NamedTensors&)>& edit) {
  io::NamedTensors tensors;
  {
    const auto file = io::SafetensorsFile::open(path);
    for (const io::SafetensorsEntry& e : file->entries()) {
      tensors.emplace_back(e.name, file->tensor(e.name).clone());
    }
  }
  edit(tensors);
  io::safetensors_write(path, tensors);
}

inline Tensor* find_tensor(io::NamedTensors& tensors, const std::string& name) {
  for (auto& [n, t] : tensors) {
    if (n == name) return &t;
  }
  ADD_FAILURE() << "no tensor " << name;
  return nullptr;
}

}  // namespace llmtune::test
