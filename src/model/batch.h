// A batch of token sequences as the data pipeline hands it to the model (host memory).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace llmtune::model {

// Positions of one row with a next-token target: labels[t + 1] != -100.
int64_t count_targets(std::span<const int32_t> labels);

struct Batch {
  int64_t batch = 0;               // B rows
  int64_t seq = 0;                 // T tokens per row
  std::vector<int32_t> input_ids;  // (B, T)
  // Hugging Face convention: labels[b][t] is the token at t (the model shifts by one), -100
  // where no loss is taken. Empty: no labels (logits only).
  std::vector<int32_t> labels;          // (B, T)
  std::vector<int32_t> attention_mask;  // (B, T): 1 real token, 0 padding; empty: all 1
  std::vector<int32_t> position_ids;    // (B, T); empty: 0..T-1 in every row, as Transformers

  // Throws llmtune::Error when the vectors do not match batch x seq.
  void validate() const;
  // Positions with a next-token target: labels[b][t + 1] != -100.
  int64_t count_targets() const;
};

}  // namespace llmtune::model
