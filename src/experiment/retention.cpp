#include "experiment/retention.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "train/checkpoint.h"

namespace llmtune::experiment {

namespace fs = std::filesystem;

std::vector<int64_t> checkpoints_to_delete(std::vector<CheckpointScore> cs, int64_t keep_latest,
                                           int64_t keep_best, bool smaller_is_better) {
  std::set<int64_t> keep;
  std::sort(cs.begin(), cs.end(), [](const auto& a, const auto& b) { return a.step > b.step; });
  for (int64_t i = 0; i < std::min<int64_t>(keep_latest, static_cast<int64_t>(cs.size())); ++i) {
    keep.insert(cs[i].step);
  }
  std::vector<CheckpointScore> scored;
  for (const auto& c : cs) {
    if (c.has_metric) scored.push_back(c);
  }
  std::stable_sort(scored.begin(), scored.end(), [&](const auto& a, const auto& b) {
    return smaller_is_better ? a.metric < b.metric : a.metric > b.metric;
  });
  for (int64_t i = 0; i < std::min<int64_t>(keep_best, static_cast<int64_t>(scored.size())); ++i) {
    keep.insert(scored[i].step);
  }
  std::vector<int64_t> out;
  for (const auto& c : cs) {
    if (!keep.count(c.step)) out.push_back(c.step);
  }
  std::sort(out.begin(), out.end());
  return out;
}
void checkpoint_record(track::Store& store, const TrialCheckpoints& trial,
                       const track::CheckpointRow& row) {
  const std::string& metric = trial.searcher.metric;
  store.add_checkpoint(row);
  store.set_trial_progress(trial.trial_id, row.step);
  std::vector<CheckpointScore> scores;
  std::map<int64_t, std::string> uuid_of;
  for (const track::CheckpointRow& c : store.checkpoints(trial.experiment_id, "step")) {
    if (c.trial_id != trial.trial_id) continue;
    CheckpointScore s{c.step, c.metrics.contains(metric) && c.metrics[metric].is_number(), 0};
    if (s.has_metric) s.metric = c.metrics[metric].get<double>();
    scores.push_back(s);
    uuid_of[c.step] = c.uuid;
  }
  // save_experiment_best: the experiment's best checkpoints (over every trial) stay too.
  std::set<std::string> experiment_best;
  int64_t kept = 0;
  for (const track::CheckpointRow& c : store.checkpoints(trial.experiment_id, metric)) {
    if (kept++ >= trial.policy.save_experiment_best) break;
    if (c.metrics.contains(metric)) experiment_best.insert(c.uuid);
  }
  for (int64_t s :
       checkpoints_to_delete(scores, trial.policy.save_trial_latest, trial.policy.save_trial_best,
                             trial.searcher.smaller_is_better)) {
    if (experiment_best.count(uuid_of[s])) continue;
    std::error_code ec;
    fs::remove_all(train::checkpoint_dir(trial.directory, s), ec);
    store.set_checkpoint_state(uuid_of[s], "DELETED");
  }
}

void checkpoint_record_unlisted(track::Store& store, const TrialCheckpoints& trial,
                                const std::vector<int64_t>& steps, const nlohmann::json& owner) {
  std::set<int64_t> listed;
  for (const track::CheckpointRow& c : store.checkpoints(trial.experiment_id, "step", true))
    if (c.trial_id == trial.trial_id) listed.insert(c.step);
  for (int64_t step : steps) {
    if (listed.count(step)) continue;
    const std::string dir = train::checkpoint_dir(trial.directory, step);
    try {
      if (train::checkpoint_state(dir).value("owner", owner) != owner) continue;
    } catch (const Error& e) {
      std::fprintf(stderr, "warning: not listing %s: %s\n", dir.c_str(), e.what());
      continue;
    }
    track::CheckpointRow row;
    row.trial_id = trial.trial_id;
    row.step = step;
    row.path = fs::absolute(dir).string();
    row.metrics = nlohmann::json::object();
    for (const track::MetricRow& m : store.metrics(trial.trial_id, "validation"))
      if (m.step == step) row.metrics = m.metrics;
    store.add_checkpoint(row);
  }
}

void checkpoint_record_damaged(track::Store& store, const TrialCheckpoints& trial, int64_t step) {
  for (const track::CheckpointRow& c : store.checkpoints(trial.experiment_id, "step")) {
    if (c.trial_id == trial.trial_id && c.step == step)
      store.set_checkpoint_state(c.uuid, "DELETED");
  }
}

}  // namespace llmtune::experiment
