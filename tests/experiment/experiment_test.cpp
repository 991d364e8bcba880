// The recipe's pure parts: which checkpoints a policy keeps, and the Trainer's options that a
// trial's config decides (Transformers' TrainingArguments, and a DeepSpeed config's say).
#include <gtest/gtest.h>

#include <filesystem>

#include "config/experiment.h"
#include "experiment/retention.h"
#include "experiment/trial.h"
#include "support/compare.h"

namespace llmtune::experiment {
namespace {

TEST(Retention, KeepsTheLatestAndTheBest) {
  std::vector<CheckpointScore> cs = {
      {100, true, 0.9}, {200, true, 0.5}, {300, true, 0.7}, {400, false, 0}, {500, true, 0.8}};
  EXPECT_EQ(checkpoints_to_delete(cs, 1, 1, true), (std::vector<int64_t>{100, 300, 400}));
  EXPECT_EQ(checkpoints_to_delete(cs, 1, 1, false), (std::vector<int64_t>{200, 300, 400}));
  EXPECT_EQ(checkpoints_to_delete(cs, 2, 0, true), (std::vector<int64_t>{100, 200, 300}));
  EXPECT_EQ(checkpoints_to_delete(cs, 0, 0, true), (std::vector<int64_t>{100, 200, 300, 400, 500}));
}

config::TrialConfig trial_of(const std::string& training_args, const std::string& path = "t.yaml") {
  const config::ExperimentConfig e = config::experiment_parse(
      "name: t\nhyperparameters:\n  model: m\n  dataset: d\n  training_args:\n" + training_args,
      path);
  return config::trial_config(e, config::search_points(e, 0).at(0), 1);
}

TEST(TrainerOptions, FollowTransformersTrainingArguments) {
  const train::TrainerOptions o = trainer_options(trial_of(R"(    num_train_epochs: 3
    per_device_train_batch_size: 4
    gradient_accumulation_steps: 2
    learning_rate: 2.0e-4
    lr_scheduler_type: cosine
    warmup_ratio: 0.1
    weight_decay: 0.01
    adam_beta2: 0.98
    max_grad_norm: 0.3
    logging_steps: 5
    evaluation_strategy: epoch
    save_strategy: steps
    save_steps: 7
    seed: 9
)"),
                                                  64, 100, 1);
  // 100 samples in micro-batches of 4: 25 micro-batches, 12 steps of 2 per epoch, 3 epochs.
  EXPECT_EQ(o.max_steps, 36);
  EXPECT_EQ(o.batch_size, 4);
  EXPECT_EQ(o.accumulation, 2);
  EXPECT_EQ(o.seed, 9u);
  EXPECT_EQ(o.schedule.type, "cosine");
  EXPECT_DOUBLE_EQ(o.schedule.lr, 2e-4);  // the schedule alone owns the rate
  EXPECT_EQ(o.schedule.warmup_steps, 4);  // ceil(0.1 * 36)
  EXPECT_EQ(o.schedule.total_steps, 36);
  EXPECT_DOUBLE_EQ(o.adamw.weight_decay, 0.01);
  EXPECT_DOUBLE_EQ(o.adamw.beta2, 0.98);
  EXPECT_DOUBLE_EQ(o.max_grad_norm, 0.3);
  EXPECT_EQ(o.logging_steps, 5);
  EXPECT_EQ(o.eval_steps, 12);  // "epoch"
  EXPECT_EQ(o.save_steps, 7);
  EXPECT_EQ(o.zero.stage, 0);
  EXPECT_FALSE(o.loss_scale.has_value());
  // Two ranks halve the steps of an epoch: 25 micro-batches of 4, one per rank per step.
  EXPECT_EQ(
      trainer_options(trial_of("    num_train_epochs: 1\n    per_device_train_batch_size: 4\n"), 64,
                      100, 2)
          .max_steps,
      12);
}

TEST(TrainerOptions, ADeepSpeedConfigSetsZeroScheduleAndLossScaling) {
  const std::string ds = test::shared_dir() + "/fixtures/reference-configs/ds_config_stage_3.json";
  LLMTUNE_REQUIRE_SHARED(ds);
  const train::TrainerOptions o = trainer_options(
      trial_of("    max_steps: 100\n    learning_rate: 1.0e-5\n    warmup_steps: 10\n"
               "    fp16: true\n    deepspeed: " +
               ds + "\n"),
      4096, 1000, 1);
  EXPECT_EQ(o.zero.stage, 3);
  EXPECT_EQ(o.zero.reduce_bucket_size, 4096 * 4096);  // "auto": hidden^2
  EXPECT_EQ(o.schedule.type, "WarmupDecayLR");
  EXPECT_DOUBLE_EQ(o.schedule.lr, 1e-5);
  EXPECT_EQ(o.schedule.warmup_steps, 10);
  EXPECT_EQ(o.schedule.total_steps, 100);
  ASSERT_TRUE(o.loss_scale.has_value());
  EXPECT_TRUE(o.loss_scale->dynamic);
}

}  // namespace
}  // namespace llmtune::experiment
