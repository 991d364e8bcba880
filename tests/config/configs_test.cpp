// The shipped configs/: every experiment loads, opens with the command that runs it and builds
// its trials; every DeepSpeed file resolves; the full-training configs give the reference's
// numbers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/experiment.h"
#include "config_test_util.h"

namespace llmtune::config {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kConfigs = fs::path(LLMTUNE_SOURCE_DIR) / "configs";

std::vector<fs::path> files_in(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ext) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Configs, EveryExperimentLoadsAndBuildsItsTrials) {
  const std::vector<fs::path> files = files_in(kConfigs, ".yaml");
  ASSERT_GE(files.size(), 5u);
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.string());
    // The opening comment gives the command that runs the file.
    std::ifstream in(f);
    std::string line, opening;
    while (std::getline(in, line) && line.starts_with("#")) opening += line + "\n";
    EXPECT_TRUE(opening.starts_with("# llmtune ")) << opening;
    EXPECT_NE(opening.find("configs/" + f.filename().string()), std::string::npos) << opening;
    const ExperimentConfig e = experiment_load(f.string());
    EXPECT_FALSE(e.name.empty());
    for (const json& point : search_points(e, 0)) {
      const TrialConfig t = trial_config(e, point, e.slots_per_trial);
      EXPECT_GT(t.training_args.max_steps, 0);
      if (e.searcher.max_length.value > 0) {
        EXPECT_EQ(t.training_args.max_steps,
                  config::length_batches(e, t.training_args, 1, e.searcher.max_length));
      }
    }
  }
}

// The quickstart runs on what `make demo` leaves in runs/demo.
TEST(Configs, QuickstartIsATinyLoraRunOnTheDemoModelAndData) {
  const ExperimentConfig e = experiment_load((kConfigs / "quickstart.yaml").string());
  const TrialConfig t = trial_config(e, search_points(e, 0).at(0), 1);
  EXPECT_EQ(t.model, "runs/demo/models/base");
  EXPECT_EQ(t.dataset, "runs/demo/data");
  EXPECT_TRUE(t.lora);
  EXPECT_LE(t.training_args.max_steps, 100);
  EXPECT_TRUE(e.notices.empty());
}

TEST(Configs, EveryDeepspeedConfigResolves) {
  TrainingArgs a;
  a.bf16 = true;
  a.max_steps = 10;
  for (const fs::path& f : files_in(kConfigs / "ds_configs", ".json")) {
    SCOPED_TRACE(f.string());
    DeepSpeedConfig c = deepspeed_load(f.string(), a, 2);
    deepspeed_finalize(c, a, 2048, 10);
    EXPECT_EQ(c.resolved.dump().find("auto"), std::string::npos);
  }
}

TEST(Configs, FullTrainingMatchesTheReferenceNumbers) {
  struct Case {
    const char* file;
    const char* model;
    int64_t hidden;
    double reduce, prefetch, persistence;
  };
  for (const Case& k : {Case{"mistral-full.yaml", "models/Mistral-7B-Instruct-v0.2", 4096, 16777216,
                             15099494.4, 40960},
                        Case{"tinyllama-full.yaml", "models/TinyLlama-1.1B-Chat-v0.4", 2048,
                             4194304, 3774873.6, 20480}}) {
    SCOPED_TRACE(k.file);
    const ExperimentConfig e = experiment_load((kConfigs / k.file).string());
    TrialConfig t = trial_config(e, e.hyperparameters, e.slots_per_trial);
    EXPECT_EQ(t.model, k.model);
    EXPECT_FALSE(t.lora);
    ASSERT_TRUE(t.deepspeed.has_value());
    EXPECT_EQ(t.deepspeed->train_batch_size, 4);  // 2 slots x 2 micro x 1
    deepspeed_finalize(*t.deepspeed, t.training_args, k.hidden, t.training_args.max_steps);
    EXPECT_DOUBLE_EQ(t.deepspeed->reduce_bucket_size, k.reduce);
    EXPECT_DOUBLE_EQ(t.deepspeed->stage3_prefetch_bucket_size, k.prefetch);
    EXPECT_DOUBLE_EQ(t.deepspeed->stage3_param_persistence_threshold, k.persistence);
    EXPECT_EQ(t.deepspeed->total_num_steps, 5000);
  }
}

TEST(Configs, ModelConfigsMatchTheReferenceOnes) {
  const std::string ref = test::reference_configs();
  LLMTUNE_REQUIRE_SHARED(ref);
  for (const auto& [file, reference] : std::vector<std::pair<std::string, std::string>>{
           {"mistral-lora.yaml", "lora.yaml"},
           {"tinyllama-lora.yaml", "lora.yaml"},
           {"mistral-full.yaml", "deepspeed.yaml"},
           {"tinyllama-full.yaml", "deepspeed.yaml"}}) {
    SCOPED_TRACE(file);
    const ExperimentConfig r = experiment_load(ref + "/" + reference);
    const ExperimentConfig e = experiment_load((kConfigs / file).string());
    EXPECT_EQ(e.hyperparameters["training_args"], r.hyperparameters["training_args"]);
    EXPECT_EQ(e.hyperparameters["lora"], r.hyperparameters["lora"]);
    EXPECT_EQ(e.hyperparameters["dataset_subset"], r.hyperparameters["dataset_subset"]);
    EXPECT_EQ(e.slots_per_trial, r.slots_per_trial);
    EXPECT_EQ(e.searcher.max_length.value, r.searcher.max_length.value);
    EXPECT_EQ(e.searcher.metric, r.searcher.metric);
    EXPECT_EQ(e.searcher.smaller_is_better, r.searcher.smaller_is_better);
  }
}

}  // namespace
}  // namespace llmtune::config
