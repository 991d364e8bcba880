// Experiment configs in the style of Determined (name, hyperparameters, searcher, resources,
// max_restarts, checkpoint_storage), with the reference workflow's hyperparameters: model,
// dataset_subset, lora and its settings, and training_args under Hugging Face
// TrainingArguments' names. The search expands into one TrialConfig per hyperparameter set.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/deepspeed.h"

namespace llmtune::config {

// Hugging Face TrainingArguments (transformers 4.37) under their own names and defaults.
struct TrainingArgs {
  std::string output_dir;  // llmtune: the trial's directory unless given
  int64_t max_steps = -1;  // > 0 overrides num_train_epochs
  double num_train_epochs = 3.0;
  int64_t per_device_train_batch_size = 8;
  int64_t per_device_eval_batch_size = 8;
  int64_t gradient_accumulation_steps = 1;
  double learning_rate = 5e-5;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;
  std::string lr_scheduler_type = "linear";  // linear, cosine, constant, constant_with_warmup
  double warmup_ratio = 0.0;
  int64_t warmup_steps = 0;
  bool bf16 = false;
  bool fp16 = false;
  std::string evaluation_strategy = "no";  // no, steps, epoch ("eval_strategy" also accepted)
  int64_t eval_steps = 0;                  // 0: logging_steps, as Transformers
  std::string logging_strategy = "steps";
  int64_t logging_steps = 500;
  std::string save_strategy = "steps";
  int64_t save_steps = 500;
  int64_t save_total_limit = 0;  // 0: no limit
  int64_t seed = 42;
  bool gradient_checkpointing = false;
  bool group_by_length = false;
  std::string deepspeed;  // path to a DeepSpeed JSON, relative to the experiment file

  // warmup_steps if > 0, else ceil(total_steps * warmup_ratio)
  // (TrainingArguments.get_warmup_steps).
  int64_t warmup_steps_for(int64_t total_steps) const;
};

// What a trial trains: the hyperparameters of one point of the search, checked.
struct TrialConfig {
  nlohmann::json hyperparameters;      // the concrete values (typed forms resolved)
  std::string model;                   // a model directory (config.json + safetensors)
  std::string tokenizer;               // default: the model directory
  std::string dataset = "synthetic";   // a prepared data directory, a records file, or "synthetic"
  std::string dataset_subset = "all";  // easy, medium, hard or all
  std::string chat_template;           // built-in name or Jinja file; "" = the tokenizer's
  std::string device = "auto";         // cpu, cuda, cuda:N, or auto (a GPU when there is one)
  int64_t max_length = 2048;           // tokens per sample
  bool lora = false;
  int64_t lora_r = 8;                            // hyperparameters.r
  double lora_alpha = 32;                        // hyperparameters.lora_alpha (reference: 32)
  double lora_dropout = 0.1;                     // hyperparameters.lora_dropout (reference: 0.1)
  std::vector<std::string> lora_target_modules;  // empty: PEFT's default (q_proj, v_proj)
  TrainingArgs training_args;
  // training_args.deepspeed, read and with its "auto" values resolved against training_args
  // (and, at train time, against the model through deepspeed_finalize).
  std::optional<DeepSpeedConfig> deepspeed;
};

// A training length in one of Determined's units: {batches: N}, {records: N} or {epochs: N}.
struct Length {
  std::string unit = "batches";  // batches (optimizer steps), records (samples) or epochs
  int64_t value = 0;             // 0: not given
};

struct Searcher {
  std::string name = "single";  // single, grid, random, adaptive_asha
  std::string metric = "eval_loss";
  bool smaller_is_better = true;  // Determined's default
  Length max_length;              // the trials' training length (adaptive_asha: the last rung's)
  int64_t max_trials = 1;         // random, adaptive_asha
  int64_t max_concurrent_trials = 16;
  // adaptive_asha (Determined's defaults): the brackets' shape (experiment/asha.h)
  std::string mode = "standard";  // aggressive, standard, conservative
  int64_t divisor = 4;            // rungs are max_length / divisor^k; the top 1/divisor go on
  int64_t max_rungs = 5;
  bool stop_once = false;  // decide each trial once at a rung, rather than let it wait
};

struct CheckpointStorage {
  std::string type = "shared_fs";
  std::string host_path;     // llmtune: the root of the checkpoint directories
  std::string storage_path;  // below host_path
  int64_t save_experiment_best = 0;
  int64_t save_trial_best = 1;
  int64_t save_trial_latest = 1;
};

// Where a key of the experiment came from: for error messages, and for the order in which the
// search walks the hyperparameters (as written, not alphabetical).
struct KeyOrigin {
  std::string key;     // dotted path: "hyperparameters.training_args.learning_rate"
  std::string origin;  // "lora.yaml:25" or "--set hyperparameters.r=16"
};

struct ExperimentConfig {
  std::string path;  // the file it came from ("" for a string)
  std::string name;
  std::string description;
  // as written: plain values or {type: const|int|double|log|categorical}
  nlohmann::json hyperparameters;
  Searcher searcher;
  int64_t slots_per_trial = 1;    // resources.slots_per_trial
  int64_t max_restarts = 5;       // Determined's default
  int64_t experiment_seed = 0;    // reproducibility.experiment_seed: the random draws of a search
  int64_t records_per_epoch = 0;  // the training set's size, for lengths in epochs (0: not given)
  CheckpointStorage checkpoint_storage;
  // one line per key accepted and ignored (cluster-only settings, TrainingArguments without
  // effect here) and per setting Determined would log about (max_length vs max_steps)
  std::vector<std::string> notices;
  nlohmann::json raw;           // the whole config after overrides, for the record
  std::vector<KeyOrigin> keys;  // every key in written order; new --set keys last
};

// Reads an experiment file. `overrides` are "a.b.c=value" strings (value parsed as YAML, so
// `--set hyperparameters.lora=false` gives a bool) applied before checking. Throws llmtune::Error
// naming the file, line and key for bad YAML, a wrong type, an unknown key (with the closest
// valid key: "unknown key 'hyperparameters.training_args.learning_rat' in lora.yaml:25; did you
// mean 'learning_rate'?"), or a bad value. Cluster-only keys (environment, entrypoint, debug,
// workspace, project, labels, resources.resource_pool, ...) are accepted with a notice.
ExperimentConfig experiment_load(const std::string& path,
                                 const std::vector<std::string>& overrides = {});
ExperimentConfig experiment_parse(const std::string& yaml, const std::string& path,
                                  const std::vector<std::string>& overrides = {});

// The hyperparameter sets the searcher runs: single -> one; grid -> the product of every
// categorical `vals` and every int/double/log `count` axis (in key order); random and
// adaptive_asha -> searcher.max_trials samples drawn with Philox from `seed`. Each is fully
// concrete.
std::vector<nlohmann::json> search_points(const ExperimentConfig& experiment, uint64_t seed);

// `length` in batches (optimizer steps) for a trial training with `args` on `world` processes:
// records take ceil(records / global batch) batches, where the global batch is
// per_device_train_batch_size * gradient_accumulation_steps * world, and an epoch is
// records_per_epoch records (as Determined counts for DeepSpeed trials). 0 for a length not given.
int64_t length_batches(const ExperimentConfig& experiment, const TrainingArgs& args, int64_t world,
                       const Length& length);

// Checks one concrete hyperparameter set and builds the trial's settings; a DeepSpeed file is
// read relative to the experiment file's directory and resolved (deepspeed_load). Without
// training_args.max_steps, a trial trains searcher.max_length (in batches for its batch size).
TrialConfig trial_config(const ExperimentConfig& experiment, const nlohmann::json& hyperparameters,
                         int64_t world_size);

}  // namespace llmtune::config
