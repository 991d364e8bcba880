#include <omp.h>

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"

namespace llmtune::cpu {

namespace {

void check_ids(const Tensor& ids, int64_t vocab) {
  LLMTUNE_CHECK(ids.dtype() == DType::I32 && ids.is_contiguous(), "embedding ids: ", ids.str());
  const int32_t* p = ids.data<int32_t>();
  for (int64_t i = 0; i < ids.numel(); ++i) {
    if (p[i] < 0 || p[i] >= vocab) {
      throw Error(str("token id ", p[i], " at position ", i, " is outside the vocabulary [0, ",
                      vocab, "); the tokenizer and the model's vocab_size do not match"));
    }
  }
}

}  // namespace

void CpuBackend::embedding_forward(Tensor& out, const Tensor& ids, const Tensor& table) {
  check_f32(out, "embedding out");
  const int64_t n = ids.numel(), c = table.size(1);
  LLMTUNE_CHECK(out.numel() == n * c, "embedding: out ", out.str(), " for ", n, " ids of width ",
                c);
  check_ids(ids, table.size(0));
  const int32_t* id = ids.data<int32_t>();
  float* o = out.data<float>();
  const char* t = static_cast<const char*>(table.raw());
  const size_t esize = dtype_size(table.dtype());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    convert_floats(o + i * c, DType::F32, t + static_cast<size_t>(id[i]) * c * esize, table.dtype(),
                   static_cast<size_t>(c));
  }
}

void CpuBackend::embedding_backward(Tensor& dtable, const Tensor& ids, const Tensor& dout) {
  check_f32(dtable, "embedding dtable");
  check_f32(dout, "embedding dout");
  const int64_t n = ids.numel(), c = dtable.size(1);
  LLMTUNE_CHECK(dout.numel() == n * c, "embedding backward: dout ", dout.str());
  check_ids(ids, dtable.size(0));
  const int32_t* id = ids.data<int32_t>();
  const float* d = dout.data<float>();
  float* g = dtable.data<float>();
  // Threads own column ranges and walk all rows in order: no races on repeated ids, and the
  // summation order does not depend on the thread count.
#pragma omp parallel
  {
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t c0 = c * t / nt, c1 = c * (t + 1) / nt;
    for (int64_t i = 0; i < n; ++i) {
      float* gr = g + static_cast<int64_t>(id[i]) * c;
      const float* dr = d + i * c;
#pragma omp simd
      for (int64_t j = c0; j < c1; ++j) gr[j] += dr[j];
    }
  }
}

}  // namespace llmtune::cpu
