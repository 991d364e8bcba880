// The dashboard's JSON API: what the pages show, built from the experiment store (opened
// read-only) and the few files it names. Each function answers one route of server/http.h;
// failures a request can cause throw HttpError with its status.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "track/store.h"

namespace llmtune::server {

// A request the API cannot answer: 400 (malformed), 404 (no such thing), ...
class HttpError : public Error {
 public:
  HttpError(int status, const std::string& message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// How many metric rows one response carries at most; the rest come with the next `after`.
constexpr int64_t kMetricRowsPerResponse = 20000;
// How much of a trial's log one response carries: its last bytes.
constexpr int64_t kLogTailBytes = 256 * 1024;
// The largest experiment config or demo summary file read.
constexpr int64_t kMaxSideFileBytes = 1024 * 1024;

// GET /api/experiments: each experiment with its searcher, trials done/total, best validation
// value of the searcher metric (and where), times.
nlohmann::json api_experiments(track::Store& store);
// The list entry of one experiment (what api_experiments lists).
nlohmann::json experiment_summary(track::Store& store, const track::ExperimentRow& e);

// GET /api/experiments/ID: the experiment, its config (the file's text when still readable,
// else the stored config) and its trials with hyperparameters, best and final metrics and
// checkpoints.
nlohmann::json api_experiment(track::Store& store, int64_t id);

// GET /api/experiments/ID/metrics?after=N, /api/trials/ID/metrics?after=N (trial_id != 0): the
// metric rows written after row N, oldest first, and `last_id` to ask with next; `more` when
// the response was cut at kMetricRowsPerResponse.
nlohmann::json api_metrics(track::Store& store, int64_t experiment_id, int64_t trial_id,
                           int64_t after);

// GET /api/trials/ID: the trial, its experiment, checkpoints with their metrics, paths and the
// `llmtune generate`/`llmtune eval` commands that use them, restarts, where its log is.
nlohmann::json api_trial(track::Store& store, int64_t id);
// GET /api/trials/ID/log: the last kLogTailBytes of <trial directory>/trial.log.
nlohmann::json api_trial_log(track::Store& store, int64_t id);

// GET /api/demo-summary: the demo's comparison table as `rows` (<runs>/../demo_summary.json,
// written by `llmtune demo`); rows null, and a note why, when the runs directory is not a
// demo's (an optional part of a page, not an error).
nlohmann::json api_demo_summary(const std::string& runs);

// An experiment or trial id from a URL ("12"); HttpError 400 otherwise.
int64_t parse_id(const std::string& text, const std::string& what);
// A row id cursor from a query (`after`), "" meaning 0; HttpError 400 when malformed.
int64_t parse_cursor(const std::string& text);

// `s` as one word for a POSIX shell: unchanged when it needs no quoting, else in single quotes.
std::string shell_quote(const std::string& s);

}  // namespace llmtune::server
