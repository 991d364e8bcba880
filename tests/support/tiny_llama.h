// The tests' tiny Llama: 2 layers, hidden 32, 4 query heads and 2 key/value heads of 8,
// intermediate 48, with the vocabulary and initializer range a test needs; and non-zero LoRA B
// weights for tests whose adapter must change the logits.
#pragma once

#include <cstdint>
#include <vector>

#include "core/philox.h"
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

}  // namespace llmtune::test
