#include "experiment/runner.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/interrupt.h"
#include "experiment/runner_internal.h"
#include "experiment/trial.h"
#include "experiment/trial_log.h"
#include "parallel/communicator.h"
#include "track/store.h"

extern char** environ;

namespace llmtune::experiment {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string slug(const std::string& name) {
  std::string s;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    s += ok ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : '-';
  }
  return s.empty() ? "experiment" : s;
}

}  // namespace

namespace detail {

std::string experiment_dir(const std::string& runs, const std::string& name, int64_t exp) {
  return (fs::absolute(runs) / (slug(name) + "-" + std::to_string(exp))).string();
}

std::string trial_dir(const std::string& runs, const std::string& name, int64_t exp,
                      int64_t trial) {
  return (fs::path(experiment_dir(runs, name, exp)) / ("trial-" + std::to_string(trial))).string();
}

}  // namespace detail

namespace {

using detail::halted;
using detail::run_with_restarts;
using detail::trial_dir;

// The stored form of a config: the file's absolute path (DeepSpeed files are relative to it)
// and the whole config after overrides.
json stored_config(const config::ExperimentConfig& c) {
  return {{"path", fs::absolute(c.path).string()}, {"config", c.raw}};
}

config::ExperimentConfig config_of(const track::ExperimentRow& row) {
  return config::experiment_parse(row.config.at("config").dump(), row.config.at("path"));
}

}  // namespace

PreparedExperiment prepare_experiment(const std::string& config_path,
                                      const std::vector<std::string>& sets,
                                      const std::string& runs) {
  PreparedExperiment p;
  p.config = config::experiment_load(config_path, sets);
  for (const std::string& n : p.config.notices) std::fprintf(stderr, "notice: %s\n", n.c_str());
  const std::vector<json> points = config::search_points(p.config, p.config.experiment_seed);
  for (const json& point : points) {
    const config::TrialConfig t = config::trial_config(p.config, point, p.config.slots_per_trial);
    const config::Length& max_length = p.config.searcher.max_length;
    const int64_t length =
        config::length_batches(p.config, t.training_args, p.config.slots_per_trial, max_length);
    if (p.config.searcher.name == "adaptive_asha" && t.training_args.max_steps != length) {
      throw Error(str(config_path, ": hyperparameters.training_args.max_steps (",
                      t.training_args.max_steps, ") must equal searcher.max_length (",
                      max_length.unit == "batches"
                          ? str(length, " batches")
                          : str(max_length.value, " ", max_length.unit, " = ", length, " batches"),
                      ") for adaptive_asha, whose rungs are fractions of it; drop max_steps or ",
                      "make them equal"));
    }
  }
  auto store = track::Store::open(track::store_path(runs));
  p.id = store->create_experiment(p.config.name, p.config.description, stored_config(p.config),
                                  p.config.searcher.metric, p.config.searcher.smaller_is_better);
  for (const json& point : points) {
    const int64_t t = store->create_trial(p.id, point, "");
    store->set_trial_directory(t, trial_dir(runs, p.config.name, p.id, t));  // for readers
    p.trial_ids.push_back(t);
  }
  return p;
}

void finish_experiment(const std::string& runs, int64_t id, bool failed) {
  track::Store::open(track::store_path(runs))
      ->set_experiment_state(id, failed ? "ERROR" : "COMPLETED");
}

namespace {

// A signal or `experiment pause` stopped the experiment: its unfinished trials (one stopped at
// a checkpoint, or killed by a second signal, and the ones not started) are PAUSED, and so is
// the experiment.
void pause_experiment(const std::string& runs, int64_t id, const std::string& by) {
  auto store = track::Store::open(track::store_path(runs));
  std::string resume;
  for (const track::TrialRow& t : store->trials(id)) {
    if (t.state != "ACTIVE" && t.state != "PAUSED") continue;
    store->set_trial_state(t.id, "PAUSED");
    resume += str("  llmtune train --trial ", t.id, " --runs ", runs, "\n");
  }
  store->set_experiment_state(id, "PAUSED");
  store->set_experiment_request(id, "");
  std::fprintf(stderr,
               "experiment %lld paused by %s; `llmtune experiment activate %lld --runs %s` "
               "continues it, or each trial with\n%s",
               static_cast<long long>(id), by.c_str(), static_cast<long long>(id), runs.c_str(),
               resume.c_str());
}

// `experiment kill` stopped the experiment: its unfinished trials and itself are CANCELED.
void cancel_experiment(const std::string& runs, int64_t id) {
  auto store = track::Store::open(track::store_path(runs));
  for (const track::TrialRow& t : store->trials(id)) {
    if (t.state == "ACTIVE" || t.state == "PAUSED") store->set_trial_state(t.id, "CANCELED");
  }
  store->set_experiment_state(id, "CANCELED");
  store->set_experiment_request(id, "");
  std::fprintf(stderr, "experiment %lld killed (CANCELED)\n", static_cast<long long>(id));
}

// What `experiment pause|kill` asked of experiment `id` ("" when nothing).
std::string experiment_request(const std::string& runs, int64_t id) {
  return track::Store::open(track::store_path(runs))->experiment(id).request;
}

}  // namespace

bool detail::halted(const std::string& runs, int64_t id) {
  return interrupt_requested() || !experiment_request(runs, id).empty();
}

namespace {

// Runs `llmtune train --trial ID` as a child, under `mpirun -np SLOTS` when the trial has
// several slots (LLMTUNE_MPIRUN names another launcher, LLMTUNE_MPIRUN_ARGS adds arguments such
// as --hostfile), its output copied into `log`; returns its exit status (128 + signal if killed).
int run_child(const std::string& runs, int64_t trial_id, bool quiet, int64_t slots, int64_t until,
              int threads, const std::string& log) {
  std::error_code ec;
  const std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec) throw Error("cannot find this program's own path (/proc/self/exe)");
  std::vector<std::string> argv;
  if (slots > 1) {
    const char* launcher = std::getenv("LLMTUNE_MPIRUN");
    argv = {launcher && *launcher ? launcher : "mpirun", "-np", std::to_string(slots)};
    if (::geteuid() == 0) argv.push_back("--allow-run-as-root");
    if (slots > static_cast<int64_t>(std::thread::hardware_concurrency()))
      argv.push_back("--oversubscribe");
    std::istringstream extra(std::getenv("LLMTUNE_MPIRUN_ARGS") ? std::getenv("LLMTUNE_MPIRUN_ARGS")
                                                                : "");
    for (std::string word; extra >> word;) argv.push_back(word);
  }
  for (const std::string& a : {self, std::string("train"), std::string("--runs"), runs,
                               std::string("--trial"), std::to_string(trial_id)})
    argv.push_back(a);
  if (quiet) argv.push_back("--quiet");
  if (until > 0) {
    argv.push_back("--until");
    argv.push_back(std::to_string(until));
  }
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  // The child gets a process group of its own, so that a terminal's Ctrl-C reaches it once,
  // forwarded by this process, and not twice (once from the terminal) as an exit-at-once.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = 0;
  TrialLog output(log);
  const int spawned = posix_spawnp(&pid, cargv[0], output.actions(), &attr, cargv.data(),
                                   output.environment(threads));
  posix_spawnattr_destroy(&attr);
  if (spawned != 0) {
    throw Error(slots > 1 ? str("cannot start ", argv[0], " for a trial with ", slots,
                                " slots: install Open MPI (openmpi-bin) or set LLMTUNE_MPIRUN")
                          : str("cannot start a trial process (", self, ")"));
  }
  interrupt_forward_add(pid);
  output.copy_until_closed();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  interrupt_forward_remove(pid);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace

bool detail::run_with_restarts(const std::string& runs, const PreparedExperiment& ex, int64_t trial,
                               bool quiet, int64_t until, int threads) {
  for (int64_t restarts = 0;;) {
    const std::string log = trial_dir(runs, ex.config.name, ex.id, trial) + "/trial.log";
    const int code = run_child(runs, trial, quiet, ex.config.slots_per_trial, until, threads, log);
    if (code == 0 || halted(runs, ex.id)) return true;
    if (code == 2 || restarts >= ex.config.max_restarts) {  // bad input: a restart cannot help
      trial_log_note(log, str("trial ", trial, " failed (exit ", code, ") after ", restarts,
                              " restart(s); max_restarts is ", ex.config.max_restarts));
      return false;
    }
    ++restarts;
    track::Store::open(track::store_path(runs))->add_trial_restart(trial);
    trial_log_note(log, str("trial ", trial, " died (exit ", code, "); restart ", restarts, " of ",
                            ex.config.max_restarts, " from its last checkpoint"));
  }
}

int detail::threads_per_trial(size_t concurrent) {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) /
                         static_cast<int>(std::max<size_t>(1, concurrent)));
}

namespace {

// How many trials run at once: searcher.max_concurrent_trials when the config writes it (0: all),
// else 1. (Determined's default of 16 would oversubscribe a CPU machine: each trial already
// uses every core.)
size_t concurrency(const PreparedExperiment& ex) {
  const json& searcher = ex.config.raw.contains("searcher") ? ex.config.raw["searcher"] : json();
  if (!searcher.is_object() || !searcher.contains("max_concurrent_trials")) return 1;
  const size_t n = static_cast<size_t>(ex.config.searcher.max_concurrent_trials);
  return std::max<size_t>(1, std::min(n == 0 ? ex.trial_ids.size() : n, ex.trial_ids.size()));
}

// Runs the trials `n` at a time as parallel child processes, the machine's cores split between
// them (OMP_NUM_THREADS); false when one failed for good.
bool run_parallel(const std::string& runs, const PreparedExperiment& ex, bool quiet, size_t n) {
  const int threads = detail::threads_per_trial(n);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  std::vector<std::thread> pool;
  for (size_t i = 0; i < n; ++i) {
    pool.emplace_back([&] {
      try {
        for (size_t k; (k = next++) < ex.trial_ids.size() && !halted(runs, ex.id);) {
          if (!run_with_restarts(runs, ex, ex.trial_ids[k], quiet, 0, threads)) failed = true;
        }
      } catch (...) {
        const std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    });
  }
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return !failed;
}

// Runs the experiment's trials (adaptive_asha's way, continuing its saved search when `resume`,
// or one after another), then ends it: PAUSED after a signal or `experiment pause`, CANCELED
// after `experiment kill`, else COMPLETED or ERROR.
int64_t run_trials(const std::string& runs, const PreparedExperiment& ex, bool quiet,
                   bool resume = false) {
  bool failed = false;
  interrupt_install();
  if (ex.config.searcher.name == "adaptive_asha") {
    failed = !detail::run_asha(runs, ex, quiet, concurrency(ex), resume);
  } else if (concurrency(ex) > 1) {
    failed = !run_parallel(runs, ex, quiet, concurrency(ex));
  } else {
    for (int64_t trial : ex.trial_ids) {
      if (halted(runs, ex.id)) break;
      failed = !run_with_restarts(runs, ex, trial, quiet, 0, 0) || failed;
    }
  }
  const std::string request = experiment_request(runs, ex.id);
  if (request == "kill") {
    cancel_experiment(runs, ex.id);
    return ex.id;
  }
  if ((interrupt_requested() || request == "pause") && !failed) {
    pause_experiment(runs, ex.id, request.empty() ? "a signal" : "experiment pause");
    return ex.id;
  }
  finish_experiment(runs, ex.id, failed);
  if (failed) throw Error(str("experiment ", ex.id, " has failed trials; see above"));
  return ex.id;
}

}  // namespace

int64_t run_experiment(const std::string& config_path, const std::vector<std::string>& sets,
                       const std::string& runs, bool quiet) {
  const PreparedExperiment ex = prepare_experiment(config_path, sets, runs);
  std::printf("experiment %lld \"%s\": %zu trial(s), store %s\n", static_cast<long long>(ex.id),
              ex.config.name.c_str(), ex.trial_ids.size(), track::store_path(runs).c_str());
  std::fflush(stdout);
  return run_trials(runs, ex, quiet);
}

void activate_experiment(const std::string& runs, int64_t id, bool quiet) {
  PreparedExperiment ex;
  {
    auto store = track::Store::open(track::store_path(runs));
    const track::ExperimentRow row = store->experiment(id);
    if (row.state != "PAUSED") {
      throw Error(str("experiment ", id, " is ", row.state, "; only a PAUSED one is activated"));
    }
    ex.id = id;
    ex.config = config_of(row);
    // A search continues from its saved state over all its trials; other experiments run their
    // unfinished trials.
    const bool search = ex.config.searcher.name == "adaptive_asha";
    for (const track::TrialRow& t : store->trials(id)) {
      if (search || t.state == "PAUSED" || t.state == "ACTIVE") ex.trial_ids.push_back(t.id);
    }
    store->set_experiment_request(id, "");
    store->set_experiment_state(id, "ACTIVE");
  }
  std::printf(
      "experiment %lld \"%s\": continuing %s\n", static_cast<long long>(id), ex.config.name.c_str(),
      ex.config.searcher.name == "adaptive_asha" ? "its adaptive_asha search"
                                                 : str(ex.trial_ids.size(), " trial(s)").c_str());
  std::fflush(stdout);
  try {
    run_trials(runs, ex, quiet, true);
  } catch (...) {
    // Stopped before it could end the experiment (a damaged searcher.json, say): PAUSED again,
    // to be activated once fixed, not ACTIVE with nothing running it.
    auto store = track::Store::open(track::store_path(runs));
    if (store->experiment(id).state == "ACTIVE") store->set_experiment_state(id, "PAUSED");
    throw;
  }
}

void request_experiment(const std::string& runs, int64_t id, const std::string& request) {
  auto store = track::Store::open(track::store_path(runs));
  const track::ExperimentRow row = store->experiment(id);
  if (request == "kill" && row.state == "PAUSED") {  // no runner: cancel it here
    store.reset();
    cancel_experiment(runs, id);
    return;
  }
  if (row.state != "ACTIVE") {
    throw Error(str("experiment ", id, " is ", row.state, "; only an ACTIVE one is ",
                    request == "kill" ? "killed (or a PAUSED one)" : "paused"));
  }
  store->set_experiment_request(id, request);
}

int64_t train_trial(const TrainRequest& a) {
  if (!a.resume.empty() && !fs::exists(fs::path(a.resume) / "train_state.json")) {
    throw Error(str("--resume ", a.resume, " is not an llmtune checkpoint (no train_state.json)"));
  }
  interrupt_install();  // a signal stops at the next step, with a checkpoint (core/interrupt.h)
  // Under mpirun every rank runs this; rank 0 alone records in the store.
  const std::unique_ptr<parallel::Communicator> comm = parallel::make_communicator();
  const bool main = comm->rank() == 0;
  const int world = comm->world_size();
  int64_t trial_id = a.trial;
  if (trial_id == 0) {
    if (a.config.empty()) throw Error("give an experiment config, or --trial ID of the store");
    if (main) {
      const PreparedExperiment p = prepare_experiment(a.config, a.sets, a.runs);
      if (p.trial_ids.size() != 1) {
        throw Error(str(a.config, ": `llmtune train` runs one trial but the searcher makes ",
                        p.trial_ids.size(), "; use `llmtune experiment create`"));
      }
      trial_id = p.trial_ids[0];
    } else {  // the same checks, so that a bad config stops every rank alike
      const config::ExperimentConfig c = config::experiment_load(a.config, a.sets);
      for (const json& point : config::search_points(c, c.experiment_seed))
        config::trial_config(c, point, world);
    }
    trial_id = parallel::broadcast_value(*comm, trial_id, 0);
  } else if (!a.config.empty()) {
    throw Error("give either a config or --trial, not both");
  } else if (!a.sets.empty()) {
    throw Error(str("--set changes a config; trial ", trial_id,
                    " keeps the settings it was created with (run the changed config as a new "
                    "experiment instead)"));
  }
  auto store = track::Store::open(track::store_path(a.runs));
  const track::TrialRow trial = store->trial(trial_id);
  const track::ExperimentRow exp = store->experiment(trial.experiment_id);
  if (!main) store.reset();
  TrialRun run;
  run.experiment = config_of(exp);
  if (main && run.experiment.slots_per_trial != world) {
    std::fprintf(stderr,
                 "notice: resources.slots_per_trial is %lld; training on the %d process(es) "
                 "started (`experiment create`, or mpirun -np N, starts N)\n",
                 static_cast<long long>(run.experiment.slots_per_trial), world);
  }
  run.trial = config::trial_config(run.experiment, trial.hyperparameters, world);
  if (!a.device.empty()) run.trial.device = a.device;
  run.store = store.get();
  run.comm = comm.get();
  run.experiment_id = exp.id;
  run.trial_id = trial_id;
  run.directory = trial_dir(a.runs, exp.name, exp.id, trial_id);
  run.cache_dir = (fs::absolute(a.runs) / "datasets").string();
  run.progress = !a.quiet && main;
  run.stop_after_step = a.stop_after;
  run.pause_at = a.until;
  run.resume_from = a.resume;
  // The experiment's start time tells this store's experiment from one of another store.
  run.owner = {
      {"experiment_id", exp.id}, {"trial_id", trial_id}, {"experiment_start", exp.start_time}};
  TrialOutcome out;
  try {
    out = run_trial(run);
  } catch (...) {
    // This command created the experiment, so its failure ends it too (experiment create does
    // the same for the trials it runs).
    if (main && a.trial == 0) finish_experiment(a.runs, exp.id, true);
    throw;
  }
  if (!main) return trial_id;
  if (out.result.preempted && !interrupt_requested()) {
    const bool rung = a.until > 0 && out.result.steps == a.until;
    std::printf("trial %lld paused at step %lld (%s), checkpoint %s\n",
                static_cast<long long>(trial_id), static_cast<long long>(out.result.steps),
                rung ? "--until" : "experiment pause", out.final_checkpoint.c_str());
    return trial_id;
  }
  if (out.result.preempted) {
    std::printf(
        "trial %lld paused by a signal at step %lld, checkpoint %s; continue with "
        "llmtune train --trial %lld --runs %s\n",
        static_cast<long long>(trial_id), static_cast<long long>(out.result.steps),
        out.final_checkpoint.c_str(), static_cast<long long>(trial_id), a.runs.c_str());
    if (a.trial == 0)
      track::Store::open(track::store_path(a.runs))->set_experiment_state(exp.id, "PAUSED");
    return trial_id;
  }
  std::printf("trial %lld: %lld steps in %.1f s, train loss %.4f%s%s\n",
              static_cast<long long>(trial_id), static_cast<long long>(out.result.steps),
              out.seconds, out.result.train_loss, out.final_checkpoint.empty() ? "" : ", model ",
              out.final_checkpoint.c_str());
  if (a.trial == 0) finish_experiment(a.runs, exp.id, false);
  return trial_id;
}

}  // namespace llmtune::experiment
