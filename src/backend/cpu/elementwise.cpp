#include <omp.h>

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#include "core/philox.h"

namespace llmtune::cpu {

namespace {

void check_rows(const Tensor& rows, int64_t limit) {
  LLMTUNE_CHECK(rows.dtype() == DType::I32, "row indices must be I32: ", rows.str());
  const int32_t* r = rows.data<int32_t>();
  for (int64_t i = 0; i < rows.numel(); ++i) {
    LLMTUNE_CHECK(r[i] >= 0 && r[i] < limit, "row index ", r[i], " outside [0, ", limit, ")");
  }
}

}  // namespace

void CpuBackend::gather_rows(Tensor& out, const Tensor& x, const Tensor& rows) {
  check_f32(out, "gather_rows out");
  check_f32(x, "gather_rows x");
  const int64_t k = x.size(-1), n = x.numel() / k, r = rows.numel();
  LLMTUNE_CHECK(out.numel() == r * k, "gather_rows out ", out.str());
  check_rows(rows, n);
  const int32_t* idx = rows.data<int32_t>();
  const float* xp = x.data<float>();
  float* op = out.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < r; ++i) {
    const float* src = xp + static_cast<int64_t>(idx[i]) * k;
#pragma omp simd
    for (int64_t j = 0; j < k; ++j) op[i * k + j] = src[j];
  }
}

void CpuBackend::scatter_add_rows(Tensor& dx, const Tensor& dout, const Tensor& rows) {
  check_f32(dx, "scatter_add_rows dx");
  check_f32(dout, "scatter_add_rows dout");
  const int64_t k = dx.size(-1), n = dx.numel() / k, r = rows.numel();
  LLMTUNE_CHECK(dout.numel() == r * k, "scatter_add_rows dout ", dout.str());
  check_rows(rows, n);
  const int32_t* idx = rows.data<int32_t>();
  const float* dp = dout.data<float>();
  float* xp = dx.data<float>();
#pragma omp parallel
  {  // column ranges per thread, so repeated row indices never race
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t c0 = k * t / nt, c1 = k * (t + 1) / nt;
    for (int64_t i = 0; i < r; ++i) {
      float* dst = xp + static_cast<int64_t>(idx[i]) * k;
#pragma omp simd
      for (int64_t j = c0; j < c1; ++j) dst[j] += dp[i * k + j];
    }
  }
}

void CpuBackend::dropout(Tensor& out, const Tensor& x, float p, uint64_t seed, uint64_t stream) {
  check_f32(out, "dropout out");
  check_f32(x, "dropout x");
  check_same_shape(out, x, "dropout");
  LLMTUNE_CHECK(p >= 0.0f && p <= 1.0f, "dropout probability ", p);
  const int64_t n = x.numel();
  const float* xp = x.data<float>();
  float* op = out.data<float>();
  if (p == 0.0f) {
    if (op != xp) out.copy_(x);
    return;
  }
  const float keep_scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  const PhiloxStream rng(seed, stream);
  const int64_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const PhiloxCounter w = rng.block(static_cast<uint64_t>(b));
    for (int j = 0; j < 4 && 4 * b + j < n; ++j) {
      const int64_t i = 4 * b + j;
      op[i] = PhiloxStream::to_unit(w[j]) >= p ? xp[i] * keep_scale : 0.0f;
    }
  }
}

void CpuBackend::add(Tensor& y, const Tensor& x, float alpha) {
  check_f32(y, "add y");
  check_f32(x, "add x");
  LLMTUNE_CHECK(y.numel() == x.numel(), "add: ", y.str(), " += ", x.str());
  const int64_t n = y.numel();
  float* yp = y.data<float>();
  const float* xp = x.data<float>();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) yp[i] += alpha * xp[i];
}

void CpuBackend::scale(Tensor& x, float alpha) {
  check_f32(x, "scale x");
  const int64_t n = x.numel();
  float* xp = x.data<float>();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) xp[i] *= alpha;
}

void CpuBackend::sum(Tensor& out, const Tensor& x, float alpha) {
  check_f32(out, "sum out");
  check_f32(x, "sum x");
  const int64_t n = x.numel();
  const float* xp = x.data<float>();
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += xp[i];
  out.data<float>()[0] = static_cast<float>(alpha * s);
}

void CpuBackend::sum_squares(Tensor& out, const Tensor& x) {
  check_f32(out, "sum_squares out");
  check_f32(x, "sum_squares x");
  const int64_t n = x.numel();
  const float* xp = x.data<float>();
  const int nt = omp_get_max_threads();
  std::vector<double> partial(static_cast<size_t>(nt), 0.0);
#pragma omp parallel num_threads(nt)
  {  // fixed blocks per thread, added in order: deterministic for a given thread count
    const int t = omp_get_thread_num(), used = omp_get_num_threads();
    const int64_t i0 = n * t / used, i1 = n * (t + 1) / used;
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = i0; i < i1; ++i) s += static_cast<double>(xp[i]) * xp[i];
    partial[t] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  out.data<float>()[0] += static_cast<float>(total);
}

void CpuBackend::convert(Tensor& dst, const Tensor& src) {
  dst.copy_(src);
}

}  // namespace llmtune::cpu
