// The tests' tiny Llama: 2 layers, hidden 32, 4 query heads and 2 key/value heads of 8,
// intermediate 48, with the vocabulary and initializer range a test needs; and non-zero LoRA B
// weights for tests whose adapter must change the logits; and training samples for it.
#pragma once

#include <cstdint>
#include <vector>

#include "core/philox.h"
#include "data/format.h"
#include "model/config.h"
#include "model/llama.h"

namespace llmtune::test {

inline model::ModelConfig tiny_llama(int64_t vocab_size, double initializer_range) {
  model::ModelConfig c;
  c.vocab_size = vocab_size;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.initializer_range = initializer_range;
  return c;
}

// Fills every LoRA B weight of `m` with normal(0, stddev) values, the k-th B from Philox stream
// (seed, k): PEFT initializes B to zero, so an untrained adapter would change nothing.
inline void lora_b_randomize(model::LlamaModel& m, uint64_t seed, float stddev) {
  uint64_t k = 0;
  for (model::ParamRef& p : m.parameters()) {
    if (!p.name.ends_with("lora_B.weight")) continue;
    std::vector<float> v(static_cast<size_t>(p.value->numel()));
    PhiloxStream(seed, k++).fill_normal(v.data(), v.size(), 0.0f, stddev);
    p.value->copy_(Tensor::from_f32(v, p.value->shape()));
  }
}

// n samples of 6 .. 5 + spread tokens below 64 whose second half is labelled, drawn from
// Philox stream (seed, 3).
inline std::vector<data::Sample> labelled_samples(int64_t n, uint64_t seed, int64_t spread) {
  std::vector<data::Sample> out;
  PhiloxStream rng(seed, 3);
  for (int64_t i = 0; i < n; ++i) {
    data::Sample s;
    const int64_t len = 6 + static_cast<int64_t>(rng.bits(2 * i) % static_cast<uint64_t>(spread));
    for (int64_t t = 0; t < len; ++t) {
      const int32_t id = static_cast<int32_t>(rng.bits(1000 + i * 64 + t) % 64);
      s.input_ids.push_back(id);
      s.labels.push_back(t >= len / 2 ? id : -100);
    }
    s.prompt_length = len / 2;
    s.full_length = len;
    out.push_back(s);
  }
  return out;
}

}  // namespace llmtune::test
