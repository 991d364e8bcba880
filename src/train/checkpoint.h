// Training checkpoints: `checkpoint-<step>/` holding the model (a Hugging Face directory) or the
// LoRA adapter (a PEFT directory), the optimizer moments (optimizer.safetensors), the trainer's
// state (train_state.json: step, optimizer steps, loss scaler, seed, data position, log
// history) and Transformers' trainer_state.json. A checkpoint is written under a temporary name
// and renamed when complete, so a crash never leaves a directory that looks finished.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/llama.h"
#include "train/adamw.h"

namespace llmtune::train {

// "<output_dir>/checkpoint-<step>".
std::string checkpoint_dir(const std::string& output_dir, int64_t step);

// Writes a checkpoint; `files` (tokenizer files) are copied in beside the weights. Returns its
// directory. An existing checkpoint of the same step is replaced.
std::string checkpoint_save(const std::string& output_dir, int64_t step, model::LlamaModel& model,
                            AdamW& optimizer, const nlohmann::json& train_state,
                            const nlohmann::json& trainer_state,
                            const std::vector<std::string>& files = {});

// Restores the weights (model or adapter) and the optimizer moments; returns train_state.json.
// Throws llmtune::Error naming the directory when it is incomplete or does not fit the model.
nlohmann::json checkpoint_load(const std::string& dir, model::LlamaModel& model, AdamW& optimizer);

// The complete checkpoints under output_dir, by step (ascending).
std::vector<int64_t> checkpoint_steps(const std::string& output_dir);
// Removes temporaries left by a run that died while saving; returns how many.
int64_t checkpoint_remove_partial(const std::string& output_dir);

// Which checkpoints a retention policy deletes (Determined's save_trial_latest and
// save_trial_best): every step not among the `keep_latest` newest nor the `keep_best` best by
// `metric` (steps without a metric value never count as best).
struct CheckpointScore {
  int64_t step = 0;
  bool has_metric = false;
  double metric = 0;
};
std::vector<int64_t> checkpoints_to_delete(std::vector<CheckpointScore> checkpoints,
                                           int64_t keep_latest, int64_t keep_best,
                                           bool smaller_is_better);

}  // namespace llmtune::train
