#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"

namespace llmtune::cpu {

void CpuBackend::adamw(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr,
                       double beta1, double beta2, double eps, double weight_decay, int64_t step) {
  check_f32(param, "adamw param");
  check_f32(grad, "adamw grad");
  check_f32(m, "adamw m");
  check_f32(v, "adamw v");
  check_same_shape(param, grad, "adamw");
  LLMTUNE_CHECK(step >= 1, "adamw step counts from 1, got ", step);
  // Scalars as torch.optim.AdamW computes them in Python doubles, then used in fp32.
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const float step_size = static_cast<float>(lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float decay = static_cast<float>(1.0 - lr * weight_decay);
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
  const float one_b1 = static_cast<float>(1.0 - beta1), one_b2 = static_cast<float>(1.0 - beta2);
  const float epsf = static_cast<float>(eps);
  const int64_t n = param.numel();
  float* p = param.data<float>();
  const float* g = grad.data<float>();
  float* mp = m.data<float>();
  float* vp = v.data<float>();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float pi = p[i] * decay;
    const float mi = mp[i] * b1 + g[i] * one_b1;
    const float vi = vp[i] * b2 + one_b2 * g[i] * g[i];
    mp[i] = mi;
    vp[i] = vi;
    const float denom = std::sqrt(vi) / bc2_sqrt + epsf;
    p[i] = pi - step_size * (mi / denom);
  }
}

}  // namespace llmtune::cpu
