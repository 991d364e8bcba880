// The dashboard's JSON API through a real HTTP client, against the store that real short
// experiments filled (the server_store fixture): what each route answers, checked against the
// store read directly, and that following a running experiment sees exactly the new rows.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "cli/run_cli.h"
#include "core/files.h"
#include "server/served.h"
#include "support/scratch.h"
#include "track/store.h"

namespace llmtune {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::fixture_dir;
using test::Served;

std::unique_ptr<track::Store> fixture_store() {
  return track::Store::open(fixture_dir() + "/runs/llmtune.db", track::Store::Access::kReadOnly);
}

TEST(ServerApi, ExperimentsListNameStateSearcherTrialsAndBest) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  Served s(fixture_dir() + "/runs");
  const json list = s.json("/api/experiments");
  ASSERT_EQ(list.size(), 2u) << list.dump(2);
  const json& grid = list[0];
  EXPECT_EQ(grid["name"], "dashboard-grid");
  EXPECT_EQ(grid["state"], "COMPLETED");
  EXPECT_EQ(grid["searcher"]["name"], "grid");
  EXPECT_EQ(grid["searcher"]["metric"], "eval_loss");
  EXPECT_EQ(grid["trials_total"], 4);
  EXPECT_EQ(grid["trials_done"], 4);
  EXPECT_GT(grid["duration"].get<double>(), 0);
  // The best eval_loss, found here from the store's rows.
  auto store = fixture_store();
  double best = 1e300;
  for (const track::TrialRow& t : store->trials(1))
    for (const track::MetricRow& m : store->metrics(t.id, "validation"))
      best = std::min(best, m.metrics["eval_loss"].get<double>());
  EXPECT_DOUBLE_EQ(grid["best"]["value"].get<double>(), best);
}

TEST(ServerApi, ExperimentConfigAsWrittenAndTrialsWithHyperparameters) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  Served s(fixture_dir() + "/runs");
  const json e = s.json("/api/experiments/1");
  EXPECT_EQ(e["config"]["source"], "file");
  EXPECT_EQ(e["config"]["text"], read_file(fixture_dir() + "/grid.yaml"));
  ASSERT_EQ(e["trials"].size(), 4u);
  std::set<std::string> grid;
  for (const json& t : e["trials"]) {
    grid.insert(t["hparams"]["dataset_subset"].get<std::string>() +
                (t["hparams"]["lora"].get<bool>() ? "/lora" : "/full"));
    EXPECT_EQ(t["state"], "COMPLETED");
    EXPECT_EQ(t["steps_completed"], 6);
    EXPECT_EQ(t["max_steps"], 6);
    EXPECT_FALSE(t["best"].is_null()) << t.dump(2);
    EXPECT_TRUE(t["final_validation"].contains("eval_bleu")) << t.dump(2);
    EXPECT_FALSE(t["checkpoints"].empty());
    EXPECT_TRUE(fs::is_directory(t["directory"].get<std::string>())) << t.dump(2);
  }
  EXPECT_EQ(grid, (std::set<std::string>{"easy/full", "easy/lora", "medium/full", "medium/lora"}));
}

TEST(ServerApi, MetricsAreEveryRowOnceAndThenNothingNew) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  Served s(fixture_dir() + "/runs");
  auto store = fixture_store();
  size_t expected = 0;
  for (const track::TrialRow& t : store->trials(1)) expected += store->metrics(t.id).size();
  const json all = s.json("/api/experiments/1/metrics");
  ASSERT_EQ(all["rows"].size(), expected);
  EXPECT_FALSE(all["more"].get<bool>());
  int64_t last = 0;
  for (const json& r : all["rows"]) {
    EXPECT_GT(r["id"].get<int64_t>(), last);
    last = r["id"];
  }
  EXPECT_EQ(all["last_id"], last);
  EXPECT_TRUE(s.json("/api/experiments/1/metrics?after=" + std::to_string(last))["rows"].empty());
  const json one = s.json("/api/trials/2/metrics");
  EXPECT_EQ(one["rows"].size(), store->metrics(2).size());
  for (const json& r : one["rows"]) EXPECT_EQ(r["trial_id"], 2);
}

// The generate command of a LoRA checkpoint, as the trial page shows it, runs.
TEST(ServerApi, TrialCheckpointsCarryCommandsThatRun) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  Served s(fixture_dir() + "/runs");
  const json e = s.json("/api/experiments/1");
  int64_t lora = 0, full = 0;
  for (const json& t : e["trials"]) (t["hparams"]["lora"].get<bool>() ? lora : full) = t["id"];
  const json t = s.json("/api/trials/" + std::to_string(lora));
  EXPECT_EQ(t["experiment"]["name"], "dashboard-grid");
  ASSERT_FALSE(t["checkpoints"].empty());
  const json& c = t["checkpoints"].back();  // by step: the last is kept
  const std::string generate = c["commands"]["generate"];
  EXPECT_NE(generate.find("--adapter " + c["path"].get<std::string>()), std::string::npos)
      << generate;
  EXPECT_NE(c["commands"]["eval"].get<std::string>().find("llmtune eval --model"),
            std::string::npos);
  const test::CliResult r =
      test::run_llmtune(generate.substr(std::string("llmtune ").size()) + " --max-new-tokens 4");
  EXPECT_EQ(r.code, 0) << generate << "\n" << r.output;
  const json f = s.json("/api/trials/" + std::to_string(full));
  const std::string path = f["checkpoints"].back()["path"];
  EXPECT_EQ(f["checkpoints"].back()["commands"]["generate"].get<std::string>().rfind(
                "llmtune generate --model " + path, 0),
            0u);
}

// The fixture's grid trials were killed after step 4 and restarted: the log holds
// `experiment create`'s note on the restart, then the resumed run's output.
TEST(ServerApi, TrialLogOfExperimentCreateWithItsRestart) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  Served s(fixture_dir() + "/runs");
  const json t = s.json("/api/trials/1");
  ASSERT_TRUE(t["log"]["exists"].get<bool>()) << t.dump(2);
  EXPECT_EQ(t["restarts"], 1);
  EXPECT_EQ(t["steps_completed"], 6);
  const json log = s.json("/api/trials/1/log");
  const std::string text = log["text"];
  const size_t died = text.find("trial 1 died (exit 137); restart 1 of 1 from its last checkpoint");
  const size_t resumed = text.find("trial 1: resuming from");
  const size_t done = text.find("trial 1: 6 steps");
  ASSERT_NE(died, std::string::npos) << text;
  ASSERT_NE(resumed, std::string::npos) << text;
  ASSERT_NE(done, std::string::npos) << text;
  EXPECT_TRUE(died < resumed && resumed < done) << text;
}

// A copy of the fixture's runs directory that a test may write.
std::string copy_runs(const test::ScratchDir& dir) {
  const std::string runs = dir.file("demo/runs");
  fs::create_directories(runs);
  for (const char* f : {"llmtune.db", "llmtune.db-wal"}) {
    if (fs::exists(fixture_dir() + "/runs/" + f))
      fs::copy_file(fixture_dir() + "/runs/" + f, runs + "/" + f);
  }
  return runs;
}

// Rows written while the server runs come with the next `after`, and an experiment that starts
// and ends shows both states (the list caches only ended experiments).
TEST(ServerApi, FollowsAStoreBeingWritten) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  test::ScratchDir dir;
  const std::string runs = copy_runs(dir);
  Served s(runs);
  const int64_t last = s.json("/api/experiments/1/metrics")["last_id"];
  auto writer = track::Store::open(runs + "/llmtune.db");
  writer->add_metrics(3, "training", 7, {{"loss", 0.5}});
  writer->add_metrics(3, "validation", 7, {{"eval_loss", 0.25}});
  const json more = s.json("/api/experiments/1/metrics?after=" + std::to_string(last));
  ASSERT_EQ(more["rows"].size(), 2u);
  EXPECT_EQ(more["rows"][1]["metrics"]["eval_loss"], 0.25);
  EXPECT_EQ(s.json("/api/experiments/1")["best"]["value"], 0.25);
  const int64_t id =
      writer->create_experiment("later", "", {{"path", ""}, {"config", {}}}, "eval_loss", true);
  EXPECT_EQ(s.json("/api/experiments")[2]["state"], "ACTIVE");
  writer->set_experiment_state(id, "COMPLETED");
  EXPECT_EQ(s.json("/api/experiments")[2]["state"], "COMPLETED");
  const json e = s.json("/api/experiments/" + std::to_string(id));
  EXPECT_EQ(e["config"]["source"], "store");
  EXPECT_FALSE(e["config"]["note"].get<std::string>().empty());
}

TEST(ServerApi, DemoSummaryBesideTheRunsDirectory) {
  LLMTUNE_NEEDS_FIXTURE_STORE();
  test::ScratchDir dir;
  const std::string runs = copy_runs(dir);
  Served s(runs);
  EXPECT_TRUE(s.json("/api/demo-summary")["rows"].is_null());
  const json rows = {{{"subset", "easy"}, {"model", "LoRA"}, {"bleu", 0.1}}};
  write_file_atomic(dir.file("demo/demo_summary.json"), rows.dump());
  EXPECT_EQ(s.json("/api/demo-summary")["rows"], rows);
  write_file_atomic(dir.file("demo/demo_summary.json"), std::string(2 << 20, '['));
  const json big = s.json("/api/demo-summary");  // over the size bound: not read
  EXPECT_TRUE(big["rows"].is_null());
  EXPECT_NE(big["note"].get<std::string>().find("bytes"), std::string::npos) << big.dump();
}

TEST(ServerApi, ServeRefusesAMissingStoreAndNeverCreatesOne) {
  test::ScratchDir dir;
  const test::CliResult r = test::run_llmtune("serve --port 0 --runs " + dir.file("none"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("no experiment store"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("none")));
}

}  // namespace
}  // namespace llmtune
