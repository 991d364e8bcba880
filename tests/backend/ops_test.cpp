// Every op of backend/ops.h on every backend against the double-precision oracle
// (naive_ops.h), and every backward against central differences of that oracle.
// This file: gemm, embedding, rmsnorm, rope, swiglu, cross_entropy, gather/scatter rows.
// attention_test.cpp and elementwise_test.cpp hold the rest.
//
// Tolerances (all relative to the reference tensor's largest magnitude unless said otherwise):
//   fp32 kernel vs double oracle: 1e-5 (gemm, rmsnorm), 2e-6 for short elementwise formulas
//     (rope, swiglu); exact where the op only copies (embedding, gather). Observed: <= 7e-7.
//   cross_entropy losses: absolute 1e-6 * (1 + max |logit| of the row) (observed 1.2e-6 at
//     V = 32003 with logits ~12); its gradient: absolute 1e-6 * grad_scale (observed 2e-9).
//   16-bit gemm operand b: 1e-5 against the product of the rounded 16-bit values, and within
//     u * |alpha| * sum|a||b| of the unrounded fp32 product (u = 2^-8 bf16, 2^-11 fp16).
//   gradients vs central differences (double, step 1e-4): 1e-5 relative to max |fd|
//     (observed <= 2.1e-7 here, <= 9e-7 for attention).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "backend/op_test_util.h"

namespace llmtune::test {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kFp32Tol = 1e-5;
constexpr double kGradTol = 1e-5;

class Ops : public ::testing::TestWithParam<Device> {
 protected:
  Device dev() const { return GetParam(); }
  Tensor f32(const std::vector<float>& v, const Shape& s, DType dt = DType::F32) const {
    return Tensor::from_f32(v, s, dt, dev());
  }
  Tensor i32(const std::vector<int32_t>& v, const Shape& s) const {
    return Tensor::from_i32(v, s, dev());
  }
};

// ---------------------------------------------------------------------------------------------
// gemm

struct GemmCase {
  int64_t m, n, k;
  float alpha, beta;
};

const GemmCase kGemmCases[] = {
    {1, 1, 1, 1.0f, 0.0f},    {3, 5, 7, 1.0f, 0.0f},      {3, 5, 7, 0.5f, -1.5f},
    {17, 33, 65, 1.0f, 1.0f}, {17, 33, 65, -2.0f, 0.25f}, {64, 1, 128, 1.0f, 0.0f},
    {1, 70, 3, 0.75f, 2.0f},
};

// Unit roundoff of a storage type: the largest relative error of rounding to it.
double unit_roundoff(DType dt) {
  return dt == DType::BF16 ? std::ldexp(1.0, -8) : dt == DType::F16 ? std::ldexp(1.0, -11) : 0.0;
}

// Runs one gemm and checks it; `tol` applies to the error relative to max |reference|. A 16-bit
// b is also checked against the fp32 product when `vs_fp32`.
void check_gemm(Device dev, const GemmCase& g, bool ta, bool tb, DType bt, double tol,
                bool vs_fp32 = true) {
  SCOPED_TRACE(::testing::Message()
               << "m=" << g.m << " n=" << g.n << " k=" << g.k << " ta=" << ta << " tb=" << tb
               << " b=" << dtype_name(bt) << " alpha=" << g.alpha << " beta=" << g.beta);
  const std::vector<float> a = randu(g.m * g.k, 1, -1, 1), b = randu(g.k * g.n, 2, -1, 1);
  // beta == 0 must ignore c, which may be uninitialized memory: fill it with NaN.
  const std::vector<float> c0 =
      g.beta == 0 ? std::vector<float>(g.m * g.n, kNaN) : randu(g.m * g.n, 3, -1, 1);
  Tensor at = Tensor::from_f32(a, ta ? Shape{g.k, g.m} : Shape{g.m, g.k}, DType::F32, dev);
  Tensor btn = Tensor::from_f32(b, tb ? Shape{g.n, g.k} : Shape{g.k, g.n}, bt, dev);
  Tensor c = Tensor::from_f32(c0, {g.m, g.n}, DType::F32, dev);
  ops::gemm(c, at, ta, btn, tb, g.alpha, g.beta);
  const Vec got = to_vec(c);

  // Exact math on the values the kernel was given (b rounded to its storage type).
  const Vec ref =
      naive::gemm(to_vec(a), ta, to_vec(btn), tb, to_vec(c0), g.m, g.n, g.k, g.alpha, g.beta);
  EXPECT_LE(rel_error(got, ref), tol);
  if (bt == DType::F32 || !vs_fp32) return;

  // Against the fp32 product: at most the rounding of b, u * |alpha| * sum_p |a_ip b_pj|.
  const Vec exact =
      naive::gemm(to_vec(a), ta, to_vec(b), tb, to_vec(c0), g.m, g.n, g.k, g.alpha, g.beta);
  Vec abs_a = to_vec(a), abs_b = to_vec(b);
  for (double& e : abs_a) e = std::fabs(e);
  for (double& e : abs_b) e = std::fabs(e);
  const Vec mag = naive::gemm(abs_a, ta, abs_b, tb, {}, g.m, g.n, g.k, std::fabs(g.alpha), 0);
  const double u = unit_roundoff(bt), slack = tol * max_abs(ref);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_LE(std::fabs(got[i] - exact[i]), u * mag[i] + slack) << "element " << i;
  }
}

TEST_P(Ops, GemmAllTransposesAlphaBetaAndWeightTypes) {
  for (DType bt : {DType::F32, DType::BF16, DType::F16}) {
    for (const GemmCase& g : kGemmCases) {
      for (int t = 0; t < 4; ++t) check_gemm(dev(), g, t & 1, t & 2, bt, kFp32Tol);
    }
  }
}

// A 16-bit b larger than the CPU kernel's widening scratch (2M floats) is converted a few rows
// at a time: 17 rows of 131073 give a block of 16 rows and one of 1. With b not transposed, each
// block is a slice of the inner dimension and must add onto the first block's beta * c.
TEST_P(Ops, GemmSixteenBitWeightInRowBlocks) {
  const int64_t rows = 17, cols = 131073;
  for (DType bt : {DType::BF16, DType::F16}) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      // tb: c (3, rows) = a (3, cols) bᵀ; else c (3, cols) = a (3, rows) b.
      const GemmCase g =
          tb ? GemmCase{3, rows, cols, 0.5f, 0.75f} : GemmCase{3, cols, rows, 0.5f, 0.75f};
      check_gemm(dev(), g, ta, tb, bt, kFp32Tol, false);
    }
  }
}

TEST_P(Ops, GemmEmptyInnerDimensionScalesC) {
  Tensor a = Tensor::empty({3, 0}, DType::F32, dev()), b = Tensor::empty({0, 4}, DType::F32, dev());
  const std::vector<float> c0 = randn(12, 4);
  Tensor c = f32(c0, {3, 4});
  ops::gemm(c, a, false, b, false, 1.0f, 0.5f);
  for (size_t i = 0; i < c0.size(); ++i) EXPECT_EQ(c.to_f32()[i], 0.5f * c0[i]);
  Tensor nan_c = f32(std::vector<float>(12, kNaN), {3, 4});
  ops::gemm(nan_c, a, false, b, false, 1.0f, 0.0f);
  for (float e : nan_c.to_f32()) EXPECT_EQ(e, 0.0f);
}

TEST_P(Ops, GemmShapeMismatchThrows) {
  Tensor a = f32(randn(6, 5), {2, 3}), b = f32(randn(8, 6), {4, 2}), c = f32(randn(8, 7), {2, 4});
  EXPECT_THROW(ops::gemm(c, a, false, b, false), Error);
}

// ---------------------------------------------------------------------------------------------
// embedding

TEST_P(Ops, EmbeddingForwardCopiesRowsOfAnyTableType) {
  const int64_t v = 11, c = 13;
  const std::vector<int32_t> ids = {3, 0, 10, 3, 7, 3, 1, 10, 5, 0};
  const std::vector<float> table = randn(v * c, 10);
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor out = f32(std::vector<float>(ids.size() * c, kNaN), {2, 5, c});
    ops::embedding_forward(out, i32(ids, {2, 5}), f32(table, {v, c}, dt));
    // A copy widened from the stored type: exact.
    EXPECT_EQ(to_vec(out), naive::embedding(ids, to_vec(rounded(table, dt)), c));
  }
}

TEST_P(Ops, EmbeddingBackwardAccumulatesRepeatedIds) {
  const int64_t v = 11, c = 13;
  const std::vector<int32_t> ids = {3, 0, 10, 3, 7, 3, 1, 10, 5, 0};
  const int64_t n = static_cast<int64_t>(ids.size());
  const std::vector<float> table = randn(v * c, 11), dout = randn(n * c, 12), d0 = randn(v * c, 13);
  Tensor dtable = f32(d0, {v, c});
  ops::embedding_backward(dtable, i32(ids, {n}), f32(dout, {n, c}));
  // dtable += d/dtable sum(embedding(table) * dout), here by central differences.
  auto loss = [&](const Vec& t) { return dot(naive::embedding(ids, t, c), to_vec(dout)); };
  Vec grad = to_vec(dtable);
  for (int64_t i = 0; i < v * c; ++i) grad[i] -= d0[i];
  expect_grad_matches_fd(loss, to_vec(table), grad, fd_coords(v * c, 1000, 1), kGradTol, "dtable");
  // And directly: a few fp32 additions per element.
  EXPECT_LE(rel_error(to_vec(dtable), naive::scatter_add_rows(to_vec(d0), to_vec(dout), ids, c)),
            1e-6);
}

TEST_P(Ops, EmbeddingIdOutOfRangeThrows) {
  Tensor table = f32(randn(12, 14), {4, 3}), out = f32(randn(6, 15), {2, 3});
  Tensor dtable = f32(randn(12, 16), {4, 3});
  for (std::vector<int32_t> bad : {std::vector<int32_t>{0, 4}, std::vector<int32_t>{-1, 0}}) {
    Tensor ids = i32(bad, {2});
    EXPECT_THROW(ops::embedding_forward(out, ids, table), Error);
    EXPECT_THROW(ops::embedding_backward(dtable, ids, out), Error);
  }
}

// ---------------------------------------------------------------------------------------------
// rmsnorm

struct RmsCase {
  Shape shape;  // x; the last dimension is C
  float eps;
};

const RmsCase kRmsCases[] = {
    {{1, 1}, 1e-5f}, {{3, 7}, 1e-5f}, {{5, 33}, 1e-6f}, {{4, 256}, 1e-5f}, {{2, 3, 17}, 1e-5f},
};

TEST_P(Ops, RmsnormForward) {
  for (const RmsCase& rc : kRmsCases) {
    SCOPED_TRACE(shape_str(rc.shape));
    const int64_t c = rc.shape.back(), n = shape_numel(rc.shape) / c;
    const std::vector<float> x = randn(n * c, 20, 2.0f), w = randn(c, 21);
    Tensor out = f32(std::vector<float>(n * c, kNaN), rc.shape),
           rstd = f32(std::vector<float>(n), {n});
    ops::rmsnorm_forward(out, rstd, f32(x, rc.shape), f32(w, {c}), rc.eps);
    Vec ref_rstd;
    const Vec ref = naive::rmsnorm(to_vec(x), to_vec(w), n, c, rc.eps, &ref_rstd);
    EXPECT_LE(rel_error(out, ref), kFp32Tol);
    EXPECT_LE(rel_error(rstd, ref_rstd), kFp32Tol);
  }
}

TEST_P(Ops, RmsnormForwardZeroRowIsZeroWithRstdFromEps) {
  const std::vector<float> x(2 * 8, 0.0f), w = randn(8, 22);
  Tensor out = f32(x, {2, 8}), rstd = f32({0, 0}, {2});
  ops::rmsnorm_forward(out, rstd, f32(x, {2, 8}), f32(w, {8}), 1e-6f);
  for (float e : out.to_f32()) EXPECT_EQ(e, 0.0f);
  for (float r : rstd.to_f32()) EXPECT_NEAR(r, 1000.0, 1000.0 * 1e-6);
}

TEST_P(Ops, RmsnormBackwardMatchesFiniteDifferences) {
  for (const RmsCase& rc : kRmsCases) {
    SCOPED_TRACE(shape_str(rc.shape));
    const int64_t c = rc.shape.back(), n = shape_numel(rc.shape) / c;
    // C = 1 is ill-conditioned in fp32: dx = s w dy (1 - x^2 s^2) = s w dy eps / (x^2 + eps), a
    // cancellation to ~eps / x^2 of the terms, which any fp32 formula loses (seen: 2% error).
    if (c == 1) continue;
    const std::vector<float> x = randn(n * c, 23, 2.0f), w = randn(c, 24), dout = randn(n * c, 25);
    const std::vector<float> dx0 = randn(n * c, 26), dw0 = randn(c, 27);
    Tensor xt = f32(x, rc.shape), wt = f32(w, {c}), rstd = f32(std::vector<float>(n), {n});
    Tensor out = f32(x, rc.shape);
    ops::rmsnorm_forward(out, rstd, xt, wt, rc.eps);
    // accumulate = false overwrites (dx starts as NaN); dw always accumulates.
    Tensor dx = f32(std::vector<float>(n * c, kNaN), rc.shape), dw = f32(dw0, {c});
    ops::rmsnorm_backward(dx, &dw, f32(dout, rc.shape), xt, wt, rstd, false);
    // accumulate = true adds onto dx0; no dw.
    Tensor dx_acc = f32(dx0, rc.shape);
    ops::rmsnorm_backward(dx_acc, nullptr, f32(dout, rc.shape), xt, wt, rstd, true);

    const Vec xv = to_vec(x), wv = to_vec(w), dv = to_vec(dout);
    auto loss_x = [&](const Vec& xx) { return dot(naive::rmsnorm(xx, wv, n, c, rc.eps), dv); };
    auto loss_w = [&](const Vec& ww) { return dot(naive::rmsnorm(xv, ww, n, c, rc.eps), dv); };
    const Vec gx = to_vec(dx);
    Vec gw = to_vec(dw), gx_acc = to_vec(dx_acc);
    for (int64_t j = 0; j < c; ++j) gw[j] -= dw0[j];
    for (int64_t i = 0; i < n * c; ++i) gx_acc[i] -= dx0[i];
    const auto coords = fd_coords(n * c, 2000, 2);
    expect_grad_matches_fd(loss_x, xv, gx, coords, kGradTol, "dx");
    expect_grad_matches_fd(loss_x, xv, gx_acc, coords, kGradTol, "dx accumulated");
    expect_grad_matches_fd(loss_w, wv, gw, fd_coords(c, 2000, 3), kGradTol, "dw");
    expect_directional_matches_fd(loss_x, xv, gx, 4, kGradTol, "dx");
  }
}

// ---------------------------------------------------------------------------------------------
// rope

// Tables built by hand: row p, column i holds cos and sin of p * theta^(-2i/d).
void rope_tables(int64_t positions, int64_t d, std::vector<float>* cos, std::vector<float>* sin) {
  for (int64_t p = 0; p < positions; ++p) {
    for (int64_t i = 0; i < d / 2; ++i) {
      const double angle = p * std::pow(10000.0, -2.0 * i / d);
      cos->push_back(static_cast<float>(std::cos(angle)));
      sin->push_back(static_cast<float>(std::sin(angle)));
    }
  }
}

TEST_P(Ops, RopeForwardInverseAndGradient) {
  const int64_t b = 2, t = 5, h = 3, p = 50;
  const std::vector<int32_t> pos = {7, 3, 49, 0, 12, 25, 25, 1, 48, 30};  // not an arange
  for (int64_t d : {2, 8, 16}) {
    SCOPED_TRACE(::testing::Message() << "D=" << d);
    std::vector<float> cos, sin;
    rope_tables(p, d, &cos, &sin);
    const Tensor ct = f32(cos, {p, d / 2}), st = f32(sin, {p, d / 2}), pt = i32(pos, {b, t});
    const std::vector<float> x = randn(b * t * h * d, 30), w = randn(b * t * h * d, 31);
    const Shape shape{b, t, h, d};
    const Vec xv = to_vec(x), cv = to_vec(cos), sv = to_vec(sin);

    Tensor y = f32(x, shape);
    ops::rope(y, ct, st, pt, false);
    EXPECT_LE(rel_error(y, naive::rope(xv, b, t, h, d, cv, sv, pos, false)), 2e-6);
    Tensor z = f32(x, shape);
    ops::rope(z, ct, st, pt, true);
    EXPECT_LE(rel_error(z, naive::rope(xv, b, t, h, d, cv, sv, pos, true)), 2e-6);
    // The inverse undoes the forward (up to rounding: cos^2 + sin^2 of float tables ~ 1).
    ops::rope(y, ct, st, pt, true);
    EXPECT_LE(rel_error(y, xv), 2e-6);

    // Backward of L = sum(rope(x) * w) is the inverse rotation applied to w.
    Tensor g = f32(w, shape);
    ops::rope(g, ct, st, pt, true);
    auto loss = [&](const Vec& xx) {
      return dot(naive::rope(xx, b, t, h, d, cv, sv, pos, false), to_vec(w));
    };
    expect_grad_matches_fd(loss, xv, to_vec(g), fd_coords(xv.size(), 2000, 5), kGradTol, "dx");
  }
}

TEST_P(Ops, RopePositionOutOfRangeThrows) {
  std::vector<float> cos, sin;
  rope_tables(4, 4, &cos, &sin);
  Tensor x = f32(randn(1 * 2 * 1 * 4, 32), {1, 2, 1, 4});
  for (std::vector<int32_t> bad : {std::vector<int32_t>{0, 4}, std::vector<int32_t>{-1, 0}}) {
    EXPECT_THROW(ops::rope(x, f32(cos, {4, 2}), f32(sin, {4, 2}), i32(bad, {1, 2}), false), Error);
  }
}

// ---------------------------------------------------------------------------------------------
// swiglu

TEST_P(Ops, SwigluForwardAndBackward) {
  for (Shape shape : {Shape{1}, Shape{7}, Shape{3, 129}}) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t n = shape_numel(shape);
    std::vector<float> gate = randn(n, 40, 3.0f);
    // Saturated and tiny gates where shape allows: sigmoid's tails and silu'(0).
    const float special[] = {0.0f, 1e-3f, -1e-3f, 20.0f, -20.0f, 88.0f, -88.0f, 90.0f, -90.0f};
    for (int64_t i = 0; i < std::min<int64_t>(n, 9); ++i) gate[i] = n > 1 ? special[i] : gate[i];
    const std::vector<float> up = randn(n, 41), dout = randn(n, 42);
    Tensor out = f32(std::vector<float>(n, kNaN), shape);
    ops::swiglu_forward(out, f32(gate, shape), f32(up, shape));
    EXPECT_LE(rel_error(out, naive::swiglu(to_vec(gate), to_vec(up))), 2e-6);

    Tensor dg = f32(std::vector<float>(n, kNaN), shape),
           du = f32(std::vector<float>(n, kNaN), shape);
    ops::swiglu_backward(dg, du, f32(dout, shape), f32(gate, shape), f32(up, shape));
    const Vec gv = to_vec(gate), uv = to_vec(up), dv = to_vec(dout);
    auto loss_g = [&](const Vec& g) { return dot(naive::swiglu(g, uv), dv); };
    auto loss_u = [&](const Vec& u) { return dot(naive::swiglu(gv, u), dv); };
    expect_grad_matches_fd(loss_g, gv, to_vec(dg), fd_coords(n, 1000, 6), kGradTol, "dgate");
    expect_grad_matches_fd(loss_u, uv, to_vec(du), fd_coords(n, 1000, 7), kGradTol, "dup");
  }
}

// ---------------------------------------------------------------------------------------------
// cross_entropy

struct CeCase {
  int64_t rows, vocab;
};

const CeCase kCeCases[] = {{5, 1}, {6, 7}, {4, 1000}, {3, 32003}};

// Targets: a label per row, -100 on every third row.
std::vector<int32_t> ce_targets(const CeCase& cc) {
  std::vector<int32_t> t;
  for (int64_t r = 0; r < cc.rows; ++r) {
    t.push_back(r % 3 == 1 ? -100 : static_cast<int32_t>((r * 7919 + 3) % cc.vocab));
  }
  return t;
}

// Logits ~ N(0, 3), the last row shifted by +50 (the softmax must subtract the max).
std::vector<float> ce_logits(const CeCase& cc) {
  std::vector<float> l = randn(cc.rows * cc.vocab, 50, 3.0f);
  for (int64_t j = 0; j < cc.vocab; ++j) l[(cc.rows - 1) * cc.vocab + j] += 50.0f;
  return l;
}

// The loss is max + log(sum) - target in fp32, each term as large as the row's largest logit.
double ce_loss_tol(const std::vector<float>& logits, int64_t r, int64_t vocab) {
  double mx = 0;
  for (int64_t j = 0; j < vocab; ++j) mx = std::max(mx, std::fabs(double{logits[r * vocab + j]}));
  return 1e-6 * (1 + mx);
}

TEST_P(Ops, CrossEntropyLossWithoutGradient) {
  for (const CeCase& cc : kCeCases) {
    SCOPED_TRACE(::testing::Message() << cc.rows << "x" << cc.vocab);
    const std::vector<float> logits = ce_logits(cc);
    const std::vector<int32_t> targets = ce_targets(cc);
    Tensor lt = f32(logits, {cc.rows, cc.vocab}),
           losses = f32(std::vector<float>(cc.rows, kNaN), {cc.rows});
    ops::cross_entropy(losses, lt, i32(targets, {cc.rows}), 0.0f);
    const Vec ref = naive::cross_entropy(to_vec(logits), targets, cc.vocab);
    const std::vector<float> got = losses.to_f32();
    for (int64_t r = 0; r < cc.rows; ++r) {
      EXPECT_NEAR(got[r], ref[r], ce_loss_tol(logits, r, cc.vocab)) << "row " << r;
    }
    EXPECT_EQ(lt.to_f32(), logits) << "grad_scale 0 must leave the logits alone";
  }
}

TEST_P(Ops, CrossEntropyGradientIsScaledSoftmaxMinusOnehot) {
  const float grad_scale = 0.37f;
  for (const CeCase& cc : kCeCases) {
    SCOPED_TRACE(::testing::Message() << cc.rows << "x" << cc.vocab);
    const std::vector<float> logits = ce_logits(cc);
    const std::vector<int32_t> targets = ce_targets(cc);
    Tensor lt = f32(logits, {cc.rows, cc.vocab}),
           losses = f32(std::vector<float>(cc.rows, kNaN), {cc.rows});
    ops::cross_entropy(losses, lt, i32(targets, {cc.rows}), grad_scale);
    const Vec ref = naive::cross_entropy(to_vec(logits), targets, cc.vocab);
    const std::vector<float> got = losses.to_f32();
    for (int64_t r = 0; r < cc.rows; ++r) {
      EXPECT_NEAR(got[r], ref[r], ce_loss_tol(logits, r, cc.vocab)) << "row " << r;
      if (targets[r] == -100) {
        EXPECT_EQ(got[r], 0.0f);
      }
    }
    // The gradient of grad_scale * sum(losses), by central differences: per row, so rows of
    // ignored targets must come out zero. Entries are grad_scale * probabilities: absolute
    // error 1e-6 * grad_scale (tolerance relative to |grad_scale|, the largest possible entry).
    const Vec grad = to_vec(lt);
    auto loss = [&](const Vec& l) {
      return grad_scale * naive::sum(naive::cross_entropy(l, targets, cc.vocab));
    };
    const auto coords = fd_coords(grad.size(), 400, 8);
    const Vec fd = fd_grad(loss, to_vec(logits), coords);
    for (size_t i = 0; i < coords.size(); ++i) {
      ASSERT_NEAR(grad[coords[i]], fd[i], 1e-6 * grad_scale) << "element " << coords[i];
    }
    for (int64_t r = 0; r < cc.rows; ++r) {
      double row_sum = 0;
      for (int64_t j = 0; j < cc.vocab; ++j) {
        row_sum += grad[r * cc.vocab + j];
        if (targets[r] == -100) {
          ASSERT_EQ(grad[r * cc.vocab + j], 0.0) << "ignored row " << r;
        }
      }
      EXPECT_NEAR(row_sum, 0.0, 1e-6) << "softmax - onehot sums to 0, row " << r;
    }
  }
}

TEST_P(Ops, CrossEntropyLabelOutOfRangeThrows) {
  Tensor logits = f32(randn(2 * 5, 51), {2, 5}), losses = f32({0, 0}, {2});
  for (int32_t bad : {5, -1, -101, 1 << 30}) {
    EXPECT_THROW(ops::cross_entropy(losses, logits, i32({0, bad}, {2}), 1.0f), Error) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// gather_rows / scatter_add_rows

TEST_P(Ops, GatherRowsAndScatterAddRows) {
  const int64_t k = 5, n = 14;  // x (2, 7, 5): 14 rows
  const std::vector<int32_t> rows = {3, 0, 13, 3, 3, 7};
  const int64_t r = static_cast<int64_t>(rows.size());
  const std::vector<float> x = randn(n * k, 60), dout = randn(r * k, 61), dx0 = randn(n * k, 62);
  Tensor out = f32(std::vector<float>(r * k, kNaN), {r, k});
  ops::gather_rows(out, f32(x, {2, 7, k}), i32(rows, {r}));
  EXPECT_EQ(to_vec(out), naive::gather_rows(to_vec(x), rows, k));

  // Row 3 appears three times: its three gradients add up (onto dx0).
  Tensor dx = f32(dx0, {2, 7, k});
  ops::scatter_add_rows(dx, f32(dout, {r, k}), i32(rows, {r}));
  EXPECT_LE(rel_error(dx, naive::scatter_add_rows(to_vec(dx0), to_vec(dout), rows, k)), 1e-6);
  // The scatter is the gather's backward.
  Vec g = to_vec(dx);
  for (int64_t i = 0; i < n * k; ++i) g[i] -= dx0[i];
  auto loss = [&](const Vec& xx) { return dot(naive::gather_rows(xx, rows, k), to_vec(dout)); };
  expect_grad_matches_fd(loss, to_vec(x), g, fd_coords(n * k, 1000, 9), kGradTol, "dx");

  Tensor bad = i32({0, 14}, {2}), out2 = f32(std::vector<float>(2 * k), {2, k});
  EXPECT_THROW(ops::gather_rows(out2, f32(x, {n, k}), bad), Error);
  EXPECT_THROW(ops::scatter_add_rows(dx, out2, bad), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, Ops, ::testing::ValuesIn(backend_devices()), device_name);

}  // namespace
}  // namespace llmtune::test
