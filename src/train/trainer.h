// The Trainer loop, as Transformers' Trainer runs it: micro-batches in a seeded order, gradient
// accumulation, clipping, AdamW, a learning-rate schedule, optional fp16 loss scaling, and at
// the end of a step logging, evaluation and saving (in that order), every logging_steps /
// eval_steps / save_steps. Everything a step depends on (data order, dropout masks, rates) is a
// function of the seed and the step number, so a run resumed from checkpoint N repeats an
// uninterrupted run's losses bit for bit on the CPU.
//
// Data parallelism: with N ranks (options.comm) the global batch is micro-batch x accumulation
// x N, as DeepSpeed's train_batch_size. Micro-batch i of the single-process stream goes to rank
// i mod N, keeps its dropout masks (keyed by i) and its weight in the step's token-weighted
// loss, so N ranks with accumulation A follow one process with accumulation A·N. Parameters,
// gradients and optimizer state are partitioned by the ZeRO engine (options.zero.stage).
//
// One deliberate difference: the accumulated loss is the mean over every labelled token of the
// optimizer step (micro-batches weighted by their token counts), so micro-batch 2 x 4
// accumulation equals micro-batch 8. Transformers before 4.46 averaged the micro-batch means.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "data/format.h"
#include "model/llama.h"
#include "parallel/communicator.h"
#include "parallel/zero.h"
#include "train/adamw.h"
#include "train/loss_scaler.h"
#include "train/schedule.h"

namespace llmtune::train {

struct TrainerOptions {
  int64_t max_steps = 1;     // optimizer steps (skipped fp16 steps count, as global_step does)
  int64_t batch_size = 8;    // samples per micro-batch
  int64_t accumulation = 1;  // micro-batches per optimizer step
  double max_grad_norm = 1.0;
  AdamWOptions adamw;
  LrSchedule schedule;
  std::optional<LossScalerOptions> loss_scale;  // fp16: dynamic loss scaling
  int64_t logging_steps = 500;
  int64_t eval_steps = 0;  // 0: no evaluation during training
  int64_t save_steps = 0;  // 0: only the final checkpoint
  bool save_final = true;
  // > 0 and < max_steps: after this step, validate, checkpoint and stop as a preemption does (a
  // searcher's rung); the schedule still runs to max_steps, so a run continued from there trains
  // as one that never stopped. Resumed at or past it, train() returns at once, paused.
  int64_t pause_at = 0;
  uint64_t seed = 42;  // data order and dropout masks
  bool group_by_length = false;
  int32_t pad_id = 0;
  std::string output_dir;                  // checkpoints go here; "" = none
  nlohmann::json owner;                    // written into train_state.json as "owner" (null: none)
  std::vector<std::string> files;          // copied into every checkpoint (tokenizer files)
  parallel::Communicator* comm = nullptr;  // the data-parallel ranks; null: this process alone
  parallel::ZeroOptions zero;
};

// Called by the loop; all optional.
struct TrainerHooks {
  // Validation metrics (keys eval_*), at eval_steps.
  std::function<nlohmann::json(model::LlamaModel&)> evaluate;
  // Metrics as a MetricSink takes them (track/sink.h): "step" after every optimizer step (loss,
  // learning_rate, tokens_per_second), "training" every logging_steps (loss, grad_norm,
  // learning_rate, epoch, ...), "validation" (the evaluate() result).
  std::function<void(const std::string& group, int64_t step, const nlohmann::json&)> on_metrics;
  // A checkpoint is complete: (step, directory, the validation metrics of that step or {}).
  std::function<void(int64_t step, const std::string& dir, const nlohmann::json&)> on_checkpoint;
  // Tests: after each micro-batch's backward (e.g. to inject an inf), and a stop request after
  // a step (as a crash would stop the run; nothing more is written).
  std::function<void(int64_t step, const std::vector<model::ParamRef>&)> after_backward;
  std::function<bool(int64_t step)> stop_after;
  // Asked after each step: true (on any rank) stops the run there, after a checkpoint of that
  // step is saved (preemption: the run continues from it exactly).
  std::function<bool()> preempt;
};

struct StepOutcome {
  double loss = 0;           // the step's token-weighted loss over all ranks
  double grad_norm = 0;      // before clipping; 0 when the loss scaler skipped the step
  double learning_rate = 0;  // the schedule's rate the step used
  bool skipped = false;      // fp16 overflow: no update
};

struct TrainResult {
  int64_t steps = 0;           // the step reached
  std::vector<double> losses;  // per step run in this call (index 0 = the first step run)
  double train_loss = 0;       // mean of those losses
  double seconds = 0;
  int64_t skipped_steps = 0;  // fp16 overflows, over the whole run
  int64_t tokens = 0;         // labelled tokens trained on in this call, by all ranks
  bool stopped = false;       // stop_after asked for it
  bool preempted = false;     // preempt asked for it, or pause_at; the step's checkpoint is saved
};

class Trainer {
 public:
  // `samples` are the training set (data::format_records output; train() needs some, step()
  // none); the model must already have its adapter when training LoRA (only trainable
  // parameters are optimized).
  Trainer(model::LlamaModel& model, std::vector<data::Sample> samples, TrainerOptions options,
          TrainerHooks hooks = {});

  // Continues from a checkpoint directory written by this trainer: weights, optimizer moments,
  // loss scale, step. Throws llmtune::Error when it does not fit.
  void resume(const std::string& checkpoint_dir);
  TrainResult train();
  // One optimizer step, the one train() takes each time: forward and backward on this rank's
  // micro-batches (numbered `micro_ids` in the stream, which keys their dropout masks), each
  // weighted by its share of `targets`, the labelled tokens of the whole step over all ranks;
  // gradients reduced over the ranks (ZeRO), loss scaling, clipping, the schedule's rate, AdamW.
  StepOutcome step(std::span<const model::Batch> micro_batches, std::span<const int64_t> micro_ids,
                   int64_t targets);

  int64_t step() const { return step_; }
  int64_t micro_batches_per_epoch() const { return micro_per_epoch_; }
  const TrainerOptions& options() const { return options_; }
  AdamW& optimizer() { return optimizer_; }
  parallel::ZeroEngine& engine() { return *engine_; }
  bool is_main_rank() const { return comm_.rank() == 0; }

 private:
  const std::vector<std::vector<int64_t>>& epoch_order(int64_t epoch) const;
  // Micro-batches per optimizer step over all ranks, and the epochs done at the current step.
  int64_t micro_per_step() const;
  double epoch() const;
  // The global micro-batch numbers of a step's micro-batches on this rank.
  std::vector<int64_t> step_micro_batches(int64_t step) const;
  const std::vector<int64_t>& micro_batch(int64_t micro) const;
  double all_ranks_sum(double value);
  std::pair<int64_t, int64_t> step_tokens(int64_t step) const;
  // Hands metrics to the hook, and all but "step" to Transformers' log_history.
  void log(const std::string& group, const nlohmann::json& metrics);
  bool preempt_requested();
  void save(const nlohmann::json& eval_metrics);

  model::LlamaModel& model_;
  std::vector<data::Sample> samples_;
  std::vector<int64_t> lengths_;
  std::vector<int64_t> targets_;  // labelled positions per sample
  TrainerOptions options_;
  TrainerHooks hooks_;
  std::unique_ptr<parallel::Communicator> own_comm_;  // when options.comm is null
  parallel::Communicator& comm_;
  std::unique_ptr<parallel::ZeroEngine> engine_;
  AdamW optimizer_;
  std::optional<LossScaler> scaler_;
  int64_t step_ = 0;
  nlohmann::json log_history_ = nlohmann::json::array();
  int64_t micro_per_epoch_ = 0;  // the same for every epoch (only the order changes)
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<std::vector<int64_t>> cached_order_;
};

}  // namespace llmtune::train
