#include "core/philox.h"

#include <cmath>

namespace llmtune {

namespace {

// Calls f(i, block, j) for i in [0, n), where word offset + i is word j of `block`: one Philox
// block per 4 consecutive words.
template <typename F>
void for_each_word(const PhiloxStream& rng, size_t n, uint64_t offset, F&& f) {
  const uint64_t first = offset >> 2, last = (offset + n + 3) >> 2;  // blocks touched
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (uint64_t b = first; b < last; ++b) {
    const PhiloxCounter w = rng.block(b);
    for (int j = 0; j < 4; ++j) {
      const uint64_t k = 4 * b + j;
      if (k >= offset && k < offset + n) f(static_cast<size_t>(k - offset), w, j);
    }
  }
}

}  // namespace

void PhiloxStream::fill_uniform(float* dst, size_t n, float lo, float hi, uint64_t offset) const {
  const float scale = hi - lo;
  for_each_word(*this, n, offset, [&](size_t i, const PhiloxCounter& w, int j) {
    dst[i] = lo + scale * to_unit(w[j]);
  });
}

void PhiloxStream::fill_normal(float* dst, size_t n, float mean, float std, uint64_t offset) const {
  // Words (2m, 2m+1) form one Box-Muller pair: element 2m takes the cosine, 2m+1 the sine.
  constexpr double kTwoPi = 6.283185307179586;
  for_each_word(*this, n, offset, [&](size_t i, const PhiloxCounter& w, int j) {
    const int p = j & ~1;
    const double u1 = (static_cast<double>(w[p] >> 8) + 1.0) / 16777217.0;  // (0, 1)
    const double u2 = static_cast<double>(w[p + 1] >> 8) / 16777216.0;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double z = (j & 1) ? r * std::sin(kTwoPi * u2) : r * std::cos(kTwoPi * u2);
    dst[i] = mean + std * static_cast<float>(z);
  });
}

}  // namespace llmtune
