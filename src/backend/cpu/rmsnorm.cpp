#include <omp.h>

#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"

namespace llmtune::cpu {

void CpuBackend::rmsnorm_forward(Tensor& out, Tensor& rstd, const Tensor& x, const Tensor& w,
                                 float eps) {
  check_f32(out, "rmsnorm out");
  check_f32(x, "rmsnorm x");
  check_f32(w, "rmsnorm w");
  check_same_shape(out, x, "rmsnorm");
  const int64_t c = w.numel(), n = x.numel() / c;
  LLMTUNE_CHECK(x.size(-1) == c, "rmsnorm: x ", x.str(), " w ", w.str());
  float* r = nullptr;
  if (rstd.defined()) {
    check_f32(rstd, "rmsnorm rstd");
    LLMTUNE_CHECK(rstd.numel() == n, "rmsnorm rstd ", rstd.str());
    r = rstd.data<float>();
  }
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  float* op = out.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* xr = xp + i * c;
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < c; ++j) ss += xr[j] * xr[j];
    const float s = 1.0f / std::sqrt(ss / static_cast<float>(c) + eps);
    float* orow = op + i * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) orow[j] = wp[j] * (xr[j] * s);
    if (r) r[i] = s;
  }
}

void CpuBackend::rmsnorm_backward(Tensor& dx, Tensor* dw, const Tensor& dout, const Tensor& x,
                                  const Tensor& w, const Tensor& rstd, bool accumulate) {
  check_f32(dx, "rmsnorm dx");
  check_f32(dout, "rmsnorm dout");
  check_same_shape(dx, x, "rmsnorm backward");
  check_same_shape(dout, x, "rmsnorm backward");
  const int64_t c = w.numel(), n = x.numel() / c;
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  const float* r = rstd.data<float>();
  const float* dy = dout.data<float>();
  float* dxp = dx.data<float>();
  const int nt = omp_get_max_threads();
  // Weight gradient: each thread sums a fixed block of rows; blocks are added in order.
  std::vector<float> partial(dw ? static_cast<size_t>(nt * c) : 0, 0.0f);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), used = omp_get_num_threads();
    const int64_t i0 = n * t / used, i1 = n * (t + 1) / used;
    float* pw = dw ? partial.data() + t * c : nullptr;
    for (int64_t i = i0; i < i1; ++i) {
      const float* xr = xp + i * c;
      const float* dr = dy + i * c;
      const float s = r[i];
      float dot = 0.0f;  // sum_j w_j dy_j x_j
#pragma omp simd reduction(+ : dot)
      for (int64_t j = 0; j < c; ++j) dot += wp[j] * dr[j] * xr[j];
      const float k = dot * s * s * s / static_cast<float>(c);
      float* dxr = dxp + i * c;
      if (accumulate) {
#pragma omp simd
        for (int64_t j = 0; j < c; ++j) dxr[j] += s * wp[j] * dr[j] - k * xr[j];
      } else {
#pragma omp simd
        for (int64_t j = 0; j < c; ++j) dxr[j] = s * wp[j] * dr[j] - k * xr[j];
      }
      if (pw) {
#pragma omp simd
        for (int64_t j = 0; j < c; ++j) pw[j] += dr[j] * xr[j] * s;
      }
    }
  }
  if (dw) {
    check_f32(*dw, "rmsnorm dw");
    float* g = dw->data<float>();
    for (int t = 0; t < nt; ++t) {
      const float* pw = partial.data() + t * c;
      for (int64_t j = 0; j < c; ++j) g[j] += pw[j];
    }
  }
}

}  // namespace llmtune::cpu
