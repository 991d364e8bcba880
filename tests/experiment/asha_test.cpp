// The adaptive_asha searcher's rules against examples worked out by hand.
#include "experiment/asha.h"

#include <gtest/gtest.h>

namespace llmtune::experiment {
namespace {

using Ids = std::vector<int64_t>;

// max_length 16, divisor 4, max_rungs 5, 10 trials: 16 -> 4 -> 1 allows 3 rungs, but 10 trials
// only 1 + floor(log4(10)) = 2 (R = 2). standard: rung counts from floor((2-1)/2) + 1 = 1 to 2.
// Weights divisor^(r-1)/r: 4/2 = 2, 1/1 = 1, sum 3. 10 trials: 2/3*10 = 6.7 -> 6, 1/3*10 = 3.3 ->
// 3; the remainder 1 goes to the first: {7, 3}. Rungs: 16/4 = 4, 16 | 16.
TEST(Asha, BracketsOfTheStandardMode) {
  AshaSettings s;
  s.max_trials = 10;
  s.max_length = 16;
  std::vector<AshaBracket> b = asha_brackets(s);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].rung_lengths, (Ids{4, 16}));
  EXPECT_EQ(b[1].rung_lengths, (Ids{16}));
  EXPECT_EQ(b[0].trials, 7);
  EXPECT_EQ(b[1].trials, 3);
  EXPECT_EQ(asha_bracket_of(b, 6), 0);
  EXPECT_EQ(asha_bracket_of(b, 7), 1);
  EXPECT_EQ(asha_bracket_of(b, 9), 1);
  // 64 trials of 64 batches, divisor 2, max_rungs 6: R = 6; standard: 6, 5, 4 and 3 rungs.
  s.max_trials = 64;
  s.max_length = 64;
  s.divisor = 2;
  s.max_rungs = 6;
  b = asha_brackets(s);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].rung_lengths, (Ids{2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(b[3].rung_lengths, (Ids{16, 32, 64}));
  // 1000 batches, divisor 10: as in Determined, log(1000) / log(10) is 2.9999999999999996 in
  // floating point, so R = 3 (not 4): rungs 10, 100, 1000.
  s.max_trials = 1000;
  s.max_length = 1000;
  s.divisor = 10;
  s.max_rungs = 5;
  s.mode = "aggressive";
  b = asha_brackets(s);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].rung_lengths, (Ids{10, 100, 1000}));
}

// aggressive: one bracket of R rungs with every trial. conservative: R brackets; with
// max_length 100, divisor 3, max_rungs 3 and 11 trials: 100 -> 33 -> 11 allows 3, 11 trials
// 1 + floor(log3(11)) = 3; rungs 100/9 = 11, 100/3 = 33, 100. Weights 9/3 = 3, 3/2 = 1.5, 1 (sum
// 5.5): 11*3/5.5 = 6, 11*1.5/5.5 = 3, 11/5.5 = 2. With 2 trials, R = 1: one bracket of one rung.
TEST(Asha, BracketsOfTheOtherModes) {
  AshaSettings s;
  s.max_trials = 11;
  s.max_length = 100;
  s.divisor = 3;
  s.max_rungs = 3;
  s.mode = "aggressive";
  std::vector<AshaBracket> b = asha_brackets(s);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].rung_lengths, (Ids{11, 33, 100}));
  EXPECT_EQ(b[0].trials, 11);
  s.mode = "conservative";
  b = asha_brackets(s);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[1].rung_lengths, (Ids{33, 100}));
  EXPECT_EQ(b[0].trials, 6);
  EXPECT_EQ(b[1].trials, 3);
  EXPECT_EQ(b[2].trials, 2);
  s.max_trials = 2;
  b = asha_brackets(s);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].rung_lengths, (Ids{100}));
  EXPECT_EQ(b[0].trials, 2);
  s.max_trials = 11;
  s.max_length = 2;  // 2 < 3: a single rung of 2 batches
  b = asha_brackets(s);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].rung_lengths, (Ids{2}));
  EXPECT_EQ(b[0].trials, 11);
}

// Divisor 3, losses reported in order by trials 1..6: 0.5, 0.9, 0.7, 0.3, 0.4, 0.6.
//   n=1: floor(1/3) = 0 deserve promotion -> none (trial 1 waits)
//   n=2: 0 -> none
//   n=3: 1 -> the best, trial 1 (0.5), not yet promoted -> {1}
//   n=4: 1 -> the best is now trial 4 (0.3) -> {4}
//   n=5: 1 -> trial 4, already promoted -> none
//   n=6: 2 -> trials 4 and 5 (0.4); 5 is new -> {5}
TEST(Asha, PromotionWaitsForTheTopThird) {
  AshaSettings s;
  s.divisor = 3;
  AshaRung rung;
  EXPECT_EQ(asha_promote(rung, 1, 0.5, s), Ids{});
  EXPECT_EQ(asha_promote(rung, 2, 0.9, s), Ids{});
  EXPECT_EQ(asha_promote(rung, 3, 0.7, s), Ids{1});
  EXPECT_EQ(asha_promote(rung, 4, 0.3, s), Ids{4});
  EXPECT_EQ(asha_promote(rung, 5, 0.4, s), Ids{});
  EXPECT_EQ(asha_promote(rung, 6, 0.6, s), Ids{5});
  ASSERT_EQ(rung.results.size(), 6u);
  EXPECT_EQ(rung.results[0].trial, 4);  // best first
  EXPECT_EQ(rung.results[5].trial, 2);
}

// stop_once, the same reports: promoted when ranked within the top max(1, floor(n/3)).
//   n=1: top 1, trial 1 ranks 0 -> {1}
//   n=2: top 1, trial 2 (0.9) ranks 1 -> stopped
//   n=3: top 1, trial 3 (0.7) ranks 1 (0.5, 0.7, 0.9) -> stopped
//   n=4: top 1, trial 4 (0.3) ranks 0 -> {4}
//   n=5: top 1, trial 5 (0.4) ranks 1 -> stopped (it would have waited without stop_once)
//   n=6: top 2, trial 6 (0.6) ranks 3 -> stopped
TEST(Asha, StopOnceDecidesEachTrialOnce) {
  AshaSettings s;
  s.divisor = 3;
  s.stop_once = true;
  AshaRung rung;
  EXPECT_EQ(asha_promote(rung, 1, 0.5, s), Ids{1});
  EXPECT_EQ(asha_promote(rung, 2, 0.9, s), Ids{});
  EXPECT_EQ(asha_promote(rung, 3, 0.7, s), Ids{});
  EXPECT_EQ(asha_promote(rung, 4, 0.3, s), Ids{4});
  EXPECT_EQ(asha_promote(rung, 5, 0.4, s), Ids{});
  EXPECT_EQ(asha_promote(rung, 6, 0.6, s), Ids{});
}

// Larger is better (accuracy), divisor 2: 0.2 -> none (n=1, 0 deserve); 0.8 -> n=2, top 1 is
// trial 2 -> {2}; 0.5 -> n=3, still 1 -> none; 0.9 -> n=4, top 2 = {4 (0.9), 2 (0.8)} -> {4}.
// 0.9 again (trial 5): a tie ranks the earlier report first, so the order is 4, 5, 2, ...;
// n=5, top 2 = {4, 5} -> {5}.
TEST(Asha, LargerIsBetterAndTies) {
  AshaSettings s;
  s.divisor = 2;
  s.smaller_is_better = false;
  AshaRung rung;
  EXPECT_EQ(asha_promote(rung, 1, 0.2, s), Ids{});
  EXPECT_EQ(asha_promote(rung, 2, 0.8, s), Ids{2});
  EXPECT_EQ(asha_promote(rung, 3, 0.5, s), Ids{});
  EXPECT_EQ(asha_promote(rung, 4, 0.9, s), Ids{4});
  EXPECT_EQ(asha_promote(rung, 5, 0.9, s), Ids{5});
  EXPECT_EQ(rung.results[0].trial, 4);
  EXPECT_EQ(rung.results[1].trial, 5);
  EXPECT_EQ(rung.results[2].trial, 2);
}

}  // namespace
}  // namespace llmtune::experiment
