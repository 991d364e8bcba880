// The test oracle: plain double-precision loops for the forward math of every op in
// backend/ops.h, written from the formulas (ops.h, the Hugging Face / PyTorch definitions it
// names), not from the kernels: no blocking, no fast exp, no online softmax, no threads.
// Gradients are checked against central differences of these functions, so there are no
// hand-written backward formulas here to share a mistake with the kernels.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/philox.h"

namespace llmtune::naive {

using Vec = std::vector<double>;
using Ids = std::vector<int32_t>;

// c (m, n) = alpha * op(a) * op(b) + beta * c. a is stored (m, k), or (k, m) when ta;
// b is stored (k, n), or (n, k) when tb. beta == 0 ignores c (the BLAS convention: c may hold
// garbage, even NaN).
inline Vec gemm(const Vec& a, bool ta, const Vec& b, bool tb, const Vec& c, int64_t m, int64_t n,
                int64_t k, double alpha, double beta) {
  // op(a) (m, k) and op(b) (k, n) written out, then the textbook loops (in i, p, j order, so
  // the innermost loop walks rows).
  Vec opa(m * k), opb(k * n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t p = 0; p < k; ++p) opa[i * k + p] = ta ? a[p * m + i] : a[i * k + p];
  }
  for (int64_t p = 0; p < k; ++p) {
    for (int64_t j = 0; j < n; ++j) opb[p * n + j] = tb ? b[j * k + p] : b[p * n + j];
  }
  Vec out(m * n, 0.0);
  for (int64_t i = 0; i < m; ++i) {
    double* row = out.data() + i * n;
    for (int64_t p = 0; p < k; ++p) {
      for (int64_t j = 0; j < n; ++j) row[j] += opa[i * k + p] * opb[p * n + j];
    }
    for (int64_t j = 0; j < n; ++j)
      row[j] = alpha * row[j] + (beta == 0 ? 0.0 : beta * c[i * n + j]);
  }
  return out;
}

// out (n, c) = table[ids]; table (v, c).
inline Vec embedding(const Ids& ids, const Vec& table, int64_t c) {
  Vec out;
  for (int32_t id : ids)
    out.insert(out.end(), table.begin() + id * c, table.begin() + (id + 1) * c);
  return out;
}

// out (n, c) = w * x / sqrt(mean(x^2) + eps); rstd (n) = 1 / sqrt(mean(x^2) + eps).
inline Vec rmsnorm(const Vec& x, const Vec& w, int64_t n, int64_t c, double eps,
                   Vec* rstd = nullptr) {
  Vec out(n * c);
  if (rstd) rstd->assign(n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < c; ++j) ss += x[i * c + j] * x[i * c + j];
    const double r = 1.0 / std::sqrt(ss / c + eps);
    for (int64_t j = 0; j < c; ++j) out[i * c + j] = w[j] * x[i * c + j] * r;
    if (rstd) (*rstd)[i] = r;
  }
  return out;
}

// Hugging Face apply_rotary_pos_emb on x (b, t, h, d): with cos_full = cat(cos, cos) and
// rotate_half(x) = cat(-x2, x1), out = x * cos_full + rotate_half(x) * sin_full. The tables
// (p, d/2) are indexed by positions (b * t). inverse rotates by the opposite angle (sin -> -sin).
inline Vec rope(const Vec& x, int64_t b, int64_t t, int64_t h, int64_t d, const Vec& cos,
                const Vec& sin, const Ids& positions, bool inverse) {
  const int64_t half = d / 2;
  Vec out(x.size());
  for (int64_t bt = 0; bt < b * t; ++bt) {
    const int64_t p = positions[bt];
    for (int64_t head = 0; head < h; ++head) {
      const double* v = x.data() + (bt * h + head) * d;
      double* o = out.data() + (bt * h + head) * d;
      for (int64_t i = 0; i < d; ++i) {
        const double cos_full = cos[p * half + i % half];
        const double sin_full = (inverse ? -1.0 : 1.0) * sin[p * half + i % half];
        const double rotated = i < half ? -v[i + half] : v[i - half];
        o[i] = v[i] * cos_full + rotated * sin_full;
      }
    }
  }
  return out;
}

// Causal attention with grouped heads, key padding (pad (b, t), 0 = padded; empty = none) and a
// sliding window (0 = none). q (b, t, hq, d), k and v (b, t, hkv, d); out (b, t, hq, d);
// lse (b, hq, t), +inf where a query sees no key (its output is 0).
struct AttentionDims {
  int64_t b, t, hq, hkv, d, window;
};

inline bool attention_visible(const AttentionDims& s, const Ids& pad, int64_t b, int64_t i,
                              int64_t j) {
  if (j > i) return false;                              // causal
  if (s.window > 0 && j <= i - s.window) return false;  // i - W < j
  if (!pad.empty() && pad[b * s.t + j] == 0) return false;
  return true;
}

inline Vec attention(const Vec& q, const Vec& k, const Vec& v, const Ids& pad,
                     const AttentionDims& s, double scale, Vec* lse = nullptr) {
  Vec out(s.b * s.t * s.hq * s.d, 0.0);
  if (lse) lse->assign(s.b * s.hq * s.t, 0.0);
  const int64_t group = s.hq / s.hkv;
  Vec scores(s.t);
  for (int64_t b = 0; b < s.b; ++b) {
    for (int64_t h = 0; h < s.hq; ++h) {
      const int64_t g = h / group;
      for (int64_t i = 0; i < s.t; ++i) {
        const double* qi = q.data() + ((b * s.t + i) * s.hq + h) * s.d;
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j <= i; ++j) {
          if (!attention_visible(s, pad, b, i, j)) continue;
          const double* kj = k.data() + ((b * s.t + j) * s.hkv + g) * s.d;
          double dot = 0;
          for (int64_t c = 0; c < s.d; ++c) dot += qi[c] * kj[c];
          scores[j] = scale * dot;
          mx = std::max(mx, scores[j]);
        }
        double* lse_i = lse ? lse->data() + (b * s.hq + h) * s.t + i : nullptr;
        if (mx == -std::numeric_limits<double>::infinity()) {
          if (lse_i) *lse_i = std::numeric_limits<double>::infinity();
          continue;  // output row stays 0
        }
        double z = 0;
        for (int64_t j = 0; j <= i; ++j) {
          if (attention_visible(s, pad, b, i, j)) z += std::exp(scores[j] - mx);
        }
        if (lse_i) *lse_i = mx + std::log(z);
        double* oi = out.data() + ((b * s.t + i) * s.hq + h) * s.d;
        for (int64_t j = 0; j <= i; ++j) {
          if (!attention_visible(s, pad, b, i, j)) continue;
          const double p = std::exp(scores[j] - mx) / z;
          const double* vj = v.data() + ((b * s.t + j) * s.hkv + g) * s.d;
          for (int64_t c = 0; c < s.d; ++c) oi[c] += p * vj[c];
        }
      }
    }
  }
  return out;
}

// silu(gate) * up, silu(g) = g * sigmoid(g) = g / (1 + e^-g).
inline Vec swiglu(const Vec& gate, const Vec& up) {
  Vec out(gate.size());
  for (size_t i = 0; i < gate.size(); ++i) out[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
  return out;
}

// losses (r) = logsumexp(row) - row[target]; 0 where target == -100. logits (r, v).
inline Vec cross_entropy(const Vec& logits, const Ids& targets, int64_t v) {
  Vec losses(targets.size(), 0.0);
  for (size_t r = 0; r < targets.size(); ++r) {
    if (targets[r] == -100) continue;
    const double* row = logits.data() + r * v;
    double mx = row[0];
    for (int64_t j = 1; j < v; ++j) mx = std::max(mx, row[j]);
    double z = 0;
    for (int64_t j = 0; j < v; ++j) z += std::exp(row[j] - mx);
    losses[r] = mx + std::log(z) - row[targets[r]];
  }
  return losses;
}

// out (r, k) = x[rows]; and dx[rows] += dout.
inline Vec gather_rows(const Vec& x, const Ids& rows, int64_t k) {
  return embedding(rows, x, k);
}

inline Vec scatter_add_rows(Vec dx, const Vec& dout, const Ids& rows, int64_t k) {
  for (size_t i = 0; i < rows.size(); ++i) {
    for (int64_t j = 0; j < k; ++j) dx[rows[i] * k + j] += dout[i * k + j];
  }
  return dx;
}

// out_i = x_i / (1 - p) if uniform_i >= p else 0, uniform_i element i of Philox (seed, stream).
inline Vec dropout(const Vec& x, double p, uint64_t seed, uint64_t stream) {
  const PhiloxStream rng(seed, stream);
  Vec out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = rng.uniform(i) >= p ? x[i] / (1.0 - p) : 0.0;
  return out;
}

inline double sum(const Vec& x) {
  double s = 0;
  for (double e : x) s += e;
  return s;
}

inline double sum_squares(const Vec& x) {
  double s = 0;
  for (double e : x) s += e * e;
  return s;
}

// One step of torch.optim.AdamW (decoupled weight decay, bias correction), step from 1:
//   p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
inline void adamw(Vec& p, const Vec& g, Vec& m, Vec& v, double lr, double b1, double b2, double eps,
                  double wd, int64_t step) {
  const double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
  for (size_t i = 0; i < p.size(); ++i) {
    p[i] *= 1 - lr * wd;
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    p[i] -= lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + eps);
  }
}

}  // namespace llmtune::naive
