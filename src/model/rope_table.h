// Rotary-embedding tables computed the way Transformers computes them (fp32 inverse
// frequencies, rope_theta, and the linear, dynamic-NTK and Llama 3 rope_scaling variants).
#pragma once

#include <vector>

#include "model/config.h"

namespace llmtune::model {

// inv_freq[i] for i < head_dim / 2, in fp32 as Transformers computes it, for a forward pass
// over `seq_len` tokens (only dynamic scaling depends on it).
std::vector<float> rope_inv_freq(const ModelConfig& config, int64_t seq_len);

// cos and sin tables (positions, head_dim / 2), row p holding angle p * inv_freq[i]
// (linear scaling divides p by the factor first, as Transformers 4.37 does).
void rope_tables(const ModelConfig& config, int64_t seq_len, int64_t positions,
                 std::vector<float>* cos, std::vector<float>* sin);

}  // namespace llmtune::model
