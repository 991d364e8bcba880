// core: Tensor views and copies, the bf16 and fp16 conversions, device memory statistics, and
// the statistics of the Philox streams.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/philox.h"
#include "core/tensor.h"

namespace llmtune {
namespace {

std::vector<float> iota(int64_t n) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Tensor

TEST(Tensor, ShapeQueries) {
  const Tensor t = Tensor::from_f32(iota(24), {2, 3, 4});
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.size(0), 2);
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.str(), "F32[2, 3, 4]");
  EXPECT_EQ(Tensor().str(), "undefined");
  EXPECT_THROW(t.size(3), Error);
  EXPECT_THROW(t.size(-4), Error);
  EXPECT_EQ(Tensor::from_f32({1.5f}, {1}, DType::BF16).item(), 1.5f);
  EXPECT_THROW(t.item(), Error);
  EXPECT_THROW(Tensor::from_f32(iota(5), {2, 3}), Error);
}

TEST(Tensor, ViewSharesTheBuffer) {
  Tensor t = Tensor::from_f32(iota(12), {3, 4});
  Tensor v = t.view({2, 6});
  EXPECT_TRUE(v.shares_storage(t));
  EXPECT_EQ(v.shape(), (Shape{2, 6}));
  EXPECT_EQ(v.to_f32(), iota(12));
  std::vector<float> ones(12, 1.0f);
  v.copy_from_host(ones.data());
  EXPECT_EQ(t.to_f32(), ones) << "writes through a view reach the original";
  EXPECT_THROW(t.view({5, 2}), Error);
  EXPECT_FALSE(t.clone().shares_storage(t));
}

TEST(Tensor, NarrowSelectsARangeAndSharesTheBuffer) {
  const std::vector<float> x = iota(24);
  Tensor t = Tensor::from_f32(x, {4, 6});
  Tensor rows = t.narrow(0, 1, 2);  // rows 1 and 2: still contiguous
  EXPECT_TRUE(rows.is_contiguous());
  EXPECT_TRUE(rows.shares_storage(t));
  EXPECT_EQ(rows.to_f32(), std::vector<float>(x.begin() + 6, x.begin() + 18));
  const std::vector<float> minus(12, -1.0f);
  rows.copy_from_host(minus.data());
  std::vector<float> expect = x;
  std::fill(expect.begin() + 6, expect.begin() + 18, -1.0f);
  EXPECT_EQ(t.to_f32(), expect);
  // Nested and negative-dimension narrowing.
  EXPECT_EQ(t.narrow(0, 3, 1).narrow(-2, 0, 1).to_f32(),
            std::vector<float>(x.begin() + 18, x.end()));
  EXPECT_EQ(t.narrow(0, 2, 0).numel(), 0);

  Tensor cols = t.narrow(1, 2, 3);  // a column range: not contiguous
  EXPECT_FALSE(cols.is_contiguous());
  EXPECT_EQ(cols.shape(), (Shape{4, 3}));
  EXPECT_EQ(cols.strides(), (Shape{6, 1}));
  EXPECT_THROW(cols.view({12}), Error);
  EXPECT_THROW(cols.to_f32(), Error);
  // clone() and to() of a strided view gather it into a contiguous copy.
  const std::vector<float> got = cols.clone().to_f32();
  const std::vector<float> bf = cols.to(DType::BF16).to_f32();
  for (int64_t r = 0; r < 4; ++r) {
    for (int64_t c = 0; c < 3; ++c) {
      EXPECT_EQ(got[r * 3 + c], t.to_f32()[r * 6 + 2 + c]);
      EXPECT_EQ(bf[r * 3 + c], bf16_to_f32(f32_to_bf16(t.to_f32()[r * 6 + 2 + c])));
    }
  }
  EXPECT_THROW(t.narrow(0, 3, 2), Error);
  EXPECT_THROW(t.narrow(1, -1, 2), Error);
  EXPECT_THROW(t.narrow(2, 0, 1), Error);
}

TEST(Tensor, ToAndCopyConvertFloatTypes) {
  const std::vector<float> x = {1.0f, -2.5f, 3.14159265f, 1e-3f, 65504.0f, 1e5f};
  const Tensor t = Tensor::from_f32(x, {2, 3});
  for (DType dt : {DType::BF16, DType::F16}) {
    const Tensor h = t.to(dt);
    EXPECT_EQ(h.dtype(), dt);
    EXPECT_EQ(h.shape(), t.shape());
    std::vector<uint16_t> bits(6);
    h.copy_to_host(bits.data());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(bits[i], dt == DType::BF16 ? f32_to_bf16(x[i]) : f32_to_f16(x[i])) << x[i];
    }
    EXPECT_EQ(h.to(DType::F32).to_f32(), h.to_f32());
  }
  Tensor dst = Tensor::zeros({2, 3}, DType::BF16);
  dst.copy_(t);
  EXPECT_EQ(dst.to_f32(), t.to(DType::BF16).to_f32());
  Tensor same = Tensor::zeros({2, 3}, DType::F32);
  same.copy_(t);
  EXPECT_EQ(same.to_f32(), x);
  Tensor row = Tensor::zeros({4, 3}, DType::F32).narrow(0, 1, 2);
  row.copy_(t);  // into a contiguous slice
  EXPECT_EQ(row.to_f32(), x);
  Tensor wrong = Tensor::zeros({3, 2}, DType::F32);
  EXPECT_THROW(wrong.copy_(t), Error);
  EXPECT_THROW(Tensor::from_i32({1, 2}, {2}).to_f32(), Error);
  EXPECT_THROW(t.to_i32(), Error);
  EXPECT_EQ(Tensor::from_i32({7, -3}, {2}).to_i32(), (std::vector<int32_t>{7, -3}));
}

TEST(Tensor, ZerosAndBorrow) {
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    for (float e : Tensor::zeros({3, 5}, dt).to_f32()) EXPECT_EQ(e, 0.0f);
  }
  auto owner = std::make_shared<std::vector<float>>(iota(6));
  std::weak_ptr<std::vector<float>> watch = owner;
  {
    Tensor t = Tensor::borrow(owner->data(), {2, 3}, DType::F32, Device::cpu(), owner);
    owner.reset();
    EXPECT_FALSE(watch.expired()) << "the tensor keeps its owner alive";
    EXPECT_EQ(t.view({6}).to_f32(), iota(6));
  }
  EXPECT_TRUE(watch.expired());
}

// ---------------------------------------------------------------------------------------------
// bf16

float bits_to_f32(uint32_t u) {
  return std::bit_cast<float>(u);
}

// Round to nearest even, written as the definition: the two bf16 neighbours of f (the
// truncation and the next value away from zero) and whichever is closer, the even one on a tie.
// The next value past the largest finite bf16 is 2^128 as if the exponent were unbounded; it
// rounds to infinity, as IEEE 754 says.
uint16_t bf16_reference(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if (std::isnan(f)) return 0;  // not used: NaN is checked separately
  const uint32_t lo = u & 0xffff0000u;
  const double flo = std::fabs(static_cast<double>(bits_to_f32(lo)));
  const double ulp = std::ldexp(1.0, std::max(1, static_cast<int>((lo >> 23) & 0xff)) - 127 - 7);
  const double fhi = flo + ulp, fa = std::fabs(static_cast<double>(f));
  const uint16_t down = static_cast<uint16_t>(lo >> 16), up = static_cast<uint16_t>(down + 1);
  if (std::isinf(f)) return down;
  if (fa - flo < fhi - fa) return down;
  if (fa - flo > fhi - fa) return up;
  return (down & 1) ? up : down;
}

TEST(Bf16, RoundsToNearestEvenLikeTheDefinition) {
  std::vector<uint32_t> patterns;
  for (uint64_t u = 0; u <= 0xffffffffu; u += 4099) patterns.push_back(static_cast<uint32_t>(u));
  // Ties and their neighbours around a few exponents, both signs, and the largest finite.
  for (uint32_t e : {0x00000000u, 0x00800000u, 0x3f800000u, 0x7f000000u, 0x7f7f0000u}) {
    for (uint32_t low : {0x7fffu, 0x8000u, 0x8001u, 0x18000u, 0xffffu}) {
      patterns.push_back(e | low);
      patterns.push_back(0x80000000u | e | low);
    }
  }
  patterns.push_back(0x7f7fffffu);  // FLT_MAX: past the last bf16 + half an ulp -> inf
  patterns.push_back(0x7f800000u);
  patterns.push_back(0xff800000u);
  int checked = 0;
  for (uint32_t u : patterns) {
    const float f = bits_to_f32(u);
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_bf16(f), bf16_reference(f)) << std::hex << "bits 0x" << u;
    ++checked;
  }
  EXPECT_GT(checked, 1000000);
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);  // 1 + 2^-8: a tie, to even (down)
  EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3f82);  // 1 + 3 * 2^-8: a tie, to even (up)
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);
}

TEST(Bf16, NanStaysNanAndWideningIsExact) {
  // A NaN whose payload lives only in the low 16 bits would truncate to infinity.
  for (uint32_t u : {0x7f800001u, 0xff800001u, 0x7fc00000u, 0x7fffffffu, 0x7f80ffffu}) {
    const float back = bf16_to_f32(f32_to_bf16(bits_to_f32(u)));
    EXPECT_TRUE(std::isnan(back)) << std::hex << u;
    EXPECT_EQ(std::signbit(back), (u >> 31) != 0) << std::hex << u;
  }
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(std::bit_cast<uint32_t>(f), h << 16);
    if (!std::isnan(f)) {
      ASSERT_EQ(f32_to_bf16(f), h) << std::hex << h;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// fp16, against the compiler's _Float16 (IEEE binary16, round to nearest even)

#ifdef __FLT16_MAX__
uint16_t f16_bits(_Float16 h) {
  return std::bit_cast<uint16_t>(h);
}

void expect_f16_matches_compiler(float f) {
  const uint16_t got = f32_to_f16(f), want = f16_bits(static_cast<_Float16>(f));
  if (std::isnan(f)) {
    ASSERT_TRUE((got & 0x7c00) == 0x7c00 && (got & 0x3ff) != 0) << "NaN -> " << std::hex << got;
    ASSERT_EQ(got & 0x8000, want & 0x8000);
  } else {
    ASSERT_EQ(got, want) << std::hex << "f32 0x" << std::bit_cast<uint32_t>(f) << " (" << f << ")";
  }
}

TEST(Fp16, NarrowingMatchesTheCompilerOnEveryRoundingBoundary) {
  // For every finite f16 value v and its successor: v, the midpoint (a tie), the floats just
  // around both, both signs. That covers every rounding decision, subnormals included.
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const float v = static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(h)));
    const float next = static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(h + 1)));
    const float mid = h + 1 == 0x7c00 ? 65520.0f : (v + next) / 2;  // exact in fp32
    for (float f : {v, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY),
                    std::nextafter(v, INFINITY), std::nextafter(v, 0.0f)}) {
      expect_f16_matches_compiler(f);
      expect_f16_matches_compiler(-f);
    }
  }
  // A sweep over all fp32 bit patterns: huge, tiny, infinities, NaNs.
  for (uint64_t u = 0; u <= 0xffffffffu; u += 4093) {
    expect_f16_matches_compiler(bits_to_f32(static_cast<uint32_t>(u)));
  }
  for (float f : {65504.0f, 65519.99f, 65520.0f, 1e10f, INFINITY, -INFINITY, 5.9604645e-8f,
                  2.9802322e-8f, 2.9802326e-8f, 1e-10f, -0.0f, std::numeric_limits<float>::max(),
                  std::numeric_limits<float>::denorm_min(), std::nanf("")}) {
    expect_f16_matches_compiler(f);
  }
}

TEST(Fp16, WideningMatchesTheCompilerForEveryValue) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float got = f16_to_f32(static_cast<uint16_t>(h));
    const float want = static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(h)));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << h;
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << std::hex << h;
    }
  }
}
#endif

TEST(Fp16, SpecialValues) {
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);  // largest finite
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // its tie with 2^16: to inf
  EXPECT_EQ(f32_to_f16(-INFINITY), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half of it: tie, to even 0
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp: tie, to even 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::nanf("")))));
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(bits_to_f32(0x7f800001u)))));  // low payload
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));
}

// ---------------------------------------------------------------------------------------------
// Device memory statistics (CPU): sizes are rounded up to 64 bytes; blocks of 64 KiB and more
// are cached on free and reused by an allocation of the same size.

TEST(DeviceMemory, InUsePeakAndCache) {
  DeviceMemory& mem = device_memory(Device::cpu());
  mem.release_cached();
  const Tensor live = Tensor::empty({100}, DType::F32);  // so that in_use is not 0 at resets
  mem.reset_peak();
  const MemoryStats base = mem.stats();
  EXPECT_GE(base.in_use, 448u);
  EXPECT_EQ(base.peak, base.in_use);
  EXPECT_EQ(base.cached, 0u);
  {
    Tensor small = Tensor::empty({1000}, DType::F32);  // 4000 bytes -> 4032
    EXPECT_EQ(mem.stats().in_use, base.in_use + 4032);
  }
  EXPECT_EQ(mem.stats().in_use, base.in_use);
  EXPECT_EQ(mem.stats().cached, 0u) << "small blocks go back to the system";
  EXPECT_EQ(mem.stats().peak, base.in_use + 4032);

  const size_t mib = 1 << 20;
  mem.reset_peak();
  {
    Tensor a = Tensor::empty({static_cast<int64_t>(mib / 4)}, DType::F32);
    Tensor b = Tensor::empty({static_cast<int64_t>(mib / 2)}, DType::BF16);
    EXPECT_EQ(mem.stats().in_use, base.in_use + 2 * mib);
  }
  MemoryStats s = mem.stats();
  EXPECT_EQ(s.in_use, base.in_use);
  EXPECT_EQ(s.peak, base.in_use + 2 * mib);
  EXPECT_EQ(s.cached, 2 * mib);
  {
    Tensor c = Tensor::empty({static_cast<int64_t>(mib / 4)}, DType::F32);  // reuses a cached block
    EXPECT_EQ(mem.stats().cached, mib);
    EXPECT_EQ(mem.stats().in_use, base.in_use + mib);
    EXPECT_EQ(mem.stats().peak, base.in_use + 2 * mib);
  }
  mem.reset_peak();
  EXPECT_EQ(mem.stats().peak, mem.stats().in_use);
  mem.release_cached();
  EXPECT_EQ(mem.stats().cached, 0u);
}

// ---------------------------------------------------------------------------------------------
// Philox streams. Statistical bounds are 5 standard deviations: a false alarm is a
// 1-in-1.7-million event, and the streams are deterministic, so a pass stays a pass.

TEST(Philox, UniformIsUniform) {
  const size_t n = 1 << 20;
  std::vector<float> u(n);
  PhiloxStream(7, 11).fill_uniform(u.data(), n, 0.0f, 1.0f);
  double sum = 0, sq = 0;
  std::vector<int64_t> bins(16, 0);
  for (float e : u) {
    ASSERT_GE(e, 0.0f);
    ASSERT_LT(e, 1.0f);
    sum += e;
    sq += (e - 0.5) * (e - 0.5);
    ++bins[static_cast<size_t>(e * 16)];
  }
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  // Sample variance of U(0,1): 1/12, its standard error sqrt(1/180 / n).
  EXPECT_NEAR(sq / n, 1.0 / 12, 5 * std::sqrt(1.0 / 180 / n));
  // Chi-square with 15 degrees of freedom: mean 15, sd sqrt(30); 45 is past the 99.99th
  // percentile.
  double chi2 = 0;
  for (int64_t b : bins) chi2 += (b - n / 16.0) * (b - n / 16.0) / (n / 16.0);
  EXPECT_LT(chi2, 45.0);

  std::vector<float> r(1001);
  PhiloxStream(7, 11).fill_uniform(r.data(), r.size(), -3.0f, 5.0f);
  for (size_t i = 0; i < r.size(); ++i) {
    ASSERT_GE(r[i], -3.0f);
    ASSERT_LE(r[i], 5.0f);
    ASSERT_FLOAT_EQ(r[i], -3.0f + 8.0f * u[i]) << "the same stream elements, mapped";
  }
}

TEST(Philox, NormalHasMeanZeroAndUnitVariance) {
  const size_t n = 1 << 20;
  std::vector<float> z(n);
  PhiloxStream(3, 5).fill_normal(z.data(), n, 0.0f, 1.0f);
  double sum = 0, sq = 0, fourth = 0;
  for (float e : z) {
    ASSERT_TRUE(std::isfinite(e));
    sum += e;
    sq += double{e} * e;
    fourth += double{e} * e * e * e;
  }
  const double mean = sum / n, var = sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 5 / std::sqrt(double{n}));
  EXPECT_NEAR(var, 1.0, 5 * std::sqrt(2.0 / n));          // the variance's standard error
  EXPECT_NEAR(fourth / n, 3.0, 5 * std::sqrt(96.0 / n));  // E z^4 = 3, Var z^4 = 96
  std::vector<float> scaled(1000);
  PhiloxStream(3, 5).fill_normal(scaled.data(), scaled.size(), 2.0f, 0.5f);
  for (size_t i = 0; i < scaled.size(); ++i) ASSERT_FLOAT_EQ(scaled[i], 2.0f + 0.5f * z[i]);
}

TEST(Philox, ElementsArePureFunctionsOfSeedStreamAndIndex) {
  const size_t n = 1000;
  std::vector<float> all(n), tail(n - 37), normal(n), normal_tail(n - 37);
  const PhiloxStream s(42, philox_stream(1, 2, 3));
  s.fill_uniform(all.data(), n, 0.0f, 1.0f);
  s.fill_uniform(tail.data(), tail.size(), 0.0f, 1.0f, 37);
  s.fill_normal(normal.data(), n, 0.0f, 1.0f);
  s.fill_normal(normal_tail.data(), normal_tail.size(), 0.0f, 1.0f, 37);  // odd offset
  for (size_t i = 0; i < tail.size(); ++i) {
    ASSERT_EQ(tail[i], all[i + 37]);
    ASSERT_EQ(normal_tail[i], normal[i + 37]);
    ASSERT_EQ(s.uniform(i + 37), all[i + 37]);
  }
  // Other streams and seeds give other numbers; the stream mixer separates its arguments.
  EXPECT_NE(PhiloxStream(42, philox_stream(1, 2, 4)).bits(0), s.bits(0));
  EXPECT_NE(PhiloxStream(43, philox_stream(1, 2, 3)).bits(0), s.bits(0));
  EXPECT_NE(philox_stream(1, 2, 3), philox_stream(2, 1, 3));
  EXPECT_NE(philox_stream(0), philox_stream(0, 1));
  EXPECT_EQ(s.bits(5), s.block(1)[1]);
}

}  // namespace
}  // namespace llmtune
