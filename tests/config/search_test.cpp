// The search: typed hyperparameters, single, grid (Determined's points and the written key
// order) and random (Philox, reproducible by seed), and the errors of each.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "config/experiment.h"
#include "config_test_util.h"

namespace llmtune::config {
namespace {

using nlohmann::json;
using test::error_with;

ExperimentConfig parse(const std::string& searcher, const std::string& hyperparameters) {
  return experiment_parse(
      "searcher:\n" + searcher + "hyperparameters:\n  model: m\n" + hyperparameters, "s.yaml");
}

TEST(Search, SingleResolvesConstForms) {
  const ExperimentConfig e =
      parse("  name: single\n",
            "  r: {type: const, val: 4}\n  training_args:\n    max_steps: {type: const, val: 9}\n");
  const std::vector<json> points = search_points(e, 0);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0]["r"], json(4));
  EXPECT_EQ(points[0]["training_args"]["max_steps"], json(9));
  const TrialConfig t = trial_config(e, points[0], 1);
  EXPECT_EQ(t.lora_r, 4);
  EXPECT_EQ(t.training_args.max_steps, 9);
  // trial_config also takes the const forms as written.
  EXPECT_EQ(trial_config(e, e.hyperparameters, 1).lora_r, 4);
}

TEST(Search, SingleRefusesSearchedValues) {
  EXPECT_TRUE(error_with(
      [] {
        parse("  name: single\n",
              "  training_args: {max_steps: 5}\n  r:\n    type: categorical\n    vals: [8, 16]\n");
      },
      {"s.yaml:6: hyperparameters.r is categorical; a single searcher needs constants: use grid "
       "or random"}));
}

TEST(Search, GridIsTheProductInWrittenKeyOrder) {
  // r is written before lora_alpha, so r varies slowest although it sorts after it.
  const ExperimentConfig e = parse("  name: grid\n",
                                   "  r: {type: categorical, vals: [8, 16]}\n"
                                   "  lora_alpha: {type: categorical, vals: [16, 32, 64]}\n"
                                   "  training_args: {max_steps: 5}\n");
  const std::vector<json> points = search_points(e, 0);
  ASSERT_EQ(points.size(), 6u);
  std::vector<std::pair<int, int>> got;
  for (const json& p : points) got.emplace_back(p["r"].get<int>(), p["lora_alpha"].get<int>());
  EXPECT_EQ(got, (std::vector<std::pair<int, int>>{
                     {8, 16}, {8, 32}, {8, 64}, {16, 16}, {16, 32}, {16, 64}}));
  for (const json& p : points) {
    EXPECT_EQ(p["model"], json("m"));
    EXPECT_EQ(p["training_args"]["max_steps"], json(5));
    EXPECT_EQ(trial_config(e, p, 1).lora_r, p["r"].get<int>());
  }
}

TEST(Search, GridFollowsDeterminedForNumericAxes) {
  const ExperimentConfig e = parse("  name: grid\n",
                                   "  r: {type: int, minval: 1, maxval: 4, count: 3}\n"
                                   "  training_args:\n    max_steps: 5\n"
                                   "    learning_rate: {type: log, minval: -5, maxval: -3, base: "
                                   "10, count: 3}\n");
  const std::vector<json> points = search_points(e, 0);
  ASSERT_EQ(points.size(), 9u);
  // int: round(1 + i * 3 / 2) = 1, 3 (2.5 rounds away from zero), 4
  EXPECT_EQ(points[0]["r"], json(1));
  EXPECT_EQ(points[3]["r"], json(3));
  EXPECT_EQ(points[6]["r"], json(4));
  EXPECT_TRUE(points[0]["r"].is_number_integer());
  // log: 10^-5, 10^-4, 10^-3, nested under training_args
  EXPECT_DOUBLE_EQ(points[0]["training_args"]["learning_rate"].get<double>(), 1e-5);
  EXPECT_DOUBLE_EQ(points[1]["training_args"]["learning_rate"].get<double>(), 1e-4);
  EXPECT_DOUBLE_EQ(points[2]["training_args"]["learning_rate"].get<double>(), 1e-3);

  // One point is the midpoint; an int axis has at most one point per integer.
  const ExperimentConfig m = parse("  name: grid\n",
                                   "  r: {type: int, minval: 1, maxval: 4, count: 1}\n"
                                   "  lora_dropout: {type: double, minval: 0.0, maxval: 0.2, "
                                   "count: 3}\n  max_length: {type: int, minval: 10, maxval: 12, "
                                   "count: 10}\n  training_args: {max_steps: 5}\n");
  const std::vector<json> q = search_points(m, 0);
  ASSERT_EQ(q.size(), 9u);
  EXPECT_EQ(q[0]["r"], json(3));  // round(2.5)
  EXPECT_DOUBLE_EQ(q[0]["lora_dropout"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(q[3]["lora_dropout"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(q[6]["lora_dropout"].get<double>(), 0.2);
  EXPECT_EQ(q[0]["max_length"], json(10));
  EXPECT_EQ(q[1]["max_length"], json(11));
  EXPECT_EQ(q[2]["max_length"], json(12));
}

TEST(Search, GridNeedsCounts) {
  EXPECT_TRUE(error_with(
      [] {
        parse("  name: grid\n",
              "  training_args:\n    max_steps: 5\n    learning_rate: {type: double, minval: "
              "1e-5, maxval: 1e-4}\n");
      },
      {"s.yaml:7: hyperparameters.training_args.learning_rate is double without a count; a grid "
       "searcher needs count: N"}));
}

TEST(Search, RandomDrawsMaxTrialsReproduciblePoints) {
  const std::string hp =
      "  r: {type: int, minval: 1, maxval: 3}\n"
      "  lora_alpha: {type: categorical, vals: [8, 16, 32]}\n"
      "  lora_dropout: {type: double, minval: 0.0, maxval: 0.5}\n"
      "  training_args:\n    max_steps: 5\n"
      "    learning_rate: {type: log, minval: -6, maxval: -3, base: 10}\n";
  const ExperimentConfig e = parse("  name: random\n  max_trials: 200\n", hp);
  const std::vector<json> a = search_points(e, 7), b = search_points(e, 7), c = search_points(e, 8);
  ASSERT_EQ(a.size(), 200u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::set<int64_t> rs, alphas;
  for (const json& p : a) {
    const int64_t r = p["r"].get<int64_t>();
    EXPECT_TRUE(p["r"].is_number_integer());
    EXPECT_GE(r, 1);
    EXPECT_LE(r, 3);
    rs.insert(r);
    alphas.insert(p["lora_alpha"].get<int64_t>());
    const double d = p["lora_dropout"].get<double>();
    EXPECT_GE(d, 0.0);
    EXPECT_LT(d, 0.5);
    const double lr = p["training_args"]["learning_rate"].get<double>();
    EXPECT_GE(lr, 1e-6);
    EXPECT_LT(lr, 1e-3);
    EXPECT_EQ(p["training_args"]["max_steps"], json(5));
    EXPECT_EQ(p.size(), e.hyperparameters.size());  // the same shape, concrete
    EXPECT_FALSE(p["r"].is_object());
    trial_config(e, p, 1);
  }
  EXPECT_EQ(rs, (std::set<int64_t>{1, 2, 3}));  // both ends are drawn
  EXPECT_EQ(alphas, (std::set<int64_t>{8, 16, 32}));
}

TEST(Search, TypedFormErrors) {
  auto hp = [](const std::string& h) {
    return [h] { parse("  name: grid\n", "  training_args: {max_steps: 5}\n" + h); };
  };
  EXPECT_TRUE(error_with(hp("  r: {type: catgorical, vals: [8]}\n"),
                         {"s.yaml:6: hyperparameters.r.type: unknown hyperparameter type "
                          "'catgorical'",
                          "did you mean 'categorical'?"}));
  EXPECT_TRUE(error_with(hp("  r: {type: categorical, valz: [8]}\n"),
                         {"unknown key 'hyperparameters.r.valz'", "did you mean 'vals'?"}));
  EXPECT_TRUE(error_with(hp("  r: {type: categorical}\n"),
                         {"hyperparameters.r: a categorical hyperparameter needs 'vals'"}));
  EXPECT_TRUE(error_with(hp("  r: {type: categorical, vals: []}\n"),
                         {"hyperparameters.r.vals: expected a non-empty list"}));
  EXPECT_TRUE(error_with(hp("  r: {type: int, minval: 8, maxval: 8, count: 1}\n"),
                         {"minval (8) must be less than maxval (8)"}));
  EXPECT_TRUE(error_with(hp("  r: {type: int, minval: 1.5, maxval: 8, count: 1}\n"),
                         {"hyperparameters.r.minval: expected an integer"}));
  EXPECT_TRUE(error_with(hp("  r: {type: int, minval: 1, maxval: 8, count: 0}\n"),
                         {"hyperparameters.r.count: must be >= 1"}));
  EXPECT_TRUE(error_with(hp("  lora_alpha: {type: log, minval: 1, maxval: 2, count: 2}\n"),
                         {"a log hyperparameter needs 'base'"}));
  // Every value a search can give is checked before any trial runs.
  EXPECT_TRUE(error_with(hp("  r: {type: categorical, vals: [8, sixteen]}\n"),
                         {"s.yaml:6: hyperparameters.r.vals[1]: expected an integer, got the "
                          "string \"sixteen\""}));
  EXPECT_TRUE(error_with(hp("  r: {type: double, minval: 1, maxval: 8, count: 2}\n"),
                         {"hyperparameters.r: expected an integer"}));
  EXPECT_TRUE(error_with(hp("  lora_dropout: {type: double, minval: 0, maxval: 2, count: 2}\n"),
                         {"hyperparameters.lora_dropout.maxval: must be in [0, 1), got 2"}));
  EXPECT_TRUE(error_with(hp("  dataset_subset: {type: categorical, vals: [easy, hardest]}\n"),
                         {"'hardest' is not one of easy, medium, hard, all"}));
}

TEST(Search, TrainingArgsMayBeACategoricalOfMaps) {
  const ExperimentConfig e = parse("  name: grid\n",
                                   "  training_args:\n    type: categorical\n    vals:\n"
                                   "      - {max_steps: 5, learning_rate: 1e-4}\n"
                                   "      - {max_steps: 7, learning_rate: 1e-5}\n");
  const std::vector<json> points = search_points(e, 0);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(trial_config(e, points[1], 1).training_args.max_steps, 7);
  EXPECT_TRUE(error_with(
      [] {
        parse("  name: grid\n",
              "  training_args:\n    type: categorical\n    vals:\n      - {max_step: 5}\n");
      },
      {"unknown key 'hyperparameters.training_args.vals[0].max_step'", "'max_steps'"}));
}

TEST(Search, TrialConfigRefusesAPointThatIsNotConcrete) {
  const ExperimentConfig e = parse("  name: grid\n",
                                   "  training_args: {max_steps: 5}\n"
                                   "  r: {type: categorical, vals: [8, 16]}\n");
  EXPECT_TRUE(error_with([&] { trial_config(e, e.hyperparameters, 1); },
                         {"hyperparameters.r is \"categorical\"", "search_points"}));
  EXPECT_TRUE(error_with(
      [&] {
        trial_config(e, json::object({{"model", "m"}, {"rr", 4}}), 1);
      },
      {"unknown key 'hyperparameters.rr'", "did you mean 'r'?"}));
  EXPECT_TRUE(error_with(
      [&] {
        trial_config(e, json::object({{"r", 4}}), 1);
      },
      {"'model' is required"}));
}

}  // namespace
}  // namespace llmtune::config
