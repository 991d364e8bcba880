#include "train/adamw.h"

#include <cmath>

#include "backend/ops.h"
#include "core/error.h"

namespace llmtune::train {

AdamW::AdamW(std::vector<model::ParamRef> params, const AdamWOptions& options)
    : params_(std::move(params)), options_(options) {
  for (const model::ParamRef& p : params_) {
    LLMTUNE_CHECK(p.grad != nullptr, "AdamW given frozen parameter ", p.name);
    if (p.value->dtype() != DType::F32) {
      throw Error(str("parameter ", p.name, " is ", dtype_name(p.value->dtype()),
                      "; trainable parameters are fp32"));
    }
    m_.push_back(Tensor::zeros(p.value->shape(), DType::F32, p.value->device()));
    v_.push_back(Tensor::zeros(p.value->shape(), DType::F32, p.value->device()));
  }
}

void AdamW::step(double lr) {
  ++steps_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const model::ParamRef& p = params_[i];
    const double wd = p.decay ? options_.weight_decay : 0.0;
    ops::adamw(*p.value, *p.grad, m_[i], v_[i], lr, options_.beta1, options_.beta2, options_.eps,
               wd, steps_);
  }
}

double grad_norm(const std::vector<model::ParamRef>& params) {
  if (params.empty()) return 0.0;
  // One device scalar for all parameters: a single read back, not one per tensor.
  Tensor acc = Tensor::zeros({1}, DType::F32, params[0].grad->device());
  for (const model::ParamRef& p : params) ops::sum_squares(acc, *p.grad);
  return std::sqrt(static_cast<double>(acc.item()));
}

void clip_to(const std::vector<model::ParamRef>& params, double norm, double max_norm) {
  if (max_norm <= 0) return;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    for (const model::ParamRef& p : params) ops::scale(*p.grad, static_cast<float>(coef));
  }
}

}  // namespace llmtune::train
