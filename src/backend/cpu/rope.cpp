#include "backend/cpu/cpu_backend.h"
#include "core/error.h"

namespace llmtune::cpu {

void CpuBackend::rope(Tensor& x, const Tensor& cos, const Tensor& sin, const Tensor& positions,
                      bool inverse) {
  check_f32(x, "rope x");
  check_f32(cos, "rope cos");
  check_f32(sin, "rope sin");
  LLMTUNE_CHECK(x.dim() == 4, "rope x must be (B, T, H, D): ", x.str());
  const int64_t b = x.size(0), t = x.size(1), h = x.size(2), d = x.size(3), half = d / 2;
  LLMTUNE_CHECK(d % 2 == 0 && cos.size(1) == half && cos.shape() == sin.shape(), "rope tables ",
                cos.str(), " for head dim ", d);
  LLMTUNE_CHECK(positions.dtype() == DType::I32 && positions.numel() == b * t, "rope positions ",
                positions.str());
  const int32_t* pos = positions.data<int32_t>();
  const int64_t table = cos.size(0);
  for (int64_t i = 0; i < b * t; ++i) {
    if (pos[i] < 0 || pos[i] >= table) {
      throw Error(str("position id ", pos[i], " is outside the rotary table [0, ", table,
                      "); raise max_position_embeddings or shorten the sequence"));
    }
  }
  const float* cp = cos.data<float>();
  const float* sp = sin.data<float>();
  float* xp = x.data<float>();
  const float sign = inverse ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < b * t; ++i) {
    const float* c = cp + pos[i] * half;
    const float* s = sp + pos[i] * half;
    for (int64_t head = 0; head < h; ++head) {
      float* v = xp + (i * h + head) * d;
#pragma omp simd
      for (int64_t j = 0; j < half; ++j) {
        const float x1 = v[j], x2 = v[j + half], sj = sign * s[j];
        v[j] = x1 * c[j] - x2 * sj;
        v[j + half] = x2 * c[j] + x1 * sj;
      }
    }
  }
}

}  // namespace llmtune::cpu
