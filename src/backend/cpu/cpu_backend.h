// The CPU backend: fp32 kernels on OpenMP threads, GEMMs on OpenBLAS. One file per op group.
#pragma once

#include "backend/ops.h"

namespace llmtune::cpu {

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }

  void gemm(Tensor& c, const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, float alpha,
            float beta) override;
  void embedding_forward(Tensor& out, const Tensor& ids, const Tensor& table) override;
  void embedding_backward(Tensor& dtable, const Tensor& ids, const Tensor& dout) override;
  void rmsnorm_forward(Tensor& out, Tensor& rstd, const Tensor& x, const Tensor& w,
                       float eps) override;
  void rmsnorm_backward(Tensor& dx, Tensor* dw, const Tensor& dout, const Tensor& x,
                        const Tensor& w, const Tensor& rstd, bool accumulate) override;
  void rope(Tensor& x, const Tensor& cos, const Tensor& sin, const Tensor& positions,
            bool inverse) override;
  void attention_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k,
                         const Tensor& v, const AttentionMask& mask, float scale) override;
  void attention_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q,
                          const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                          const AttentionMask& mask, float scale) override;
  void attention_cached(Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v,
                        const Tensor& q_pos, const Tensor& k_pos, int64_t window,
                        float scale) override;
  void kv_append(Tensor& cache, const Tensor& src, int64_t offset) override;
  void argmax_rows(Tensor& out, const Tensor& x) override;
  void swiglu_forward(Tensor& out, const Tensor& gate, const Tensor& up) override;
  void swiglu_backward(Tensor& dgate, Tensor& dup, const Tensor& dout, const Tensor& gate,
                       const Tensor& up) override;
  void cross_entropy(Tensor& losses, Tensor& logits, const Tensor& targets,
                     float grad_scale) override;
  void gather_rows(Tensor& out, const Tensor& x, const Tensor& rows) override;
  void scatter_add_rows(Tensor& dx, const Tensor& dout, const Tensor& rows) override;
  void dropout(Tensor& out, const Tensor& x, float p, uint64_t seed, uint64_t stream) override;
  void add(Tensor& y, const Tensor& x, float alpha) override;
  void scale(Tensor& x, float alpha) override;
  void sum(Tensor& out, const Tensor& x, float alpha) override;
  void sum_squares(Tensor& out, const Tensor& x) override;
  void convert(Tensor& dst, const Tensor& src) override;
  void adamw(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1,
             double beta2, double eps, double weight_decay, int64_t step) override;
};

// Shape checks shared by the kernels: a readable failure instead of a wrong read.
void check_f32(const Tensor& t, const char* what);
void check_same_shape(const Tensor& a, const Tensor& b, const char* what);

}  // namespace llmtune::cpu
