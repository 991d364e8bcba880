// Text generation with a key/value cache: batched prompts of different lengths, greedy or
// sampled (temperature, top-k, top-p), stopping at EOS, at caller-defined stops, or at a length.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/llama.h"

namespace llmtune::model {

struct SamplingOptions {
  int64_t max_new_tokens = 128;
  double temperature = 0.0;       // 0: greedy (argmax, lowest id on ties)
  int64_t top_k = 0;              // 0: off
  double top_p = 1.0;             // 1: off
  uint64_t seed = 0;              // samples of row r at step s come from Philox (seed, r, s)
  std::vector<int32_t> stop_ids;  // tokens that end a row (EOS); the stop token is kept
};

// Throws llmtune::Error naming the setting when options are out of range (a NaN or negative
// temperature, top_p outside (0, 1], a negative top_k, max_new_tokens < 1).
void sampling_check(const SamplingOptions& o);

struct Generation {
  std::vector<int32_t> tokens;  // generated, after the prompt
  std::string finish;           // "stop_id", "stop" (the callback), "length"
};

struct GenerationStats {
  int64_t prompt_tokens = 0, generated_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

// Returns true when row `row` should stop after `generated` (checked after every token).
using StopCheck = std::function<bool(size_t row, const std::vector<int32_t>& generated)>;

std::vector<Generation> generate(LlamaModel& model,
                                 const std::vector<std::vector<int32_t>>& prompts,
                                 const SamplingOptions& options, const StopCheck& stop = {},
                                 GenerationStats* stats = nullptr);

// The next token from logits (V) under the options: argmax when temperature is 0, else a sample
// after temperature, top-k and top-p (Transformers' order), drawn with `uniform` in [0, 1).
int32_t sample_token(std::vector<float> logits, const SamplingOptions& options, float uniform);

}  // namespace llmtune::model
