// What the experiment verbs share: preparing an experiment in the store, running a trial, and
// rendering what the store holds.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/experiment.h"

namespace llmtune::cli {

std::string store_path(const std::string& runs);

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
void record_restart(const std::string& runs, int64_t trial_id);
void finish_experiment(const std::string& runs, int64_t experiment_id, bool failed);

// Prepares the experiment and runs each trial as a child `llmtune train --trial ID`, restarting
// one that dies (up to max_restarts; bad input is not retried). Returns the experiment id;
// throws llmtune::Error when a trial failed for good.
int64_t run_experiment(const std::string& config_path, const std::vector<std::string>& sets,
                       const std::string& runs, bool quiet);

struct TrainArgs {
  std::string config, runs = "runs";
  std::vector<std::string> sets;
  int64_t trial = 0;
  int64_t stop_after = 0;
  std::string resume;  // a checkpoint directory to start from
  bool quiet = false;
};
// `llmtune train`: a config's single trial, or trial --trial of the store; returns its id.
int64_t train_command(const TrainArgs& args);

std::string list_experiments(const std::string& runs, bool json);
std::string describe_experiment(const std::string& runs, int64_t id);
nlohmann::json describe_experiment_json(const std::string& runs, int64_t id);
std::string list_checkpoints(const std::string& runs, int64_t id, const std::string& sort_by,
                             int64_t best, bool json);

}  // namespace llmtune::cli
