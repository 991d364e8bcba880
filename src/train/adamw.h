// AdamW as torch.optim.AdamW computes it: decoupled weight decay, bias correction, fp32 state.
#pragma once

#include <cstdint>
#include <vector>

#include "model/llama.h"

namespace llmtune::train {

// The learning rate is not here: the schedule (train/schedule.h) gives each step's.
struct AdamWOptions {
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

// torch.nn.utils.clip_grad_norm_'s scaling, given the norm of the whole gradient (which
// `params` may hold only a part of, under ZeRO): when it exceeds max_norm, every gradient is
// scaled by max_norm / (norm + 1e-6). max_norm <= 0 disables.
void clip_to(const std::vector<model::ParamRef>& params, double norm, double max_norm);

}  // namespace llmtune::train
