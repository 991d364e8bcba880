// AdamW as torch.optim.AdamW computes it: decoupled weight decay, bias correction, fp32 state.
#pragma once

#include <cstdint>
#include <vector>

#include "model/llama.h"

namespace llmtune::train {

struct AdamWOptions {
  double lr = 5e-5;  // Transformers' TrainingArguments default
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // applied only to parameters whose ParamRef::decay is true
};

class AdamW {
 public:
  AdamW(std::vector<model::ParamRef> params, const AdamWOptions& options);

  // One update of every parameter from its gradient, at learning rate `lr`.
  void step(double lr);
  void step() { step(options_.lr); }
  int64_t steps() const { return steps_; }
  const AdamWOptions& options() const { return options_; }
  const std::vector<model::ParamRef>& params() const { return params_; }
  // First and second moments of parameter i, (for checkpoints and tests).
  Tensor& exp_avg(size_t i) { return m_[i]; }
  Tensor& exp_avg_sq(size_t i) { return v_[i]; }
  void set_steps(int64_t steps) { steps_ = steps; }

 private:
  std::vector<model::ParamRef> params_;
  AdamWOptions options_;
  std::vector<Tensor> m_, v_;
  int64_t steps_ = 0;
};

// The L2 norm of all gradients together (accumulated in double).
double grad_norm(const std::vector<model::ParamRef>& params);

// torch.nn.utils.clip_grad_norm_: when the total norm exceeds max_norm, scales every gradient
// by max_norm / (norm + 1e-6). Returns the norm before clipping. max_norm <= 0 disables.
double clip_grad_norm(const std::vector<model::ParamRef>& params, double max_norm);
// The same scaling, given the norm of a gradient that `params` hold a part of.
void clip_to(const std::vector<model::ParamRef>& params, double norm, double max_norm);

}  // namespace llmtune::train
