// Learning-rate schedules: Transformers' linear, cosine, constant and constant_with_warmup
// (optimization.py), and DeepSpeed's WarmupLR and WarmupDecayLR (runtime/lr_schedules.py).
// A schedule is a pure function of the number of optimizer steps taken so far, so resuming at
// step N gives the same rates as never stopping.
#pragma once

#include <cstdint>
#include <string>

namespace llmtune::train {

struct LrSchedule {
  // linear, cosine, constant, constant_with_warmup (peak `lr`, warmup from 0);
  // WarmupLR (warmup min_lr -> lr, then constant), WarmupDecayLR (warmup, then linear decay to 0).
  std::string type = "linear";
  double lr = 5e-5;     // the peak (warmup_max_lr for DeepSpeed's)
  double min_lr = 0.0;  // DeepSpeed warmup_min_lr
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  std::string warmup_type = "log";  // DeepSpeed's: log or linear

  // The rate of optimizer step `step` (0-based: the first update is step 0).
  double at(int64_t step) const;
  // Throws llmtune::Error for an unknown type, a negative warmup or total_steps < 1.
  void validate() const;
};

}  // namespace llmtune::train
