// Determined's adaptive_asha searcher as plain functions: the brackets (how many, their rung
// lengths, how many trials each gets) and the promotion rule of one rung. The runner
// (runner.cpp) drives them; they know nothing of processes or the store, so the tests check them
// against examples computed by hand.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmtune::experiment {

struct AshaSettings {
  int64_t max_trials = 1;
  int64_t max_length = 1;         // batches (optimizer steps) of a trial that survives every rung
  std::string mode = "standard";  // aggressive, standard, conservative
  int64_t divisor = 4;
  int64_t max_rungs = 5;
  bool stop_once = false;
  bool smaller_is_better = true;
};

// One ASHA search of the adaptive searcher.
struct AshaBracket {
  std::vector<int64_t> rung_lengths;  // increasing; the last is max_length
  int64_t trials = 0;                 // how many of max_trials it runs
};

// The brackets as Determined's adaptive_asha makes them (master/pkg/searcher/adaptive_asha.go).
// R = min(max_rungs, 1 + floor(log_divisor(max_length)), 1 + floor(log_divisor(max_trials))),
// the logarithms in floating point as there. The mode picks the brackets' rung counts:
// aggressive {R}, standard {R, R-1, ..., floor((R-1)/2) + 1}, conservative {R, R-1, ..., 1}. A
// bracket of r rungs has rung k at max_length / divisor^(r-1-k) batches. Trials are shared in
// proportion to divisor^(r-1) / r (each bracket's budget alike), rounded down but at least one
// per bracket, the remainder to the first bracket.
std::vector<AshaBracket> asha_brackets(const AshaSettings& settings);

// The bracket of the `index`th trial (0-based): the first bracket's trials come first.
int64_t asha_bracket_of(const std::vector<AshaBracket>& brackets, int64_t index);

// The results one rung has seen, best first, and which of its trials were promoted.
struct AshaRung {
  struct Result {
    int64_t trial = 0;
    double metric = 0;
    bool promoted = false;
  };
  std::vector<Result> results;  // best first; among equal metrics, the earlier report first
};

// Trial `trial` reached the rung with `metric`; returns the trials to promote to the next rung
// now (asynchronous successive halving). With n results in the rung, the top floor(n / divisor)
// deserve promotion: any of them not yet promoted is (this trial, or one that waited). With
// stop_once the decision is made once, for this trial only: it is promoted when it ranks within
// the top max(1, floor(n / divisor)), and otherwise stopped for good.
std::vector<int64_t> asha_promote(AshaRung& rung, int64_t trial, double metric,
                                  const AshaSettings& settings);

}  // namespace llmtune::experiment
