// An experiment's lifecycle from the command line: pause (the running trial checkpoints at its
// next step, the rest wait) and activate (each continues from its checkpoint), kill (CANCELED,
// no checkpoint), wait, archive, and a trial's log.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "experiment_fixture.h"

namespace llmtune {
namespace {

class CliLifecycle : public CliExperiment {
 protected:
  // Starts `experiment create` of a 2-trial grid in the background and returns once trial 1 has
  // logged a step.
  void start(int64_t steps) {
    const std::string cfg = config("life", "grid", steps);
    runner_ = std::thread([this, cfg] {
      created_ = test::run_llmtune("experiment create " + cfg + " --runs " + runs() + " --quiet");
    });
    for (int i = 0; i < 1200 && !trial_one_stepped(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  bool trial_one_stepped() {
    try {
      auto store = track::Store::open(runs() + "/llmtune.db", track::Store::Access::kReadOnly);
      return !store->metrics(1, "training").empty();
    } catch (const std::exception&) {
      return false;  // not created yet
    }
  }
  test::CliResult finish() {
    runner_.join();
    return created_;
  }
  test::CliResult llmtune(const std::string& args) {
    return test::run_llmtune(args + " --runs " + runs());
  }

  std::thread runner_;
  test::CliResult created_{-1, ""};
};

TEST_F(CliLifecycle, PauseStopsAtACheckpointAndActivateContinues) {
  start(12);
  test::CliResult r = llmtune("experiment pause 1");
  EXPECT_EQ(r.code, 0) << r.output;
  r = finish();
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("paused by experiment pause"), std::string::npos) << r.output;
  {
    auto store = track::Store::open(runs() + "/llmtune.db");
    EXPECT_EQ(store->experiment(1).state, "PAUSED");
    EXPECT_EQ(store->experiment(1).request, "");
    const track::TrialRow one = store->trial(1);
    EXPECT_EQ(one.state, "PAUSED");
    EXPECT_GE(one.steps_completed, 1);
    EXPECT_LT(one.steps_completed, 12);
    EXPECT_TRUE(std::filesystem::exists(one.directory + "/checkpoint-" +
                                        std::to_string(one.steps_completed)));
    EXPECT_EQ(store->trial(2).state, "PAUSED");  // never started
    EXPECT_EQ(store->trial(2).steps_completed, 0);
  }
  r = llmtune("experiment pause 1");  // already paused
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("experiment 1 is PAUSED; only an ACTIVE one is paused"),
            std::string::npos)
      << r.output;

  r = llmtune("experiment activate 1 --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  auto store = track::Store::open(runs() + "/llmtune.db");
  EXPECT_EQ(store->experiment(1).state, "COMPLETED");
  for (int64_t t : {1, 2}) {
    EXPECT_EQ(store->trial(t).state, "COMPLETED");
    EXPECT_EQ(store->trial(t).steps_completed, 12);
    EXPECT_EQ(losses(t).size(), 12u);  // each step once: continued, not restarted
  }
  r = llmtune("experiment activate 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("only a PAUSED one is activated"), std::string::npos) << r.output;
}

TEST_F(CliLifecycle, KillCancelsWithoutACheckpoint) {
  start(40);
  test::CliResult r = llmtune("experiment kill 1");
  EXPECT_EQ(r.code, 0) << r.output;
  r = finish();
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("exiting without a checkpoint"), std::string::npos) << r.output;
  auto store = track::Store::open(runs() + "/llmtune.db");
  EXPECT_EQ(store->experiment(1).state, "CANCELED");
  EXPECT_EQ(store->trial(1).state, "CANCELED");
  EXPECT_EQ(store->trial(2).state, "CANCELED");
  EXPECT_LT(losses(1).size(), 40u);
  EXPECT_TRUE(losses(2).empty());
  r = llmtune("experiment wait 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("experiment 1 ended CANCELED"), std::string::npos) << r.output;
}

TEST_F(CliLifecycle, WaitArchiveAndTrialLogs) {
  test::CliResult r = test::run_llmtune("experiment create " + config("kept", "single", 2) +
                                        " --runs " + runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  r = llmtune("experiment wait 1");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("experiment 1: COMPLETED"), std::string::npos) << r.output;

  r = llmtune("trial logs 1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("trial 1: 2 steps"), std::string::npos) << r.output;
  const test::CliResult followed = llmtune("trial logs 1 --follow");  // ended: prints, returns
  EXPECT_EQ(followed.code, 0);
  EXPECT_EQ(followed.output, r.output);
  r = llmtune("trial logs 9");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("no trial 9"), std::string::npos) << r.output;

  r = llmtune("experiment archive 1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(llmtune("experiment list").output.find("kept"), std::string::npos);
  EXPECT_NE(llmtune("experiment list --all").output.find("kept"), std::string::npos);
  EXPECT_NE(llmtune("experiment list --all --json").output.find("\"archived\": true"),
            std::string::npos);
  r = llmtune("experiment unarchive 1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(llmtune("experiment list").output.find("kept"), std::string::npos);
}

// max_concurrent_trials: 2 runs a grid's two trials as parallel processes, each on half the
// cores (OMP_NUM_THREADS), so each trains exactly as it does alone on that many threads.
TEST_F(CliLifecycle, ConcurrentTrialsRunInParallelOnHalfTheCores) {
  // Two full-training trials alike, long enough that their training overlaps whatever the
  // processes' start-up times.
  const std::string cfg = config("pair", "grid", 30) +
                          " --set 'hyperparameters.lora={type: categorical, vals: [false, false]}'";
  test::CliResult r =
      test::run_llmtune("experiment create " + cfg +
                        " --set searcher.max_concurrent_trials=2 --runs " + runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const int half = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
  ::setenv("OMP_NUM_THREADS", std::to_string(half).c_str(), 1);
  r = test::run_llmtune("experiment create " + cfg + " --runs " + runs() + " --quiet");
  ::unsetenv("OMP_NUM_THREADS");
  ASSERT_EQ(r.code, 0) << r.output;

  auto store = track::Store::open(runs() + "/llmtune.db");
  EXPECT_EQ(store->experiment(1).state, "COMPLETED");
  for (int64_t t : {1, 2}) {
    EXPECT_EQ(store->trial(t).state, "COMPLETED");
    EXPECT_EQ(store->trial(t).steps_completed, 30);
    EXPECT_EQ(losses(t), losses(t + 2)) << "trial " << t << " against the serial run's";
  }
  // They overlapped: the second started training before the first finished.
  const std::vector<track::MetricRow> one = store->metrics(1, "training");
  const std::vector<track::MetricRow> two = store->metrics(2, "training");
  ASSERT_FALSE(one.empty());
  ASSERT_FALSE(two.empty());
  EXPECT_LT(two.front().time, one.back().time);
  EXPECT_LT(one.front().time, two.back().time);
}

}  // namespace
}  // namespace llmtune
