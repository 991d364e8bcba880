// dropout, add, scale, sum, sum_squares, convert and adamw on every backend against the
// double-precision oracle (naive_ops.h).
//
// Tolerances: add/scale 1e-6 relative to max (one or two fp32 roundings); sum 1e-7 and
// sum_squares 2e-7 relative (accumulated in double, one or two final roundings to fp32);
// convert bit-exact against
// the scalar conversions of core/dtype.h; adamw 1e-6 relative to max |param| (and to max |m|,
// max |v|) after 3 steps; dropout masks exact against the Philox stream the spec names, and the
// kept fraction within 5 standard deviations of 1 - p.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "backend/op_test_util.h"

namespace llmtune::test {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

class Elementwise : public ::testing::TestWithParam<Device> {
 protected:
  Device dev() const { return GetParam(); }
  Tensor f32(const std::vector<float>& v, const Shape& s, DType dt = DType::F32) const {
    return Tensor::from_f32(v, s, dt, dev());
  }
};

// ---------------------------------------------------------------------------------------------
// dropout

TEST_P(Elementwise, DropoutZeroProbabilityCopies) {
  const std::vector<float> x = randn(1001, 80);
  Tensor out = f32(std::vector<float>(x.size(), kNaN), {1001});
  ops::dropout(out, f32(x, {1001}), 0.0f, 1, 2);
  EXPECT_EQ(out.to_f32(), x);
  Tensor in_place = f32(x, {1001});
  ops::dropout(in_place, in_place, 0.0f, 1, 2);
  EXPECT_EQ(in_place.to_f32(), x);
}

TEST_P(Elementwise, DropoutMatchesPhiloxSpecAndScalesKeptValues) {
  const int64_t n = 4 * 1000 + 3;  // not a multiple of the 4 words of a Philox block
  const std::vector<float> x = randu(n, 81, 0.5f, 2.0f);  // never 0, so the mask is visible
  for (float p : {0.1f, 0.5f, 0.9f}) {
    SCOPED_TRACE(p);
    Tensor out = f32(std::vector<float>(n, kNaN), {n});
    ops::dropout(out, f32(x, {n}), p, 42, 7);
    const std::vector<float> got = out.to_f32();
    const Vec ref = naive::dropout(to_vec(x), p, 42, 7);
    const float keep_scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; ++i) {
      if (ref[i] == 0) {
        ASSERT_EQ(got[i], 0.0f) << "element " << i << " should be dropped";
      } else {
        // kept: x / (1 - p), within two fp32 roundings of the exact value
        ASSERT_NEAR(got[i], ref[i], 2.5e-7 * ref[i]) << "element " << i;
        ASSERT_NEAR(got[i], x[i] * keep_scale, 1.2e-7 * got[i]) << "element " << i;
      }
    }
  }
}

TEST_P(Elementwise, DropoutIsAPureFunctionOfSeedAndStream) {
  const int64_t n = 10007;
  const std::vector<float> x = randu(n, 82, 0.5f, 2.0f);
  auto run = [&](const std::vector<float>& in, uint64_t seed, uint64_t stream) {
    Tensor out = f32(std::vector<float>(n, kNaN), {n});
    ops::dropout(out, f32(in, {n}), 0.3f, seed, stream);
    return out.to_f32();
  };
  auto mask = [](const std::vector<float>& v) {
    std::vector<bool> m;
    for (float e : v) m.push_back(e != 0.0f);
    return m;
  };
  const std::vector<float> a = run(x, 5, philox_stream(1, 2, 3));
  EXPECT_EQ(run(x, 5, philox_stream(1, 2, 3)), a) << "same key, same output";
  EXPECT_NE(mask(run(x, 5, philox_stream(1, 2, 4))), mask(a)) << "another stream, another mask";
  EXPECT_NE(mask(run(x, 6, philox_stream(1, 2, 3))), mask(a)) << "another seed, another mask";
  // Backward regenerates the mask by applying dropout to the gradient with the same key:
  // a tensor of ones shows the mask, which must be the one x got.
  const std::vector<float> ones = run(std::vector<float>(n, 1.0f), 5, philox_stream(1, 2, 3));
  EXPECT_EQ(mask(ones), mask(a));
  for (float e : ones) {
    if (e != 0.0f) {
      ASSERT_FLOAT_EQ(e, 1.0f / 0.7f);
    }
  }
}

TEST_P(Elementwise, DropoutKeepsAFractionOneMinusP) {
  const int64_t n = 200003;
  const std::vector<float> ones(n, 1.0f);
  for (float p : {0.05f, 0.1f, 0.5f, 0.9f}) {
    Tensor out = f32(std::vector<float>(n, kNaN), {n});
    ops::dropout(out, f32(ones, {n}), p, 123, 456);
    int64_t kept = 0;
    for (float e : out.to_f32()) kept += e != 0.0f;
    // Binomial(n, 1 - p): standard deviation sqrt(n p (1 - p)); 5 of them is a 1-in-3.5e6 miss.
    const double sd = std::sqrt(n * p * (1.0 - p));
    EXPECT_NEAR(static_cast<double>(kept), n * (1.0 - p), 5 * sd) << "p=" << p;
  }
  Tensor all = f32(ones, {n});
  ops::dropout(all, f32(ones, {n}), 1.0f, 123, 456);
  for (float e : all.to_f32()) ASSERT_EQ(e, 0.0f) << "p = 1 drops everything (and makes no inf)";
}

// ---------------------------------------------------------------------------------------------
// add, scale, sum, sum_squares

TEST_P(Elementwise, AddAndScale) {
  for (int64_t n : {1, 7, 100003}) {
    const std::vector<float> y0 = randn(n, 83), x = randn(n, 84);
    Tensor y = f32(y0, {n});
    ops::add(y, f32(x, {n}), -0.625f);
    Vec ref(n);
    for (int64_t i = 0; i < n; ++i) ref[i] = y0[i] - 0.625 * x[i];
    EXPECT_LE(rel_error(y, ref), 1e-6) << n;

    Tensor s = f32(x, {n});
    ops::scale(s, 3.3f);
    for (int64_t i = 0; i < n; ++i) ref[i] = 3.3f * static_cast<double>(x[i]);
    EXPECT_LE(rel_error(s, ref), 1e-6) << n;
  }
}

TEST_P(Elementwise, SumAndSumSquares) {
  for (int64_t n : {1, 7, 100003}) {
    const std::vector<float> x = randn(n, 85);
    Tensor out = f32({kNaN}, {1});
    ops::sum(out, f32(x, {n}), 0.5f);
    const double s = 0.5 * naive::sum(to_vec(x));
    EXPECT_NEAR(out.item(), s, 1e-7 * std::fabs(s)) << n;  // one rounding to fp32
    Tensor sq = f32({2.5f}, {1});
    ops::sum_squares(sq, f32(x, {n}));  // accumulates onto 2.5
    const double ss = 2.5 + naive::sum_squares(to_vec(x));
    EXPECT_NEAR(sq.item(), ss, 2e-7 * ss) << n;  // two roundings to fp32
  }
}

// "Accumulated in double": float accumulation would lose every small term next to 1e8.
TEST_P(Elementwise, SumAndSumSquaresAccumulateInDouble) {
  std::vector<float> x(1002, 1.0f);
  x.front() = 1e8f;
  x.back() = -1e8f;
  Tensor out = f32({0.0f}, {1});
  ops::sum(out, f32(x, {1002}), 1.0f);
  EXPECT_EQ(out.item(), 1000.0f);
  std::vector<float> y(1001, 1.0f);
  y.front() = 1e4f;  // squares: 1e8 + 1000 * 1, exactly representable in fp32
  Tensor sq = f32({0.0f}, {1});
  ops::sum_squares(sq, f32(y, {1001}));
  EXPECT_EQ(sq.item(), 100001000.0f);
}

// ---------------------------------------------------------------------------------------------
// convert

std::vector<uint16_t> bits16(const Tensor& t) {
  std::vector<uint16_t> out(t.numel());
  t.copy_to_host(out.data());
  return out;
}

TEST_P(Elementwise, ConvertBetweenFloatTypesRoundsLikeTheScalarConversions) {
  std::vector<float> x = randn(1000, 86, 100.0f);
  const float specials[] = {0.0f,  -0.0f,  1.0f,     65504.0f,  65520.0f, 1e-7f,       6e-8f,
                            1e30f, -1e30f, INFINITY, -INFINITY, 3.0e38f,  1.00390625f, 1.01171875f};
  x.insert(x.end(), std::begin(specials), std::end(specials));
  const int64_t n = static_cast<int64_t>(x.size());
  const Tensor src = f32(x, {n});
  Tensor bf = Tensor::empty({n}, DType::BF16, dev()), hf = Tensor::empty({n}, DType::F16, dev());
  ops::convert(bf, src);
  ops::convert(hf, src);
  const std::vector<uint16_t> b = bits16(bf), h = bits16(hf);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(b[i], f32_to_bf16(x[i])) << x[i];
    ASSERT_EQ(h[i], f32_to_f16(x[i])) << x[i];
  }
  // Widening is exact; between the 16-bit types the value goes through fp32.
  Tensor back = Tensor::empty({n}, DType::F32, dev()), hb = Tensor::empty({n}, DType::BF16, dev());
  Tensor bh = Tensor::empty({n}, DType::F16, dev());
  ops::convert(back, bf);
  ops::convert(hb, hf);
  ops::convert(bh, bf);
  const std::vector<float> bv = back.to_f32();
  const std::vector<uint16_t> hbv = bits16(hb), bhv = bits16(bh);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(bv[i], bf16_to_f32(b[i])) << x[i];
    ASSERT_EQ(hbv[i], f32_to_bf16(f16_to_f32(h[i]))) << x[i];
    ASSERT_EQ(bhv[i], f32_to_f16(bf16_to_f32(b[i]))) << x[i];
  }
  Tensor copy = Tensor::empty({n}, DType::F32, dev());
  ops::convert(copy, src);
  EXPECT_EQ(copy.to_f32(), x);
}

// ---------------------------------------------------------------------------------------------
// adamw

// The kernel receives the hyperparameters as Python would (doubles) and forms 1 - beta in
// double before using it in fp32, so m, v and the parameters match a double-precision oracle
// run with the decimal values to fp32 rounding.
TEST_P(Elementwise, AdamwMatchesTorchFormulaOverThreeSteps) {
  const int64_t n = 1003;
  const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
  const std::vector<float> p0 = randn(n, 87);
  Vec pd = to_vec(p0), md(n, 0.0), vd(n, 0.0);
  Tensor pt = f32(p0, {n}), mt = f32(std::vector<float>(n, 0.0f), {n});
  Tensor vt = f32(std::vector<float>(n, 0.0f), {n});
  for (int64_t step = 1; step <= 3; ++step) {
    SCOPED_TRACE(::testing::Message() << "step " << step);
    std::vector<float> g = randn(n, 88 + step, 0.1f * step);
    g[0] = 0.0f;  // a zero gradient: the denominator is eps alone on step 1
    ops::adamw(pt, f32(g, {n}), mt, vt, lr, b1, b2, eps, wd, step);
    naive::adamw(pd, to_vec(g), md, vd, lr, b1, b2, eps, wd, step);
    EXPECT_LE(rel_error(pt, pd), 1e-6) << "param";
    EXPECT_LE(rel_error(mt, md), 1e-6) << "m";
    EXPECT_LE(rel_error(vt, vd), 1e-6) << "v";
  }
  // The total update (~3 lr) to 1e-4 of its size: catches a wrong bias correction or decay
  // that could hide under 1e-6 of |param|.
  Vec moved = to_vec(pt), ref_moved = pd;
  for (int64_t i = 0; i < n; ++i) {
    moved[i] -= p0[i];
    ref_moved[i] -= p0[i];
  }
  EXPECT_LE(rel_error(moved, ref_moved), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Backends, Elementwise, ::testing::ValuesIn(backend_devices()),
                         device_name);

}  // namespace
}  // namespace llmtune::test
