#include <cmath>
#include <limits>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/vec_math.h"
#include "core/error.h"

namespace llmtune::cpu {

void CpuBackend::cross_entropy(Tensor& losses, Tensor& logits, const Tensor& targets,
                               float grad_scale) {
  check_f32(losses, "cross_entropy losses");
  check_f32(logits, "cross_entropy logits");
  LLMTUNE_CHECK(logits.dim() == 2, "cross_entropy logits must be (R, V): ", logits.str());
  const int64_t rows = logits.size(0), v = logits.size(1);
  LLMTUNE_CHECK(losses.numel() == rows && targets.numel() == rows && targets.dtype() == DType::I32,
                "cross_entropy: losses ", losses.str(), " targets ", targets.str(), " for ",
                logits.str());
  const int32_t* tg = targets.data<int32_t>();
  for (int64_t r = 0; r < rows; ++r) {
    if (tg[r] != -100 && (tg[r] < 0 || tg[r] >= v)) {
      throw Error(str("label ", tg[r], " is outside the vocabulary [0, ", v,
                      ") (use -100 for positions without a label)"));
    }
  }
  float* lp = logits.data<float>();
  float* out = losses.data<float>();
  const bool grad = grad_scale != 0.0f;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = lp + r * v;
    const int32_t t = tg[r];
    if (t == -100) {
      out[r] = 0.0f;
      if (grad) {
#pragma omp simd
        for (int64_t j = 0; j < v; ++j) row[j] = 0.0f;
      }
      continue;
    }
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < v; ++j) mx = std::max(mx, row[j]);
    const float target_logit = row[t];
    // The sum of a 32k-entry row in fp32 is off by ~1e-6 relative, by an amount that depends on
    // the vector width (AVX2 vs AVX-512); in double it is exact to far below the fp32 output.
    double sum = 0.0;
    if (grad) {
      // Keep exp(l - max) in place: the gradient is it divided by the sum.
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < v; ++j) {
        const float e = exp_fast(row[j] - mx);
        row[j] = e;
        sum += e;
      }
      const float k = static_cast<float>(grad_scale / sum);
#pragma omp simd
      for (int64_t j = 0; j < v; ++j) row[j] *= k;
      row[t] -= grad_scale;
    } else {
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < v; ++j) sum += exp_fast(row[j] - mx);
    }
    out[r] = static_cast<float>(mx + std::log(sum) - target_logit);
  }
}

}  // namespace llmtune::cpu
