// The experiment store: experiments, trials, their hyperparameters, metrics per step,
// checkpoints with the metrics they were saved at, status and timings, in one SQLite file
// (WAL mode, so a training run writes while `llmtune experiment describe` reads).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace llmtune::track {

// ACTIVE, PAUSED, COMPLETED, ERROR, CANCELED (Determined's states).
struct ExperimentRow {
  int64_t id = 0;
  std::string name, description, state;
  nlohmann::json config;
  std::string searcher_metric;
  bool smaller_is_better = true;
  double start_time = 0, end_time = 0;  // unix seconds; 0: not ended
  bool archived = false;                // hidden from `experiment list` unless --all
  // What `experiment pause|kill` asked of its running trial and runner: "", "pause" or "kill".
  std::string request;
};

struct TrialRow {
  int64_t id = 0, experiment_id = 0;
  std::string state;
  nlohmann::json hyperparameters;
  int64_t restarts = 0;
  int64_t steps_completed = 0;
  double start_time = 0, end_time = 0;
  std::string directory;  // where its checkpoints and TensorBoard files live
  // The adaptive searcher's record: the rung the trial last reached (0 = the first) and what
  // became of it there: "" (none yet, or another searcher), "promoted", "stopped" (not
  // promoted: ended early) or "completed" (trained to the searcher's max_length).
  int64_t rung = 0;
  std::string searcher_state;
};

struct MetricRow {
  int64_t id = 0;  // rows written later have larger ids
  int64_t trial_id = 0;
  std::string group;  // "training" or "validation"
  int64_t step = 0;
  double time = 0;
  nlohmann::json metrics;  // {"loss": 1.2, "learning_rate": 1e-5, ...}
};

struct CheckpointRow {
  std::string uuid;
  int64_t trial_id = 0;
  int64_t step = 0;
  std::string state;  // COMPLETED, DELETED
  std::string path;
  double time = 0;
  nlohmann::json metrics;  // the validation metrics at that step ({} when none)
};

// A random (version 4) UUID, formatted 8-4-4-4-12 in lower-case hex.
std::string random_uuid();

// The store of a runs directory: RUNS/llmtune.db (what `--runs` names on every verb).
std::string store_path(const std::string& runs);

// A row's plain fields as JSON (the config of an experiment left out), for every reader that
// shows them: `experiment describe --json` and the dashboard's API.
nlohmann::json row_json(const ExperimentRow& e);
nlohmann::json row_json(const TrialRow& t);

// The best value of `metric` among the "validation" rows: {"value", "step", "trial_id"}, or
// null when none has it.
nlohmann::json best_metric(const std::vector<MetricRow>& rows, const std::string& metric,
                           bool smaller_is_better);

class Store {
 public:
  enum class Access { kReadWrite, kReadOnly };
  // Opens the store at `path`: for writing, creating it and its schema when missing; read-only
  // (the listing verbs), never creating or changing anything, so a missing or empty file is an
  // error. Throws llmtune::Error naming the path when it cannot be opened or is not an llmtune
  // store.
  static std::unique_ptr<Store> open(const std::string& path, Access access = Access::kReadWrite);
  ~Store();

  int64_t create_experiment(const std::string& name, const std::string& description,
                            const nlohmann::json& config, const std::string& searcher_metric,
                            bool smaller_is_better);
  void set_experiment_state(int64_t id, const std::string& state);  // ends it unless ACTIVE
  void set_experiment_archived(int64_t id, bool archived);
  void set_experiment_request(int64_t id, const std::string& request);
  std::vector<ExperimentRow> experiments();
  ExperimentRow experiment(int64_t id);  // throws llmtune::Error for an unknown id

  int64_t create_trial(int64_t experiment_id, const nlohmann::json& hyperparameters,
                       const std::string& directory);
  void set_trial_state(int64_t id, const std::string& state);
  void set_trial_progress(int64_t id, int64_t steps_completed);
  void add_trial_restart(int64_t id);
  std::vector<TrialRow> trials(int64_t experiment_id);
  TrialRow trial(int64_t id);
  void set_trial_searcher(int64_t id, int64_t rung, const std::string& searcher_state);
  // Where a trial's files live (a store written before directories were recorded has "").
  void set_trial_directory(int64_t id, const std::string& directory);
  // The experiment or trial with that id, or nothing (readers that answer "not found").
  std::optional<ExperimentRow> find_experiment(int64_t id);
  std::optional<TrialRow> find_trial(int64_t id);

  // Metrics are written in a transaction each, so a crash never leaves half a row.
  void add_metrics(int64_t trial_id, const std::string& group, int64_t step,
                   const nlohmann::json& metrics);
  std::vector<MetricRow> metrics(int64_t trial_id, const std::string& group = "");
  // The metric rows of an experiment's trials (of trial `trial_id` alone unless it is 0) with
  // ids above `after_id`, in the order they were written, at most `limit` of them (-1: all): a
  // reader that follows a running experiment asks again with the last id it saw.
  std::vector<MetricRow> metrics_since(int64_t experiment_id, int64_t trial_id, int64_t after_id,
                                       int64_t limit = -1);

  // Records a checkpoint in state COMPLETED and returns its uuid: checkpoint.uuid, or a new
  // random one when that is empty. A time of 0 means now. A trial has at most one COMPLETED
  // checkpoint per step: a second throws llmtune::Error.
  std::string add_checkpoint(const CheckpointRow& checkpoint);
  void set_checkpoint_state(const std::string& uuid, const std::string& state);
  // Every checkpoint of an experiment (state COMPLETED unless `all`), sorted by `sort_by`: a
  // metric name (best first by the experiment's smaller_is_better; checkpoints without that
  // metric last, ties by step), or "step", "time", "uuid", "trial_id" (ascending); "" means the
  // experiment's searcher metric.
  std::vector<CheckpointRow> checkpoints(int64_t experiment_id, const std::string& sort_by,
                                         bool all = false);

  const std::string& path() const { return path_; }

 private:
  Store(sqlite3* db, std::string path);
  sqlite3* db_;
  std::string path_;
  int version_ = 0;  // the schema version of the file (a read-only store may be older)
};

}  // namespace llmtune::track
