#include "experiment/trial.h"

#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/device.h"
#include "core/error.h"
#include "core/files.h"
#include "core/interrupt.h"
#include "data/dataset.h"
#include "eval/teacher_forced.h"
#include "experiment/retention.h"
#include "io/hf_checkpoint.h"
#include "text/chat.h"
#include "track/sink.h"
#include "train/checkpoint.h"

namespace llmtune::experiment {

namespace fs = std::filesystem;

namespace {

int64_t steps_for(const std::string& strategy, int64_t steps, int64_t per_epoch,
                  const std::string& key) {
  if (strategy == "no") return 0;
  if (strategy == "epoch") return per_epoch;
  if (strategy == "steps") return steps;
  throw Error(str("training_args.", key, " \"", strategy, "\" must be no, steps or epoch"));
}

// A DeepSpeed config's say over the options: optimizer, scheduler, clipping, ZeRO, fp16.
void apply_deepspeed(config::DeepSpeedConfig ds, const config::TrainingArgs& args,
                     int64_t hidden_size, train::TrainerOptions& o) {
  config::deepspeed_finalize(ds, args, hidden_size, o.max_steps);
  if (!ds.optimizer_type.empty()) {
    o.adamw = {ds.beta1, ds.beta2, ds.eps, ds.weight_decay};
    o.schedule.lr = ds.lr;
  }
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
  o.zero.param_persistence_threshold = static_cast<int64_t>(ds.stage3_param_persistence_threshold);
  if (ds.fp16) {
    train::LossScalerOptions ls;
    ls.dynamic = ds.loss_scale.dynamic;
    ls.initial_scale = ds.loss_scale.dynamic
                           ? std::ldexp(1.0, static_cast<int>(ds.loss_scale.initial_scale_power))
                           : ds.loss_scale.static_scale;
    ls.window = ds.loss_scale.loss_scale_window;
    ls.hysteresis = ds.loss_scale.hysteresis;
    ls.min_scale = ds.loss_scale.min_loss_scale;
    o.loss_scale = ls;
  }
}

// The metric sinks of rank 0 that record: the store and TensorBoard.
std::unique_ptr<track::FanOut> trial_sinks(const TrialRun& run, track::StoreSink** store_sink) {
  auto sinks = std::make_unique<track::FanOut>();
  if (run.store != nullptr) {
    auto s = std::make_unique<track::StoreSink>(*run.store, run.trial_id);
    *store_sink = s.get();
    sinks->add(std::move(s));
  }
  sinks->add(std::make_unique<track::TensorBoardSink>(path_join(run.directory, "tensorboard")));
  return sinks;
}

// Fault injection for the crash-recovery tests: LLMTUNE_FAULT_KILL_AT_STEP=N makes the process
// SIGKILL itself right after it has run (and saved) step N; N@R only on rank R. For the
// preemption tests, LLMTUNE_FAULT_SIGNAL_AT_STEP=N sends SIGTERM to this process after step N,
// Nx2 twice in a row, N@parent once to the parent (the experiment runner, which forwards it).
// With stop_after_step, the run stops after that step as a crash would.
std::function<bool(int64_t)> stop_hook(const TrialRun& run) {
  const char* kill_at = std::getenv("LLMTUNE_FAULT_KILL_AT_STEP");
  int64_t kill_step = kill_at ? std::atoll(kill_at) : 0;
  const char* kill_rank = kill_at ? std::strchr(kill_at, '@') : nullptr;
  if (kill_rank && std::atoi(kill_rank + 1) != (run.comm ? run.comm->rank() : 0)) kill_step = 0;
  const char* signal_at = std::getenv("LLMTUNE_FAULT_SIGNAL_AT_STEP");
  const int64_t signal_step = signal_at ? std::atoll(signal_at) : 0;
  const std::string how = signal_at ? signal_at : "";
  if (run.stop_after_step <= 0 && kill_step <= 0 && signal_step <= 0) return {};
  return [stop = run.stop_after_step, kill_step, signal_step, how](int64_t step) {
    if (step == kill_step) ::kill(::getpid(), SIGKILL);
    if (step == signal_step) {
      const bool parent = how.find("@parent") != std::string::npos;
      ::kill(parent ? ::getppid() : ::getpid(), SIGTERM);
      if (how.find("x2") != std::string::npos) ::kill(::getpid(), SIGTERM);
    }
    return stop > 0 && step >= stop;
  };
}

// `experiment pause` asks for a checkpoint and a stop, as a signal does; `experiment kill` for
// an exit at once, without one (rank 0 asks the store; the others follow it, as under mpirun).
bool asked_to_stop(const TrialRun& run) {
  if (run.store == nullptr) return false;
  const std::string request = run.store->experiment(run.experiment_id).request;
  if (request == "kill") {
    run.store->set_trial_state(run.trial_id, "CANCELED");
    std::fprintf(stderr, "trial %lld: killed (experiment kill); exiting without a checkpoint\n",
                 static_cast<long long>(run.trial_id));
    std::fflush(nullptr);
    std::_Exit(128 + SIGTERM);
  }
  return request == "pause";
}

// Checks a checkpoint's files against its manifest (throwing when one is damaged); one without a
// manifest (an older llmtune's) is trusted, with a note.
void checkpoint_check(const TrialRun& run, const std::string& dir) {
  if (!train::checkpoint_verify(dir)) {
    std::fprintf(stderr,
                 "trial %lld: note: %s has no manifest.json (an older llmtune saved it); its "
                 "files cannot be checked\n",
                 static_cast<long long>(run.trial_id), dir.c_str());
  }
}

// Whether a checkpoint is sound: false, with why on stderr, when it is damaged.
bool checkpoint_sound(const TrialRun& run, const std::string& dir) {
  try {
    checkpoint_check(run, dir);
    return true;
  } catch (const OutOfMemory&) {
    throw;
  } catch (const Error& e) {
    std::fprintf(stderr, "trial %lld: %s\n", static_cast<long long>(run.trial_id), e.what());
    return false;
  }
}

// Moves the trial's damaged latest checkpoints aside (checkpoint-N.damaged, kept for a look,
// never listed) until the latest is sound, so the trial falls back to its last good one and
// saves step N again. Rank 0 only.
void set_damaged_aside(const TrialRun& run, track::StoreSink* store_sink) {
  for (std::vector<int64_t> done = train::checkpoint_steps(run.directory); !done.empty();
       done.pop_back()) {
    const std::string dir = train::checkpoint_dir(run.directory, done.back());
    if (checkpoint_sound(run, dir)) return;
    std::string aside = dir + ".damaged";
    for (int i = 2; fs::exists(aside); ++i) aside = str(dir, ".damaged-", i);
    std::error_code ec;
    fs::rename(dir, aside, ec);
    if (ec) throw Error(str("cannot move the damaged ", dir, " aside: ", ec.message()));
    std::fprintf(stderr, "trial %lld: moved the damaged checkpoint to %s; falling back to %s\n",
                 static_cast<long long>(run.trial_id), aside.c_str(),
                 done.size() > 1
                     ? train::checkpoint_dir(run.directory, done[done.size() - 2]).c_str()
                     : "the start (no earlier checkpoint)");
    if (store_sink != nullptr) {
      const TrialCheckpoints kept{run.experiment_id, run.trial_id, run.directory,
                                  run.experiment.searcher, run.experiment.checkpoint_storage};
      store_sink->write([kept, step = done.back()](track::Store& s) {
        checkpoint_record_damaged(s, kept, step);
      });
    }
  }
}

// Continues from the trial's latest sound checkpoint, or from --resume when it has none: after
// checking that a checkpoint found in the trial directory belongs to this trial.
void resume(train::Trainer& trainer, const TrialRun& run, track::StoreSink* store_sink) {
  const bool main = !run.comm || run.comm->rank() == 0;
  if (main) {
    train::checkpoint_remove_partial(run.directory);
    set_damaged_aside(run, store_sink);
  }
  if (run.comm) run.comm->barrier();
  const std::vector<int64_t> done = train::checkpoint_steps(run.directory);
  std::string from = run.resume_from;
  if (!done.empty()) {
    from = train::checkpoint_dir(run.directory, done.back());
    if (!run.resume_from.empty()) {
      throw Error(str("trial ", run.trial_id, " has checkpoints of its own and continues from ",
                      "its latest, ", from, "; drop --resume ", run.resume_from,
                      ", or start a new trial from it: llmtune train CONFIG --resume ",
                      run.resume_from));
    }
    const nlohmann::json owner = train::checkpoint_state(from).value("owner", nlohmann::json());
    if (!owner.is_null() && owner != run.owner) {
      throw Error(str(from, " belongs to ", owner.dump(), ", not to this trial (", run.owner.dump(),
                      "): it was copied here; move it away"));
    }
  }
  if (from.empty()) return;
  if (done.empty() && main) checkpoint_check(run, from);
  trainer.resume(from);
  if (store_sink != nullptr && !done.empty()) {
    const TrialCheckpoints kept{run.experiment_id, run.trial_id, run.directory,
                                run.experiment.searcher, run.experiment.checkpoint_storage};
    store_sink->write([kept, done, owner = run.owner](track::Store& s) {
      checkpoint_record_unlisted(s, kept, done, owner);
    });
  }
  if (main) {
    std::fprintf(stderr, "trial %lld: resuming from %s at step %lld\n",
                 static_cast<long long>(run.trial_id), from.c_str(),
                 static_cast<long long>(trainer.step()));
  }
}

// Trains, then logs Transformers' closing entry and completes the trial in the store.
TrialOutcome train_trial(train::Trainer& trainer, const TrialRun& run, track::MetricSink* sink,
                         track::StoreSink* store_sink) {
  TrialOutcome out;
  out.result = trainer.train();
  out.seconds = out.result.seconds;
  if (out.result.preempted) {
    if (store_sink != nullptr) {
      store_sink->write([id = run.trial_id, step = trainer.step()](track::Store& s) {
        s.set_trial_progress(id, step);
        s.set_trial_state(id, "PAUSED");
      });
    }
    out.final_checkpoint = train::checkpoint_dir(run.directory, trainer.step());
  } else if (!out.result.stopped) {
    const nlohmann::json summary = {
        {"train_runtime", out.result.seconds},
        {"train_steps_per_second",
         static_cast<double>(out.result.losses.size()) / std::max(1e-9, out.result.seconds)},
        {"train_loss", out.result.train_loss}};
    if (sink != nullptr) sink->log("summary", trainer.step(), summary);
    if (store_sink != nullptr) {
      store_sink->write([id = run.trial_id, step = trainer.step()](track::Store& s) {
        s.set_trial_progress(id, step);
        s.set_trial_state(id, "COMPLETED");
      });
    }
    out.final_checkpoint = train::checkpoint_dir(run.directory, trainer.step());
  }
  if (sink != nullptr) sink->close();
  out.last_validation = nlohmann::json::object();
  if (run.store != nullptr) {
    for (const track::MetricRow& r : run.store->metrics(run.trial_id, "validation"))
      out.last_validation = r.metrics;
  }
  return out;
}

TrialOutcome run_trial_body(const TrialRun& run) {
  const config::TrialConfig& tc = run.trial;
  const int world = run.comm ? run.comm->world_size() : 1;
  const bool main = !run.comm || run.comm->rank() == 0;
  fs::create_directories(run.directory);
  TrialData data = trial_data(tc, run.cache_dir, run.comm);
  auto model = trial_model(tc);
  train::TrainerOptions o = trainer_options(tc, model->config().hidden_size,
                                            static_cast<int64_t>(data.train.size()), world);
  o.pad_id = data.tokenizer->special_tokens().pad;
  o.comm = run.comm;
  o.output_dir = run.directory;
  o.owner = run.owner;
  o.files = text::tokenizer_files(data.tokenizer_dir);
  o.pause_at = run.pause_at;

  train::TrainerHooks hooks;
  if (!data.valid.empty()) {
    hooks.evaluate = [&](model::LlamaModel& m) {
      const eval::TeacherForced tf = eval::teacher_forced(
          m, *data.tokenizer, data.valid, tc.training_args.per_device_eval_batch_size);
      return nlohmann::json{{"eval_loss", tf.loss},
                            {"eval_accuracy", tf.token_accuracy},
                            {"eval_bleu", tf.bleu.bleu}};
    };
  }
  std::unique_ptr<track::FanOut> sinks;
  track::StoreSink* store_sink = nullptr;
  hooks.on_metrics = [&](const std::string& group, int64_t step, const nlohmann::json& m) {
    if (sinks) sinks->log(group, step, m);
  };
  const TrialCheckpoints kept{run.experiment_id, run.trial_id, run.directory,
                              run.experiment.searcher, run.experiment.checkpoint_storage};
  hooks.on_checkpoint = [&](int64_t step, const std::string& dir, const nlohmann::json& metrics) {
    if (store_sink == nullptr) return;
    track::CheckpointRow row;
    row.trial_id = run.trial_id;
    row.step = step;
    row.path = fs::absolute(dir).string();
    row.metrics = metrics;
    store_sink->write([kept, row](track::Store& s) { checkpoint_record(s, kept, row); });
  };
  hooks.stop_after = stop_hook(run);
  hooks.preempt = [&run] { return interrupt_requested() != 0 || asked_to_stop(run); };

  train::Trainer trainer(*model, std::move(data.train), o, hooks);
  if (main) sinks = trial_sinks(run, &store_sink);
  resume(trainer, run, store_sink);
  if (store_sink != nullptr) {  // again, when it continues after a pause or an error
    store_sink->write([id = run.trial_id](track::Store& s) { s.set_trial_state(id, "ACTIVE"); });
  }
  if (main && world > 1 && run.progress) {
    std::fprintf(stderr, "trial %lld: %d ranks, ZeRO stage %d\n",
                 static_cast<long long>(run.trial_id), world, o.zero.stage);
  }
  // The bar's ETA counts only the steps this process times.
  if (main && run.progress)
    sinks->add(std::make_unique<track::ProgressSink>(o.max_steps, trainer.step()));
  return train_trial(trainer, run, sinks.get(), store_sink);
}

}  // namespace

TrialData trial_data(const config::TrialConfig& tc, const std::string& cache_dir,
                     parallel::Communicator* comm) {
  const bool main = !comm || comm->rank() == 0;
  if (!main) comm->barrier();
  const data::DatasetSplits splits = data::load_dataset(tc.dataset, tc.dataset_subset, cache_dir);
  if (main && comm) comm->barrier();
  TrialData d;
  d.tokenizer_dir = tc.tokenizer.empty() ? tc.model : tc.tokenizer;
  d.tokenizer = text::tokenizer_load(d.tokenizer_dir);
  data::FormatOptions fo;
  fo.max_length = tc.max_length;
  if (!tc.chat_template.empty()) fo.chat_template = text::chat_template_resolve(tc.chat_template);
  data::FormatReport train_report, valid_report;
  d.train = data::format_records(*d.tokenizer, splits.train, fo, &train_report);
  d.valid = data::format_records(*d.tokenizer, splits.valid, fo, &valid_report);
  if (d.train.empty()) {
    throw Error(str("no training sample is left of the ", train_report.records, " records of ",
                    tc.dataset, " (", tc.dataset_subset, "): max_length ", tc.max_length,
                    " leaves no room for the response in ", train_report.response_cut, " of them",
                    train_report.template_miss
                        ? str(", and the chat template splits ", train_report.template_miss,
                              " at a different place with and without the response")
                        : std::string(),
                    "; raise hyperparameters.max_length (`llmtune data stats` shows the lengths)"));
  }
  return d;
}

std::unique_ptr<model::LlamaModel> trial_model(const config::TrialConfig& tc) {
  const config::TrainingArgs& args = tc.training_args;
  model::ModelOptions mo;
  mo.training = tc.lora ? model::Training::kLora : model::Training::kFull;
  if (tc.lora && (args.bf16 || args.fp16)) mo.frozen_dtype = args.bf16 ? DType::BF16 : DType::F16;
  mo.checkpoint_activations = args.gradient_checkpointing;
  mo.device = device_resolve(tc.device);
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
  return model;
}

train::TrainerOptions trainer_options(const config::TrialConfig& tc, int64_t hidden_size,
                                      int64_t train_samples, int world) {
  const config::TrainingArgs& args = tc.training_args;
  train::TrainerOptions o;
  o.batch_size = args.per_device_train_batch_size;
  o.accumulation = args.gradient_accumulation_steps;
  o.seed = static_cast<uint64_t>(args.seed);
  o.group_by_length = args.group_by_length;
  const int64_t micro_per_epoch = (train_samples + o.batch_size - 1) / o.batch_size;
  const int64_t steps_per_epoch = std::max<int64_t>(1, micro_per_epoch / (o.accumulation * world));
  o.max_steps = args.max_steps > 0
                    ? args.max_steps
                    : static_cast<int64_t>(std::ceil(args.num_train_epochs * steps_per_epoch));
  o.max_grad_norm = args.max_grad_norm;
  o.adamw = {args.adam_beta1, args.adam_beta2, args.adam_epsilon, args.weight_decay};
  o.schedule.type = args.lr_scheduler_type;
  o.schedule.lr = args.learning_rate;
  o.schedule.warmup_steps = args.warmup_steps_for(o.max_steps);
  o.schedule.total_steps = o.max_steps;
  if (tc.deepspeed) {
    apply_deepspeed(*tc.deepspeed, args, hidden_size, o);
  } else if (args.fp16) {
    o.loss_scale = train::LossScalerOptions{};
  }
  o.logging_steps =
      steps_for(args.logging_strategy, args.logging_steps, steps_per_epoch, "logging_strategy");
  o.eval_steps = steps_for(args.evaluation_strategy,
                           args.eval_steps > 0 ? args.eval_steps : args.logging_steps,
                           steps_per_epoch, "evaluation_strategy");
  o.save_steps = steps_for(args.save_strategy, args.save_steps, steps_per_epoch, "save_strategy");
  return o;
}

TrialOutcome run_trial(const TrialRun& run) {
  const Activity activity(str("running trial ", run.trial_id));
  LLMTUNE_CHECK(!run.comm || run.comm->rank() == 0 || run.store == nullptr,
                "only rank 0 writes to the experiment store");
  try {
    return run_trial_body(run);
  } catch (...) {
    try {
      if (run.store) run.store->set_trial_state(run.trial_id, "ERROR");
    } catch (const Error& e) {  // the first failure is the one to report
      std::fprintf(stderr, "warning: cannot mark trial %lld ERROR: %s\n",
                   static_cast<long long>(run.trial_id), e.what());
    }
    throw;
  }
}

}  // namespace llmtune::experiment
