#include "train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace llmtune::train {

void LrSchedule::validate() const {
  static const char* kTypes[] = {"linear",   "cosine",       "constant", "constant_with_warmup",
                                 "WarmupLR", "WarmupDecayLR"};
  if (std::find(std::begin(kTypes), std::end(kTypes), type) == std::end(kTypes)) {
    throw Error(str("unknown learning-rate schedule \"", type,
                    "\"; use linear, cosine, constant, constant_with_warmup, WarmupLR or "
                    "WarmupDecayLR"));
  }
  if (warmup_steps < 0) throw Error(str("warmup steps must not be negative, got ", warmup_steps));
  if (total_steps < 1) throw Error(str("a schedule needs at least one step, got ", total_steps));
  if (warmup_type != "log" && warmup_type != "linear") {
    throw Error(str("warmup_type \"", warmup_type, "\" must be log or linear"));
  }
}

double LrSchedule::at(int64_t step) const {
  const double s = static_cast<double>(step), w = static_cast<double>(warmup_steps);
  const double t = static_cast<double>(total_steps);
  if (type == "constant") return lr;
  if (type == "WarmupLR" || type == "WarmupDecayLR") {
    // DeepSpeed clamps the warmup to at least 2 steps; gamma(k) for the k-th step.
    const double dw = std::max(2.0, w);
    double gamma;
    if (s < dw) {
      gamma = warmup_type == "log" ? std::log(s + 1) / std::log(dw) : s / dw;
    } else if (type == "WarmupLR") {
      gamma = 1.0;
    } else {
      gamma = std::max(0.0, (t - s) / std::max(1.0, t - dw));
    }
    return min_lr + (lr - min_lr) * gamma;
  }
  if (s < w) return lr * s / std::max(1.0, w);  // Transformers' warmups start from 0
  if (type == "constant_with_warmup") return lr;
  const double progress = (s - w) / std::max(1.0, t - w);
  if (type == "linear") return lr * std::max(0.0, (t - s) / std::max(1.0, t - w));
  // cosine, num_cycles 0.5
  return lr * std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
}

}  // namespace llmtune::train
