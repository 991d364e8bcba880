// The experiment store: round trips, metric order, checkpoint sorting, concurrent readers and
// writers (threads and processes), reopening, and refusing files that are not a store.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "support/scratch.h"
#include "track/store.h"

namespace llmtune::track {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Runs `f`, expecting an llmtune::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning " << parts.front();
  } catch (const Error& e) {
    for (const std::string& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }
}

TEST(Store, ExperimentsRoundTrip) {
  test::ScratchDir dir;
  auto store = Store::open(dir.file("runs/sub/llmtune.db"));  // parents are created
  EXPECT_TRUE(fs::exists(dir.file("runs/sub/llmtune.db")));
  EXPECT_TRUE(store->experiments().empty());
  const json config = {{"name", "tinyllama-lora"}, {"searcher", {{"metric", "eval_accuracy"}}}};
  const int64_t a =
      store->create_experiment("tinyllama-lora", "first", config, "eval_accuracy", false);
  const int64_t b = store->create_experiment("mistral", "", json::object(), "eval_loss", true);
  EXPECT_LT(a, b);

  const std::vector<ExperimentRow> all = store->experiments();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, a);
  EXPECT_EQ(all[1].id, b);
  const ExperimentRow e = store->experiment(a);
  EXPECT_EQ(e.name, "tinyllama-lora");
  EXPECT_EQ(e.description, "first");
  EXPECT_EQ(e.state, "ACTIVE");
  EXPECT_EQ(e.config, config);
  EXPECT_EQ(e.searcher_metric, "eval_accuracy");
  EXPECT_FALSE(e.smaller_is_better);
  EXPECT_GT(e.start_time, 1.6e9);
  EXPECT_EQ(e.end_time, 0);
  EXPECT_TRUE(store->experiment(b).smaller_is_better);

  store->set_experiment_state(a, "COMPLETED");
  const ExperimentRow done = store->experiment(a);
  EXPECT_EQ(done.state, "COMPLETED");
  EXPECT_GE(done.end_time, done.start_time);
  store->set_experiment_state(a, "ERROR");  // already ended: the end time stays
  EXPECT_EQ(store->experiment(a).end_time, done.end_time);
  store->set_experiment_state(a, "ACTIVE");
  EXPECT_EQ(store->experiment(a).end_time, 0);
  store->set_experiment_state(a, "CANCELED");
  EXPECT_GT(store->experiment(a).end_time, 0);
  expect_error([&] { store->set_experiment_state(a, "SLEEPING"); }, {"SLEEPING", "PAUSED"});
  EXPECT_EQ(store->experiment(b).state, "ACTIVE");
}

TEST(Store, TrialsRoundTrip) {
  test::ScratchDir dir;
  auto store = Store::open(dir.file("llmtune.db"));
  const int64_t e1 = store->create_experiment("a", "", {}, "eval_loss", true);
  const int64_t e2 = store->create_experiment("b", "", {}, "eval_loss", true);
  const json hp = {{"r", 8}, {"lora_alpha", 16}, {"training_args", {{"learning_rate", 1e-5}}}};
  const int64_t t1 = store->create_trial(e1, hp, "/ckpt/trial1");
  const int64_t t2 = store->create_trial(e2, json::object(), "/ckpt/trial2");
  const int64_t t3 = store->create_trial(e1, {{"r", 16}}, "/ckpt/trial3");

  store->set_trial_progress(t1, 250);
  store->add_trial_restart(t1);
  store->add_trial_restart(t1);
  store->set_trial_state(t1, "COMPLETED");
  const TrialRow r = store->trial(t1);
  EXPECT_EQ(r.experiment_id, e1);
  EXPECT_EQ(r.state, "COMPLETED");
  EXPECT_EQ(r.hyperparameters, hp);
  EXPECT_EQ(r.restarts, 2);
  EXPECT_EQ(r.steps_completed, 250);
  EXPECT_EQ(r.directory, "/ckpt/trial1");
  EXPECT_GE(r.end_time, r.start_time);
  EXPECT_GT(r.start_time, 1.6e9);

  const std::vector<TrialRow> of_e1 = store->trials(e1);
  ASSERT_EQ(of_e1.size(), 2u);
  EXPECT_EQ(of_e1[0].id, t1);
  EXPECT_EQ(of_e1[1].id, t3);
  EXPECT_EQ(of_e1[1].state, "ACTIVE");
  EXPECT_EQ(of_e1[1].end_time, 0);
  ASSERT_EQ(store->trials(e2).size(), 1u);
  EXPECT_EQ(store->trials(e2)[0].id, t2);
  expect_error([&] { store->set_trial_state(t2, "DONE"); }, {"DONE"});
}

TEST(Store, MetricsComeBackInStepOrderPerGroup) {
  test::ScratchDir dir;
  auto store = Store::open(dir.file("llmtune.db"));
  const int64_t t =
      store->create_trial(store->create_experiment("a", "", {}, "eval_loss", true), {}, "d");
  const int64_t other = store->create_trial(store->experiments()[0].id, {}, "d2");
  for (int64_t step = 1; step <= 20; ++step) {
    store->add_metrics(t, "training", step, {{"loss", 3.0 / step}, {"learning_rate", 1e-5}});
    if (step % 5 == 0) store->add_metrics(t, "validation", step, {{"eval_loss", 2.0 / step}});
  }
  store->add_metrics(t, "training", 0, {{"loss", 9.0}});  // out of order: sorted by step
  store->add_metrics(other, "training", 1, {{"loss", 1.0}});

  const std::vector<MetricRow> training = store->metrics(t, "training");
  ASSERT_EQ(training.size(), 21u);
  for (size_t i = 0; i < training.size(); ++i) {
    EXPECT_EQ(training[i].step, static_cast<int64_t>(i));
    EXPECT_EQ(training[i].group, "training");
    EXPECT_EQ(training[i].trial_id, t);
    EXPECT_GT(training[i].time, 1.6e9);
  }
  EXPECT_EQ(training[0].metrics, json({{"loss", 9.0}}));
  EXPECT_EQ(training[4].metrics["loss"].get<double>(), 3.0 / 4);
  EXPECT_EQ(training[4].metrics["learning_rate"].get<double>(), 1e-5);

  const std::vector<MetricRow> validation = store->metrics(t, "validation");
  ASSERT_EQ(validation.size(), 4u);
  EXPECT_EQ(validation[3].step, 20);
  EXPECT_EQ(validation[3].metrics["eval_loss"].get<double>(), 0.1);
  EXPECT_EQ(store->metrics(t).size(), 25u);  // every group
  EXPECT_EQ(store->metrics(other).size(), 1u);
}

class CheckpointSort : public ::testing::Test {
 protected:
  // Five checkpoints over two trials: the metric at steps 100..500 is 0.5, 0.3, (none), 0.3, 0.9.
  void add(int64_t experiment, const std::string& metric) {
    const int64_t t1 = store->create_trial(experiment, {}, "t1");
    const int64_t t2 = store->create_trial(experiment, {}, "t2");
    const std::vector<std::pair<int64_t, json>> rows = {{100, {{metric, 0.5}}},
                                                        {200, {{metric, 0.3}}},
                                                        {300, json::object()},
                                                        {400, {{metric, 0.3}, {"other", 1}}},
                                                        {500, {{metric, 0.9}}}};
    for (const auto& [step, metrics] : rows) {
      CheckpointRow c;
      c.trial_id = step <= 200 ? t1 : t2;
      c.step = step;
      c.path = "ckpt/checkpoint-" + std::to_string(step);
      c.metrics = metrics;
      c.time = 1000.0 - step;  // later steps saved "earlier", so time order differs from steps
      c.uuid = "uuid-" + std::to_string(600 - step);
      store->add_checkpoint(c);
    }
  }
  std::vector<int64_t> steps(const std::vector<CheckpointRow>& rows) {
    std::vector<int64_t> out;
    for (const CheckpointRow& r : rows) out.push_back(r.step);
    return out;
  }
  test::ScratchDir dir;
  std::unique_ptr<Store> store = Store::open(dir.file("llmtune.db"));
};

TEST_F(CheckpointSort, SmallerIsBetterPutsLowestFirstAndMissingLast) {
  const int64_t e = store->create_experiment("a", "", {}, "eval_loss", true);
  add(e, "eval_loss");
  EXPECT_EQ(steps(store->checkpoints(e, "eval_loss")),
            (std::vector<int64_t>{200, 400, 100, 500, 300}));
  EXPECT_EQ(steps(store->checkpoints(e, "")), (std::vector<int64_t>{200, 400, 100, 500, 300}));
  // Only checkpoint 400 has "other": everything else follows it by step.
  EXPECT_EQ(steps(store->checkpoints(e, "other")), (std::vector<int64_t>{400, 100, 200, 300, 500}));
  EXPECT_EQ(steps(store->checkpoints(e, "step")), (std::vector<int64_t>{100, 200, 300, 400, 500}));
  EXPECT_EQ(steps(store->checkpoints(e, "time")), (std::vector<int64_t>{500, 400, 300, 200, 100}));
  EXPECT_EQ(steps(store->checkpoints(e, "uuid")), (std::vector<int64_t>{500, 400, 300, 200, 100}));
  const std::vector<CheckpointRow> by_trial = store->checkpoints(e, "trial_id");
  EXPECT_EQ(steps(by_trial), (std::vector<int64_t>{100, 200, 300, 400, 500}));
  EXPECT_LT(by_trial[0].trial_id, by_trial[4].trial_id);
  const CheckpointRow c = store->checkpoints(e, "step")[2];
  EXPECT_EQ(c.uuid, "uuid-300");
  EXPECT_EQ(c.state, "COMPLETED");
  EXPECT_EQ(c.path, "ckpt/checkpoint-300");
  EXPECT_EQ(c.time, 700.0);
  EXPECT_EQ(c.metrics, json::object());
}

TEST_F(CheckpointSort, LargerIsBetterPutsHighestFirstAndMissingLast) {
  const int64_t e = store->create_experiment("a", "", {}, "eval_accuracy", false);
  add(e, "eval_accuracy");
  EXPECT_EQ(steps(store->checkpoints(e, "eval_accuracy")),
            (std::vector<int64_t>{500, 100, 200, 400, 300}));
  // Another experiment's checkpoints are not listed.
  const int64_t other = store->create_experiment("b", "", {}, "eval_accuracy", false);
  EXPECT_TRUE(store->checkpoints(other, "eval_accuracy").empty());
}

TEST_F(CheckpointSort, DeletedCheckpointsAreHiddenUnlessAll) {
  const int64_t e = store->create_experiment("a", "", {}, "eval_loss", true);
  add(e, "eval_loss");
  store->set_checkpoint_state("uuid-400", "DELETED");  // step 200
  EXPECT_EQ(steps(store->checkpoints(e, "eval_loss")), (std::vector<int64_t>{400, 100, 500, 300}));
  const std::vector<CheckpointRow> all = store->checkpoints(e, "eval_loss", true);
  EXPECT_EQ(steps(all), (std::vector<int64_t>{200, 400, 100, 500, 300}));
  EXPECT_EQ(all[0].state, "DELETED");
  store->set_checkpoint_state("uuid-400", "COMPLETED");
  EXPECT_EQ(store->checkpoints(e, "eval_loss").size(), 5u);
  expect_error([&] { store->set_checkpoint_state("uuid-400", "GONE"); }, {"GONE"});
}

TEST_F(CheckpointSort, UuidsAreGeneratedAndUnique) {
  const int64_t e = store->create_experiment("a", "", {}, "eval_loss", true);
  const int64_t t = store->create_trial(e, {}, "t");
  CheckpointRow c;
  c.trial_id = t;
  c.step = 10;
  std::set<std::string> seen;
  const std::regex v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 20; ++i) {
    c.step = 10 * (i + 1);
    const std::string uuid = store->add_checkpoint(c);
    EXPECT_TRUE(std::regex_match(uuid, v4)) << uuid;
    seen.insert(uuid);
  }
  EXPECT_EQ(seen.size(), 20u);
  const std::vector<CheckpointRow> rows = store->checkpoints(e, "step");
  ASSERT_EQ(rows.size(), 20u);
  EXPECT_GT(rows[0].time, 1.6e9);  // time 0 means now
  c.uuid = *seen.begin();
  expect_error([&] { store->add_checkpoint(c); }, {c.uuid, "already"});
  EXPECT_TRUE(std::regex_match(random_uuid(), v4));
}

TEST(Store, ReopeningKeepsEverythingInWalMode) {
  test::ScratchDir dir;
  const std::string path = dir.file("llmtune.db");
  int64_t e, t;
  std::string uuid;
  {
    auto store = Store::open(path);
    e = store->create_experiment("a", "d", {{"k", "v"}}, "eval_loss", true);
    t = store->create_trial(e, {{"r", 8}}, "dir");
    store->add_metrics(t, "training", 1, {{"loss", 1.25}});
    CheckpointRow c;
    c.trial_id = t;
    c.step = 1;
    c.metrics = {{"eval_loss", 0.5}};
    uuid = store->add_checkpoint(c);
    store->set_trial_state(t, "COMPLETED");
  }
  auto store = Store::open(path);
  EXPECT_EQ(store->path(), path);
  EXPECT_EQ(store->experiment(e).config, json({{"k", "v"}}));
  EXPECT_EQ(store->trial(t).state, "COMPLETED");
  ASSERT_EQ(store->metrics(t).size(), 1u);
  EXPECT_EQ(store->metrics(t)[0].metrics["loss"].get<double>(), 1.25);
  ASSERT_EQ(store->checkpoints(e, "eval_loss").size(), 1u);
  EXPECT_EQ(store->checkpoints(e, "eval_loss")[0].uuid, uuid);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST(Store, ReaderInAnotherThreadSeesAConsistentPrefix) {
  test::ScratchDir dir;
  const std::string path = dir.file("llmtune.db");
  auto writer = Store::open(path);
  const int64_t t =
      writer->create_trial(writer->create_experiment("a", "", {}, "loss", true), {}, "d");
  constexpr int kRows = 1000;
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::string failure;
  std::thread reader([&] {
    try {
      auto store = Store::open(path);
      size_t last = 0;
      while (true) {
        const bool finished = done.load();
        const std::vector<MetricRow> rows = store->metrics(t, "training");
        ++reads;
        if (rows.size() < last) throw std::runtime_error("fewer rows than before");
        for (size_t i = 0; i < rows.size(); ++i) {
          if (rows[i].step != static_cast<int64_t>(i) ||
              rows[i].metrics.value("loss", -1.0) != static_cast<double>(i)) {
            throw std::runtime_error("row " + std::to_string(i) + " is not step " +
                                     std::to_string(i));
          }
        }
        last = rows.size();
        if (finished) {
          if (last != kRows) throw std::runtime_error("missing rows at the end");
          break;
        }
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  for (int i = 0; i < kRows; ++i) {
    writer->add_metrics(t, "training", i, {{"loss", static_cast<double>(i)}});
    if (i % 100 == 0) writer->set_trial_progress(t, i);
  }
  done = true;
  reader.join();
  EXPECT_EQ(failure, "");
  EXPECT_GT(reads.load(), 0);
}

TEST(Store, WriterInAnotherProcessNeverBlocksTheReader) {
  test::ScratchDir dir;
  const std::string path = dir.file("llmtune.db");
  int64_t t;
  {
    auto store = Store::open(path);
    t = store->create_trial(store->create_experiment("a", "", {}, "loss", true), {}, "d");
  }
  constexpr int kRows = 1000;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int rc = 0;
    try {
      auto store = Store::open(path);
      for (int i = 0; i < kRows; ++i) store->add_metrics(t, "training", i, {{"loss", 0.5 * i}});
    } catch (...) {
      rc = 1;
    }
    _exit(rc);
  }
  auto store = Store::open(path);
  int status = 0;
  size_t last = 0;
  bool exited = false;
  while (!exited) {
    exited = waitpid(child, &status, WNOHANG) == child;
    const std::vector<MetricRow> rows = store->metrics(t);  // throws on SQLITE_BUSY
    ASSERT_GE(rows.size(), last);
    for (size_t i = 0; i < rows.size(); ++i) {
      ASSERT_EQ(rows[i].step, static_cast<int64_t>(i));
      ASSERT_EQ(rows[i].metrics["loss"].get<double>(), 0.5 * i);
    }
    last = rows.size();
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(last, static_cast<size_t>(kRows));
}

// Forks a process that takes the store's write lock (BEGIN IMMEDIATE) and holds it for
// `hold_ms`; returns its pid once it holds the lock.
pid_t hold_write_lock(const std::string& path, int hold_ms) {
  int ready[2];
  if (pipe(ready) != 0) return -1;
  const pid_t child = fork();
  if (child == 0) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
                     sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK
                 ? 0
                 : 1;
    const char byte = 'x';
    if (write(ready[1], &byte, 1) != 1) rc = 1;
    usleep(static_cast<useconds_t>(hold_ms) * 1000);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    _exit(rc);
  }
  char byte = 0;
  if (child < 0 || read(ready[0], &byte, 1) != 1) return -1;
  close(ready[0]);
  close(ready[1]);
  return child;
}

// Another process holding the store's write lock: a writer waits for it, within the busy
// timeout, and goes on once it is released; past the timeout its error names the store, how long
// it waited and what to do.
TEST(Store, AWriterWaitsForAnotherProcessesLockThenFailsClearly) {
  test::ScratchDir dir;
  const std::string path = dir.file("llmtune.db");
  int64_t e = 0;
  {
    auto store = Store::open(path);
    e = store->create_experiment("a", "", {}, "loss", true);
  }
  ::setenv("LLMTUNE_STORE_BUSY_MS", "5000", 1);
  auto patient = Store::open(path);
  ::setenv("LLMTUNE_STORE_BUSY_MS", "200", 1);
  auto hasty = Store::open(path);
  ::unsetenv("LLMTUNE_STORE_BUSY_MS");

  pid_t child = hold_write_lock(path, 300);
  ASSERT_GT(child, 0);
  patient->set_experiment_request(e, "pause");  // waits out the 300 ms
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(patient->experiment(e).request, "pause");

  child = hold_write_lock(path, 3000);
  ASSERT_GT(child, 0);
  ::setenv("LLMTUNE_STORE_BUSY_MS", "200", 1);  // as when `hasty` was opened, for the message
  expect_error([&] { hasty->set_experiment_request(e, ""); },
               {path, "locked", "200 ms", "fuser " + path, "retry"});
  ::unsetenv("LLMTUNE_STORE_BUSY_MS");
  kill(child, SIGKILL);
  waitpid(child, &status, 0);
  hasty->set_experiment_request(e, "");  // released: the store is whole and writable
  EXPECT_EQ(patient->experiment(e).request, "");
}

TEST(Store, ConcurrentFirstOpensCreateTheSchemaOnce) {
  test::ScratchDir dir;
  const std::string path = dir.file("new.db");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      try {
        Store::open(path)->create_experiment("x", "", {}, "loss", true);
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Store::open(path)->experiments().size(), 4u);
}

TEST(Store, RefusesFilesThatAreNotAStore) {
  test::ScratchDir dir;
  const std::string text = dir.file("notes.txt");
  std::ofstream(text) << "epoch,loss\n1,2.5\n";
  expect_error([&] { Store::open(text); }, {text, "not an llmtune experiment store"});
  EXPECT_EQ(fs::file_size(text), 17u);  // untouched

  const std::string other = dir.file("other.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE experiments (x); INSERT INTO experiments VALUES (1)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  expect_error([&] { Store::open(other); }, {other, "not an llmtune experiment store"});
  EXPECT_FALSE(fs::exists(other + "-wal"));  // not switched to WAL either

  expect_error([&] { Store::open(dir.path()); }, {dir.path(), "directory"});

  const std::string newer = dir.file("newer.db");
  Store::open(newer);
  ASSERT_EQ(sqlite3_open(newer.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  expect_error([&] { Store::open(newer); }, {newer, "version 99"});
}

// A trial has one complete checkpoint per step: a second row would list a checkpoint twice.
TEST_F(CheckpointSort, ASecondCheckpointOfTheSameStepIsRefused) {
  const int64_t e = store->create_experiment("a", "", {}, "eval_loss", true);
  const int64_t t = store->create_trial(e, {}, "t");
  CheckpointRow c;
  c.trial_id = t;
  c.step = 4;
  const std::string first = store->add_checkpoint(c);
  expect_error([&] { store->add_checkpoint(c); }, {"already has checkpoint " + first, "step 4"});
  store->set_checkpoint_state(first, "DELETED");  // once deleted, the step may be saved again
  EXPECT_NE(store->add_checkpoint(c), first);
}

// The listing verbs open the store read-only: a mistyped path or an empty file is an error
// that names it, and nothing is created or changed.
TEST(Store, ReadOnlyOpeningNeverCreatesOrChangesAFile) {
  test::ScratchDir dir;
  const std::string missing = dir.file("typo/llmtune.db");
  expect_error([&] { Store::open(missing, Store::Access::kReadOnly); },
               {"no experiment store at " + missing});
  EXPECT_FALSE(fs::exists(dir.file("typo")));
  const std::string empty = dir.file("empty.db");
  std::ofstream(empty).close();
  expect_error([&] { Store::open(empty, Store::Access::kReadOnly); }, {empty, "is empty"});
  EXPECT_EQ(fs::file_size(empty), 0u);
  const std::string path = dir.file("llmtune.db");
  Store::open(path)->create_experiment("a", "", {}, "loss", true);
  const auto before = fs::last_write_time(path);
  auto reader = Store::open(path, Store::Access::kReadOnly);
  EXPECT_EQ(reader->experiments().size(), 1u);
  expect_error([&] { reader->create_experiment("b", "", {}, "loss", true); }, {path, "readonly"});
  EXPECT_EQ(fs::last_write_time(path), before);
}

TEST(Store, UnknownIdsNameTheIdAndTheStore) {
  test::ScratchDir dir;
  const std::string path = dir.file("llmtune.db");
  auto store = Store::open(path);
  const int64_t e = store->create_experiment("a", "", {}, "loss", true);
  const int64_t t = store->create_trial(e, {}, "d");
  expect_error([&] { store->experiment(7); }, {"no experiment 7 in " + path});
  expect_error([&] { store->set_experiment_state(7, "COMPLETED"); },
               {"no experiment 7 in " + path});
  expect_error([&] { store->trials(7); }, {"no experiment 7 in " + path});
  expect_error([&] { store->create_trial(7, {}, "d"); }, {"no experiment 7 in " + path});
  expect_error([&] { store->checkpoints(7, "loss"); }, {"no experiment 7 in " + path});
  expect_error([&] { store->trial(9); }, {"no trial 9 in " + path});
  expect_error([&] { store->set_trial_state(9, "ERROR"); }, {"no trial 9 in " + path});
  expect_error([&] { store->set_trial_progress(9, 1); }, {"no trial 9 in " + path});
  expect_error([&] { store->add_trial_restart(9); }, {"no trial 9 in " + path});
  expect_error(
      [&] {
        store->add_metrics(9, "training", 1, {{"loss", 1}});
      },
      {"no trial 9 in " + path});
  expect_error([&] { store->metrics(9); }, {"no trial 9 in " + path});
  CheckpointRow c;
  c.trial_id = 9;
  expect_error([&] { store->add_checkpoint(c); }, {"no trial 9 in " + path});
  expect_error([&] { store->set_checkpoint_state("no-such-uuid", "DELETED"); },
               {"no checkpoint no-such-uuid in " + path});
  // Nothing was half-written by the failed calls.
  EXPECT_EQ(store->trials(e).size(), 1u);
  EXPECT_TRUE(store->metrics(t).empty());
}

// A version-1 store (before trials had a rung and searcher state, and experiments an archived
// flag and a request) stays readable: a reader sees the defaults; a writer migrates it to the
// current version and keeps its rows.
TEST(Store, AVersionOneStoreIsReadAndMigrated) {
  test::ScratchDir dir;
  const std::string path = dir.file("v1.db");
  {
    auto store = Store::open(path);
    const int64_t e = store->create_experiment("old", "", {}, "eval_loss", true);
    store->create_trial(e, {{"r", 8}}, "dir");
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  for (const char* sql :
       {"ALTER TABLE experiments DROP COLUMN archived",
        "ALTER TABLE experiments DROP COLUMN request", "ALTER TABLE trials DROP COLUMN rung",
        "ALTER TABLE trials DROP COLUMN searcher_state", "PRAGMA user_version = 1"})
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
  sqlite3_close(db);

  {
    auto reader = Store::open(path, Store::Access::kReadOnly);
    const TrialRow t = reader->trials(1).at(0);
    EXPECT_EQ(t.hyperparameters, (json{{"r", 8}}));
    EXPECT_EQ(t.rung, 0);
    EXPECT_EQ(t.searcher_state, "");
    EXPECT_FALSE(reader->experiment(1).archived);
    EXPECT_EQ(reader->experiment(1).request, "");
  }
  auto writer = Store::open(path);
  writer->set_trial_searcher(1, 2, "stopped");
  EXPECT_EQ(writer->trial(1).rung, 2);
  EXPECT_EQ(writer->trial(1).searcher_state, "stopped");
  EXPECT_EQ(writer->trial(1).directory, "dir");
  writer->set_experiment_archived(1, true);
  writer->set_experiment_request(1, "pause");
  EXPECT_TRUE(writer->experiment(1).archived);
  EXPECT_EQ(writer->experiment(1).request, "pause");
  EXPECT_EQ(writer->experiment(1).name, "old");
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), 3);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

}  // namespace
}  // namespace llmtune::track
