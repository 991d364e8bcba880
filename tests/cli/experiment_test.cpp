// `llmtune experiment create|list|describe`, `checkpoint list` and `train` as a user runs them:
// a grid experiment on a tiny model and synthetic data, a run killed (SIGKILL) while it writes
// a checkpoint and then resumed, and a trial that crashes and is restarted automatically.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/experiment_fixture.h"
#include "cli/run_cli.h"
#include "core/files.h"
#include "io/hf_checkpoint.h"
#include "support/compare.h"
#include "support/scratch.h"
#include "track/store.h"

namespace llmtune {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_llmtune;

TEST_F(CliExperiment, GridCreateDescribeAndListCheckpoints) {
  test::CliResult r = run_llmtune("experiment create " + config("grid", "grid", 4) + " --runs " +
                                  runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("2 trial(s)"), std::string::npos) << r.output;
  r = run_llmtune("experiment list --runs " + runs());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("COMPLETED"), std::string::npos) << r.output;
  r = run_llmtune("experiment describe 1 --json --runs " + runs());
  ASSERT_EQ(r.code, 0) << r.output;
  const json d = json::parse(r.output);
  ASSERT_EQ(d["trials"].size(), 2u);
  for (const json& t : d["trials"]) {
    EXPECT_EQ(t["state"], "COMPLETED");
    EXPECT_EQ(t["steps_completed"], 4);
    EXPECT_TRUE(t["final_validation"].contains("eval_accuracy")) << t.dump();
    EXPECT_TRUE(t["final_training"].contains("train_runtime")) << t.dump();
    // save_trial_latest 2 + save_trial_best 1 over checkpoints 2 and 4: both kept.
    EXPECT_EQ(t["checkpoints"].size(), 2u) << t.dump();
  }
  EXPECT_EQ(d["trials"][1]["hyperparameters"]["lora"], true);
  const std::string lora_ckpt = d["trials"][1]["checkpoints"][0]["path"];
  EXPECT_TRUE(fs::exists(lora_ckpt + "/adapter_model.safetensors")) << lora_ckpt;
  EXPECT_TRUE(fs::exists(lora_ckpt + "/tokenizer.model")) << lora_ckpt;
  r = run_llmtune("checkpoint list 1 --sort-by eval_loss --json --runs " + runs());
  ASSERT_EQ(r.code, 0) << r.output;
  const json ck = json::parse(r.output);
  ASSERT_EQ(ck.size(), 4u);
  for (size_t i = 1; i < ck.size(); ++i) {
    EXPECT_LE(ck[i - 1]["metrics"]["eval_loss"].get<double>(),
              ck[i]["metrics"]["eval_loss"].get<double>());
  }
  // TensorBoard event files beside the checkpoints.
  bool events = false;
  for (const auto& e : fs::recursive_directory_iterator(runs())) {
    events |= e.path().filename().string().find("tfevents") != std::string::npos;
  }
  EXPECT_TRUE(events);
  r = run_llmtune("experiment describe 99 --runs " + runs());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("99"), std::string::npos) << r.output;
}

// A run killed while it writes a checkpoint resumes from the last complete one; no partial
// checkpoint is ever listed; the losses equal an uninterrupted run's.
TEST_F(CliExperiment, KilledWhileSavingResumesFromTheLastCompleteCheckpoint) {
  test::CliResult r =
      run_llmtune("train " + config("straight", "single", 12) + " --runs " + runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::vector<double> straight = losses(1);
  ASSERT_EQ(straight.size(), 12u);

  const std::string cfg = config("killed", "single", 12, "    save_strategy: steps\n");
  bool killed_while_saving = false;
  for (int attempt = 0; attempt < 5 && !killed_while_saving; ++attempt) {
    const pid_t pid = fork();
    if (pid == 0) {
      const std::string cli = LLMTUNE_CLI;
      execl(cli.c_str(), cli.c_str(), "train", cfg.c_str(), "--runs", runs().c_str(), "--quiet",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    // Kill it the moment a checkpoint directory is being written.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      bool partial = false;
      // The run renames directories while this walks them: a walk that loses its footing
      // (an error from increment) just ends, and the next one looks again.
      std::error_code ec;
      for (fs::recursive_directory_iterator it(runs(), ec), end; !ec && it != end;
           it.increment(ec)) {
        // A later checkpoint, so that a complete one exists to resume from.
        const std::string name = it->path().filename().string();
        if (name.ends_with(".partial") && name != "checkpoint-2.partial") partial = true;
      }
      if (partial) {
        ::kill(pid, SIGKILL);
        killed_while_saving = true;
        break;
      }
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) break;  // finished before we caught a save
    }
    int status = 0;
    waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(killed_while_saving) << "never caught the run while it saved a checkpoint";
  auto store = track::Store::open(runs() + "/llmtune.db");
  const int64_t trial = store->trials(2).back().id;
  // The store lists only complete checkpoints, each with its files.
  for (const track::CheckpointRow& c : store->checkpoints(2, "step")) {
    EXPECT_FALSE(c.path.ends_with(".partial"));
    EXPECT_TRUE(fs::exists(c.path + "/train_state.json")) << c.path;
  }
  r = run_llmtune("train --trial " + std::to_string(trial) + " --runs " + runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming from " + runs()), std::string::npos) << r.output;
  // The resumed run logs each step once more after its checkpoint; the last value per step wins.
  std::map<int64_t, double> by_step;
  for (const track::MetricRow& m : store->metrics(trial, "training")) {
    if (m.metrics.contains("loss")) by_step[m.step] = m.metrics["loss"].get<double>();
  }
  ASSERT_EQ(by_step.size(), 12u);
  for (int64_t s = 1; s <= 12; ++s) EXPECT_EQ(by_step[s], straight[s - 1]) << "step " << s;
  for (const auto& e : fs::recursive_directory_iterator(runs())) {
    EXPECT_FALSE(e.path().filename().string().ends_with(".partial")) << e.path();
  }
}

// --resume starts a new trial from another trial's checkpoint, at its step.
TEST_F(CliExperiment, ResumeFromACheckpointDirectory) {
  test::CliResult r =
      run_llmtune("train " + config("first", "single", 4) + " --runs " + runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  auto store = track::Store::open(runs() + "/llmtune.db");
  const std::string ckpt = store->checkpoints(1, "step").at(0).path;  // step 2
  r = run_llmtune("train " + config("second", "single", 6) + " --resume " + ckpt + " --runs " +
                  runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("at step 2"), std::string::npos) << r.output;
  EXPECT_EQ(store->trials(2).at(0).steps_completed, 6);
  r = run_llmtune("train " + config("third", "single", 6) + " --resume " + file("nowhere") +
                  " --runs " + runs());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("not an llmtune checkpoint"), std::string::npos) << r.output;
}

// A trial never trusts a checkpoint that was edited or copied in, never writes over a complete
// one, and refuses --resume once it has checkpoints of its own.
TEST_F(CliExperiment, EditedCopiedOrRedundantCheckpointsAreRefused) {
  test::CliResult r = run_llmtune("train " + config("first", "single", 6) + " --runs " + runs() +
                                  " --quiet --stop-after 4");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string trial = runs() + "/first-1/trial-1";
  const std::string state = trial + "/checkpoint-4/train_state.json";
  const std::string adapter_or_model = trial + "/checkpoint-4/model.safetensors";
  const std::string weights = read_file(adapter_or_model);
  const nlohmann::json good = read_json(state);
  nlohmann::json edited = good;
  edited["step"] = 3;
  edited["optimizer_steps"] = 3;
  write_file_atomic(state, edited.dump());
  // With its manifest the edit is damage, and the trial falls back past it (faults_test.cpp);
  // without one (an older llmtune's checkpoint), train_state.json's own checks refuse it.
  fs::remove(trial + "/checkpoint-4/manifest.json");
  r = run_llmtune("train --trial 1 --runs " + runs() + " --quiet");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("\"step\" is 3 but the directory is checkpoint-4"), std::string::npos)
      << r.output;
  EXPECT_EQ(read_file(adapter_or_model), weights);  // nothing was written over it
  auto store = track::Store::open(runs() + "/llmtune.db");
  EXPECT_EQ(store->checkpoints(1, "step").size(), 2u);  // steps 2 and 4, once each
  write_file_atomic(state, good.dump());

  r = run_llmtune("train --trial 1 --runs " + runs() + " --quiet --resume " + trial +
                  "/checkpoint-2");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("has checkpoints of its own"), std::string::npos) << r.output;

  // Another trial's checkpoint copied in as this trial's latest.
  r = run_llmtune("train " + config("second", "single", 6) + " --runs " + runs() +
                  " --quiet --stop-after 2");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string copied = trial + "/checkpoint-5";
  fs::copy(runs() + "/second-2/trial-2/checkpoint-2", copied, fs::copy_options::recursive);
  nlohmann::json other = read_json(copied + "/train_state.json");
  other["step"] = 5;
  other["optimizer_steps"] = 5;
  write_file_atomic(copied + "/train_state.json", other.dump());
  fs::remove(copied + "/manifest.json");  // else the edit is damage, set aside
  r = run_llmtune("train --trial 1 --runs " + runs() + " --quiet");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("belongs to"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"trial_id\":2"), std::string::npos) << r.output;
  fs::remove_all(copied);

  // Intact again: the trial continues from step 4 and completes.
  r = run_llmtune("train --trial 1 --runs " + runs() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("at step 4"), std::string::npos) << r.output;
  EXPECT_EQ(store->trial(1).steps_completed, 6);
}

// --set belongs to a config; a trial of the store keeps its settings. A `train CONFIG` that
// fails ends the experiment it created as ERROR, not ACTIVE for ever.
TEST_F(CliExperiment, TrainFailuresEndTheExperimentAndTrialsKeepTheirSettings) {
  test::CliResult r = run_llmtune("train " + config("gone", "single", 4) + " --runs " + runs() +
                                  " --quiet --set hyperparameters.dataset=" + file("nowhere"));
  EXPECT_EQ(r.code, 2) << r.output;
  auto store = track::Store::open(runs() + "/llmtune.db");
  EXPECT_EQ(store->experiment(1).state, "ERROR");
  EXPECT_EQ(store->trial(1).state, "ERROR");
  r = run_llmtune("train --trial 1 --runs " + runs() +
                  " --set hyperparameters.training_args.max_steps=6");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("keeps the settings it was created with"), std::string::npos) << r.output;
  // Checkpoints of a run that never evaluated are listed by step rather than refused.
  r = run_llmtune("train " + config("noeval", "single", 4) + " --runs " + runs() +
                  " --quiet --set hyperparameters.training_args.evaluation_strategy=no");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_llmtune("checkpoint list 2 --runs " + runs());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("by step"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("checkpoint-4"), std::string::npos) << r.output;
}

// Another process holding the store locked past the busy timeout does not end the training:
// the writes wait and go through once it lets go, and nothing is lost.
TEST_F(CliExperiment, ALockedStoreDelaysMetricsButNeverStopsTraining) {
  const std::string cfg = config("locked", "single", 8);
  ::setenv("LLMTUNE_STORE_BUSY_MS", "200", 1);
  FILE* child = popen(
      (std::string(LLMTUNE_CLI) + " train " + cfg + " --runs " + runs() + " 2>&1").c_str(), "r");
  ::unsetenv("LLMTUNE_STORE_BUSY_MS");
  ASSERT_NE(child, nullptr);
  sqlite3* db = nullptr;
  bool locked = false, warned = false;
  std::string output;
  char line[4096];
  while (std::fgets(line, sizeof line, child) != nullptr) {
    output += line;
    if (!locked && std::string(line).find("step 2: eval_loss") != std::string::npos) {
      ASSERT_EQ(sqlite3_open((runs() + "/llmtune.db").c_str(), &db), SQLITE_OK);
      sqlite3_busy_timeout(db, 10000);
      ASSERT_EQ(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
      locked = true;
    }
    if (locked && !warned &&
        std::string(line).find("cannot write to the experiment store") != std::string::npos) {
      warned = true;
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      sqlite3_close(db);
    }
  }
  const int status = pclose(child);
  EXPECT_TRUE(locked) << output;
  EXPECT_TRUE(warned) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_EQ(losses(1).size(), 8u) << output;  // every step's loss reached the store
  auto store = track::Store::open(runs() + "/llmtune.db");
  EXPECT_EQ(store->trial(1).state, "COMPLETED");
  // Retention ran on every checkpoint: the latest two and the best are kept, the rest deleted.
  const std::vector<track::CheckpointRow> kept = store->checkpoints(1, "step");
  EXPECT_GE(kept.size(), 2u);
  EXPECT_LE(kept.size(), 3u);
  for (const track::CheckpointRow& c : kept) EXPECT_TRUE(fs::exists(c.path)) << c.path;
}

// A trial process that dies is restarted by `experiment create` and resumes.
TEST_F(CliExperiment, CrashedTrialsRestartAutomatically) {
  expect_one_restart(create_killed_at(config("crash", "single", 6), "4"), 6);
}

TEST_F(CliExperiment, ConfigErrorsExitTwoBeforeTraining) {
  const std::string bad = file("bad.yaml");
  write_file_atomic(bad, "name: x\nsearcher:\n  name: single\n  metrik: eval_loss\n");
  test::CliResult r = run_llmtune("experiment create " + bad + " --runs " + runs());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("metric"), std::string::npos) << r.output;
  r = run_llmtune("experiment create " + config("typo", "single", 2) +
                  " --set hyperparameters.training_args.learning_rat=1 --runs " + runs());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("learning_rate"), std::string::npos) << r.output;
  r = run_llmtune("train " + config("grid2", "grid", 2) + " --runs " + runs());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("experiment create"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace llmtune
