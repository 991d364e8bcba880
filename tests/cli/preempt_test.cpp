// Preemption: SIGTERM stops a training process at its next step boundary with a checkpoint, the
// trial and its experiment PAUSED; a second signal exits at once; either way the run continues
// from the store and trains exactly as if it had never stopped. The signals come from the
// fault injection LLMTUNE_FAULT_SIGNAL_AT_STEP (experiment/trial.cpp), which sends real ones.
#include <stdlib.h>

#include <filesystem>
#include <map>

#include "experiment_fixture.h"

namespace llmtune {
namespace {

namespace fs = std::filesystem;

class CliPreempt : public CliExperiment {
 protected:
  // Losses of an uninterrupted 8-step run (experiment 1).
  std::vector<double> straight() {
    const test::CliResult r = test::run_llmtune("train " + config("straight", "single", 8) +
                                                " --runs " + runs() + " --quiet");
    EXPECT_EQ(r.code, 0) << r.output;
    return losses(1);
  }

  test::CliResult with_signal(const std::string& at, const std::string& args) {
    ::setenv("LLMTUNE_FAULT_SIGNAL_AT_STEP", at.c_str(), 1);
    test::CliResult r = test::run_llmtune(args + " --runs " + runs() + " --quiet");
    ::unsetenv("LLMTUNE_FAULT_SIGNAL_AT_STEP");
    return r;
  }

  // Continues the trial, then checks that every step's loss equals the uninterrupted run's.
  void resume_and_compare(int64_t trial, const std::vector<double>& want) {
    const test::CliResult r = test::run_llmtune("train --trial " + std::to_string(trial) +
                                                " --runs " + runs() + " --quiet");
    ASSERT_EQ(r.code, 0) << r.output;
    auto store = track::Store::open(runs() + "/llmtune.db");
    EXPECT_EQ(store->trial(trial).state, "COMPLETED");
    std::map<int64_t, double> by_step;  // a step logged again after resuming: the last wins
    for (const track::MetricRow& m : store->metrics(trial, "training")) {
      if (m.metrics.contains("loss")) by_step[m.step] = m.metrics["loss"].get<double>();
    }
    ASSERT_EQ(by_step.size(), want.size());
    for (size_t s = 1; s <= want.size(); ++s) EXPECT_EQ(by_step[s], want[s - 1]) << "step " << s;
  }

  // Every checkpoint the store lists is complete, and nothing half-written is left over.
  void expect_complete_checkpoints(int64_t experiment) {
    auto store = track::Store::open(runs() + "/llmtune.db");
    for (const track::CheckpointRow& c : store->checkpoints(experiment, "step")) {
      EXPECT_TRUE(fs::exists(c.path + "/train_state.json")) << c.path;
    }
  }
};

TEST_F(CliPreempt, ASignalPausesAtAStepWithACheckpointAndTheRunContinuesExactly) {
  const std::vector<double> want = straight();
  ASSERT_EQ(want.size(), 8u);
  // save_steps is 2: the signal after step 3 stops the run at a step it would not have saved.
  const test::CliResult r = with_signal("3", "train " + config("paused", "single", 8));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("stopping at the next step boundary"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("paused by a signal at step"), std::string::npos) << r.output;
  auto store = track::Store::open(runs() + "/llmtune.db");
  const track::TrialRow t = store->trials(2).at(0);
  EXPECT_EQ(t.state, "PAUSED");
  EXPECT_EQ(store->experiment(2).state, "PAUSED");
  EXPECT_GT(t.steps_completed, 3);
  EXPECT_LT(t.steps_completed, 8);
  bool saved_there = false;
  for (const track::CheckpointRow& c : store->checkpoints(2, "step"))
    saved_there |= c.step == t.steps_completed && fs::exists(c.path + "/train_state.json");
  EXPECT_TRUE(saved_there) << "no checkpoint of step " << t.steps_completed;
  resume_and_compare(t.id, want);
}

TEST_F(CliPreempt, ASecondSignalExitsAtOnceAndLosesNothingSaved) {
  const std::vector<double> want = straight();
  const test::CliResult r = with_signal("3x2", "train " + config("killed", "single", 8));
  EXPECT_EQ(r.code, 128 + SIGTERM) << r.output;
  EXPECT_NE(r.output.find("second signal: exiting now"), std::string::npos) << r.output;
  expect_complete_checkpoints(2);
  resume_and_compare(track::Store::open(runs() + "/llmtune.db")->trials(2).at(0).id, want);
}

// A signal to `experiment create` reaches the running trial once (forwarded; the trial runs in
// its own process group), the experiment starts no further trial, and everything is PAUSED.
TEST_F(CliPreempt, TheExperimentRunnerForwardsTheSignalAndPausesItsTrials) {
  const test::CliResult r =
      with_signal("3@parent", "experiment create " + config("grid", "grid", 6));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("experiment 1 paused by a signal"), std::string::npos) << r.output;
  auto store = track::Store::open(runs() + "/llmtune.db");
  EXPECT_EQ(store->experiment(1).state, "PAUSED");
  const std::vector<track::TrialRow> trials = store->trials(1);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].state, "PAUSED");
  EXPECT_GT(trials[0].steps_completed, 3);
  EXPECT_LT(trials[0].steps_completed, 6);
  EXPECT_EQ(trials[1].state, "PAUSED");  // never started
  EXPECT_EQ(trials[1].steps_completed, 0);
  expect_complete_checkpoints(1);
  for (const track::TrialRow& t : trials) {
    const test::CliResult c = test::run_llmtune("train --trial " + std::to_string(t.id) +
                                                " --runs " + runs() + " --quiet");
    ASSERT_EQ(c.code, 0) << c.output;
    EXPECT_EQ(store->trial(t.id).state, "COMPLETED");
    EXPECT_EQ(store->trial(t.id).steps_completed, 6);
  }
}

}  // namespace
}  // namespace llmtune
