// Shared helpers for the kernel tests: the backends to test, random inputs from Philox,
// comparison against the double-precision oracle, and central differences for gradients.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "backend/naive_ops.h"
#include "backend/ops.h"
#include "core/error.h"
#include "core/philox.h"
#include "core/tensor.h"

namespace llmtune {
// Test names and failure messages print a device as "cpu", "cuda:0".
inline void PrintTo(const Device& device, std::ostream* os) {
  *os << device.str();
}
}  // namespace llmtune

namespace llmtune::test {

using naive::Ids;
using naive::Vec;

// Every device with a registered backend: the CPU always, a GPU when the build has one. Each
// op test runs on each of them against the same oracle.
inline std::vector<Device> backend_devices() {
  std::vector<Device> devices{Device::cpu()};
  try {
    const Device gpu{DeviceType::CUDA, 0};
    backend_for(gpu);
    device_memory(gpu);
    devices.push_back(gpu);
  } catch (const Error&) {
  }
  return devices;
}

inline std::string device_name(const ::testing::TestParamInfo<Device>& info) {
  std::string s = info.param.str();
  std::replace(s.begin(), s.end(), ':', '_');
  return s;
}

// n numbers from stream `stream` of seed 1234: N(0, std) or U(lo, hi).
inline std::vector<float> randn(size_t n, uint64_t stream, float std = 1.0f) {
  std::vector<float> out(n);
  PhiloxStream(1234, stream).fill_normal(out.data(), n, 0.0f, std);
  return out;
}

inline std::vector<float> randu(size_t n, uint64_t stream, float lo, float hi) {
  std::vector<float> out(n);
  PhiloxStream(1234, stream).fill_uniform(out.data(), n, lo, hi);
  return out;
}

inline Vec to_vec(const std::vector<float>& x) {
  return Vec(x.begin(), x.end());
}
inline Vec to_vec(const Tensor& t) {
  return to_vec(t.to_f32());
}

// The values a float vector takes after a round trip through a 16-bit type.
inline std::vector<float> rounded(const std::vector<float>& x, DType dtype) {
  return Tensor::from_f32(x, {static_cast<int64_t>(x.size())}, dtype).to_f32();
}

inline double max_abs(const Vec& x) {
  double m = 0;
  for (double e : x) m = std::max(m, std::fabs(e));
  return m;
}

// max |got - ref| / max |ref| (absolute when ref is all zero): the error relative to the
// tensor's scale, since elementwise relative error is meaningless where ref crosses zero.
inline double rel_error(const Vec& got, const Vec& ref) {
  EXPECT_EQ(got.size(), ref.size());
  double diff = 0;
  for (size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
    diff = std::max(diff, std::fabs(got[i] - ref[i]));
    if (std::isnan(got[i]) != std::isnan(ref[i])) diff = INFINITY;
  }
  const double scale = max_abs(ref);
  return scale == 0 ? diff : diff / scale;
}

inline double rel_error(const Tensor& got, const Vec& ref) {
  return rel_error(to_vec(got), ref);
}

inline double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Coordinates to check by finite differences: all of [0, n) when n <= limit, else `limit`
// random ones plus the first and the last.
inline std::vector<size_t> fd_coords(size_t n, size_t limit, uint64_t stream) {
  std::vector<size_t> out;
  if (n <= limit) {
    for (size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  std::set<size_t> pick{0, n - 1};
  const PhiloxStream rng(99, stream);
  for (uint64_t i = 0; pick.size() < limit + 2; ++i) pick.insert(rng.bits(i) % n);
  return {pick.begin(), pick.end()};
}

// Central differences in double of a scalar loss at chosen coordinates of x. With h = 1e-4 on
// O(1) inputs of a smooth double-precision loss, the truncation error is ~h^2 ~ 1e-8 relative
// and rounding ~1e-16 / h ~ 1e-12: far below the fp32 tolerances the kernels are held to.
inline constexpr double kFdStep = 1e-4;

inline Vec fd_grad(const std::function<double(const Vec&)>& loss, Vec x,
                   const std::vector<size_t>& coords) {
  Vec g;
  for (size_t i : coords) {
    const double x0 = x[i];
    x[i] = x0 + kFdStep;
    const double lp = loss(x);
    x[i] = x0 - kFdStep;
    const double lm = loss(x);
    x[i] = x0;
    g.push_back((lp - lm) / (2 * kFdStep));
  }
  return g;
}

// Checks an analytic gradient (all of x) against finite differences at the coordinates:
// max |analytic - fd| <= tol * max |fd| (absolute when the sampled fd are all zero).
inline void expect_grad_matches_fd(const std::function<double(const Vec&)>& loss, const Vec& x,
                                   const Vec& analytic, const std::vector<size_t>& coords,
                                   double tol, const std::string& what) {
  ASSERT_EQ(analytic.size(), x.size()) << what;
  const Vec fd = fd_grad(loss, x, coords);
  double diff = 0, scale = 0;
  size_t worst = 0;
  for (size_t c = 0; c < coords.size(); ++c) {
    const double d = std::fabs(analytic[coords[c]] - fd[c]);
    if (!(d <= diff)) worst = coords[c];
    diff = std::isnan(d) ? INFINITY : std::max(diff, d);
    scale = std::max(scale, std::fabs(fd[c]));
  }
  if (scale < 1e-12) scale = 1;
  EXPECT_LE(diff / scale, tol) << what << ": worst at element " << worst << ", analytic "
                               << analytic[worst] << ", max |fd| " << scale;
}

// The directional derivative along a random direction d, by central differences, against
// sum(analytic * d): checks every coordinate at once (one error can hide only by cancelling).
// The error allowed is tol * max(sum |analytic * d|, |d|_2): relative to the terms summed, with
// a floor of tol per unit of direction for gradients that are ~0 (inputs here are O(1), so an
// fp32 gradient that should be 0 carries rounding noise of that absolute size).
inline void expect_directional_matches_fd(const std::function<double(const Vec&)>& loss,
                                          const Vec& x, const Vec& analytic, uint64_t stream,
                                          double tol, const std::string& what) {
  const Vec d = to_vec(randn(x.size(), stream));
  Vec xp = x, xm = x;
  for (size_t i = 0; i < x.size(); ++i) {
    xp[i] += kFdStep * d[i];
    xm[i] -= kFdStep * d[i];
  }
  const double fd = (loss(xp) - loss(xm)) / (2 * kFdStep);
  double mag = 0, norm = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    mag += std::fabs(analytic[i] * d[i]);
    norm += d[i] * d[i];
  }
  EXPECT_LE(std::fabs(dot(analytic, d) - fd), tol * std::max(mag, std::sqrt(norm)))
      << what << ": directional derivative " << dot(analytic, d) << " vs fd " << fd;
}

}  // namespace llmtune::test
