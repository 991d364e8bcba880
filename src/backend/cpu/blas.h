// Single-precision GEMM from OpenBLAS (its OpenMP build, so BLAS calls and our kernels share one
// thread pool; a call made inside a parallel region runs on the calling thread only).
#pragma once

#include <string>

namespace llmtune::cpu {

// Row-major C (M, N) = alpha * op(A) * op(B) + beta * C, op(A) (M, K), op(B) (K, N).
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc);

// The OpenBLAS kernel family in use ("SkylakeX", "Haswell", ...), and that with the library's path.
std::string blas_core();
std::string blas_info();

}  // namespace llmtune::cpu
