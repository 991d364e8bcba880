// The tests' tiny Llama: 2 layers, hidden 32, 4 query heads and 2 key/value heads of 8,
// intermediate 48, with the vocabulary and initializer range a test needs.
#pragma once

#include <cstdint>

#include "model/config.h"

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

}  // namespace llmtune::test
