// Which checkpoints a trial keeps: Determined's checkpoint_storage policy (save_trial_latest,
// save_trial_best, save_experiment_best) over the checkpoints the store lists.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/experiment.h"
#include "track/store.h"

namespace llmtune::experiment {

struct CheckpointScore {
  int64_t step = 0;
  bool has_metric = false;
  double metric = 0;
};

// The steps a policy deletes: every one not among the `keep_latest` newest nor the `keep_best`
// best by metric (steps without a metric value never count as best). Pure.
std::vector<int64_t> checkpoints_to_delete(std::vector<CheckpointScore> checkpoints,
                                           int64_t keep_latest, int64_t keep_best,
                                           bool smaller_is_better);

// Where a trial's checkpoints are recorded and kept.
struct TrialCheckpoints {
  int64_t experiment_id = 0, trial_id = 0;
  std::string directory;  // the trial's, holding checkpoint-<step>/
  config::Searcher searcher;
  config::CheckpointStorage policy;
};

// Records a complete checkpoint (row.step, row.path, row.metrics) with the trial's progress, and
// deletes the trial's checkpoints the policy no longer keeps (their directories and rows).
void checkpoint_record(track::Store& store, const TrialCheckpoints& trial,
                       const track::CheckpointRow& row);

// Records the complete checkpoints of the trial directory that the store lacks (a run that died
// between writing one and recording it), with the validation metrics of their step; those whose
// state does not check out or that belong to another `owner` are left out, with a warning.
void checkpoint_record_unlisted(track::Store& store, const TrialCheckpoints& trial,
                                const std::vector<int64_t>& steps, const nlohmann::json& owner);

// Marks the trial's row of the checkpoint of `step` DELETED: it was found damaged on resume and
// moved aside, so the step will be saved again.
void checkpoint_record_damaged(track::Store& store, const TrialCheckpoints& trial, int64_t step);

}  // namespace llmtune::experiment
