// The kernel interface every backend implements, and the free functions model code calls.
//
// Conventions: tensors are contiguous and row-major; N counts rows (batch * sequence);
// shapes are given in the comments. Kernels may run asynchronously on devices that queue work,
// so results are only read on the host through Tensor's copy functions. "Backward" kernels either
// overwrite or accumulate, as each says; gradients of parameters always accumulate (+=).
// Floating-point math is fp32; weight operands may be stored in bf16 or fp16 and are widened.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace llmtune {

// Which mask positions a causal attention uses. window == 0: all earlier keys; window W > 0:
// key j is visible to query i iff i - W < j <= i (Mistral's sliding window, W keys).
struct AttentionMask {
  Tensor key_padding;  // (B, T) int32, 0 marks a padded key; undefined = no padding
  int64_t window = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // c (M, N) = alpha * op(a) * op(b) + beta * c, op(x) = x or xᵀ. a, c: F32; b: F32/BF16/F16.
  virtual void gemm(Tensor& c, const Tensor& a, bool trans_a, const Tensor& b, bool trans_b,
                    float alpha, float beta) = 0;

  // out (N, C) = table[ids]; table (V, C) any float type. Ids outside [0, V) are an error.
  virtual void embedding_forward(Tensor& out, const Tensor& ids, const Tensor& table) = 0;
  // dtable (V, C) += scatter of dout (N, C) by ids (N).
  virtual void embedding_backward(Tensor& dtable, const Tensor& ids, const Tensor& dout) = 0;

  // out (N, C) = w * x / sqrt(mean(x^2) + eps); rstd (N) = that 1/sqrt(...), in fp32.
  virtual void rmsnorm_forward(Tensor& out, Tensor& rstd, const Tensor& x, const Tensor& w,
                               float eps) = 0;
  // dx (N, C) += or = (accumulate) input gradient; dw (C) += weight gradient when defined.
  virtual void rmsnorm_backward(Tensor& dx, Tensor* dw, const Tensor& dout, const Tensor& x,
                                const Tensor& w, const Tensor& rstd, bool accumulate) = 0;

  // Rotary embedding in place on x (B, T, H, D), Hugging Face rotate_half layout: dim i pairs
  // with i + D/2. cos, sin: (P, D/2) tables indexed by positions (B, T) int32.
  // inverse = true applies the transposed rotation (the backward pass).
  virtual void rope(Tensor& x, const Tensor& cos, const Tensor& sin, const Tensor& positions,
                    bool inverse) = 0;

  // Causal grouped-query attention: q (B, T, Hq, D), k and v (B, T, Hkv, D), Hq % Hkv == 0;
  // query head h reads kv head h / (Hq / Hkv). out (B, T, Hq, D); lse (B, Hq, T) keeps the
  // log-sum-exp of each softmax row for backward (+inf for a row with no visible key, whose
  // output is zero).
  virtual void attention_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k,
                                 const Tensor& v, const AttentionMask& mask, float scale) = 0;
  // dq, dk, dv overwritten.
  virtual void attention_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout,
                                  const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& out, const Tensor& lse, const AttentionMask& mask,
                                  float scale) = 0;

  // Attention of new queries over cached keys, by position: key j of row b is visible to query i
  // iff k_pos[b][j] >= 0 and k_pos[b][j] <= q_pos[b][i] (and within the window when window > 0:
  // k_pos > q_pos - window). q (B, Tq, Hq, D), k and v (B, Tk, Hkv, D), q_pos (B, Tq) and
  // k_pos (B, Tk) int32. A query that sees no key gets zeros. Inference only (no backward).
  virtual void attention_cached(Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v,
                                const Tensor& q_pos, const Tensor& k_pos, int64_t window,
                                float scale) = 0;
  // cache (B, Tc, H, D)[:, offset:offset+T] = src (B, T, H, D).
  virtual void kv_append(Tensor& cache, const Tensor& src, int64_t offset) = 0;
  // out (R) int32 = index of the largest value of each row of x (R, V), the first on ties.
  virtual void argmax_rows(Tensor& out, const Tensor& x) = 0;

  // out (N, I) = silu(gate) * up.
  virtual void swiglu_forward(Tensor& out, const Tensor& gate, const Tensor& up) = 0;
  // dgate, dup (N, I) overwritten.
  virtual void swiglu_backward(Tensor& dgate, Tensor& dup, const Tensor& dout, const Tensor& gate,
                               const Tensor& up) = 0;

  // Cross-entropy of logits (R, V) against targets (R) int32 (-100: ignored, loss 0).
  // losses (R) = logsumexp(row) - row[target]. When grad_scale != 0, logits are overwritten with
  // grad_scale * (softmax(row) - onehot(target)) (zero for ignored rows).
  virtual void cross_entropy(Tensor& losses, Tensor& logits, const Tensor& targets,
                             float grad_scale) = 0;

  // out (R, K) = x[rows] and its reverse, dx[rows] += dout: gathers and scatters rows (R) int32.
  virtual void gather_rows(Tensor& out, const Tensor& x, const Tensor& rows) = 0;
  virtual void scatter_add_rows(Tensor& dx, const Tensor& dout, const Tensor& rows) = 0;

  // out = x * keep / (1 - p) with keep drawn from Philox (seed, stream): element i is kept iff
  // its uniform number is >= p. Regenerating with the same key gives the same mask.
  virtual void dropout(Tensor& out, const Tensor& x, float p, uint64_t seed, uint64_t stream) = 0;

  // y += alpha * x (same shape); x *= alpha; sum of losses into a scalar.
  virtual void add(Tensor& y, const Tensor& x, float alpha) = 0;
  virtual void scale(Tensor& x, float alpha) = 0;
  // out (1) F32 = alpha * sum(x) over all elements, accumulated in double.
  virtual void sum(Tensor& out, const Tensor& x, float alpha) = 0;
  // out (1) F32 += sum(x * x), accumulated in double.
  virtual void sum_squares(Tensor& out, const Tensor& x) = 0;
  // dst = src with type conversion between float types.
  virtual void convert(Tensor& dst, const Tensor& src) = 0;

  // One AdamW step (PyTorch semantics, decoupled weight decay, bias correction) on an fp32
  // parameter with fp32 grad and moments. step counts from 1. Hyperparameters are doubles, as
  // in Python, so that 1 - beta2 is formed exactly as torch forms it before use in fp32.
  virtual void adamw(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr,
                     double beta1, double beta2, double eps, double weight_decay, int64_t step) = 0;
};

// The backend that runs kernels on tensors of this device.
Backend& backend_for(Device device);
void backend_register(DeviceType type, Backend* backend);

// Free-function spelling used by model code: dispatches on the first output's device.
namespace ops {
inline void gemm(Tensor& c, const Tensor& a, bool ta, const Tensor& b, bool tb, float alpha = 1.0f,
                 float beta = 0.0f) {
  backend_for(c.device()).gemm(c, a, ta, b, tb, alpha, beta);
}
inline void embedding_forward(Tensor& out, const Tensor& ids, const Tensor& table) {
  backend_for(out.device()).embedding_forward(out, ids, table);
}
inline void embedding_backward(Tensor& dtable, const Tensor& ids, const Tensor& dout) {
  backend_for(dtable.device()).embedding_backward(dtable, ids, dout);
}
inline void rmsnorm_forward(Tensor& out, Tensor& rstd, const Tensor& x, const Tensor& w,
                            float eps) {
  backend_for(out.device()).rmsnorm_forward(out, rstd, x, w, eps);
}
inline void rmsnorm_backward(Tensor& dx, Tensor* dw, const Tensor& dout, const Tensor& x,
                             const Tensor& w, const Tensor& rstd, bool accumulate) {
  backend_for(dx.device()).rmsnorm_backward(dx, dw, dout, x, w, rstd, accumulate);
}
inline void rope(Tensor& x, const Tensor& cos, const Tensor& sin, const Tensor& positions,
                 bool inverse) {
  backend_for(x.device()).rope(x, cos, sin, positions, inverse);
}
inline void attention_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k,
                              const Tensor& v, const AttentionMask& mask, float scale) {
  backend_for(out.device()).attention_forward(out, lse, q, k, v, mask, scale);
}
inline void attention_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout,
                               const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                               const Tensor& lse, const AttentionMask& mask, float scale) {
  backend_for(dq.device()).attention_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, scale);
}
inline void attention_cached(Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v,
                             const Tensor& q_pos, const Tensor& k_pos, int64_t window,
                             float scale) {
  backend_for(out.device()).attention_cached(out, q, k, v, q_pos, k_pos, window, scale);
}
inline void kv_append(Tensor& cache, const Tensor& src, int64_t offset) {
  backend_for(cache.device()).kv_append(cache, src, offset);
}
inline void argmax_rows(Tensor& out, const Tensor& x) {
  backend_for(out.device()).argmax_rows(out, x);
}
inline void swiglu_forward(Tensor& out, const Tensor& gate, const Tensor& up) {
  backend_for(out.device()).swiglu_forward(out, gate, up);
}
inline void swiglu_backward(Tensor& dgate, Tensor& dup, const Tensor& dout, const Tensor& gate,
                            const Tensor& up) {
  backend_for(dgate.device()).swiglu_backward(dgate, dup, dout, gate, up);
}
inline void cross_entropy(Tensor& losses, Tensor& logits, const Tensor& targets, float grad_scale) {
  backend_for(losses.device()).cross_entropy(losses, logits, targets, grad_scale);
}
inline void gather_rows(Tensor& out, const Tensor& x, const Tensor& rows) {
  backend_for(out.device()).gather_rows(out, x, rows);
}
inline void scatter_add_rows(Tensor& dx, const Tensor& dout, const Tensor& rows) {
  backend_for(dx.device()).scatter_add_rows(dx, dout, rows);
}
inline void dropout(Tensor& out, const Tensor& x, float p, uint64_t seed, uint64_t stream) {
  backend_for(out.device()).dropout(out, x, p, seed, stream);
}
inline void add(Tensor& y, const Tensor& x, float alpha = 1.0f) {
  backend_for(y.device()).add(y, x, alpha);
}
inline void scale(Tensor& x, float alpha) {
  backend_for(x.device()).scale(x, alpha);
}
inline void sum(Tensor& out, const Tensor& x, float alpha = 1.0f) {
  backend_for(out.device()).sum(out, x, alpha);
}
inline void sum_squares(Tensor& out, const Tensor& x) {
  backend_for(out.device()).sum_squares(out, x);
}
inline void convert(Tensor& dst, const Tensor& src) {
  backend_for(dst.device()).convert(dst, src);
}
inline void adamw(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1,
                  double beta2, double eps, double weight_decay, int64_t step) {
  backend_for(param.device()).adamw(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step);
}
}  // namespace ops

}  // namespace llmtune
