// Faults that lose nothing, end to end: a disk that fills up while a trial writes a checkpoint
// (the fault injection LLMTUNE_FAULT_ENOSPC, core/files.cpp) fails the trial with a clear error
// and a non-zero exit, keeps its checkpoint before, and `train --trial` continues from it; a
// checkpoint damaged after it was saved is found on resume (its manifest), moved aside, and
// the trial falls back to the one before. Either way the losses equal an uninterrupted run's.
#include <stdlib.h>

#include <filesystem>
#include <map>

#include "experiment_fixture.h"
#include "train/checkpoint.h"

namespace llmtune {
namespace {

namespace fs = std::filesystem;

class CliFaults : public CliExperiment {
 protected:
  std::string trial_dir() const { return runs() + "/faults-1/trial-1"; }

  // The training losses by step of `trial` (a step logged again after resuming: the last wins).
  std::map<int64_t, double> losses_by_step(int64_t trial) {
    auto store = track::Store::open(runs() + "/llmtune.db");
    std::map<int64_t, double> by_step;
    for (const track::MetricRow& m : store->metrics(trial, "training")) {
      if (m.metrics.contains("loss")) by_step[m.step] = m.metrics["loss"].get<double>();
    }
    return by_step;
  }

  // Continues trial 1 and checks that it completes with the losses of the uninterrupted trial 2;
  // its output.
  std::string resume_and_compare(const std::string& says) {
    const test::CliResult r = test::run_llmtune("train --trial 1 --runs " + runs());
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
    auto store = track::Store::open(runs() + "/llmtune.db");
    EXPECT_EQ(store->trial(1).state, "COMPLETED");
    const std::map<int64_t, double> got = losses_by_step(1), want = losses_by_step(2);
    EXPECT_EQ(got.size(), 6u);
    EXPECT_EQ(got, want);
    EXPECT_TRUE(train::checkpoint_verify(trial_dir() + "/checkpoint-6"));
    for (const track::CheckpointRow& c : store->checkpoints(1, "step")) {
      EXPECT_TRUE(train::checkpoint_verify(c.path)) << c.path;
    }
    return r.output;
  }

  // The uninterrupted run, experiment 2 (trial 2).
  void straight() {
    const test::CliResult r = test::run_llmtune(
        "experiment create " + config("straight", "single", 6) + " --runs " + runs() + " --quiet");
    ASSERT_EQ(r.code, 0) << r.output;
  }
};

TEST_F(CliFaults, ADiskFullCheckpointFailsClearlyAndTheTrialResumesFromTheOneBefore) {
  const std::string cfg = config("faults", "single", 6);
  ::setenv("LLMTUNE_FAULT_ENOSPC", "checkpoint-4.partial/optimizer", 1);
  const test::CliResult r =
      test::run_llmtune("experiment create " + cfg + " --runs " + runs() + " --quiet");
  ::unsetenv("LLMTUNE_FAULT_ENOSPC");
  EXPECT_NE(r.code, 0) << r.output;
  const std::string log = read_file(trial_dir() + "/trial.log");
  for (const std::string& part :
       {"checkpoint " + trial_dir() + "/checkpoint-4 was not saved", std::string("No space left"),
        trial_dir() + "/checkpoint-2 is the last complete checkpoint", std::string("Free space")}) {
    EXPECT_NE(log.find(part), std::string::npos) << part << "\n" << log;
  }
  EXPECT_FALSE(fs::exists(trial_dir() + "/checkpoint-4.partial"));
  EXPECT_TRUE(train::checkpoint_verify(trial_dir() + "/checkpoint-2"));
  straight();
  resume_and_compare("resuming from " + trial_dir() + "/checkpoint-2 at step 2");
}

TEST_F(CliFaults, ADamagedCheckpointIsSetAsideAndTheTrialFallsBackToTheOneBefore) {
  const std::string cfg = config("faults", "single", 6);
  ::setenv("LLMTUNE_FAULT_SIGNAL_AT_STEP", "3", 1);  // pauses after step 4, with checkpoint-4
  const test::CliResult r =
      test::run_llmtune("experiment create " + cfg + " --runs " + runs() + " --quiet");
  ::unsetenv("LLMTUNE_FAULT_SIGNAL_AT_STEP");
  ASSERT_NE(r.output.find("paused"), std::string::npos) << r.output;
  // A disk that lost writes, or a copy cut short: checkpoint-4's optimizer file is truncated.
  const std::string ckpt = trial_dir() + "/checkpoint-4";
  ASSERT_TRUE(train::checkpoint_verify(ckpt));
  fs::resize_file(ckpt + "/optimizer.safetensors", 100);
  straight();
  const std::string out =
      resume_and_compare("resuming from " + trial_dir() + "/checkpoint-2 at step 2");
  for (const std::string& part :
       {ckpt + "/optimizer.safetensors has 100 bytes", std::string("truncated"),
        "moved the damaged checkpoint to " + ckpt + ".damaged; falling back to " + trial_dir() +
            "/checkpoint-2"}) {
    EXPECT_NE(out.find(part), std::string::npos) << part << "\n" << out;
  }
  EXPECT_TRUE(fs::exists(ckpt + ".damaged/optimizer.safetensors"));  // kept for a look
}

}  // namespace
}  // namespace llmtune
