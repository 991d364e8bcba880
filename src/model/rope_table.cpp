#include "model/rope_table.h"

#include <cmath>
#include <numbers>

namespace llmtune::model {

std::vector<float> rope_inv_freq(const ModelConfig& c, int64_t seq_len) {
  const int64_t d = c.head_dim, half = d / 2;
  const RopeScaling& s = c.rope_scaling;
  double base = c.rope_theta;
  if (s.type == RopeScaling::Type::kDynamic && seq_len > c.max_position_embeddings) {
    const double f = s.factor;
    base *= std::pow(f * static_cast<double>(seq_len) / c.max_position_embeddings - (f - 1.0),
                     static_cast<double>(d) / static_cast<double>(d - 2));
  }
  std::vector<float> inv(static_cast<size_t>(half));
  const float base_f = static_cast<float>(base);
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(d);
    inv[i] = 1.0f / std::pow(base_f, exponent);
  }
  if (s.type == RopeScaling::Type::kLlama3) {
    const double old_len = static_cast<double>(s.original_max_position_embeddings);
    const double low_wavelen = old_len / s.low_freq_factor;
    const double high_wavelen = old_len / s.high_freq_factor;
    for (float& f : inv) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f = static_cast<float>(f / s.factor);
      } else if (wavelen >= high_wavelen) {  // between the two: interpolate
        const double smooth =
            (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = static_cast<float>((1.0 - smooth) * f / s.factor + smooth * f);
      }
    }
  }
  return inv;
}

void rope_tables(const ModelConfig& c, int64_t seq_len, int64_t positions, std::vector<float>* cos,
                 std::vector<float>* sin) {
  const std::vector<float> inv = rope_inv_freq(c, seq_len);
  const int64_t half = static_cast<int64_t>(inv.size());
  const float pos_scale = c.rope_scaling.type == RopeScaling::Type::kLinear
                              ? static_cast<float>(c.rope_scaling.factor)
                              : 1.0f;
  cos->resize(static_cast<size_t>(positions * half));
  sin->resize(static_cast<size_t>(positions * half));
  for (int64_t p = 0; p < positions; ++p) {
    const float t = static_cast<float>(p) / pos_scale;
    for (int64_t i = 0; i < half; ++i) {
      const float angle = t * inv[i];
      (*cos)[p * half + i] = static_cast<float>(std::cos(static_cast<double>(angle)));
      (*sin)[p * half + i] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
  }
}

}  // namespace llmtune::model
