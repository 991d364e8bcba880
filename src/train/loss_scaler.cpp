#include "train/loss_scaler.h"

#include <cmath>

#include <algorithm>

#include "core/error.h"

namespace llmtune::train {

LossScaler::LossScaler(const LossScalerOptions& o)
    : options_(o), scale_(o.initial_scale), hysteresis_left_(o.hysteresis) {
  if (!(o.initial_scale > 0) || !(o.min_scale > 0) || o.window < 1 || o.hysteresis < 1) {
    throw Error(
        str("loss scaling needs a positive scale and minimum, window >= 1 and "
            "hysteresis >= 1 (got scale ",
            o.initial_scale, ", min ", o.min_scale, ", window ", o.window, ", hysteresis ",
            o.hysteresis, ")"));
  }
}

bool LossScaler::update(bool overflow) {
  if (!options_.dynamic) {
    if (overflow) ++skipped_;
    return overflow;
  }
  if (overflow) {
    if (options_.hysteresis == 1 || hysteresis_left_ == 1) {
      if (scale_ <= options_.min_scale) {
        throw Error(str("gradients overflow at the minimum loss scale ", options_.min_scale,
                        " (step ", iter_,
                        "): training diverged; lower the learning rate or use "
                        "bf16"));
      }
      scale_ = std::max(scale_ / 2, options_.min_scale);
    } else {
      --hysteresis_left_;
    }
    last_overflow_iter_ = iter_;
    ++skipped_;
  } else if ((iter_ - last_overflow_iter_) % options_.window == 0) {
    hysteresis_left_ = options_.hysteresis;
    scale_ *= 2;
  }
  ++iter_;
  return overflow;
}

nlohmann::json LossScaler::state() const {
  return {{"scale", scale_},
          {"hysteresis_left", hysteresis_left_},
          {"iter", iter_},
          {"last_overflow_iter", last_overflow_iter_},
          {"skipped", skipped_}};
}

void LossScaler::load_state(const nlohmann::json& s) {
  try {
    scale_ = s.at("scale").get<double>();
    hysteresis_left_ = s.at("hysteresis_left").get<int64_t>();
    iter_ = s.at("iter").get<int64_t>();
    last_overflow_iter_ = s.at("last_overflow_iter").get<int64_t>();
    skipped_ = s.at("skipped").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(str("the loss scaler's state ", s.dump(), " is malformed (", e.what(), ")"));
  }
  if (!std::isfinite(scale_) || scale_ <= 0 || iter_ < 0 || skipped_ < 0) {
    throw Error(str("the loss scaler's state ", s.dump(), " is out of range (scale ", scale_,
                    ", iter ", iter_, ", skipped ", skipped_, ")"));
  }
}

}  // namespace llmtune::train
