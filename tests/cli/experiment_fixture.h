// The fixture of the experiment CLI tests: a tiny model with the Mistral tokenizer's
// vocabulary, a synthetic text-to-SQL dataset, and experiment configs that use them.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cli/run_cli.h"
#include "core/files.h"
#include "io/hf_checkpoint.h"
#include "support/compare.h"
#include "support/scratch.h"
#include "support/tiny_llama.h"
#include "track/store.h"

namespace llmtune {

inline std::string mistral() {
  return test::shared_dir() + "/fixtures/mistral-tokenizer";
}

// A tiny model with the Mistral tokenizer's vocabulary, synthetic data and a config using them.
class CliExperiment : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(mistral())) GTEST_SKIP() << "fixture " << mistral() << " absent";
    model::ModelConfig c = test::tiny_llama(32000, 0.02);  // the Mistral tokenizer's vocabulary
    c.intermediate_size = 64;
    model::ModelOptions o;
    o.training = model::Training::kFull;
    model::LlamaModel m(c, o);
    m.init_weights(3);
    io::model_save(m, file("model"));
    const test::CliResult r =
        test::run_llmtune("data prepare --source synthetic --out " + file("data") +
                          " --databases 2 --questions-per-db 20");
    ASSERT_EQ(r.code, 0) << r.output;
  }

  std::string file(const std::string& name) const { return dir_.file(name); }
  std::string runs() const { return file("runs"); }

  // An experiment file; `extra` adds lines under training_args.
  std::string config(const std::string& name, const std::string& search, int64_t steps,
                     const std::string& extra = "") {
    const std::string yaml =
        "name: " + name +
        "\n"
        "searcher:\n  name: " +
        search +
        "\n  metric: eval_loss\n"
        "max_restarts: 2\n"
        "checkpoint_storage:\n  save_trial_latest: 2\n  save_trial_best: 1\n"
        "hyperparameters:\n"
        "  model: " +
        file("model") + "\n  tokenizer: " + mistral() +
        "\n  chat_template: mistral\n"
        "  dataset: " +
        file("data") + "\n  dataset_subset: easy\n  max_length: 384\n" +
        (search == "grid" ? "  lora:\n    type: categorical\n    vals: [false, true]\n"
                          : "  lora: false\n") +
        "  training_args:\n"
        "    max_steps: " +
        std::to_string(steps) +
        "\n    per_device_train_batch_size: 2\n"
        "    per_device_eval_batch_size: 4\n"
        "    learning_rate: 1.0e-3\n"
        "    evaluation_strategy: steps\n    eval_steps: 2\n"
        "    logging_steps: 1\n    save_steps: 2\n" +
        extra;
    const std::string path = file(name + ".yaml");
    write_file_atomic(path, yaml);
    return path;
  }

  std::vector<double> losses(int64_t trial) {
    auto store = track::Store::open(runs() + "/llmtune.db");
    std::vector<double> out;
    for (const track::MetricRow& m : store->metrics(trial, "training")) {
      if (m.metrics.contains("loss")) out.push_back(m.metrics["loss"].get<double>());
    }
    return out;
  }

  // `experiment create CONFIG` with the fault injection LLMTUNE_FAULT_KILL_AT_STEP=kill_at.
  test::CliResult create_killed_at(const std::string& cfg, const std::string& kill_at) {
    ::setenv("LLMTUNE_FAULT_KILL_AT_STEP", kill_at.c_str(), 1);
    test::CliResult r =
        test::run_llmtune("experiment create " + cfg + " --runs " + runs() + " --quiet");
    ::unsetenv("LLMTUNE_FAULT_KILL_AT_STEP");
    return r;
  }

  // The experiment succeeded, its trial 1 restarting once and completing `steps` steps.
  void expect_one_restart(const test::CliResult& r, int64_t steps) {
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("restart 1 of 2"), std::string::npos) << r.output;
    auto store = track::Store::open(runs() + "/llmtune.db");
    const track::TrialRow t = store->trials(1).at(0);
    EXPECT_EQ(t.state, "COMPLETED");
    EXPECT_EQ(t.restarts, 1);
    EXPECT_EQ(t.steps_completed, steps);
  }

  test::ScratchDir dir_;
};

}  // namespace llmtune
