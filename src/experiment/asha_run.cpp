// adaptive_asha over child processes: Determined's asynchronous successive halving with up to
// max_concurrent_trials trials training at once. Each trial runs to its bracket's next rung
// (`train --until`, a checkpoint there), its metric goes to asha_promote, and a promoted trial
// continues from its checkpoint. The search's state (every rung's results, the work not done)
// is saved after each change to searcher.json in the experiment's directory, so that a paused
// search continues where it stopped (`experiment activate`).
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "experiment/asha.h"
#include "experiment/runner_internal.h"
#include "track/store.h"

namespace llmtune::experiment::detail {

namespace {

using nlohmann::json;

// One trial's way to one rung of its bracket.
struct Work {
  int64_t trial = 0, bracket = 0, rung = 0;
};

AshaSettings asha_settings(const config::ExperimentConfig& c) {
  AshaSettings s;
  s.max_trials = c.searcher.max_trials;
  s.max_length = c.searcher.max_length.value;  // in its unit: the rungs are fractions of it
  s.mode = c.searcher.mode;
  s.divisor = c.searcher.divisor;
  s.max_rungs = c.searcher.max_rungs;
  s.stop_once = c.searcher.stop_once;
  s.smaller_is_better = c.searcher.smaller_is_better;
  return s;
}

// The searcher metric trial `trial` reported on the validation split at `step`, if it did.
std::optional<double> rung_report(track::Store& store, int64_t trial, int64_t step,
                                  const std::string& metric) {
  for (const track::MetricRow& r : store.metrics(trial, "validation")) {
    if (r.step == step && r.metrics.contains(metric) && r.metrics[metric].is_number())
      return r.metrics[metric].get<double>();
  }
  return std::nullopt;
}

// A trial the searcher ends early: COMPLETED, as Determined marks it, "stopped" at its rung.
void asha_stop(track::Store& store, int64_t trial) {
  store.set_trial_searcher(trial, store.trial(trial).rung, "stopped");
  store.set_trial_state(trial, "COMPLETED");
}

class AshaSearch {
 public:
  AshaSearch(const std::string& runs, const PreparedExperiment& ex, bool quiet)
      : runs_(runs),
        ex_(ex),
        quiet_(quiet),
        settings_(asha_settings(ex.config)),
        brackets_(asha_brackets(settings_)),
        path_((std::filesystem::path(experiment_dir(runs, ex.config.name, ex.id)) / "searcher.json")
                  .string()) {
    for (const AshaBracket& b : brackets_) rungs_.emplace_back(b.rung_lengths.size());
    auto store = track::Store::open(track::store_path(runs));
    for (const track::TrialRow& t : store->trials(ex.id)) {
      args_[t.id] = config::trial_config(ex.config, t.hyperparameters, ex.config.slots_per_trial)
                        .training_args;
    }
  }

  // A new search: every trial to its bracket's first rung, the first bracket's trials first.
  void start() {
    for (size_t i = 0; i < ex_.trial_ids.size(); ++i)
      queue_.push_back({ex_.trial_ids[i], asha_bracket_of(brackets_, static_cast<int64_t>(i)), 0});
    const std::lock_guard<std::mutex> lock(mutex_);
    save();
  }

  // The search as save() left it.
  void load();

  // Runs the search, `concurrent` trials at a time, until it has no more work or is halted;
  // false when a trial failed for good.
  bool run(size_t concurrent);

 private:
  void worker(int threads);
  void finish(const Work& w);
  void save() const;
  bool last(const Work& w) const {
    return w.rung + 1 == static_cast<int64_t>(brackets_[w.bracket].rung_lengths.size());
  }
  // The rung's length in the trial's batches (rungs are counted in searcher.max_length's unit).
  int64_t rung_batches(const Work& w) const {
    const config::Length units{ex_.config.searcher.max_length.unit,
                               brackets_[w.bracket].rung_lengths[w.rung]};
    return config::length_batches(ex_.config, args_.at(w.trial), ex_.config.slots_per_trial, units);
  }

  const std::string runs_;
  const PreparedExperiment& ex_;
  const bool quiet_;
  const AshaSettings settings_;
  const std::vector<AshaBracket> brackets_;
  const std::string path_;
  std::map<int64_t, config::TrainingArgs> args_;  // each trial's, for its rungs in batches

  std::mutex mutex_;  // guards what follows
  std::condition_variable changed_;
  std::vector<std::vector<AshaRung>> rungs_;  // [bracket][rung]
  std::deque<Work> queue_;                    // to run, in order
  std::vector<Work> running_;
  bool failed_ = false;
  std::exception_ptr error_;
};

void AshaSearch::save() const {
  json rungs = json::array();
  for (const std::vector<AshaRung>& bracket : rungs_) {
    json b = json::array();
    for (const AshaRung& rung : bracket) {
      json r = json::array();
      for (const AshaRung::Result& x : rung.results)
        r.push_back({{"trial", x.trial}, {"metric", x.metric}, {"promoted", x.promoted}});
      b.push_back(std::move(r));
    }
    rungs.push_back(std::move(b));
  }
  json pending = json::array();  // what was running first: activate continues it first
  for (const Work& w : running_)
    pending.push_back({{"trial", w.trial}, {"bracket", w.bracket}, {"rung", w.rung}});
  for (const Work& w : queue_)
    pending.push_back({{"trial", w.trial}, {"bracket", w.bracket}, {"rung", w.rung}});
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  write_file_atomic(path_,
                    json{{"version", 1}, {"rungs", rungs}, {"pending", pending}}.dump(1) + "\n");
}

void AshaSearch::load() {
  const json state = json_parse(
      read_file(path_, "the adaptive_asha search state, saved by experiment create"), path_);
  const auto bad = [&](const std::string& what) {
    return Error(str(path_, ": ", what, "; the search cannot continue (its trials can, with ",
                     "llmtune train --trial ID)"));
  };
  try {
    if (state.at("version") != 1) throw bad("unknown version");
    const json& rungs = state.at("rungs");
    if (rungs.size() != rungs_.size()) throw bad("its brackets differ from the config's");
    for (size_t b = 0; b < rungs_.size(); ++b) {
      if (rungs[b].size() != rungs_[b].size()) throw bad("its rungs differ from the config's");
      for (size_t k = 0; k < rungs_[b].size(); ++k) {
        for (const json& x : rungs[b][k]) {
          rungs_[b][k].results.push_back({x.at("trial").get<int64_t>(),
                                          x.at("metric").get<double>(),
                                          x.at("promoted").get<bool>()});
        }
      }
    }
    for (const json& w : state.at("pending")) {
      const Work work{w.at("trial").get<int64_t>(), w.at("bracket").get<int64_t>(),
                      w.at("rung").get<int64_t>()};
      if (!args_.contains(work.trial) || work.bracket < 0 ||
          work.bracket >= static_cast<int64_t>(brackets_.size()) || work.rung < 0 ||
          work.rung >= static_cast<int64_t>(brackets_[work.bracket].rung_lengths.size()))
        throw bad(str("pending work for trial ", work.trial, " is not of this experiment"));
      queue_.push_back(work);
    }
  } catch (const json::exception& e) {
    throw bad(e.what());
  }
}

// The work reached its rung: recorded, and the trials it makes deserve promotion queued first.
void AshaSearch::finish(const Work& w) {
  auto store = track::Store::open(track::store_path(runs_));
  store->set_trial_searcher(w.trial, w.rung, last(w) ? "completed" : "");
  if (last(w)) return;
  const int64_t step = rung_batches(w);
  const std::optional<double> metric =
      rung_report(*store, w.trial, step, ex_.config.searcher.metric);
  if (!metric) {
    throw Error(str("trial ", w.trial, " reported no ", ex_.config.searcher.metric, " at step ",
                    step, ": adaptive_asha compares trials by searcher.metric on the validation ",
                    "split; give the dataset a validation split"));
  }
  const std::vector<int64_t> promoted =
      asha_promote(rungs_[w.bracket][w.rung], w.trial, *metric, settings_);
  for (auto p = promoted.rbegin(); p != promoted.rend(); ++p) {
    store->set_trial_searcher(*p, w.rung, "promoted");
    queue_.push_front({*p, w.bracket, w.rung + 1});
  }
  if (settings_.stop_once && std::find(promoted.begin(), promoted.end(), w.trial) == promoted.end())
    asha_stop(*store, w.trial);
}

void AshaSearch::worker(int threads) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    // Wait for work; with none queued and none running, none can come.
    changed_.wait(lock, [&] { return !queue_.empty() || running_.empty() || error_; });
    if (error_ || queue_.empty() || halted(runs_, ex_.id)) return;
    const Work w = queue_.front();
    queue_.pop_front();
    running_.push_back(w);
    save();
    lock.unlock();
    const bool ran =
        run_with_restarts(runs_, ex_, w.trial, quiet_, last(w) ? 0 : rung_batches(w), threads);
    lock.lock();
    running_.erase(std::find_if(running_.begin(), running_.end(),
                                [&](const Work& r) { return r.trial == w.trial; }));
    bool reached = false;  // finish() reads the rung's metric (and says so when there is none)
    if (ran) {
      const track::TrialRow t = track::Store::open(track::store_path(runs_))->trial(w.trial);
      reached = last(w) ? t.state == "COMPLETED" : t.steps_completed >= rung_batches(w);
    }
    if (reached) {
      finish(w);
    } else if (ran && halted(runs_, ex_.id)) {
      queue_.push_front(w);  // paused on its way to the rung: activate continues it
    } else {
      failed_ = true;
    }
    save();
    changed_.notify_all();
  }
}

bool AshaSearch::run(size_t concurrent) {
  const int threads = threads_per_trial(concurrent);
  std::vector<std::thread> pool;
  for (size_t i = 0; i < concurrent; ++i) {
    pool.emplace_back([this, threads] {
      try {
        worker(threads);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        changed_.notify_all();
      }
    });
  }
  for (std::thread& t : pool) t.join();
  if (error_) std::rethrow_exception(error_);
  if (halted(runs_, ex_.id)) return !failed_;
  // No more work: a trial still waiting at a rung for a promotion is stopped there.
  auto store = track::Store::open(track::store_path(runs_));
  for (const track::TrialRow& t : store->trials(ex_.id)) {
    if (t.state == "PAUSED") asha_stop(*store, t.id);
  }
  return !failed_;
}

}  // namespace

bool run_asha(const std::string& runs, const PreparedExperiment& ex, bool quiet, size_t concurrent,
              bool resume) {
  AshaSearch search(runs, ex, quiet);
  if (resume) {
    search.load();
  } else {
    search.start();
  }
  return search.run(concurrent);
}

}  // namespace llmtune::experiment::detail
