// The adaptive_asha searcher end to end: two learning rates, one far too small, through rungs
// of 4 and 8 steps. The good one is promoted and reaches max_length, training exactly as a run
// that never paused at the rung; the bad one is stopped at the first rung.
#include <stdlib.h>

#include <algorithm>
#include <map>
#include <thread>

#include "experiment_fixture.h"

namespace llmtune {
namespace {

TEST_F(CliExperiment, AdaptiveAshaStopsTheBadLearningRateAtTheFirstRung) {
  // Experiment 1: the good learning rate (the fixture's 1e-3) straight to step 8.
  test::CliResult r = test::run_llmtune("train " + config("straight", "single", 8) + " --runs " +
                                        runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::vector<double> straight = losses(1);
  ASSERT_EQ(straight.size(), 8u);

  // Experiment 2: aggressive mode, divisor 2, max_length 8 and 2 rungs: one bracket, rungs at
  // 8/2 = 4 and 8 steps. The first trial to reach step 4 waits (floor(1/2) = 0 deserve a
  // promotion); the second makes floor(2/2) = 1: the better of the two goes on to step 8, and the
  // other is stopped when the search runs out of work. Seed 3 draws both learning rates.
  const std::string sets =
      " --set searcher.max_trials=2 --set searcher.max_length=8 --set searcher.divisor=2"
      " --set searcher.max_rungs=2 --set searcher.mode=aggressive"
      " --set reproducibility.experiment_seed=3"
      " --set 'hyperparameters.training_args.learning_rate={type: categorical, vals: [1.0e-9, "
      "1.0e-3]}'";
  r = test::run_llmtune("experiment create " + config("asha", "adaptive_asha", 8) + sets +
                        " --runs " + runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  auto store = track::Store::open(runs() + "/llmtune.db");
  EXPECT_EQ(store->experiment(2).state, "COMPLETED");
  std::map<double, track::TrialRow> by_rate;
  for (const track::TrialRow& t : store->trials(2))
    by_rate[t.hyperparameters["training_args"]["learning_rate"].get<double>()] = t;
  ASSERT_EQ(by_rate.size(), 2u) << "the seed must draw both learning rates";
  const track::TrialRow& bad = by_rate.at(1e-9);
  const track::TrialRow& good = by_rate.at(1e-3);
  EXPECT_EQ(bad.state, "COMPLETED");
  EXPECT_EQ(bad.searcher_state, "stopped");
  EXPECT_EQ(bad.rung, 0);
  EXPECT_EQ(bad.steps_completed, 4);
  EXPECT_EQ(good.state, "COMPLETED");
  EXPECT_EQ(good.searcher_state, "completed");
  EXPECT_EQ(good.rung, 1);
  EXPECT_EQ(good.steps_completed, 8);
  // Paused at step 4 and continued from its checkpoint, the good trial trained exactly as the
  // straight run: the schedule was set for max_length, not for the rung.
  const std::vector<double> promoted = losses(good.id);
  ASSERT_EQ(promoted.size(), straight.size());
  for (size_t i = 0; i < straight.size(); ++i)
    EXPECT_EQ(promoted[i], straight[i]) << "step " << i + 1;
  EXPECT_NE(r.output.find("stopped at rung 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("completed at rung 1"), std::string::npos) << r.output;
}

// The settings of the test above: 2 trials (seed 3 draws both learning rates), aggressive mode,
// divisor 2, 2 rungs.
const std::string kTwoRates =
    " --set searcher.max_trials=2 --set searcher.divisor=2 --set searcher.max_rungs=2"
    " --set searcher.mode=aggressive --set reproducibility.experiment_seed=3"
    " --set 'hyperparameters.training_args.learning_rate={type: categorical, vals: [1.0e-9, "
    "1.0e-3]}'";

// The directory of experiment `id`'s first trial.
std::string first_trial_dir(const std::string& runs, int64_t id) {
  return track::Store::open(runs + "/llmtune.db")->trials(id).at(0).directory;
}

// The trials of experiment `id` by learning rate.
std::map<double, track::TrialRow> trials_by_rate(track::Store& store, int64_t id) {
  std::map<double, track::TrialRow> out;
  for (const track::TrialRow& t : store.trials(id))
    out[t.hyperparameters["training_args"]["learning_rate"].get<double>()] = t;
  return out;
}

TEST_F(CliExperiment, AdaptiveAshaPausedBySignalContinuesWithActivate) {
  test::CliResult r = test::run_llmtune("train " + config("straight", "single", 8) + " --runs " +
                                        runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::vector<double> straight = losses(1);
  // The promoted trial, on its way from the rung at step 4 to step 8, signals the runner after
  // step 6 (as a scheduler preempting the job would): the search pauses with it.
  ::setenv("LLMTUNE_FAULT_SIGNAL_AT_STEP", "6@parent", 1);
  r = test::run_llmtune("experiment create " + config("asha", "adaptive_asha", 8) + kTwoRates +
                        " --set searcher.max_length=8 --runs " + runs() + " --quiet");
  ::unsetenv("LLMTUNE_FAULT_SIGNAL_AT_STEP");
  ASSERT_EQ(r.code, 0) << r.output;
  {
    auto store = track::Store::open(runs() + "/llmtune.db");
    EXPECT_EQ(store->experiment(2).state, "PAUSED");
    const auto by_rate = trials_by_rate(*store, 2);
    EXPECT_EQ(by_rate.at(1e-3).searcher_state, "promoted");
    EXPECT_GT(by_rate.at(1e-3).steps_completed, 4);
    EXPECT_LT(by_rate.at(1e-3).steps_completed, 8);
    EXPECT_EQ(by_rate.at(1e-9).state, "PAUSED");  // waiting at its rung, not yet stopped
    const nlohmann::json state =
        nlohmann::json::parse(read_file(by_rate.at(1e-3).directory + "/../searcher.json"));
    ASSERT_EQ(state["pending"].size(), 1u) << state.dump();
    EXPECT_EQ(state["pending"][0]["trial"], by_rate.at(1e-3).id);
    EXPECT_EQ(state["pending"][0]["rung"], 1);
  }
  // A damaged search state is a clear error that leaves the experiment PAUSED.
  const std::string state_file = first_trial_dir(runs(), 2) + "/../searcher.json";
  const std::string saved = read_file(state_file);
  write_file_atomic(state_file, "{\"version\": 1, \"rungs\": [");
  r = test::run_llmtune("experiment activate 2 --runs " + runs() + " --quiet");
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("searcher.json"), std::string::npos) << r.output;
  EXPECT_EQ(track::Store::open(runs() + "/llmtune.db")->experiment(2).state, "PAUSED");
  write_file_atomic(state_file, saved);

  r = test::run_llmtune("experiment activate 2 --runs " + runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("continuing its adaptive_asha search"), std::string::npos) << r.output;
  auto store = track::Store::open(runs() + "/llmtune.db");
  EXPECT_EQ(store->experiment(2).state, "COMPLETED");
  const auto by_rate = trials_by_rate(*store, 2);
  EXPECT_EQ(by_rate.at(1e-9).searcher_state, "stopped");
  EXPECT_EQ(by_rate.at(1e-9).steps_completed, 4);
  EXPECT_EQ(by_rate.at(1e-3).searcher_state, "completed");
  EXPECT_EQ(by_rate.at(1e-3).steps_completed, 8);
  EXPECT_EQ(losses(by_rate.at(1e-3).id), straight) << "paused twice, it trains as a straight run";
}

// max_length in records (80 records of batch 2: 40 batches, a rung at 20) with both trials
// training at once: the same decisions as one at a time, and their first rungs overlap.
TEST_F(CliExperiment, AdaptiveAshaInRecordsRunsTrialsConcurrently) {
  // The straight run on the threads each of two concurrent trials gets (half the cores): sums
  // split over another number of threads round differently.
  const int half = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
  const char* threads = std::getenv("OMP_NUM_THREADS");
  const std::string before = threads ? threads : "";
  ::setenv("OMP_NUM_THREADS", std::to_string(half).c_str(), 1);
  test::CliResult r = test::run_llmtune("train " + config("straight", "single", 40) + " --runs " +
                                        runs() + " --quiet");
  if (before.empty()) {
    ::unsetenv("OMP_NUM_THREADS");
  } else {
    ::setenv("OMP_NUM_THREADS", before.c_str(), 1);
  }
  ASSERT_EQ(r.code, 0) << r.output;
  const std::vector<double> straight = losses(1);
  r = test::run_llmtune("experiment create " + config("asha", "adaptive_asha", 40) + kTwoRates +
                        " --set 'searcher.max_length={records: 80}'"
                        " --set searcher.max_concurrent_trials=2 --runs " +
                        runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  auto store = track::Store::open(runs() + "/llmtune.db");
  EXPECT_EQ(store->experiment(2).state, "COMPLETED");
  const auto by_rate = trials_by_rate(*store, 2);
  const track::TrialRow& bad = by_rate.at(1e-9);
  const track::TrialRow& good = by_rate.at(1e-3);
  EXPECT_EQ(bad.searcher_state, "stopped");
  EXPECT_EQ(bad.steps_completed, 20);
  EXPECT_EQ(good.searcher_state, "completed");
  EXPECT_EQ(good.steps_completed, 40);
  EXPECT_EQ(losses(good.id), straight);
  const std::vector<track::MetricRow> one = store->metrics(bad.id, "training");
  const std::vector<track::MetricRow> two = store->metrics(good.id, "training");
  ASSERT_GE(one.size(), 20u);
  ASSERT_GE(two.size(), 20u);
  EXPECT_LT(two.front().time, one[19].time) << "the first rungs overlapped";
  EXPECT_LT(one.front().time, two[19].time) << "the first rungs overlapped";
}

TEST_F(CliExperiment, AdaptiveAshaNeedsMaxStepsToMatchMaxLength) {
  const test::CliResult r = test::run_llmtune(
      "experiment create " + config("asha", "adaptive_asha", 6) +
      " --set searcher.max_trials=2 --set searcher.max_length=8 --runs " + runs() + " --quiet");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("max_steps (6) must equal searcher.max_length (8 batches)"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace llmtune
