#include "experiment/asha.h"

#include <algorithm>

#include "core/error.h"

namespace llmtune::experiment {

namespace {

int64_t power(int64_t base, int64_t exponent) {
  int64_t p = 1;
  for (int64_t i = 0; i < exponent; ++i) p *= base;
  return p;
}

// The most rungs whose first is at least one batch long.
int64_t rungs_possible(const AshaSettings& s) {
  int64_t r = 1;
  for (int64_t length = s.max_length; length >= s.divisor && r < s.max_rungs; length /= s.divisor)
    ++r;
  return r;
}

std::vector<int64_t> bracket_rung_counts(const AshaSettings& s) {
  const int64_t top = rungs_possible(s);
  int64_t count = top;  // conservative
  if (s.mode == "aggressive") count = 1;
  if (s.mode == "standard") count = std::min<int64_t>(3, top);
  LLMTUNE_CHECK(s.mode == "aggressive" || s.mode == "standard" || s.mode == "conservative",
                "unknown adaptive_asha mode ", s.mode);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(top - i);
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
    bracket.trials = static_cast<int64_t>(static_cast<double>(s.max_trials) * weights[b] / sum);
    left -= bracket.trials;
    out.push_back(std::move(bracket));
  }
  out[0].trials += left;
  std::erase_if(out, [](const AshaBracket& b) { return b.trials == 0; });
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
