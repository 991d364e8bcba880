#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/vec_math.h"

namespace llmtune::cpu {

void CpuBackend::swiglu_forward(Tensor& out, const Tensor& gate, const Tensor& up) {
  check_f32(out, "swiglu out");
  check_same_shape(out, gate, "swiglu");
  check_same_shape(out, up, "swiglu");
  const int64_t n = out.numel();
  const float* g = gate.data<float>();
  const float* u = up.data<float>();
  float* o = out.data<float>();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) o[i] = g[i] * sigmoid_fast(g[i]) * u[i];
}

void CpuBackend::swiglu_backward(Tensor& dgate, Tensor& dup, const Tensor& dout, const Tensor& gate,
                                 const Tensor& up) {
  check_f32(dgate, "swiglu dgate");
  check_f32(dup, "swiglu dup");
  check_same_shape(dgate, gate, "swiglu backward");
  check_same_shape(dup, gate, "swiglu backward");
  check_same_shape(dout, gate, "swiglu backward");
  const int64_t n = gate.numel();
  const float* g = gate.data<float>();
  const float* u = up.data<float>();
  const float* d = dout.data<float>();
  float* dg = dgate.data<float>();
  float* du = dup.data<float>();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float s = sigmoid_fast(g[i]);
    const float silu = g[i] * s;
    const float dgi = d[i] * u[i] * (s + silu * (1.0f - s));
    du[i] = d[i] * silu;
    dg[i] = dgi;
  }
}

}  // namespace llmtune::cpu
