#include <algorithm>
#include <vector>

#include "backend/cpu/blas.h"
#include "backend/cpu/cpu_backend.h"
#include "core/error.h"

namespace llmtune::cpu {

namespace {

// Weights stored in bf16/fp16 are widened a block of rows at a time into this much scratch,
// so a frozen 16-bit weight never needs a full fp32 copy.
constexpr int64_t kWidenFloats = 2 << 20;

void scale_rows(float* c, int64_t m, int64_t n, float beta) {
  if (beta == 1.0f) return;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m * n; ++i) c[i] = beta == 0.0f ? 0.0f : c[i] * beta;
}

}  // namespace

void CpuBackend::gemm(Tensor& c, const Tensor& a, bool trans_a, const Tensor& b, bool trans_b,
                      float alpha, float beta) {
  check_f32(c, "gemm c");
  check_f32(a, "gemm a");
  LLMTUNE_CHECK(b.is_contiguous() && b.dtype() != DType::I32, "gemm b: ", b.str());
  LLMTUNE_CHECK(a.dim() == 2 && b.dim() == 2 && c.dim() == 2, "gemm needs 2-D tensors: ", a.str(),
                " ", b.str(), " ", c.str());
  const int64_t m = c.size(0), n = c.size(1);
  const int64_t k = trans_a ? a.size(0) : a.size(1);
  LLMTUNE_CHECK((trans_a ? a.size(1) : a.size(0)) == m, "gemm: a ", a.str(), " vs c ", c.str());
  LLMTUNE_CHECK((trans_b ? b.size(1) : b.size(0)) == k && (trans_b ? b.size(0) : b.size(1)) == n,
                "gemm: b ", b.str(), " for a ", a.str(), " and c ", c.str());
  float* cp = c.data<float>();
  const float* ap = a.data<float>();
  const int lda = static_cast<int>(a.size(1));
  if (k == 0) {
    scale_rows(cp, m, n, beta);
    return;
  }
  if (b.dtype() == DType::F32) {
    sgemm(trans_a, trans_b, m, n, k, alpha, ap, lda, b.data<float>(), static_cast<int>(b.size(1)),
          beta, cp, static_cast<int>(n));
    return;
  }
  // 16-bit b: widen blocks of b's rows. Rows of b are columns of c when b is transposed
  // (y = x Wᵀ), and slices of the inner dimension otherwise (dx = dy W).
  const int64_t rows = b.size(0), cols = b.size(1);
  const int64_t block = std::max<int64_t>(16, kWidenFloats / cols);
  // From the device cache: a fresh 8 MiB buffer per call would page-fault on every layer.
  Tensor scratch = Tensor::empty({std::min(block, rows), cols}, DType::F32, c.device());
  float* buf = scratch.data<float>();
  const char* bp = static_cast<const char*>(b.raw());
  const size_t esize = dtype_size(b.dtype());
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t nr = std::min(block, rows - r0);
    convert_floats(buf, DType::F32, bp + r0 * cols * esize, b.dtype(),
                   static_cast<size_t>(nr * cols));
    if (trans_b) {
      sgemm(trans_a, true, m, nr, k, alpha, ap, lda, buf, cols, beta, cp + r0, n);
    } else {
      const float* a_block = trans_a ? ap + r0 * lda : ap + r0;
      sgemm(trans_a, false, m, n, nr, alpha, a_block, lda, buf, cols, r0 == 0 ? beta : 1.0f, cp, n);
    }
  }
}

}  // namespace llmtune::cpu
