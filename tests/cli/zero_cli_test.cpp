// Multi-process training as a user runs it: `mpirun -np N llmtune train` with the reference
// DeepSpeed configs unchanged, a sharded checkpoint exported and resumed with 1 and 3 ranks,
// and `experiment create` launching mpirun itself and restarting a trial one of whose ranks
// died.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "cli/experiment_fixture.h"
#include "cli/run_cli.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"

namespace llmtune {
namespace {

namespace fs = std::filesystem;
using test::run_llmtune;
using test::run_llmtune_mpi;

std::string reference_config(const std::string& name) {
  return test::shared_dir() + "/fixtures/reference-configs/" + name;
}

class CliZero : public CliExperiment {
 protected:
  void SetUp() override {
    if (!fs::exists(reference_config("ds_config_stage_3.json")))
      GTEST_SKIP() << "fixture " << reference_config("ds_config_stage_3.json") << " absent";
    CliExperiment::SetUp();
    // Several ranks share two cores here: they yield while they wait, one thread each.
    ::setenv("OMPI_MCA_mpi_yield_when_idle", "1", 1);
    ::setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    ::setenv("OMP_NUM_THREADS", "1", 1);
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
    // The sanitizer build: no leak report from the ranks, whose Open MPI allocations from
    // components unloaded by exit cannot be told from llmtune's (tests/CMakeLists.txt).
    ::setenv("ASAN_OPTIONS", "allocator_may_return_null=1:detect_leaks=0", 1);
#endif
#endif
  }
  void TearDown() override {
    ::setenv("OMP_NUM_THREADS", "2", 1);
  }

  // A DeepSpeed experiment: training_args.deepspeed is the reference file, unchanged.
  std::string ds_config(const std::string& name, const std::string& ds, bool lora, int64_t slots,
                        int64_t accumulation) {
    const std::string path =
        config(name, "single", 6,
               "    gradient_accumulation_steps: " + std::to_string(accumulation) +
                   "\n    deepspeed: " + reference_config(ds) + "\n");
    std::string yaml = read_file(path);
    yaml += "resources:\n  slots_per_trial: " + std::to_string(slots) + "\n";
    if (lora) yaml.replace(yaml.find("  lora: false"), 13, "  lora: true");
    yaml.replace(yaml.find("save_steps: 2"), 13, "save_steps: 3");
    write_file_atomic(path, yaml);
    return path;
  }

  std::map<int64_t, double> losses_by_step(int64_t trial) {
    auto store = track::Store::open(runs() + "/llmtune.db");
    std::map<int64_t, double> out;
    for (const track::MetricRow& m : store->metrics(trial, "training")) {
      if (m.metrics.contains("loss")) out[m.step] = m.metrics["loss"].get<double>();
    }
    return out;
  }

  std::string checkpoint_of(int64_t trial, int64_t step) {
    auto store = track::Store::open(runs() + "/llmtune.db");
    for (const track::CheckpointRow& c :
         store->checkpoints(store->trial(trial).experiment_id, "step")) {
      if (c.trial_id == trial && c.step == step) return c.path;
    }
    return "";
  }
};

// Stage 3 over 2 ranks, exported, continues with 1 and with 3 ranks (same global batch: micro
// 2 x accumulation 3 x 2 ranks = 2 x 6 x 1 = 2 x 2 x 3) as the 2-rank run went on.
TEST_F(CliZero, Stage3TrainsExportsAndResumesWithOtherWorldSizes) {
  const std::string cfg = ds_config("z3", "ds_config_stage_3.json", false, 2, 3);
  test::CliResult r = run_llmtune_mpi(2, "train " + cfg + " --runs " + runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::map<int64_t, double> two = losses_by_step(1);
  ASSERT_EQ(two.size(), 6u);
  const std::string ckpt = checkpoint_of(1, 3);
  ASSERT_FALSE(ckpt.empty());
  EXPECT_TRUE(fs::exists(ckpt + "/zero/optimizer-rank-00001-of-00002.safetensors"));
  // The consolidated model is real: it loads and has trained weights.
  model::ModelOptions mo;
  EXPECT_NO_THROW(io::model_load(ckpt, mo));

  r = run_llmtune("train " + cfg + " --resume " + ckpt + " --runs " + runs());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("llmtune checkpoint export"), std::string::npos) << r.output;

  const std::string whole = file("whole-3");
  r = run_llmtune("checkpoint export " + ckpt + " --out " + whole);
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_TRUE(fs::exists(whole + "/optimizer.safetensors"));

  const std::string a6 = " --set hyperparameters.training_args.gradient_accumulation_steps=6";
  r = run_llmtune("train " + cfg + a6 + " --resume " + whole + " --runs " + runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string a2 = " --set hyperparameters.training_args.gradient_accumulation_steps=2";
  r = run_llmtune_mpi(
      3, "train " + cfg + a2 + " --resume " + whole + " --runs " + runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const int64_t trial : {3, 4}) {  // trial 2 is the refused resume
    const std::map<int64_t, double> resumed = losses_by_step(trial);
    ASSERT_EQ(resumed.size(), 3u) << "trial " << trial;
    for (const auto& [step, loss] : resumed) {
      EXPECT_LT(std::abs(loss - two.at(step)) / two.at(step), 1e-6)
          << "trial " << trial << " step " << step << ": " << loss << " vs " << two.at(step);
    }
  }
}

// experiment create with slots_per_trial 2 runs mpirun; rank 1 is killed after step 3, Open
// MPI ends the job (nobody hangs), and the trial is restarted from checkpoint 3 and completes
// with a real LoRA adapter.
TEST_F(CliZero, ExperimentCreateLaunchesMpirunAndRestartsWhenARankDies) {
  const std::string cfg = ds_config("z2", "ds_config_stage_2.json", true, 2, 1);
  const test::CliResult r = create_killed_at(cfg, "3@1");
  expect_one_restart(r, 6);
  // Open MPI names the rank that died.
  EXPECT_NE(r.output.find("rank 1"), std::string::npos) << r.output;
  const std::string last = checkpoint_of(1, 6);
  ASSERT_FALSE(last.empty());
  const auto adapter = io::SafetensorsFile::open(last + "/adapter_model.safetensors");
  ASSERT_FALSE(adapter->entries().empty());
  double b_norm = 0;
  for (const io::SafetensorsEntry& e : adapter->entries()) {
    if (e.name.find("lora_B") == std::string::npos) continue;
    for (float v : adapter->tensor(e.name).to_f32()) b_norm += double{v} * v;
  }
  EXPECT_GT(b_norm, 0.0) << "the adapter's B matrices are still zero: nothing was saved";
}

// The disk fills up while rank 0 writes the model of checkpoint 3: every rank stops with an
// error (none waits for rank 0 at the next collective), and checkpoint 3 does not exist.
TEST_F(CliZero, ARankFailingToSaveStopsEveryRank) {
  const std::string cfg = ds_config("z2", "ds_config_stage_2.json", false, 2, 1);
  ::setenv("LLMTUNE_FAULT_ENOSPC", "checkpoint-3.partial/model", 1);
  const test::CliResult r = test::run_llmtune_with(
      std::string("timeout 300 ") + LLMTUNE_MPIEXEC + " --oversubscribe --allow-run-as-root -np 2",
      std::string(LLMTUNE_CLI) + " train " + cfg + " --runs " + runs() + " --quiet");
  ::unsetenv("LLMTUNE_FAULT_ENOSPC");
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.code, 124) << "a rank hung:\n" << r.output;
  EXPECT_NE(r.output.find("No space left on device"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rank(s) failed while writing"), std::string::npos) << r.output;
  EXPECT_TRUE(checkpoint_of(1, 3).empty());
}

}  // namespace
}  // namespace llmtune
