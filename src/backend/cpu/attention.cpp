// Causal grouped-query attention, blocked over queries like FlashAttention: for a block of query
// rows, the scores against every visible key fit in a small per-thread buffer, so no (T, T)
// matrix is ever stored. Backward recomputes the probabilities from the saved log-sum-exp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/blas.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/vec_math.h"
#include "core/error.h"

namespace llmtune::cpu {

namespace {

constexpr int64_t kQueryBlock = 64;
constexpr float kInf = std::numeric_limits<float>::infinity();

struct Dims {
  int64_t b, t, hq, hkv, d, rep;
};

Dims check_dims(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask) {
  check_f32(q, "attention q");
  check_f32(k, "attention k");
  check_f32(v, "attention v");
  LLMTUNE_CHECK(q.dim() == 4 && k.dim() == 4 && k.shape() == v.shape(),
                "attention expects q (B, T, Hq, D), k and v (B, T, Hkv, D): ", q.str(), " ",
                k.str(), " ", v.str());
  Dims d{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), 0};
  LLMTUNE_CHECK(k.size(0) == d.b && k.size(1) == d.t && k.size(3) == d.d && d.hq % d.hkv == 0,
                "attention: q ", q.str(), " k ", k.str());
  d.rep = d.hq / d.hkv;
  if (mask.key_padding.defined()) {
    LLMTUNE_CHECK(mask.key_padding.dtype() == DType::I32 && mask.key_padding.numel() == d.b * d.t,
                  "attention key_padding ", mask.key_padding.str());
  }
  LLMTUNE_CHECK(mask.window >= 0, "attention window ", mask.window);
  return d;
}

// The query block [i0, i1) sees keys [j0, i1): the window bounds the left edge.
struct Block {
  int64_t i0, i1, j0;
  int64_t nq() const { return i1 - i0; }
  int64_t nk() const { return i1 - j0; }
};

Block block_at(int64_t blk, int64_t t, int64_t window) {
  Block b;
  b.i0 = blk * kQueryBlock;
  b.i1 = std::min(t, b.i0 + kQueryBlock);
  b.j0 = window > 0 ? std::max<int64_t>(0, b.i0 - window + 1) : 0;
  return b;
}

// Per-thread score buffers that live as long as the (pooled) OpenMP thread, so long sequences
// do not map fresh pages on every call.
std::vector<float>& scratch(int which, int64_t floats) {
  thread_local std::vector<float> buffers[3];
  std::vector<float>& b = buffers[which];
  if (b.size() < static_cast<size_t>(floats)) b.resize(static_cast<size_t>(floats));
  return b;
}

// Whether key j is visible to query i, given this batch row's padding (null: none).
inline bool visible(int64_t i, int64_t j, int64_t window, const int32_t* pad) {
  return j <= i && (window == 0 || j > i - window) && (pad == nullptr || pad[j] != 0);
}

}  // namespace

void CpuBackend::attention_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k,
                                   const Tensor& v, const AttentionMask& mask, float scale) {
  const Dims d = check_dims(q, k, v, mask);
  check_f32(out, "attention out");
  check_f32(lse, "attention lse");
  check_same_shape(out, q, "attention out");
  LLMTUNE_CHECK(lse.numel() == d.b * d.hq * d.t, "attention lse ", lse.str());
  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  const int32_t* pad_all = mask.key_padding.defined() ? mask.key_padding.data<int32_t>() : nullptr;
  float* op = out.data<float>();
  float* lp = lse.data<float>();
  const int64_t blocks = (d.t + kQueryBlock - 1) / kQueryBlock;
  const int ldq = static_cast<int>(d.hq * d.d), ldk = static_cast<int>(d.hkv * d.d);
  const int64_t window = mask.window;
#pragma omp parallel
  {
    std::vector<float>& s = scratch(0, kQueryBlock * d.t);
#pragma omp for collapse(3) schedule(dynamic)
    for (int64_t b = 0; b < d.b; ++b) {
      for (int64_t h = 0; h < d.hq; ++h) {
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const Block bl = block_at(blk, d.t, window);
          const int64_t nk = bl.nk();
          const int32_t* pad = pad_all ? pad_all + b * d.t : nullptr;
          const float* qb = qp + ((b * d.t + bl.i0) * d.hq + h) * d.d;
          const float* kb = kp + ((b * d.t + bl.j0) * d.hkv + h / d.rep) * d.d;
          const float* vb = vp + ((b * d.t + bl.j0) * d.hkv + h / d.rep) * d.d;
          sgemm(false, true, bl.nq(), nk, d.d, scale, qb, ldq, kb, ldk, 0.0f, s.data(), nk);
          for (int64_t r = 0; r < bl.nq(); ++r) {
            const int64_t i = bl.i0 + r;
            float* row = s.data() + r * nk;
            float mx = -kInf;
            for (int64_t j = bl.j0; j < bl.i1; ++j) {
              if (visible(i, j, window, pad)) mx = std::max(mx, row[j - bl.j0]);
            }
            float* lse_i = lp + (b * d.hq + h) * d.t + i;
            if (mx == -kInf) {  // nothing visible (a padded query before any real key)
              std::fill(row, row + nk, 0.0f);
              *lse_i = kInf;
              continue;
            }
            float sum = 0.0f;
            for (int64_t j = bl.j0; j < bl.i1; ++j) {
              const float e = visible(i, j, window, pad) ? exp_fast(row[j - bl.j0] - mx) : 0.0f;
              row[j - bl.j0] = e;
              sum += e;
            }
            const float inv = 1.0f / sum;
#pragma omp simd
            for (int64_t j = 0; j < nk; ++j) row[j] *= inv;
            *lse_i = mx + std::log(sum);
          }
          sgemm(false, false, bl.nq(), d.d, nk, 1.0f, s.data(), nk, vb, ldk, 0.0f,
                op + ((b * d.t + bl.i0) * d.hq + h) * d.d, ldq);
        }
      }
    }
  }
}

void CpuBackend::attention_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout,
                                    const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& out, const Tensor& lse, const AttentionMask& mask,
                                    float scale) {
  const Dims d = check_dims(q, k, v, mask);
  check_f32(dq, "attention dq");
  check_f32(dk, "attention dk");
  check_f32(dv, "attention dv");
  check_f32(dout, "attention dout");
  check_same_shape(dq, q, "attention dq");
  check_same_shape(dk, k, "attention dk");
  check_same_shape(dv, v, "attention dv");
  check_same_shape(dout, q, "attention dout");
  check_same_shape(out, q, "attention out");
  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  const float* op = out.data<float>();
  const float* dop = dout.data<float>();
  const float* lp = lse.data<float>();
  const int32_t* pad_all = mask.key_padding.defined() ? mask.key_padding.data<int32_t>() : nullptr;
  float* dqp = dq.data<float>();
  float* dkp = dk.data<float>();
  float* dvp = dv.data<float>();
  const int64_t blocks = (d.t + kQueryBlock - 1) / kQueryBlock;
  const int ldq = static_cast<int>(d.hq * d.d), ldk = static_cast<int>(d.hkv * d.d);
  const int64_t window = mask.window;
  // One task per (batch row, kv head) owns that head's dk and dv, so nothing races.
#pragma omp parallel
  {
    std::vector<float>& p = scratch(0, kQueryBlock * d.t);
    std::vector<float>& dp = scratch(1, kQueryBlock * d.t);
    std::vector<float>& delta = scratch(2, kQueryBlock);
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t b = 0; b < d.b; ++b) {
      for (int64_t g = 0; g < d.hkv; ++g) {
        const int32_t* pad = pad_all ? pad_all + b * d.t : nullptr;
        for (int64_t t = 0; t < d.t; ++t) {
          std::fill_n(dkp + ((b * d.t + t) * d.hkv + g) * d.d, d.d, 0.0f);
          std::fill_n(dvp + ((b * d.t + t) * d.hkv + g) * d.d, d.d, 0.0f);
        }
        for (int64_t h = g * d.rep; h < (g + 1) * d.rep; ++h) {
          for (int64_t blk = 0; blk < blocks; ++blk) {
            const Block bl = block_at(blk, d.t, window);
            const int64_t nq = bl.nq(), nk = bl.nk();
            const int64_t qoff = ((b * d.t + bl.i0) * d.hq + h) * d.d;
            const int64_t koff = ((b * d.t + bl.j0) * d.hkv + g) * d.d;
            sgemm(false, true, nq, nk, d.d, scale, qp + qoff, ldq, kp + koff, ldk, 0.0f, p.data(),
                  nk);
            for (int64_t r = 0; r < nq; ++r) {
              const int64_t i = bl.i0 + r;
              const float l = lp[(b * d.hq + h) * d.t + i];
              float* row = p.data() + r * nk;
              for (int64_t j = bl.j0; j < bl.i1; ++j) {
                row[j - bl.j0] =
                    visible(i, j, window, pad) && l != kInf ? exp_fast(row[j - bl.j0] - l) : 0.0f;
              }
              const float* o_i = op + qoff + r * ldq;
              const float* do_i = dop + qoff + r * ldq;
              float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
              for (int64_t c = 0; c < d.d; ++c) acc += o_i[c] * do_i[c];
              delta[r] = acc;
            }
            // dV += Pᵀ dO; dP = dO Vᵀ
            sgemm(true, false, nk, d.d, nq, 1.0f, p.data(), nk, dop + qoff, ldq, 1.0f, dvp + koff,
                  ldk);
            sgemm(false, true, nq, nk, d.d, 1.0f, dop + qoff, ldq, vp + koff, ldk, 0.0f, dp.data(),
                  nk);
            // dS = P * (dP - delta) * scale
            for (int64_t r = 0; r < nq; ++r) {
              const float* prow = p.data() + r * nk;
              float* drow = dp.data() + r * nk;
              const float dr = delta[r];
#pragma omp simd
              for (int64_t j = 0; j < nk; ++j) drow[j] = prow[j] * (drow[j] - dr) * scale;
            }
            // dQ = dS K; dK += dSᵀ Q
            sgemm(false, false, nq, d.d, nk, 1.0f, dp.data(), nk, kp + koff, ldk, 0.0f, dqp + qoff,
                  ldq);
            sgemm(true, false, nk, d.d, nq, 1.0f, dp.data(), nk, qp + qoff, ldq, 1.0f, dkp + koff,
                  ldk);
          }
        }
      }
    }
  }
}

}  // namespace llmtune::cpu
