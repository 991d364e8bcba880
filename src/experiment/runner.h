// Experiments as Determined runs them: an experiment config is recorded in the store with one
// trial per searcher point, and each trial runs as a child process (`llmtune train --trial ID`,
// under `mpirun -np N` for N slots) that is restarted from its last checkpoint when it dies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/experiment.h"

namespace llmtune::experiment {

struct PreparedExperiment {
  int64_t id = 0;
  config::ExperimentConfig config;
  std::vector<int64_t> trial_ids;
};

// Loads and checks the config (every trial's settings too, so errors come before any training),
// then records the experiment and its trials in the store.
PreparedExperiment prepare_experiment(const std::string& config_path,
                                      const std::vector<std::string>& sets,
                                      const std::string& runs);
void finish_experiment(const std::string& runs, int64_t experiment_id, bool failed);

// Prepares the experiment and runs each trial as a child `llmtune train --trial ID`, restarting
// one that dies (up to max_restarts; bad input is not retried). Returns the experiment id;
// throws llmtune::Error when a trial failed for good.
int64_t run_experiment(const std::string& config_path, const std::vector<std::string>& sets,
                       const std::string& runs, bool quiet);

// `llmtune experiment activate`: continues a PAUSED experiment's unfinished trials in this
// process, as run_experiment runs them (each from its last checkpoint).
void activate_experiment(const std::string& runs, int64_t id, bool quiet);

// `llmtune experiment pause|kill`: records the request ("pause" or "kill") that the running
// trial polls after each step (pause: a checkpoint, then PAUSED; kill: exit without one,
// CANCELED) and its runner reads before starting another trial. Killing a PAUSED experiment
// cancels it at once. Throws llmtune::Error for an experiment in another state.
void request_experiment(const std::string& runs, int64_t id, const std::string& request);

struct TrainRequest {
  std::string config, runs = "runs";
  std::vector<std::string> sets;
  int64_t trial = 0;       // a trial of the store instead of a config
  int64_t stop_after = 0;  // tests: stop after this step as a crash would
  int64_t until = 0;       // stop after this step with a checkpoint, PAUSED (a searcher's rung)
  std::string resume;      // a checkpoint directory to start from
  bool quiet = false;      // no progress bar
  std::string device;      // overrides hyperparameters.device (where the trial runs, not what)
};
// `llmtune train`: a single-trial config recorded as a new experiment, or trial `trial` of the
// store, in this process (every rank under mpirun; rank 0 records). Returns the trial's id.
int64_t train_trial(const TrainRequest& request);

}  // namespace llmtune::experiment
