#include "train/step.h"

#include "core/error.h"

namespace llmtune::train {

StepResult train_step(model::LlamaModel& model, AdamW& optimizer,
                      std::span<const model::Batch> micro_batches, const StepConfig& config) {
  if (micro_batches.empty()) throw Error("a training step needs at least one micro-batch");
  StepResult result;
  const float scale = 1.0f / static_cast<float>(micro_batches.size());
  for (size_t i = 0; i < micro_batches.size(); ++i) {
    model::StepOptions step;
    step.grad_scale = scale;
    step.seed = config.seed;
    step.rng_counter = config.rng_counter + i;
    const Tensor loss = model.forward(micro_batches[i], step);
    model.backward();
    result.loss += static_cast<double>(loss.item()) * scale;
  }
  result.grad_norm = clip_grad_norm(optimizer.params(), config.max_grad_norm);
  optimizer.step(config.lr);
  model.zero_grad();
  return result;
}

}  // namespace llmtune::train
