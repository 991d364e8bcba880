// Reading the PyTorch oracle's data.safetensors (tests/reference/README.md) into batches.
#pragma once

#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/batch.h"

namespace llmtune::test {

// The batch stored under `prefix` ("" for the single batch, "train." for the training stream,
// whose tensors are (steps, micro-batches, rows, T)): micro-batch `index` counting over the
// leading dimensions.
inline model::Batch reference_batch(const io::SafetensorsFile& data, const std::string& prefix,
                                    int64_t index = 0) {
  const Tensor ids = data.tensor(prefix + "input_ids");
  const int64_t t = ids.size(-1), rows = ids.size(-2), per = rows * t;
  auto slice = [&](const std::string& name) {  // attention_mask and labels are optional
    if (!data.find(prefix + name)) return std::vector<int32_t>{};
    const std::vector<int32_t> all = data.tensor(prefix + name).to_i32();
    return std::vector<int32_t>(all.begin() + index * per, all.begin() + (index + 1) * per);
  };
  model::Batch b;
  b.batch = rows;
  b.seq = t;
  b.input_ids = slice("input_ids");
  b.attention_mask = slice("attention_mask");
  b.labels = slice("labels");
  return b;
}

}  // namespace llmtune::test
