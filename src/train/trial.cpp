#include "train/trial.h"

#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "core/error.h"
#include "data/format.h"
#include "data/split.h"
#include "data/synthetic.h"
#include "eval/teacher_forced.h"
#include "io/files.h"
#include "io/hf_checkpoint.h"
#include "text/chat.h"
#include "text/tokenizer.h"
#include "track/progress.h"
#include "track/tensorboard.h"
#include "train/checkpoint.h"

namespace llmtune::train {

namespace fs = std::filesystem;

namespace {

int64_t steps_for(const std::string& strategy, int64_t steps, int64_t per_epoch,
                  const std::string& key) {
  if (strategy == "no") return 0;
  if (strategy == "epoch") return per_epoch;
  if (strategy == "steps") return steps;
  throw Error(str("training_args.", key, " \"", strategy, "\" must be no, steps or epoch"));
}

// Writes to the experiment store during training. Another process may hold the store locked
// past its busy timeout (a long query, a copy); that must not end hours of training, so a
// write that fails is kept, in order, and tried again with the next one (a warning says so
// once). flush(true) at the end lets a failure that persists through as the error.
class StoreWrites {
 public:
  explicit StoreWrites(track::Store* store) : store_(store) {}
  void add(std::function<void(track::Store&)> write) {
    if (store_ == nullptr) return;
    pending_.push_back(std::move(write));
    flush(false);
  }
  void flush(bool final) {
    while (!pending_.empty()) {
      try {
        pending_.front()(*store_);
      } catch (const Error& e) {
        if (final) throw;
        if (!warned_) {
          std::fprintf(stderr,
                       "warning: cannot write to the experiment store (%s); training goes on "
                       "and the writes are retried\n",
                       e.what());
          warned_ = true;
        }
        return;
      }
      pending_.pop_front();
    }
  }

 private:
  track::Store* store_;
  std::deque<std::function<void(track::Store&)>> pending_;
  bool warned_ = false;
};

// Records a complete checkpoint and applies the experiment's retention policy to the trial's
// checkpoints (Determined's save_trial_latest, save_trial_best, save_experiment_best).
void record_checkpoint(track::Store& store, const TrialRun& run, const track::CheckpointRow& row) {
  const config::Searcher& searcher = run.experiment.searcher;
  const config::CheckpointStorage& policy = run.experiment.checkpoint_storage;
  store.add_checkpoint(row);
  store.set_trial_progress(run.trial_id, row.step);
  std::vector<CheckpointScore> scores;
  std::map<int64_t, std::string> uuid_of;
  for (const track::CheckpointRow& c : store.checkpoints(run.experiment_id, "step")) {
    if (c.trial_id != run.trial_id) continue;
    CheckpointScore s{
        c.step, c.metrics.contains(searcher.metric) && c.metrics[searcher.metric].is_number(), 0};
    if (s.has_metric) s.metric = c.metrics[searcher.metric].get<double>();
    scores.push_back(s);
    uuid_of[c.step] = c.uuid;
  }
  // save_experiment_best: the experiment's best checkpoints (over every trial) stay too.
  std::set<std::string> experiment_best;
  int64_t kept = 0;
  for (const track::CheckpointRow& c : store.checkpoints(run.experiment_id, searcher.metric)) {
    if (kept++ >= policy.save_experiment_best) break;
    if (c.metrics.contains(searcher.metric)) experiment_best.insert(c.uuid);
  }
  for (int64_t s : checkpoints_to_delete(scores, policy.save_trial_latest, policy.save_trial_best,
                                         searcher.smaller_is_better)) {
    if (experiment_best.count(uuid_of[s])) continue;
    std::error_code ec;
    fs::remove_all(checkpoint_dir(run.directory, s), ec);
    store.set_checkpoint_state(uuid_of[s], "DELETED");
  }
}

// Records the complete checkpoints of the trial directory that the store lacks (a run that died
// between writing one and recording it), with the validation metrics of their step; those whose
// state does not check out or belongs to another owner are left out.
void record_unlisted_checkpoints(track::Store& store, int64_t trial_id, const std::string& dir,
                                 const std::vector<int64_t>& steps, const nlohmann::json& owner) {
  const track::TrialRow trial = store.trial(trial_id);
  std::set<int64_t> listed;
  for (const track::CheckpointRow& c : store.checkpoints(trial.experiment_id, "step", true))
    if (c.trial_id == trial_id) listed.insert(c.step);
  for (int64_t step : steps) {
    if (listed.count(step)) continue;
    try {
      if (checkpoint_state(checkpoint_dir(dir, step)).value("owner", owner) != owner) continue;
    } catch (const Error& e) {
      std::fprintf(stderr, "warning: not listing %s: %s\n", checkpoint_dir(dir, step).c_str(),
                   e.what());
      continue;
    }
    track::CheckpointRow row;
    row.trial_id = trial_id;
    row.step = step;
    row.path = fs::absolute(checkpoint_dir(dir, step)).string();
    row.metrics = nlohmann::json::object();
    for (const track::MetricRow& m : store.metrics(trial_id, "validation"))
      if (m.step == step) row.metrics = m.metrics;
    store.add_checkpoint(row);
  }
}

}  // namespace

DatasetSplits load_dataset(const std::string& dataset, const std::string& subset,
                           const std::string& cache_dir) {
  data::check_subset(subset);
  DatasetSplits out;
  std::string file = dataset;
  if (dataset == "synthetic") {
    const std::string dir = io::path_join(cache_dir, "synthetic");
    file = io::path_join(dir, "records.jsonl");
    if (!io::file_exists(file)) {
      const data::SyntheticResult r = data::synthetic_generate({}, dir);
      data::write_records(file, r.records);
    }
  }
  if (fs::is_directory(file)) {
    const data::Splits all = data::read_splits(file);
    out.train = data::select_subset(all.train, subset);
    out.valid = data::select_subset(all.valid, subset);
    out.test = data::select_subset(all.test, subset);
    out.db_root = file;
  } else {
    const std::vector<data::Record> selected =
        data::select_subset(data::read_records(file), subset);
    if (selected.empty()) throw Error(str("subset \"", subset, "\" of ", file, " is empty"));
    data::Splits s = data::split_records(selected, 123);
    out.train = std::move(s.train);
    out.valid = std::move(s.valid);
    out.test = std::move(s.test);
    out.db_root = fs::path(file).parent_path().string();
  }
  if (out.train.empty())
    throw Error(str("the training split of ", dataset, " (", subset, ") is empty"));
  return out;
}

TrialOutcome run_trial(const TrialRun& run) {
  const Activity activity(str("running trial ", run.trial_id));
  const config::TrialConfig& tc = run.trial;
  const config::TrainingArgs& args = tc.training_args;
  track::Store* store = run.store;
  const int world = run.comm ? run.comm->world_size() : 1;
  const bool main = !run.comm || run.comm->rank() == 0;
  LLMTUNE_CHECK(main || store == nullptr, "only rank 0 writes to the experiment store");
  try {
    fs::create_directories(run.directory);
    // Rank 0 first: it may generate the synthetic set (files and databases) that all read.
    if (!main) run.comm->barrier();
    const DatasetSplits splits = load_dataset(tc.dataset, tc.dataset_subset, run.cache_dir);
    if (main && run.comm) run.comm->barrier();
    const std::string tok_dir = tc.tokenizer.empty() ? tc.model : tc.tokenizer;
    const auto tokenizer = text::tokenizer_load(tok_dir);
    data::FormatOptions fo;
    fo.max_length = tc.max_length;
    if (!tc.chat_template.empty()) fo.chat_template = text::chat_template_resolve(tc.chat_template);
    data::FormatReport train_report, valid_report;
    std::vector<data::Sample> train =
        data::format_records(*tokenizer, splits.train, fo, &train_report);
    std::vector<data::Sample> valid =
        data::format_records(*tokenizer, splits.valid, fo, &valid_report);
    if (train.empty()) {
      throw Error(
          str("no training sample is left of the ", train_report.records, " records of ",
              tc.dataset, " (", tc.dataset_subset, "): max_length ", tc.max_length,
              " leaves no room for the response in ", train_report.response_cut, " of them",
              train_report.template_miss
                  ? str(", and the chat template splits ", train_report.template_miss,
                        " at a different place with and without the response")
                  : std::string(),
              "; raise hyperparameters.max_length (`llmtune data stats` shows the lengths)"));
    }

    model::ModelOptions mo;
    mo.training = tc.lora ? model::Training::kLora : model::Training::kFull;
    if (tc.lora && (args.bf16 || args.fp16)) mo.frozen_dtype = args.bf16 ? DType::BF16 : DType::F16;
    mo.checkpoint_activations = args.gradient_checkpointing;
    auto model = io::model_load(tc.model, mo);
    if (tc.lora) {
      model::LoraConfig l;
      l.r = tc.lora_r;
      l.alpha = tc.lora_alpha;
      l.dropout = tc.lora_dropout;
      l.target_modules = tc.lora_target_modules;
      l.base_model_name_or_path = tc.model;
      model->add_lora(l, static_cast<uint64_t>(args.seed));
    }

    TrainerOptions o;
    o.batch_size = args.per_device_train_batch_size;
    o.accumulation = args.gradient_accumulation_steps;
    o.seed = static_cast<uint64_t>(args.seed);
    o.group_by_length = args.group_by_length;
    o.pad_id = tokenizer->special_tokens().pad;
    const int64_t micro_per_epoch =
        (static_cast<int64_t>(train.size()) + o.batch_size - 1) / o.batch_size;
    const int64_t steps_per_epoch =
        std::max<int64_t>(1, micro_per_epoch / (o.accumulation * world));
    o.comm = run.comm;
    o.max_steps = args.max_steps > 0
                      ? args.max_steps
                      : static_cast<int64_t>(std::ceil(args.num_train_epochs * steps_per_epoch));
    o.max_grad_norm = args.max_grad_norm;
    o.adamw = {args.learning_rate, args.adam_beta1, args.adam_beta2, args.adam_epsilon,
               args.weight_decay};
    o.schedule.type = args.lr_scheduler_type;
    o.schedule.lr = args.learning_rate;
    o.schedule.warmup_steps = args.warmup_steps_for(o.max_steps);
    o.schedule.total_steps = o.max_steps;
    if (tc.deepspeed) {
      config::DeepSpeedConfig ds = *tc.deepspeed;
      config::deepspeed_finalize(ds, args, model->config().hidden_size, o.max_steps);
      if (!ds.optimizer_type.empty())
        o.adamw = {ds.lr, ds.beta1, ds.beta2, ds.eps, ds.weight_decay};
      if (!ds.scheduler_type.empty()) {
        o.schedule.type = ds.scheduler_type;
        o.schedule.lr = ds.warmup_max_lr;
        o.schedule.min_lr = ds.warmup_min_lr;
        o.schedule.warmup_steps = ds.warmup_num_steps;
        o.schedule.total_steps = std::max<int64_t>(1, ds.total_num_steps);
        o.schedule.warmup_type = ds.warmup_type;
      }
      o.max_grad_norm = ds.gradient_clipping;
      o.zero.stage = static_cast<int>(ds.zero_stage);
      o.zero.reduce_bucket_size = static_cast<int64_t>(ds.reduce_bucket_size);
      o.zero.allgather_bucket_size = static_cast<int64_t>(ds.allgather_bucket_size);
      o.zero.prefetch_bucket_size = static_cast<int64_t>(ds.stage3_prefetch_bucket_size);
      o.zero.param_persistence_threshold =
          static_cast<int64_t>(ds.stage3_param_persistence_threshold);
      if (ds.fp16) {
        LossScalerOptions ls;
        ls.dynamic = ds.loss_scale.dynamic;
        ls.initial_scale =
            ds.loss_scale.dynamic
                ? std::ldexp(1.0, static_cast<int>(ds.loss_scale.initial_scale_power))
                : ds.loss_scale.static_scale;
        ls.window = ds.loss_scale.loss_scale_window;
        ls.hysteresis = ds.loss_scale.hysteresis;
        ls.min_scale = ds.loss_scale.min_loss_scale;
        o.loss_scale = ls;
      }
    } else if (args.fp16) {
      o.loss_scale = LossScalerOptions{};
    }
    o.logging_steps =
        steps_for(args.logging_strategy, args.logging_steps, steps_per_epoch, "logging_strategy");
    o.eval_steps = steps_for(args.evaluation_strategy,
                             args.eval_steps > 0 ? args.eval_steps : args.logging_steps,
                             steps_per_epoch, "evaluation_strategy");
    o.save_steps = steps_for(args.save_strategy, args.save_steps, steps_per_epoch, "save_strategy");
    o.output_dir = run.directory;
    o.owner = run.owner;
    o.files = text::tokenizer_files(tok_dir);

    std::unique_ptr<track::EventWriter> events;
    if (main)
      events = std::make_unique<track::EventWriter>(io::path_join(run.directory, "tensorboard"));
    std::unique_ptr<track::ProgressBar> bar;
    TrainerHooks hooks;
    if (!valid.empty()) {
      hooks.evaluate = [&](model::LlamaModel& m) {
        const eval::TeacherForced tf =
            eval::teacher_forced(m, *tokenizer, valid, args.per_device_eval_batch_size);
        return nlohmann::json{{"eval_loss", tf.loss},
                              {"eval_accuracy", tf.token_accuracy},
                              {"eval_bleu", tf.bleu.bleu}};
      };
    }
    StoreWrites writes(store);
    hooks.on_metrics = [&](const std::string& group, int64_t step, const nlohmann::json& m) {
      writes.add(
          [&run, group, step, m](track::Store& s) { s.add_metrics(run.trial_id, group, step, m); });
      for (const auto& [k, v] : m.items()) {
        if (v.is_number() && events)
          events->scalar(track::tensorboard_tag(k), step, v.get<double>());
      }
      if (bar && group == "validation") {
        char line[256];
        std::snprintf(line, sizeof line,
                      "step %lld: eval_loss %.4f, eval_accuracy %.4f, eval_bleu %.4f",
                      static_cast<long long>(step), m.value("eval_loss", 0.0),
                      m.value("eval_accuracy", 0.0), m.value("eval_bleu", 0.0));
        bar->message(line);
      }
    };
    hooks.on_step = [&](int64_t step, double loss, double lr, double tps) {
      if (bar) bar->update(step, loss, lr, tps);
      if (step % 10 == 0 || step == o.max_steps) {
        writes.add([&run, step](track::Store& s) { s.set_trial_progress(run.trial_id, step); });
      }
    };
    hooks.on_checkpoint = [&](int64_t step, const std::string& dir, const nlohmann::json& metrics) {
      track::CheckpointRow row;
      row.uuid = "";
      row.trial_id = run.trial_id;
      row.step = step;
      row.path = fs::absolute(dir).string();
      row.metrics = metrics;
      writes.add([&, row](track::Store& s) { record_checkpoint(s, run, row); });
    };
    // Fault injection for the crash-recovery tests: LLMTUNE_FAULT_KILL_AT_STEP=N makes the
    // process SIGKILL itself right after it has run (and saved) step N; N@R only rank R.
    const char* kill_at = std::getenv("LLMTUNE_FAULT_KILL_AT_STEP");
    int64_t kill_step = kill_at ? std::atoll(kill_at) : 0;
    const char* kill_rank = kill_at ? std::strchr(kill_at, '@') : nullptr;
    if (kill_rank && std::atoi(kill_rank + 1) != (run.comm ? run.comm->rank() : 0)) kill_step = 0;
    if (run.stop_after_step > 0 || kill_step > 0) {
      hooks.stop_after = [&run, kill_step](int64_t step) {
        if (step == kill_step) ::kill(::getpid(), SIGKILL);
        return run.stop_after_step > 0 && step >= run.stop_after_step;
      };
    }

    Trainer trainer(*model, std::move(train), o, hooks);
    if (main) checkpoint_remove_partial(run.directory);
    if (run.comm) run.comm->barrier();
    const std::vector<int64_t> done = checkpoint_steps(run.directory);
    std::string from = run.resume_from;
    if (!done.empty()) {
      from = checkpoint_dir(run.directory, done.back());
      if (!run.resume_from.empty()) {
        throw Error(str("trial ", run.trial_id, " has checkpoints of its own and continues from ",
                        "its latest, ", from, "; drop --resume ", run.resume_from,
                        ", or start a new trial from it: llmtune train CONFIG --resume ",
                        run.resume_from));
      }
      const nlohmann::json owner = checkpoint_state(from).value("owner", nlohmann::json());
      if (!owner.is_null() && owner != run.owner) {
        throw Error(str(from, " belongs to ", owner.dump(), ", not to this trial (",
                        run.owner.dump(), "): it was copied here; move it away"));
      }
    }
    if (!from.empty()) {
      trainer.resume(from);
      if (store && !done.empty())
        record_unlisted_checkpoints(*store, run.trial_id, run.directory, done, run.owner);
      if (main)
        std::fprintf(stderr, "trial %lld: resuming from %s at step %lld\n",
                     static_cast<long long>(run.trial_id), from.c_str(),
                     static_cast<long long>(trainer.step()));
    }
    if (main && world > 1 && run.progress) {
      std::fprintf(stderr, "trial %lld: %d ranks, ZeRO stage %d\n",
                   static_cast<long long>(run.trial_id), world, o.zero.stage);
    }
    if (run.progress && main)
      bar = std::make_unique<track::ProgressBar>(o.max_steps, trainer.step());
    nlohmann::json last_validation = nlohmann::json::object();
    TrialOutcome out;
    out.result = trainer.train();
    if (bar) bar->finish();
    out.seconds = out.result.seconds;
    if (!out.result.stopped) {
      // Transformers' closing log entry: this run's time and mean loss.
      const nlohmann::json summary = {
          {"train_runtime", out.result.seconds},
          {"train_steps_per_second",
           static_cast<double>(out.result.losses.size()) / std::max(1e-9, out.result.seconds)},
          {"train_loss", out.result.train_loss}};
      writes.add([&run, summary, step = trainer.step()](track::Store& s) {
        s.add_metrics(run.trial_id, "training", step, summary);
        s.set_trial_progress(run.trial_id, step);
        s.set_trial_state(run.trial_id, "COMPLETED");
      });
      // TensorBoard gets them too, as Transformers' TensorBoardCallback logs them.
      for (const auto& [k, v] : summary.items())
        if (events) events->scalar(track::tensorboard_tag(k), trainer.step(), v.get<double>());
      out.final_checkpoint = checkpoint_dir(run.directory, trainer.step());
    }
    writes.flush(true);
    for (const track::MetricRow& r :
         store ? store->metrics(run.trial_id, "validation") : std::vector<track::MetricRow>{}) {
      last_validation = r.metrics;
    }
    out.last_validation = last_validation;
    return out;
  } catch (...) {
    try {
      if (store) store->set_trial_state(run.trial_id, "ERROR");
    } catch (const Error& e) {  // the first failure is the one to report
      std::fprintf(stderr, "warning: cannot mark trial %lld ERROR: %s\n",
                   static_cast<long long>(run.trial_id), e.what());
    }
    throw;
  }
}

}  // namespace llmtune::train
