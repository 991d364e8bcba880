// Batches of samples, padded on the right to the longest sample of the batch (as
// DataCollatorForLanguageModeling pads), with optional length-grouped order.
#pragma once

#include <cstdint>
#include <vector>

#include "data/format.h"
#include "model/batch.h"

namespace llmtune::data {

struct BatchOptions {
  int64_t batch_size = 4;
  int32_t pad_id = 0;   // any id: padding is masked by attention_mask, not by this id
  bool shuffle = true;  // a Philox permutation keyed by (seed, epoch)
  uint64_t seed = 123;
  uint64_t epoch = 0;
  // Transformers' group_by_length: shuffled megabatches of 50 batches, each sorted by length
  // (longest first), so that a batch holds similar lengths and pads less.
  bool group_by_length = false;
  bool drop_last = false;
};

// The order in which samples go into batches: each inner vector is one batch's sample indices.
std::vector<std::vector<int64_t>> batch_order(const std::vector<int64_t>& lengths,
                                              const BatchOptions& options);

// Pads one batch: input_ids with pad_id, attention_mask 0 and labels -100 on the padding.
model::Batch make_batch(const std::vector<Sample>& samples, const std::vector<int64_t>& indices,
                        int32_t pad_id);

struct PaddingReport {
  int64_t batches = 0;
  int64_t real_tokens = 0;
  int64_t padded_tokens = 0;            // tokens after padding, real ones included
  std::vector<int64_t> padded_lengths;  // per sample: the length of its padded batch row
  double padding_fraction() const {
    return padded_tokens == 0 ? 0.0 : 1.0 - static_cast<double>(real_tokens) / padded_tokens;
  }
};

// What batching `lengths` this way costs in padding.
PaddingReport padding_report(const std::vector<int64_t>& lengths, const BatchOptions& options);

}  // namespace llmtune::data
