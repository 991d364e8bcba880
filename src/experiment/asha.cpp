#include "experiment/asha.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace llmtune::experiment {

namespace {

int64_t power(int64_t base, int64_t exponent) {
  int64_t p = 1;
  for (int64_t i = 0; i < exponent; ++i) p *= base;
  return p;
}

// 1 + floor(log_divisor(x)), computed in floating point as Determined computes it (so that, as
// there, log(1000) / log(10) = 2.9999999999999996 gives 3, not 4).
int64_t rungs_for(int64_t x, int64_t divisor) {
  return static_cast<int64_t>(std::log(static_cast<double>(x)) /
                              std::log(static_cast<double>(divisor))) +
         1;
}

// Determined's max rungs: at most max_rungs, a first rung of at least one batch, and no more
// rungs than max_trials can fill.
int64_t rungs_possible(const AshaSettings& s) {
  return std::min(
      {s.max_rungs, rungs_for(s.max_length, s.divisor), rungs_for(s.max_trials, s.divisor)});
}

// The brackets' rung counts, most rungs (most early stopping) first.
std::vector<int64_t> bracket_rung_counts(const AshaSettings& s) {
  LLMTUNE_CHECK(s.mode == "aggressive" || s.mode == "standard" || s.mode == "conservative",
                "unknown adaptive_asha mode ", s.mode);
  const int64_t top = rungs_possible(s);
  int64_t fewest = 1;                        // conservative: top, ..., 1
  if (s.mode == "aggressive") fewest = top;  // top only
  if (s.mode == "standard") fewest = (top - 1) / 2 + 1;
  std::vector<int64_t> out;
  for (int64_t r = top; r >= fewest; --r) out.push_back(r);
  return out;
}

}  // namespace

std::vector<AshaBracket> asha_brackets(const AshaSettings& s) {
  LLMTUNE_CHECK(s.divisor >= 2 && s.max_rungs >= 1 && s.max_length >= 1 && s.max_trials >= 1,
                "asha settings must be checked before asha_brackets");
  const std::vector<int64_t> counts = bracket_rung_counts(s);
  std::vector<double> weights;
  double sum = 0;
  for (int64_t r : counts) {
    weights.push_back(static_cast<double>(power(s.divisor, r - 1)) / static_cast<double>(r));
    sum += weights.back();
  }
  std::vector<AshaBracket> out;
  int64_t left = s.max_trials;
  for (size_t b = 0; b < counts.size(); ++b) {
    AshaBracket bracket;
    for (int64_t k = 0; k < counts[b]; ++k)
      bracket.rung_lengths.push_back(
          std::max<int64_t>(1, s.max_length / power(s.divisor, counts[b] - 1 - k)));
    bracket.trials = std::max<int64_t>(
        1, static_cast<int64_t>(weights[b] / sum * static_cast<double>(s.max_trials)));
    left -= bracket.trials;
    out.push_back(std::move(bracket));
  }
  out[0].trials += std::max<int64_t>(left, 0);
  return out;
}

int64_t asha_bracket_of(const std::vector<AshaBracket>& brackets, int64_t index) {
  for (size_t b = 0; b < brackets.size(); ++b) {
    if (index < brackets[b].trials) return static_cast<int64_t>(b);
    index -= brackets[b].trials;
  }
  LLMTUNE_CHECK(false, "trial index past the brackets' trials");
  return 0;
}

std::vector<int64_t> asha_promote(AshaRung& rung, int64_t trial, double metric,
                                  const AshaSettings& s) {
  const auto better = [&](double a, double b) { return s.smaller_is_better ? a < b : a > b; };
  auto at = std::find_if(rung.results.begin(), rung.results.end(),
                         [&](const AshaRung::Result& r) { return better(metric, r.metric); });
  at = rung.results.insert(at, {trial, metric, false});
  const size_t rank = static_cast<size_t>(at - rung.results.begin());
  const size_t n = rung.results.size();
  std::vector<int64_t> promoted;
  if (s.stop_once) {
    if (rank < std::max<size_t>(1, n / static_cast<size_t>(s.divisor))) {
      at->promoted = true;
      promoted.push_back(trial);
    }
    return promoted;
  }
  const size_t top = n / static_cast<size_t>(s.divisor);
  for (size_t i = 0; i < top; ++i) {
    if (rung.results[i].promoted) continue;
    rung.results[i].promoted = true;
    promoted.push_back(rung.results[i].trial);
  }
  return promoted;
}

}  // namespace llmtune::experiment
