// What the experiment verbs show of the store: the experiments, one experiment's trials with
// their metrics and checkpoints, an experiment's checkpoints best first.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace llmtune::cli {

std::string list_experiments(const std::string& runs, bool json, bool all = false);
std::string describe_experiment(const std::string& runs, int64_t id);
nlohmann::json describe_experiment_json(const std::string& runs, int64_t id);
std::string list_checkpoints(const std::string& runs, int64_t id, const std::string& sort_by,
                             int64_t best, bool json);

}  // namespace llmtune::cli
