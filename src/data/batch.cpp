#include "data/batch.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/philox.h"

namespace llmtune::data {

namespace {

std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const PhiloxStream rng(seed, philox_stream(0x6261746368, epoch));  // "batch"
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t r = (static_cast<uint64_t>(rng.bits(2 * i)) << 32) | rng.bits(2 * i + 1);
    std::swap(order[i], order[static_cast<int64_t>(r % static_cast<uint64_t>(i + 1))]);
  }
  return order;
}

}  // namespace

std::vector<std::vector<int64_t>> batch_order(const std::vector<int64_t>& lengths,
                                              const BatchOptions& o) {
  if (o.batch_size < 1) throw Error(str("batch size must be at least 1, got ", o.batch_size));
  const int64_t n = static_cast<int64_t>(lengths.size());
  std::vector<int64_t> order;
  if (o.shuffle) {
    order = permutation(n, o.seed, o.epoch);
  } else {
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
  }
  if (o.group_by_length) {
    const int64_t mega = 50 * o.batch_size;
    for (int64_t b = 0; b < n; b += mega) {
      auto first = order.begin() + b, last = order.begin() + std::min(n, b + mega);
      std::stable_sort(first, last, [&](int64_t x, int64_t y) { return lengths[x] > lengths[y]; });
    }
  }
  std::vector<std::vector<int64_t>> batches;
  for (int64_t b = 0; b < n; b += o.batch_size) {
    if (o.drop_last && b + o.batch_size > n) break;
    batches.emplace_back(order.begin() + b, order.begin() + std::min(n, b + o.batch_size));
  }
  return batches;
}

model::Batch make_batch(const std::vector<Sample>& samples, const std::vector<int64_t>& indices,
                        int32_t pad_id) {
  if (indices.empty()) throw Error("a batch needs at least one sample");
  int64_t t = 0;
  for (int64_t i : indices)
    t = std::max<int64_t>(t, static_cast<int64_t>(samples.at(i).input_ids.size()));
  model::Batch b;
  b.batch = static_cast<int64_t>(indices.size());
  b.seq = t;
  b.input_ids.assign(static_cast<size_t>(b.batch * t), pad_id);
  b.labels.assign(static_cast<size_t>(b.batch * t), -100);
  b.attention_mask.assign(static_cast<size_t>(b.batch * t), 0);
  for (int64_t row = 0; row < b.batch; ++row) {
    const Sample& s = samples[indices[row]];
    std::copy(s.input_ids.begin(), s.input_ids.end(), b.input_ids.begin() + row * t);
    std::copy(s.labels.begin(), s.labels.end(), b.labels.begin() + row * t);
    std::fill_n(b.attention_mask.begin() + row * t, s.input_ids.size(), 1);
  }
  return b;
}

PaddingReport padding_report(const std::vector<int64_t>& lengths, const BatchOptions& o) {
  PaddingReport r;
  r.padded_lengths.assign(lengths.size(), 0);
  for (const std::vector<int64_t>& batch : batch_order(lengths, o)) {
    int64_t longest = 0;
    for (int64_t i : batch) longest = std::max(longest, lengths[i]);
    for (int64_t i : batch) {
      r.real_tokens += lengths[i];
      r.padded_lengths[i] = longest;
    }
    r.padded_tokens += longest * static_cast<int64_t>(batch.size());
    ++r.batches;
  }
  return r;
}

}  // namespace llmtune::data
