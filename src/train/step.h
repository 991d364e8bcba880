// One optimizer step with gradient accumulation, the way Transformers' Trainer takes it.
#pragma once

#include <span>

#include "model/batch.h"
#include "model/llama.h"
#include "train/adamw.h"

namespace llmtune::train {

struct StepConfig {
  double lr = 5e-5;
  double max_grad_norm = 1.0;  // <= 0: no clipping
  uint64_t seed = 42;          // dropout masks
  uint64_t rng_counter = 0;    // micro-batch index of the first micro-batch of this step
};

struct StepResult {
  double loss = 0;       // mean of the micro-batch losses
  double grad_norm = 0;  // before clipping
};

// Forward and backward on each micro-batch with its loss divided by their count, then clipping,
// the AdamW update and zeroed gradients.
StepResult train_step(model::LlamaModel& model, AdamW& optimizer,
                      std::span<const model::Batch> micro_batches, const StepConfig& config);

}  // namespace llmtune::train
