#include "train/trainer.h"

#include <chrono>
#include <cmath>

#include "backend/ops.h"
#include "core/error.h"
#include "core/files.h"
#include "data/batch.h"
#include "train/checkpoint.h"

namespace llmtune::train {

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool every(int64_t step, int64_t n) {
  return n > 0 && step % n == 0;
}

}  // namespace

Trainer::Trainer(model::LlamaModel& model, std::vector<data::Sample> samples, TrainerOptions o,
                 TrainerHooks hooks)
    : model_(model),
      samples_(std::move(samples)),
      options_(std::move(o)),
      hooks_(std::move(hooks)),
      own_comm_(options_.comm ? nullptr : parallel::make_local_communicator()),
      comm_(options_.comm ? *options_.comm : *own_comm_),
      engine_(std::make_unique<parallel::ZeroEngine>(model, comm_, options_.zero)),
      optimizer_(engine_->shard(), options_.adamw) {
  if (options_.max_steps < 1)
    throw Error(str("max_steps must be at least 1, got ", options_.max_steps));
  if (options_.batch_size < 1 || options_.accumulation < 1) {
    throw Error(str("batch size and gradient accumulation steps must be at least 1, got ",
                    options_.batch_size, " and ", options_.accumulation));
  }
  options_.schedule.validate();
  if (options_.loss_scale) scaler_.emplace(*options_.loss_scale);
  for (const data::Sample& s : samples_) {
    lengths_.push_back(static_cast<int64_t>(s.input_ids.size()));
    targets_.push_back(model::count_targets(s.labels));
  }
  micro_per_epoch_ = static_cast<int64_t>(epoch_order(0).size());
}

const std::vector<std::vector<int64_t>>& Trainer::epoch_order(int64_t epoch) const {
  if (epoch != cached_epoch_) {
    data::BatchOptions b;
    b.batch_size = options_.batch_size;
    b.pad_id = options_.pad_id;
    b.seed = options_.seed;
    b.epoch = static_cast<uint64_t>(epoch);
    b.group_by_length = options_.group_by_length;
    cached_order_ = data::batch_order(lengths_, b);
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

// A stream of micro-batches across epochs: step s takes numbers s*A*N ... (s+1)*A*N - 1, and
// rank r those among them equal to r mod N.
std::vector<int64_t> Trainer::step_micro_batches(int64_t step) const {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < options_.accumulation; ++i)
    out.push_back(step * micro_per_step() + i * comm_.world_size() + comm_.rank());
  return out;
}

int64_t Trainer::micro_per_step() const {
  return options_.accumulation * comm_.world_size();
}

double Trainer::epoch() const {
  return micro_per_epoch_ == 0 ? 0.0
                               : static_cast<double>(step_ * micro_per_step()) /
                                     static_cast<double>(micro_per_epoch_);
}

const std::vector<int64_t>& Trainer::micro_batch(int64_t micro) const {
  const int64_t per_epoch = micro_batches_per_epoch();
  return epoch_order(micro / per_epoch)[static_cast<size_t>(micro % per_epoch)];
}

double Trainer::all_ranks_sum(double value) {
  if (comm_.world_size() == 1) return value;
  Tensor t = Tensor::from_f32({static_cast<float>(value)}, {1});
  comm_.all_reduce(t);
  return static_cast<double>(t.item());
}

void Trainer::resume(const std::string& dir) {
  const nlohmann::json state = checkpoint_state(dir);
  checkpoint_check_ranks(dir, state, comm_.world_size());
  // The data stream is the same for any number of ranks with the same global batch.
  const int64_t saved_world = state.at("world_size").get<int64_t>();
  const int64_t saved_micro = state.at("accumulation").get<int64_t>() * saved_world;
  const uint64_t seed = state.at("seed").get<uint64_t>();
  const int64_t batch = state.at("batch_size").get<int64_t>();
  if (seed != options_.seed || batch != options_.batch_size || saved_micro != micro_per_step()) {
    throw Error(str(dir, " was written with seed ", seed, ", batch size ", batch, " and ",
                    saved_micro,
                    " micro-batches per step (accumulation x ranks); resuming exactly needs the "
                    "same values (this run has ",
                    options_.seed, ", ", options_.batch_size, ", ", micro_per_step(), ")"));
  }
  const int64_t step = state.at("step").get<int64_t>();
  if (step > options_.max_steps) {
    throw Error(str(dir, " is at step ", step, ", past this run's max_steps ", options_.max_steps,
                    "; raise max_steps to train on from it"));
  }
  checkpoint_load(dir, state, model_, *engine_, optimizer_);
  step_ = step;
  if (scaler_ && state.contains("loss_scaler")) {
    try {
      scaler_->load_state(state["loss_scaler"]);
    } catch (const Error& e) {
      throw Error(str(path_join(dir, "train_state.json"), ": ", e.what()));
    }
  }
  const std::string hf = path_join(dir, "trainer_state.json");
  if (file_exists(hf)) {
    const nlohmann::json hf_state = read_json(hf);
    if (hf_state.is_object() && hf_state.contains("log_history") &&
        hf_state["log_history"].is_array())
      log_history_ = hf_state["log_history"];
  }
}

void Trainer::save(const nlohmann::json& eval_metrics) {
  if (options_.output_dir.empty()) return;
  nlohmann::json state = {{"format", "llmtune-train-state-1"},
                          {"step", step_},
                          {"seed", options_.seed},
                          {"batch_size", options_.batch_size},
                          {"accumulation", options_.accumulation},
                          {"world_size", comm_.world_size()},
                          {"micro_batches", step_ * micro_per_step()},
                          {"epoch", epoch()}};
  if (scaler_) state["loss_scaler"] = scaler_->state();
  if (!options_.owner.is_null()) state["owner"] = options_.owner;
  const nlohmann::json trainer_state = {{"global_step", step_},
                                        {"epoch", epoch()},
                                        {"max_steps", options_.max_steps},
                                        {"logging_steps", options_.logging_steps},
                                        {"eval_steps", options_.eval_steps},
                                        {"save_steps", options_.save_steps},
                                        {"train_batch_size", options_.batch_size},
                                        {"log_history", log_history_}};
  const std::string dir = checkpoint_save(options_.output_dir, step_, model_, *engine_, optimizer_,
                                          state, trainer_state, options_.files);
  if (hooks_.on_checkpoint) hooks_.on_checkpoint(step_, dir, eval_metrics);
}

StepOutcome Trainer::step(std::span<const model::Batch> micro_batches,
                          std::span<const int64_t> micro_ids, int64_t targets) {
  LLMTUNE_CHECK(micro_batches.size() == micro_ids.size(), "a micro-batch number for each batch");
  const auto params = optimizer_.params();
  const double scale = scaler_ ? scaler_->scale() : 1.0;
  StepOutcome out;
  for (size_t i = 0; i < micro_batches.size(); ++i) {
    const double share = targets == 0 ? 0.0
                                      : static_cast<double>(micro_batches[i].count_targets()) /
                                            static_cast<double>(targets);
    model::StepOptions so;
    so.grad_scale = static_cast<float>(share * scale);
    so.seed = options_.seed;
    so.rng_counter = static_cast<uint64_t>(micro_ids[i]);
    out.loss += static_cast<double>(model_.forward(micro_batches[i], so).item()) * share;
    model_.backward();
    if (hooks_.after_backward) hooks_.after_backward(step_, params);
  }
  out.loss = all_ranks_sum(out.loss);
  engine_->reduce_gradients();
  // With a loss scaler the gradients are of scale * loss: an overflow skips the step, else
  // they are unscaled before clipping. Without one, a non-finite norm stops the run.
  // norm / scale is the unscaled gradients' norm (exactly so for the dynamic scaler's powers
  // of two).
  double norm = engine_->grad_norm();
  if (scaler_) {
    out.skipped = scaler_->update(!std::isfinite(norm));
    if (!out.skipped && scale != 1.0) {
      for (const model::ParamRef& p : params) ops::scale(*p.grad, static_cast<float>(1.0 / scale));
      norm /= scale;
    }
  }
  if (out.skipped) {
    norm = 0;
  } else {
    clip_to(params, norm, options_.max_grad_norm);
  }
  if (!std::isfinite(norm)) {
    throw Error(str("the gradients are not finite at step ", step_ + 1, " (loss ", out.loss,
                    "): training diverged; lower the learning rate, or use fp16 with loss "
                    "scaling to skip such steps"));
  }
  out.grad_norm = norm;
  out.learning_rate = options_.schedule.at(optimizer_.steps());
  if (!out.skipped) {
    optimizer_.step(out.learning_rate);
    engine_->publish_parameters();
  }
  engine_->zero_grad();
  ++step_;
  return out;
}

// The step's labelled tokens (the micro-batches' weights) and tokens over all ranks: every
// rank knows them from the shared data order, without communicating.
std::pair<int64_t, int64_t> Trainer::step_tokens(int64_t step) const {
  int64_t targets = 0, tokens = 0;
  for (int64_t j = 0; j < micro_per_step(); ++j) {
    for (int64_t s : micro_batch(step * micro_per_step() + j)) {
      targets += targets_[static_cast<size_t>(s)];
      tokens += lengths_[static_cast<size_t>(s)];
    }
  }
  return {targets, tokens};
}

void Trainer::log(const std::string& group, const nlohmann::json& metrics) {
  if (group != "step") {
    nlohmann::json entry = metrics;
    entry["step"] = step_;
    log_history_.push_back(entry);
  }
  if (hooks_.on_metrics) hooks_.on_metrics(group, step_, metrics);
}

// Every rank stops at the same step: one rank's request is all of theirs.
bool Trainer::preempt_requested() {
  if (!hooks_.preempt) return false;
  return all_ranks_sum(hooks_.preempt() ? 1.0 : 0.0) > 0;
}

TrainResult Trainer::train() {
  if (samples_.empty()) throw Error("no training samples: the training split is empty");
  TrainResult result;
  const double start = now();
  if (options_.pause_at > 0 && step_ >= options_.pause_at && step_ < options_.max_steps) {
    result.preempted = true;  // resumed at its pause step (a rung reached before): stays paused
    result.steps = step_;
    return result;
  }
  double interval_loss = 0, interval_norm = 0, interval_start = now();
  int64_t interval_steps = 0, interval_tokens = 0;
  while (step_ < options_.max_steps) {
    const auto [targets, tokens] = step_tokens(step_);
    const std::vector<int64_t> ids = step_micro_batches(step_);
    std::vector<model::Batch> micro;
    for (int64_t id : ids)
      micro.push_back(data::make_batch(samples_, micro_batch(id), options_.pad_id));
    const StepOutcome s = step(micro, ids, targets);
    result.losses.push_back(s.loss);
    result.tokens += targets;
    interval_loss += s.loss;
    interval_norm += s.grad_norm;
    ++interval_steps;
    interval_tokens += tokens;
    const double tps =
        static_cast<double>(interval_tokens) / std::max(1e-9, now() - interval_start);
    log("step", {{"loss", s.loss}, {"learning_rate", s.learning_rate}, {"tokens_per_second", tps}});

    nlohmann::json eval_metrics = nlohmann::json::object();
    const bool last = step_ == options_.max_steps;
    if (every(step_, options_.logging_steps) || last) {
      nlohmann::json m = {{"loss", interval_loss / interval_steps},
                          {"grad_norm", interval_norm / interval_steps},
                          {"learning_rate", s.learning_rate},
                          {"epoch", epoch()},
                          {"tokens_per_second", tps}};
      if (scaler_) {
        m["loss_scale"] = scaler_->scale();
        m["skipped_steps"] = scaler_->skipped();
      }
      log("training", m);
      interval_loss = interval_norm = 0;
      interval_steps = interval_tokens = 0;
      interval_start = now();
    }
    const bool pause = !last && options_.pause_at > 0 && step_ == options_.pause_at;
    if (hooks_.evaluate &&
        (every(step_, options_.eval_steps) || (last && options_.eval_steps > 0) || pause)) {
      eval_metrics = hooks_.evaluate(model_);
      log("validation", eval_metrics);
    }
    const bool saved = every(step_, options_.save_steps) || (last && options_.save_final);
    if (saved) save(eval_metrics);
    if (!last && (pause || preempt_requested())) {
      if (!saved) save(eval_metrics);
      result.preempted = true;
      break;
    }
    if (hooks_.stop_after && hooks_.stop_after(step_)) {
      result.stopped = true;
      break;
    }
  }
  result.steps = step_;
  result.seconds = now() - start;
  result.skipped_steps = scaler_ ? scaler_->skipped() : 0;
  double sum = 0;
  for (double l : result.losses) sum += l;
  result.train_loss = result.losses.empty() ? 0 : sum / static_cast<double>(result.losses.size());
  return result;
}

}  // namespace llmtune::train
