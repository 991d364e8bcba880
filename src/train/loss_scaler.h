// Dynamic loss scaling for fp16 training, as DeepSpeed's DynamicLossScaler (fp16/loss_scaler.py)
// does it: gradients of scale * loss; a step whose gradients overflow (inf or NaN) is skipped
// and, after `hysteresis` overflows, halves the scale (not below the minimum); `window` steps
// without overflow double it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace llmtune::train {

struct LossScalerOptions {
  bool dynamic = true;
  double initial_scale = 65536.0;  // 2^initial_scale_power; the scale itself when static
  int64_t window = 1000;
  int64_t hysteresis = 2;
  double min_scale = 1.0;
};

class LossScaler {
 public:
  explicit LossScaler(const LossScalerOptions& options);

  double scale() const { return scale_; }
  // Records one step's outcome; returns true when the step must be skipped (overflow). Throws
  // llmtune::Error when an overflow happens at the minimum scale (DeepSpeed stops there too).
  bool update(bool overflow);
  int64_t skipped() const { return skipped_; }

  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

 private:
  LossScalerOptions options_;
  double scale_;
  int64_t hysteresis_left_;
  int64_t iter_ = 0;
  int64_t last_overflow_iter_ = -1;
  int64_t skipped_ = 0;
};

}  // namespace llmtune::train
