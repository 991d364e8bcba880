// Attention forward and backward on every backend against the double-precision oracle and
// central differences, over a table of shapes and masks:
//   B = 2; T in {1, 5, 64, 65, 130} (one query row, a short block, exactly one 64-row query
//   block, one row past it, and three blocks); Hq = 4 with Hkv = 2 (grouped, D = 16) or
//   Hkv = 4 (D = 8); with and without key padding; window 0 (full causal) and 3.
// Key padding: batch row 0 is right-padded (the last T/4 keys); batch row 1 has its first 3
// keys padded, and for T >= 10 a run of 3 more at T/2, so that with window 3 a query in the
// middle of the sequence sees no key. Such rows must give output 0 and lse +inf.
//
// Tolerances: out 1e-5 relative to max |out|; lse 1e-5 absolute (it is O(1) to O(10));
// dq, dk, dv 1e-5 relative to max |finite difference| at the checked coordinates (all of them
// for small tensors, 48 random ones for large ones), plus a random directional derivative over
// all coordinates. Observed: out <= 3e-7, lse <= 7e-7, gradients <= 9e-7.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "backend/op_test_util.h"

namespace llmtune::test {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct AttnCase {
  int64_t t, hq, hkv, d;
  bool padded;
  int64_t window;
};

void PrintTo(const AttnCase& c, std::ostream* os) {
  *os << "T=" << c.t << " Hq=" << c.hq << " Hkv=" << c.hkv << " D=" << c.d
      << (c.padded ? " padded" : "") << " window=" << c.window;
}

std::vector<AttnCase> attention_cases() {
  std::vector<AttnCase> cases;
  for (int64_t t : {1, 5, 64, 65, 130}) {
    for (int64_t hkv : {2, 4}) {
      for (bool padded : {false, true}) {
        for (int64_t window : {0, 3})
          cases.push_back({t, 4, hkv, hkv == 2 ? 16 : 8, padded, window});
      }
    }
  }
  return cases;
}

std::vector<int32_t> key_padding(int64_t t) {
  std::vector<int32_t> pad(2 * t, 1);
  for (int64_t j = t - t / 4; j < t; ++j) pad[j] = 0;
  for (int64_t j = 0; j < std::min<int64_t>(3, t); ++j) pad[t + j] = 0;
  if (t >= 10) {
    for (int64_t j = t / 2; j < t / 2 + 3; ++j) pad[t + j] = 0;
  }
  return pad;
}

using Param = std::tuple<Device, AttnCase>;

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [dev, c] = info.param;
  std::ostringstream name;
  name << "T" << c.t << "_Hq" << c.hq << "Hkv" << c.hkv << "_D" << c.d
       << (c.padded ? "_padded" : "") << "_window" << c.window << "_" << dev.str();
  std::string s = name.str();
  std::replace(s.begin(), s.end(), ':', '_');
  return s;
}

class Attention : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const auto& [dev, c] = GetParam();
    dims = {2, c.t, c.hq, c.hkv, c.d, c.window};
    scale = 1.0 / std::sqrt(static_cast<double>(c.d));
    q = randn(2 * c.t * c.hq * c.d, 70);
    k = randn(2 * c.t * c.hkv * c.d, 71);
    v = randn(2 * c.t * c.hkv * c.d, 72);
    if (c.padded) pad = key_padding(c.t);
    mask.window = c.window;
    if (c.padded) mask.key_padding = Tensor::from_i32(pad, {2, c.t}, dev);
    qt = Tensor::from_f32(q, {2, c.t, c.hq, c.d}, DType::F32, dev);
    kt = Tensor::from_f32(k, {2, c.t, c.hkv, c.d}, DType::F32, dev);
    vt = Tensor::from_f32(v, {2, c.t, c.hkv, c.d}, DType::F32, dev);
    out = Tensor::from_f32(std::vector<float>(q.size(), kNaN), qt.shape(), DType::F32, dev);
    lse =
        Tensor::from_f32(std::vector<float>(2 * c.hq * c.t, kNaN), {2, c.hq, c.t}, DType::F32, dev);
    ops::attention_forward(out, lse, qt, kt, vt, mask, static_cast<float>(scale));
  }

  Vec reference(const Vec& qq, const Vec& kk, const Vec& vv, Vec* ref_lse = nullptr) const {
    return naive::attention(qq, kk, vv, pad, dims, scale, ref_lse);
  }

  naive::AttentionDims dims;
  double scale;
  std::vector<float> q, k, v;
  std::vector<int32_t> pad;
  AttentionMask mask;
  Tensor qt, kt, vt, out, lse;
};

TEST_P(Attention, ForwardMatchesOracle) {
  Vec ref_lse;
  const Vec ref = reference(to_vec(q), to_vec(k), to_vec(v), &ref_lse);
  EXPECT_LE(rel_error(out, ref), 1e-5);
  const std::vector<float> got_out = out.to_f32(), got_lse = lse.to_f32();
  int64_t empty_rows = 0;
  for (int64_t b = 0; b < dims.b; ++b) {
    for (int64_t h = 0; h < dims.hq; ++h) {
      for (int64_t i = 0; i < dims.t; ++i) {
        const size_t li = (b * dims.hq + h) * dims.t + i;
        if (std::isinf(ref_lse[li])) {
          ++empty_rows;
          EXPECT_TRUE(std::isinf(got_lse[li]) && got_lse[li] > 0)
              << "lse of a query with no visible key, b=" << b << " h=" << h << " i=" << i << ": "
              << got_lse[li];
          for (int64_t c = 0; c < dims.d; ++c) {
            ASSERT_EQ(got_out[((b * dims.t + i) * dims.hq + h) * dims.d + c], 0.0f)
                << "output of a query with no visible key, b=" << b << " i=" << i;
          }
        } else {
          EXPECT_NEAR(got_lse[li], ref_lse[li], 1e-5) << "b=" << b << " h=" << h << " i=" << i;
        }
      }
    }
  }
  if (!pad.empty()) {
    EXPECT_GT(empty_rows, 0) << "the padding pattern leaves every query a key";
  }
}

TEST_P(Attention, BackwardMatchesFiniteDifferences) {
  const auto& [dev, c] = GetParam();
  const std::vector<float> dout = randn(q.size(), 73);
  Tensor dq = Tensor::from_f32(std::vector<float>(q.size(), kNaN), qt.shape(), DType::F32, dev);
  Tensor dk = Tensor::from_f32(std::vector<float>(k.size(), kNaN), kt.shape(), DType::F32, dev);
  Tensor dv = Tensor::from_f32(std::vector<float>(v.size(), kNaN), vt.shape(), DType::F32, dev);
  ops::attention_backward(dq, dk, dv, Tensor::from_f32(dout, qt.shape(), DType::F32, dev), qt, kt,
                          vt, out, lse, mask, static_cast<float>(scale));
  const Vec qv = to_vec(q), kv = to_vec(k), vv = to_vec(v), w = to_vec(dout);
  const Vec gq = to_vec(dq), gk = to_vec(dk), gv = to_vec(dv);
  auto loss_q = [&](const Vec& x) { return dot(reference(x, kv, vv), w); };
  auto loss_k = [&](const Vec& x) { return dot(reference(qv, x, vv), w); };
  auto loss_v = [&](const Vec& x) { return dot(reference(qv, kv, x), w); };
  constexpr double kTol = 1e-5;
  constexpr size_t kCoords = 48;
  expect_grad_matches_fd(loss_q, qv, gq, fd_coords(qv.size(), kCoords, 10), kTol, "dq");
  expect_grad_matches_fd(loss_k, kv, gk, fd_coords(kv.size(), kCoords, 11), kTol, "dk");
  expect_grad_matches_fd(loss_v, vv, gv, fd_coords(vv.size(), kCoords, 12), kTol, "dv");
  expect_directional_matches_fd(loss_q, qv, gq, 13, kTol, "dq");
  expect_directional_matches_fd(loss_k, kv, gk, 14, kTol, "dk");
  expect_directional_matches_fd(loss_v, vv, gv, 15, kTol, "dv");

  // Everywhere, not only at sampled coordinates: a padded key gets no gradient, and a query
  // that sees no key gets none either.
  Vec ref_lse;
  reference(qv, kv, vv, &ref_lse);
  for (int64_t b = 0; b < dims.b; ++b) {
    for (int64_t j = 0; j < dims.t; ++j) {
      if (pad.empty() || pad[b * dims.t + j] != 0) continue;
      for (int64_t x = 0; x < dims.hkv * dims.d; ++x) {
        const size_t e = (b * dims.t + j) * dims.hkv * dims.d + x;
        ASSERT_EQ(gk[e], 0.0) << "dk of padded key b=" << b << " j=" << j;
        ASSERT_EQ(gv[e], 0.0) << "dv of padded key b=" << b << " j=" << j;
      }
    }
    for (int64_t h = 0; h < dims.hq; ++h) {
      for (int64_t i = 0; i < dims.t; ++i) {
        if (!std::isinf(ref_lse[(b * dims.hq + h) * dims.t + i])) continue;
        for (int64_t x = 0; x < dims.d; ++x) {
          ASSERT_EQ(gq[((b * dims.t + i) * dims.hq + h) * dims.d + x], 0.0)
              << "dq of a query with no visible key b=" << b << " i=" << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Attention,
                         ::testing::Combine(::testing::ValuesIn(backend_devices()),
                                            ::testing::ValuesIn(attention_cases())),
                         param_name);

}  // namespace
}  // namespace llmtune::test
