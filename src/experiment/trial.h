// One trial of an experiment, end to end, as a recipe of short named steps: the data (subset,
// splits, chat template, tokenization), the model (with a LoRA adapter when asked), the
// Trainer's options (a pure function of the trial's config), the metric sinks (store,
// TensorBoard, progress bar) and checkpoints kept by the experiment's policy. Resumes from the
// trial's latest complete checkpoint when there is one.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/experiment.h"
#include "data/format.h"
#include "model/llama.h"
#include "parallel/communicator.h"
#include "text/tokenizer.h"
#include "track/store.h"
#include "train/trainer.h"

namespace llmtune::experiment {

struct TrialRun {
  config::ExperimentConfig experiment;
  config::TrialConfig trial;
  track::Store* store = nullptr;
  int64_t experiment_id = 0, trial_id = 0;
  std::string directory;  // the trial's: checkpoints, TensorBoard events (tensorboard/)
  std::string cache_dir;  // generated datasets
  bool progress = true;   // draw the progress bar
  // A checkpoint (of a trial with the same settings) to start from, as Transformers'
  // resume_from_checkpoint; a trial that has checkpoints of its own refuses it (it continues
  // from its latest).
  std::string resume_from;
  // Whom the trial's checkpoints belong to (the store's experiment and trial), written into
  // each; resuming from the trial directory refuses a checkpoint of another owner.
  nlohmann::json owner;
  // The data-parallel ranks (null: this process alone). Every rank calls run_trial with the
  // same settings; only rank 0 gets the store, writes TensorBoard files and draws progress.
  parallel::Communicator* comm = nullptr;
  // Tests: stop after this step as a crash would (0: never).
  int64_t stop_after_step = 0;
  // A searcher's rung: validate, checkpoint and stop (PAUSED) after this step, the schedule
  // still set for max_steps (0: train to the end).
  int64_t pause_at = 0;
};

struct TrialOutcome {
  train::TrainResult result;
  nlohmann::json last_validation;  // {} when none ran
  std::string final_checkpoint;
  double seconds = 0;
};

// Runs (or continues) the trial; its state in the store goes to ACTIVE, then COMPLETED, PAUSED
// when a signal preempted it (result.preempted, with the checkpoint of the step it stopped at
// as final_checkpoint), or ERROR when it throws.
TrialOutcome run_trial(const TrialRun& run);

// The steps of run_trial, for tests and other recipes.

// What a trial trains on: its tokenizer and the formatted training and validation samples.
struct TrialData {
  std::string tokenizer_dir;
  std::unique_ptr<text::Tokenizer> tokenizer;
  std::vector<data::Sample> train, valid;
};
// Rank 0 prepares the dataset first (it may generate the synthetic set that all read).
// Throws llmtune::Error when no training sample is left (max_length leaves no room).
TrialData trial_data(const config::TrialConfig& trial, const std::string& cache_dir,
                     parallel::Communicator* comm);

// The model of config.json and weights, with the trial's LoRA adapter when it trains LoRA.
std::unique_ptr<model::LlamaModel> trial_model(const config::TrialConfig& trial);

// The Trainer's options that the trial's config decides (pure): batch and accumulation,
// max_steps (num_train_epochs over `train_samples` and `world` ranks when max_steps is not
// set), AdamW, the schedule (the learning rate's one owner), clipping, logging/eval/save steps,
// and from a DeepSpeed config its optimizer, scheduler, clipping, ZeRO stage and buckets and
// fp16 loss scaling ("auto" resolved with the model's `hidden_size`).
train::TrainerOptions trainer_options(const config::TrialConfig& trial, int64_t hidden_size,
                                      int64_t train_samples, int world);

}  // namespace llmtune::experiment
