#include "core/philox.h"

#include <cmath>

namespace llmtune {

void PhiloxStream::fill_uniform(float* dst, size_t n, float lo, float hi, uint64_t offset) const {
  const float scale = hi - lo;
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (size_t i = 0; i < n; ++i) dst[i] = lo + scale * uniform(offset + i);
}

void PhiloxStream::fill_normal(float* dst, size_t n, float mean, float std, uint64_t offset) const {
  constexpr double kTwoPi = 6.283185307179586;
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (size_t i = 0; i < n; ++i) {
    // Element i uses the pair (2k, 2k+1) with k = (offset + i) / 2: cosine for even, sine for odd.
    const uint64_t j = offset + i;
    const uint64_t pair = j & ~uint64_t{1};
    const double u1 = (static_cast<double>(bits(pair) >> 8) + 1.0) / 16777217.0;  // (0, 1)
    const double u2 = static_cast<double>(bits(pair + 1) >> 8) / 16777216.0;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double z = (j & 1) ? r * std::sin(kTwoPi * u2) : r * std::cos(kTwoPi * u2);
    dst[i] = mean + std * static_cast<float>(z);
  }
}

}  // namespace llmtune
