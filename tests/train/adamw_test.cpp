// AdamW's parameter groups and clip_grad_norm_'s arithmetic; the full optimizer trajectory is
// checked against PyTorch in tests/model/reference_test.cpp.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "train/adamw.h"

namespace llmtune::train {
namespace {

struct Params {
  Tensor a = Tensor::from_f32({1, 2, 3}, {3});
  Tensor b = Tensor::from_f32({4, 5}, {2});
  Tensor ga = Tensor::from_f32({3, 0, 4}, {3});  // norm 5
  Tensor gb = Tensor::from_f32({0, 12}, {2});    // norm 12; together 13
  std::vector<model::ParamRef> refs() {
    return {{"a.weight", &a, &ga, true}, {"norm.weight", &b, &gb, false}};
  }
};

TEST(ClipGradNorm, ScalesOnlyAboveTheLimit) {
  Params p;
  EXPECT_DOUBLE_EQ(grad_norm(p.refs()), 13.0);
  clip_to(p.refs(), 13.0, 20.0);
  EXPECT_EQ(p.ga.to_f32(), (std::vector<float>{3, 0, 4}));  // untouched below the limit
  clip_to(p.refs(), 13.0, 6.5);
  const float coef = static_cast<float>(6.5 / (13.0 + 1e-6));  // torch: max / (norm + 1e-6)
  EXPECT_EQ(p.ga.to_f32(), (std::vector<float>{3 * coef, 0, 4 * coef}));
  EXPECT_NEAR(grad_norm(p.refs()), 6.5, 1e-5);
  const std::vector<float> before = p.gb.to_f32();
  clip_to(p.refs(), 6.5, 0.0);  // 0 disables
  EXPECT_EQ(p.gb.to_f32(), before);
}

TEST(AdamW, WeightDecaySkipsNoDecayParameters) {
  Params p;
  p.ga.zero_();
  p.gb.zero_();
  AdamWOptions o;
  o.weight_decay = 0.5;
  AdamW adamw(p.refs(), o);
  adamw.step(0.1);  // zero gradients: only decoupled decay moves a parameter
  EXPECT_EQ(adamw.steps(), 1);
  const float k = static_cast<float>(1.0 - 0.1 * 0.5);
  EXPECT_EQ(p.a.to_f32(), (std::vector<float>{1 * k, 2 * k, 3 * k}));
  EXPECT_EQ(p.b.to_f32(), (std::vector<float>{4, 5}));
}

TEST(AdamW, FirstStepMovesEachWeightByTheLearningRate) {
  Params p;
  AdamW adamw(p.refs(), {});
  adamw.step(0.01);  // step 1: m/(sqrt(v)+eps) after bias correction is sign(g)
  const std::vector<float> a = p.a.to_f32();
  EXPECT_NEAR(a[0], 1 - 0.01, 1e-6);
  EXPECT_NEAR(a[1], 2, 1e-6);  // zero gradient
  EXPECT_NEAR(a[2], 3 - 0.01, 1e-6);
}

TEST(AdamW, RefusesFrozenOrLowPrecisionParameters) {
  Tensor w = Tensor::zeros({2}, DType::BF16), g = Tensor::zeros({2}, DType::F32);
  EXPECT_THROW(AdamW({{"w", &w, &g, true}}, {}), Error);
  Tensor f = Tensor::zeros({2}, DType::F32);
  EXPECT_THROW(AdamW({{"f", &f, nullptr, true}}, {}), Error);
}

}  // namespace
}  // namespace llmtune::train
