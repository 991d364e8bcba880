// Branch-free float math that the compiler vectorizes inside `#pragma omp simd` loops.
#pragma once

#include <cstdint>
#include <cstring>

namespace llmtune::cpu {

// exp(x) within 2 ulp of std::exp on [-87.3, 88.3] (Cephes' expf polynomial after reducing
// x = n ln2 + r, |r| <= ln2/2); 0 below that range, including -inf; inputs are never NaN here.
inline float exp_fast(float x) {
  const float xc = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (xc * 1.44269504088896341f + shifter) - shifter;
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return x < -87.3f ? 0.0f : p * scale;
}

inline float sigmoid_fast(float x) {
  return 1.0f / (1.0f + exp_fast(-x));
}

}  // namespace llmtune::cpu
