// What the experiment runner (runner.cpp) shares with its adaptive_asha driver (asha_run.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "experiment/runner.h"

namespace llmtune::experiment::detail {

// runs/<name>-<id>: the experiment's directory, which holds its trials' directories.
std::string experiment_dir(const std::string& runs, const std::string& name, int64_t experiment);
std::string trial_dir(const std::string& runs, const std::string& name, int64_t experiment,
                      int64_t trial);

// The runner starts nothing more: a signal came, or a pause or kill was asked for.
bool halted(const std::string& runs, int64_t experiment);

// Runs trial `trial` as a child process (to step `until` when > 0; on `threads` cores when > 0),
// restarting it from its last checkpoint when it dies, up to max_restarts times; false when it
// failed for good.
bool run_with_restarts(const std::string& runs, const PreparedExperiment& ex, int64_t trial,
                       bool quiet, int64_t until, int threads);

// Cores per trial when `concurrent` trials run at once.
int threads_per_trial(size_t concurrent);

// The adaptive_asha search over the experiment's trials, `concurrent` of them training at once;
// with `resume`, continued from the state the search saved (experiment activate). Returns false
// when a trial failed for good.
bool run_asha(const std::string& runs, const PreparedExperiment& ex, bool quiet, size_t concurrent,
              bool resume);

}  // namespace llmtune::experiment::detail
