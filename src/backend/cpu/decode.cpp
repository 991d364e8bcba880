// Kernels for generation: attention over a key/value cache, appending to it, and argmax.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/vec_math.h"
#include "core/error.h"

namespace llmtune::cpu {

void CpuBackend::attention_cached(Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& q_pos, const Tensor& k_pos, int64_t window,
                                  float scale) {
  check_f32(out, "attention_cached out");
  check_f32(q, "attention_cached q");
  check_f32(k, "attention_cached k");
  check_f32(v, "attention_cached v");
  check_same_shape(out, q, "attention_cached");
  LLMTUNE_CHECK(q.dim() == 4 && k.dim() == 4 && k.shape() == v.shape() && k.size(0) == q.size(0) &&
                    k.size(3) == q.size(3) && q.size(2) % k.size(2) == 0,
                "attention_cached: q ", q.str(), " k ", k.str());
  const int64_t b = q.size(0), tq = q.size(1), hq = q.size(2), d = q.size(3);
  const int64_t tk = k.size(1), hkv = k.size(2), rep = hq / hkv;
  LLMTUNE_CHECK(q_pos.numel() == b * tq && k_pos.numel() == b * tk && q_pos.dtype() == DType::I32 &&
                    k_pos.dtype() == DType::I32,
                "attention_cached positions ", q_pos.str(), " ", k_pos.str());
  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  const int32_t* qpos = q_pos.data<int32_t>();
  const int32_t* kpos = k_pos.data<int32_t>();
  float* op = out.data<float>();
#pragma omp parallel
  {
    std::vector<float> scores(static_cast<size_t>(tk));
    std::vector<int64_t> keys(static_cast<size_t>(tk));
#pragma omp for collapse(3) schedule(dynamic)
    for (int64_t bi = 0; bi < b; ++bi) {
      for (int64_t i = 0; i < tq; ++i) {
        for (int64_t h = 0; h < hq; ++h) {
          const int32_t p = qpos[bi * tq + i];
          const float* qv = qp + ((bi * tq + i) * hq + h) * d;
          float* o = op + ((bi * tq + i) * hq + h) * d;
          int64_t n = 0;
          float mx = -std::numeric_limits<float>::infinity();
          for (int64_t j = 0; j < tk; ++j) {
            const int32_t kj = kpos[bi * tk + j];
            if (kj < 0 || kj > p || (window > 0 && kj <= p - window)) continue;
            const float* kv = kp + ((bi * tk + j) * hkv + h / rep) * d;
            float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
            for (int64_t c = 0; c < d; ++c) dot += qv[c] * kv[c];
            scores[n] = dot * scale;
            keys[n++] = j;
            mx = std::max(mx, dot * scale);
          }
          for (int64_t c = 0; c < d; ++c) o[c] = 0.0f;
          if (n == 0 || p < 0) continue;
          float sum = 0.0f;
          for (int64_t m = 0; m < n; ++m) sum += (scores[m] = exp_fast(scores[m] - mx));
          const float inv = 1.0f / sum;
          for (int64_t m = 0; m < n; ++m) {
            const float* vv = vp + ((bi * tk + keys[m]) * hkv + h / rep) * d;
            const float w = scores[m] * inv;
#pragma omp simd
            for (int64_t c = 0; c < d; ++c) o[c] += w * vv[c];
          }
        }
      }
    }
  }
}

void CpuBackend::kv_append(Tensor& cache, const Tensor& src, int64_t offset) {
  check_f32(cache, "kv_append cache");
  check_f32(src, "kv_append src");
  LLMTUNE_CHECK(cache.dim() == 4 && src.dim() == 4 && cache.size(0) == src.size(0) &&
                    cache.size(2) == src.size(2) && cache.size(3) == src.size(3) && offset >= 0 &&
                    offset + src.size(1) <= cache.size(1),
                "kv_append ", src.str(), " at ", offset, " into ", cache.str());
  const int64_t b = src.size(0), t = src.size(1), row = src.size(2) * src.size(3),
                tc = cache.size(1);
  const float* s = src.data<float>();
  float* c = cache.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t i = 0; i < t; ++i) {
      std::copy_n(s + (bi * t + i) * row, row, c + (bi * tc + offset + i) * row);
    }
  }
}

void CpuBackend::argmax_rows(Tensor& out, const Tensor& x) {
  check_f32(x, "argmax_rows x");
  LLMTUNE_CHECK(out.dtype() == DType::I32 && x.dim() == 2 && out.numel() == x.size(0),
                "argmax_rows ", out.str(), " of ", x.str());
  const int64_t r = x.size(0), v = x.size(1);
  const float* xp = x.data<float>();
  int32_t* o = out.data<int32_t>();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < r; ++i) {
    const float* row = xp + i * v;
    int64_t best = 0;
    for (int64_t j = 1; j < v; ++j) {
      if (row[j] > row[best]) best = j;
    }
    o[i] = static_cast<int32_t>(best);
  }
}

}  // namespace llmtune::cpu
