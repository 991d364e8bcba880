// One trial of an experiment, end to end: the dataset subset and its splits, the tokenizer and
// chat template, the model (with a LoRA adapter when asked), the Trainer with validation
// metrics, checkpoints kept by the experiment's checkpoint_storage policy, and every metric
// written to the experiment store, TensorBoard and the terminal. Resumes from the trial's
// latest complete checkpoint when there is one.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/experiment.h"
#include "data/record.h"
#include "track/store.h"
#include "train/trainer.h"

namespace llmtune::train {

struct DatasetSplits {
  std::vector<data::Record> train, valid, test;
  std::string db_root;  // record.db is relative to this directory
};

// The records of `dataset` ("synthetic", a prepared directory with train/valid/test.jsonl, or a
// records file split 80/10/10 with seed 123), restricted to `subset`. The synthetic set is
// generated once under cache_dir.
DatasetSplits load_dataset(const std::string& dataset, const std::string& subset,
                           const std::string& cache_dir);

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
  dist::Communicator* comm = nullptr;
  // Tests: stop after this step as a crash would (0: never).
  int64_t stop_after_step = 0;
};

struct TrialOutcome {
  TrainResult result;
  nlohmann::json last_validation;  // {} when none ran
  std::string final_checkpoint;
  double seconds = 0;
};

// Runs (or continues) the trial; its state in the store goes to COMPLETED, or ERROR when it
// throws.
TrialOutcome run_trial(const TrialRun& run);

}  // namespace llmtune::train
