// The store's reads for followers (the dashboard): rows since a cursor, per experiment or
// trial, limited; lookups that answer "not there" without throwing; trial directories.
#include <gtest/gtest.h>

#include "core/error.h"
#include "support/scratch.h"
#include "track/store.h"

namespace llmtune::track {
namespace {

using nlohmann::json;

TEST(StoreRead, MetricsSinceACursorInWrittenOrder) {
  test::ScratchDir dir;
  auto store = Store::open(dir.file("llmtune.db"));
  const int64_t e1 = store->create_experiment("a", "", json::object(), "eval_loss", true);
  const int64_t e2 = store->create_experiment("b", "", json::object(), "eval_loss", true);
  const int64_t t1 = store->create_trial(e1, json::object(), "");
  const int64_t t2 = store->create_trial(e1, json::object(), "");
  const int64_t t3 = store->create_trial(e2, json::object(), "");
  store->add_metrics(t1, "training", 5, {{"loss", 1.0}});
  store->add_metrics(t2, "training", 1, {{"loss", 2.0}});
  store->add_metrics(t3, "training", 1, {{"loss", 3.0}});
  store->add_metrics(t1, "validation", 2, {{"eval_loss", 4.0}});  // an earlier step, written later
  const std::vector<MetricRow> all = store->metrics_since(e1, 0, 0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].metrics["loss"], 1.0);
  EXPECT_EQ(all[1].metrics["loss"], 2.0);
  EXPECT_EQ(all[2].metrics["eval_loss"], 4.0);
  EXPECT_LT(all[0].id, all[1].id);
  EXPECT_TRUE(store->metrics_since(e1, 0, all[2].id).empty());
  const std::vector<MetricRow> after = store->metrics_since(e1, 0, all[0].id);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].id, all[1].id);
  const std::vector<MetricRow> one = store->metrics_since(e1, t1, 0);
  ASSERT_EQ(one.size(), 2u);
  EXPECT_EQ(one[1].group, "validation");
  EXPECT_EQ(store->metrics_since(e1, 0, 0, 1).size(), 1u);
  EXPECT_TRUE(store->metrics_since(e2, t1, 0).empty());  // t1 is not e2's
  EXPECT_EQ(store->metrics(t1)[0].id, all[2].id);        // metrics() orders by step, with ids
}

TEST(StoreRead, FindAnswersNothingAndDirectoriesAreRecorded) {
  test::ScratchDir dir;
  auto store = Store::open(dir.file("llmtune.db"));
  EXPECT_FALSE(store->find_experiment(1).has_value());
  EXPECT_FALSE(store->find_trial(1).has_value());
  const int64_t e = store->create_experiment("a", "", json::object(), "eval_loss", true);
  const int64_t t = store->create_trial(e, {{"lora", true}}, "");
  EXPECT_EQ(store->find_experiment(e)->name, "a");
  store->set_trial_directory(t, "/runs/a-1/trial-1");
  EXPECT_EQ(store->find_trial(t)->directory, "/runs/a-1/trial-1");
  EXPECT_THROW(store->set_trial_directory(99, "x"), Error);
  auto reader = Store::open(dir.file("llmtune.db"), Store::Access::kReadOnly);
  EXPECT_EQ(reader->find_trial(t)->hyperparameters["lora"], true);
}

}  // namespace
}  // namespace llmtune::track
