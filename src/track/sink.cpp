#include "track/sink.h"

#include <cstdio>

#include "core/error.h"

namespace llmtune::track {

void FanOut::log(const std::string& group, int64_t step, const nlohmann::json& metrics) {
  for (const auto& s : sinks_) s->log(group, step, metrics);
}

void FanOut::close() {
  for (const auto& s : sinks_) s->close();
}

void StoreSink::log(const std::string& group, int64_t step, const nlohmann::json& metrics) {
  if (group == "step") {
    if (step % 10 == 0) write([this, step](Store& s) { s.set_trial_progress(trial_id_, step); });
    return;
  }
  const std::string stored = group == "summary" ? "training" : group;
  write(
      [this, stored, step, metrics](Store& s) { s.add_metrics(trial_id_, stored, step, metrics); });
}

void StoreSink::write(std::function<void(Store&)> w) {
  pending_.push_back(std::move(w));
  flush(false);
}

void StoreSink::flush(bool final) {
  while (!pending_.empty()) {
    try {
      pending_.front()(store_);
    } catch (const Error& e) {
      if (final) throw;
      if (!warned_) {
        std::fprintf(stderr,
                     "warning: cannot write to the experiment store (%s); training goes on and "
                     "the writes are retried\n",
                     e.what());
        warned_ = true;
      }
      return;
    }
    pending_.pop_front();
  }
}

void TensorBoardSink::log(const std::string& group, int64_t step, const nlohmann::json& metrics) {
  if (group == "step") return;
  for (const auto& [k, v] : metrics.items()) {
    if (v.is_number()) events_.scalar(tensorboard_tag(k), step, v.get<double>());
  }
}

void ProgressSink::log(const std::string& group, int64_t step, const nlohmann::json& metrics) {
  if (group == "step") {
    bar_.update(step, metrics.value("loss", 0.0), metrics.value("learning_rate", 0.0),
                metrics.value("tokens_per_second", 0.0));
  } else if (group == "validation") {
    char line[256];
    std::snprintf(line, sizeof line,
                  "step %lld: eval_loss %.4f, eval_accuracy %.4f, eval_bleu %.4f",
                  static_cast<long long>(step), metrics.value("eval_loss", 0.0),
                  metrics.value("eval_accuracy", 0.0), metrics.value("eval_bleu", 0.0));
    bar_.message(line);
  }
}

}  // namespace llmtune::track
