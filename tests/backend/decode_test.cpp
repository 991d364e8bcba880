// The generation kernels: attention over a cache by position, appending to the cache, argmax.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/ops.h"
#include "core/philox.h"

namespace llmtune {
namespace {

std::vector<float> randn(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  PhiloxStream(seed, 3).fill_normal(v.data(), n, 0.0f, 1.0f);
  return v;
}

TEST(DecodeOps, ArgmaxTakesTheFirstOfTies) {
  Tensor x = Tensor::from_f32({1, 5, 5, 0, -1, -1, -2, -1}, {2, 4});
  Tensor out = Tensor::empty({2}, DType::I32);
  ops::argmax_rows(out, x);
  EXPECT_EQ(out.to_i32(), (std::vector<int32_t>{1, 0}));
}

TEST(DecodeOps, KvAppendWritesTheColumnsGiven) {
  Tensor cache = Tensor::zeros({2, 5, 1, 2}, DType::F32);
  ops::kv_append(cache, Tensor::from_f32({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 1, 2}), 3);
  const std::vector<float> c = cache.to_f32();
  EXPECT_EQ(std::vector<float>(c.begin() + 6, c.begin() + 10), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(std::vector<float>(c.begin() + 16, c.begin() + 20), (std::vector<float>{5, 6, 7, 8}));
  EXPECT_EQ(c[0], 0.0f);
}

// Against a direct softmax over the visible keys, with grouped heads, a window and holes.
TEST(DecodeOps, CachedAttentionMatchesDirectSoftmax) {
  const int64_t tq = 2, tk = 6, hq = 4, hkv = 2, d = 3;
  const std::vector<float> q = randn(tq * hq * d, 1), k = randn(tk * hkv * d, 2),
                           v = randn(tk * hkv * d, 3);
  const std::vector<int32_t> qpos = {4, 6}, kpos = {0, 1, -1, 2, 3, 5};  // column 2 is padding
  Tensor out = Tensor::empty({1, tq, hq, d}, DType::F32);
  ops::attention_cached(out, Tensor::from_f32(q, {1, tq, hq, d}),
                        Tensor::from_f32(k, {1, tk, hkv, d}), Tensor::from_f32(v, {1, tk, hkv, d}),
                        Tensor::from_i32(qpos, {1, tq}), Tensor::from_i32(kpos, {1, tk}),
                        /*window=*/4, 0.5f);
  const std::vector<float> got = out.to_f32();
  for (int64_t i = 0; i < tq; ++i) {
    for (int64_t h = 0; h < hq; ++h) {
      std::vector<double> w(tk, 0.0);
      double mx = -1e300, sum = 0;
      for (int64_t j = 0; j < tk; ++j) {
        if (kpos[j] < 0 || kpos[j] > qpos[i] || kpos[j] <= qpos[i] - 4) continue;
        double s = 0;
        for (int64_t c = 0; c < d; ++c) s += q[(i * hq + h) * d + c] * k[(j * hkv + h / 2) * d + c];
        w[j] = 0.5 * s;
        mx = std::max(mx, w[j]);
      }
      for (int64_t j = 0; j < tk; ++j) {
        const bool vis = kpos[j] >= 0 && kpos[j] <= qpos[i] && kpos[j] > qpos[i] - 4;
        w[j] = vis ? std::exp(w[j] - mx) : 0.0;
        sum += w[j];
      }
      for (int64_t c = 0; c < d; ++c) {
        double o = 0;
        for (int64_t j = 0; j < tk; ++j) o += w[j] / sum * v[(j * hkv + h / 2) * d + c];
        EXPECT_NEAR(got[(i * hq + h) * d + c], o, 1e-5) << i << " " << h << " " << c;
      }
    }
  }
  // A query that sees nothing gets zeros.
  ops::attention_cached(out, Tensor::from_f32(q, {1, tq, hq, d}),
                        Tensor::from_f32(k, {1, tk, hkv, d}), Tensor::from_f32(v, {1, tk, hkv, d}),
                        Tensor::from_i32({-1, -1}, {1, tq}), Tensor::from_i32(kpos, {1, tk}), 0,
                        0.5f);
  for (float x : out.to_f32()) EXPECT_EQ(x, 0.0f);
}

}  // namespace
}  // namespace llmtune
