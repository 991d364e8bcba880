// What the API's files share: bounded file reads, times, trial summaries.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "track/store.h"

namespace llmtune::server {

// The last `max_bytes` of a regular file; `error` says why there is nothing (missing, not a
// regular file, unreadable) instead of throwing, since such files are optional to the pages.
struct FileTail {
  std::string text;
  int64_t size = 0;        // the whole file's
  bool truncated = false;  // the file is larger than max_bytes
  std::string error;
};
FileTail read_tail(const std::string& path, int64_t max_bytes);

double seconds_now();
// Seconds from start to end, or to now while it runs (end 0); 0 without a start.
double run_duration(double start, double end);
// {"a": {"b": 1}} as {"a.b": 1}, into *out.
void flatten_into(const nlohmann::json& j, const std::string& prefix, nlohmann::json* out);

// A trial as the pages list it: hyperparameters (nested and flattened), state, steps, times,
// best and final metrics (from `rows`, its metric rows) and its checkpoints (among `checkpoints`).
nlohmann::json trial_summary(const track::TrialRow& t, const track::ExperimentRow& e,
                             const std::vector<track::MetricRow>& rows,
                             const std::vector<track::CheckpointRow>& checkpoints);

}  // namespace llmtune::server
