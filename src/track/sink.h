// Where metrics go: the experiment store, TensorBoard event files, the terminal (and a dashboard
// feed). A recipe hands every metric to one sink, a FanOut of the others.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "track/progress.h"
#include "track/store.h"
#include "track/tensorboard.h"

namespace llmtune::track {

class MetricSink {
 public:
  virtual ~MetricSink() = default;
  // The metrics of `group` at optimizer step `step`: "training" and "validation" (what
  // Transformers logs, every logging_steps and eval_steps), "step" (after every optimizer step:
  // loss, learning_rate, tokens_per_second) and "summary" (the run's closing train_runtime,
  // train_steps_per_second, train_loss).
  virtual void log(const std::string& group, int64_t step, const nlohmann::json& metrics) = 0;
  // Everything logged is written, or the error that keeps it from being written is thrown.
  virtual void close() {}
};

// Logs to every sink added, in order.
class FanOut final : public MetricSink {
 public:
  void add(std::unique_ptr<MetricSink> sink) { sinks_.push_back(std::move(sink)); }
  void log(const std::string& group, int64_t step, const nlohmann::json& metrics) override;
  void close() override;

 private:
  std::vector<std::unique_ptr<MetricSink>> sinks_;
};

// A trial's metrics in the experiment store: every group but "step" as metric rows ("summary"
// joins the "training" rows, as Transformers' closing log entry does), and the trial's progress
// every 10 steps. Another process may hold the store locked past its busy timeout; that must not
// end hours of training, so a write that fails is kept, in order, and retried with the next one
// (a warning says so once); close() lets a failure that persists through.
class StoreSink final : public MetricSink {
 public:
  StoreSink(Store& store, int64_t trial_id) : store_(store), trial_id_(trial_id) {}
  void log(const std::string& group, int64_t step, const nlohmann::json& metrics) override;
  void close() override { flush(true); }
  // Any other write of the trial's (a checkpoint row), queued behind the metrics.
  void write(std::function<void(Store&)> w);

 private:
  void flush(bool final);
  Store& store_;
  int64_t trial_id_;
  std::deque<std::function<void(Store&)>> pending_;
  bool warned_ = false;
};

// Numeric metrics of every group but "step" as TensorBoard scalars, under Transformers' tags.
class TensorBoardSink final : public MetricSink {
 public:
  explicit TensorBoardSink(const std::string& dir) : events_(dir) {}
  void log(const std::string& group, int64_t step, const nlohmann::json& metrics) override;

 private:
  EventWriter events_;
};

// The progress bar: redrawn at every "step", validation results printed above it.
class ProgressSink final : public MetricSink {
 public:
  ProgressSink(int64_t total_steps, int64_t first_step) : bar_(total_steps, first_step) {}
  void log(const std::string& group, int64_t step, const nlohmann::json& metrics) override;
  void close() override { bar_.finish(); }

 private:
  ProgressBar bar_;
};

}  // namespace llmtune::track
