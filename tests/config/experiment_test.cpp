// Experiment files: the reference lora.yaml and deepspeed.yaml unchanged, defaults, notices for
// cluster-only keys, --set overrides, and the errors a user's bad file gets.
#include "config/experiment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "config_test_util.h"

namespace llmtune::config {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::error_with;
using test::ScratchDir;
using test::write_file;

const std::string kMinimal = R"(name: t
hyperparameters:
  model: models/m
  training_args:
    max_steps: 10
)";

bool has_notice(const ExperimentConfig& e, const std::string& part) {
  return std::any_of(e.notices.begin(), e.notices.end(),
                     [&](const std::string& n) { return n.find(part) != std::string::npos; });
}

// Parses, then builds the trial of the single point.
TrialConfig trial_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  const ExperimentConfig e = experiment_parse(yaml, "t.yaml", overrides);
  return trial_config(e, search_points(e, 0).at(0), e.slots_per_trial);
}

TEST(Experiment, ReferenceLoraYamlLoadsUnchanged) {
  const std::string path = test::reference_configs() + "/lora.yaml";
  LLMTUNE_REQUIRE_SHARED(path);
  const ExperimentConfig e = experiment_load(path);
  EXPECT_EQ(e.path, path);
  EXPECT_EQ(e.name, "mistral lora easy");
  EXPECT_EQ(e.slots_per_trial, 2);
  EXPECT_EQ(e.max_restarts, 0);
  EXPECT_EQ(e.searcher.name, "single");
  EXPECT_EQ(e.searcher.max_length.value, 5000);
  EXPECT_EQ(e.searcher.metric, "eval_accuracy");
  EXPECT_FALSE(e.searcher.smaller_is_better);
  EXPECT_TRUE(has_notice(e, "environment: only meaningful on a Determined cluster; ignored"));
  EXPECT_TRUE(has_notice(e, "entrypoint: only meaningful"));
  EXPECT_TRUE(has_notice(e, "debug: only meaningful"));
  EXPECT_TRUE(has_notice(e, "hyperparameters.dataset is not set"));  // the blog downloads it
  EXPECT_EQ(e.notices.size(), 4u);
  EXPECT_EQ(e.raw["entrypoint"],
            json("python -m determined.launch.torch_distributed python finetune.py"));

  const std::vector<json> points = search_points(e, 0);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0], e.hyperparameters);
  const TrialConfig t = trial_config(e, points[0], 2);
  EXPECT_EQ(t.model, "mistralai/Mistral-7B-Instruct-v0.2");
  EXPECT_EQ(t.tokenizer, t.model);
  EXPECT_EQ(t.dataset, "synthetic");
  EXPECT_EQ(t.dataset_subset, "easy");
  EXPECT_TRUE(t.lora);
  EXPECT_EQ(t.lora_r, 8);
  EXPECT_EQ(t.lora_alpha, 32);
  EXPECT_DOUBLE_EQ(t.lora_dropout, 0.1);
  EXPECT_TRUE(t.lora_target_modules.empty());
  const TrainingArgs& a = t.training_args;
  EXPECT_EQ(a.output_dir, "/tmp/llm_finetuning");
  EXPECT_EQ(a.max_steps, 5000);
  EXPECT_EQ(a.per_device_train_batch_size, 8);
  EXPECT_EQ(a.per_device_eval_batch_size, 4);
  EXPECT_TRUE(a.bf16);
  EXPECT_FALSE(a.fp16);
  EXPECT_EQ(a.evaluation_strategy, "steps");
  EXPECT_EQ(a.eval_steps, 1000);
  EXPECT_EQ(a.logging_steps, 100);
  EXPECT_EQ(a.save_steps, 1000);
  EXPECT_DOUBLE_EQ(a.learning_rate, 1e-5);
  EXPECT_EQ(a.lr_scheduler_type, "linear");
  EXPECT_DOUBLE_EQ(a.max_grad_norm, 1.0);
  EXPECT_EQ(a.seed, 42);
  EXPECT_FALSE(t.deepspeed.has_value());
}

TEST(Experiment, ReferenceDeepspeedYamlResolvesItsStage3Config) {
  const std::string ref = test::reference_configs();
  LLMTUNE_REQUIRE_SHARED(ref + "/deepspeed.yaml");
  // The reference repository keeps ds_configs/ next to the experiment file.
  ScratchDir dir;
  fs::copy_file(ref + "/deepspeed.yaml", dir.file("deepspeed.yaml"));
  fs::create_directories(dir.root() / "ds_configs");
  fs::copy_file(ref + "/ds_config_stage_3.json", dir.root() / "ds_configs/ds_config_stage_3.json");

  const ExperimentConfig e = experiment_load(dir.file("deepspeed.yaml"));
  EXPECT_EQ(e.name, "mistral deepspeed easy");
  EXPECT_EQ(e.slots_per_trial, 2);
  TrialConfig t = trial_config(e, search_points(e, 0).at(0), e.slots_per_trial);
  EXPECT_FALSE(t.lora);
  ASSERT_TRUE(t.deepspeed.has_value());
  DeepSpeedConfig& ds = *t.deepspeed;
  EXPECT_EQ(ds.path, (dir.root() / "ds_configs/ds_config_stage_3.json").string());
  EXPECT_EQ(ds.zero_stage, 3);
  EXPECT_TRUE(ds.bf16);
  EXPECT_FALSE(ds.fp16);
  EXPECT_EQ(ds.train_micro_batch_size_per_gpu, 2);
  EXPECT_EQ(ds.gradient_accumulation_steps, 1);
  EXPECT_EQ(ds.train_batch_size, 4);  // 2 slots x 2 micro x 1
  EXPECT_DOUBLE_EQ(ds.gradient_clipping, 1.0);
  EXPECT_EQ(ds.optimizer_type, "AdamW");
  EXPECT_DOUBLE_EQ(ds.lr, 1e-5);
  EXPECT_EQ(ds.scheduler_type, "WarmupDecayLR");
  EXPECT_DOUBLE_EQ(ds.warmup_max_lr, 1e-5);
  EXPECT_EQ(ds.warmup_num_steps, 0);
  EXPECT_EQ(ds.warmup_type, "log");
  deepspeed_finalize(ds, t.training_args, 4096, t.training_args.max_steps);
  EXPECT_EQ(ds.total_num_steps, 5000);
  EXPECT_DOUBLE_EQ(ds.reduce_bucket_size, 16777216);
  EXPECT_DOUBLE_EQ(ds.stage3_prefetch_bucket_size, 15099494.4);
  EXPECT_DOUBLE_EQ(ds.stage3_param_persistence_threshold, 40960);
  EXPECT_EQ(ds.resolved["train_batch_size"], json(4));
  EXPECT_EQ(ds.resolved["scheduler"]["params"]["total_num_steps"], json(5000));
  EXPECT_EQ(ds.resolved.dump().find("auto"), std::string::npos);
}

TEST(Experiment, DefaultsFollowDeterminedAndTransformers) {
  const ExperimentConfig e = experiment_parse(kMinimal, "t.yaml");
  EXPECT_EQ(e.searcher.name, "single");
  EXPECT_EQ(e.searcher.metric, "eval_loss");
  EXPECT_TRUE(e.searcher.smaller_is_better);
  EXPECT_EQ(e.searcher.max_concurrent_trials, 16);
  EXPECT_EQ(e.max_restarts, 5);
  EXPECT_EQ(e.slots_per_trial, 1);
  EXPECT_EQ(e.checkpoint_storage.type, "shared_fs");
  EXPECT_EQ(e.checkpoint_storage.save_trial_best, 1);
  ASSERT_EQ(e.notices.size(), 1u);  // no dataset: the built-in synthetic set, said so
  EXPECT_TRUE(has_notice(e, "hyperparameters.dataset is not set"));
  const TrialConfig t = trial_of(kMinimal);
  EXPECT_EQ(t.dataset, "synthetic");
  EXPECT_EQ(t.dataset_subset, "all");
  EXPECT_EQ(t.max_length, 2048);
  EXPECT_FALSE(t.lora);
  EXPECT_EQ(t.training_args.per_device_train_batch_size, 8);
  EXPECT_DOUBLE_EQ(t.training_args.learning_rate, 5e-5);
}

TEST(Experiment, ReadsEveryHyperparameterAndAliases) {
  const TrialConfig t = trial_of(R"(
hyperparameters:
  model: m
  tokenizer: tok
  dataset: data/d
  dataset_subset: hard
  chat_template: chatml
  max_length: 1024
  lora: true
  r: 16
  lora_alpha: 16
  lora_dropout: 0.05
  target_modules: [q_proj, k_proj, v_proj]
  training_args:
    num_train_epochs: 2
    eval_strategy: epoch
    gradient_accumulation_steps: 4
    lr_scheduler_type: cosine
    warmup_ratio: 0.1
    weight_decay: 0.01
    adam_beta2: 0.95
    save_total_limit: null
    gradient_checkpointing: true
    optim: adamw_torch
)");
  EXPECT_EQ(t.tokenizer, "tok");
  EXPECT_EQ(t.dataset, "data/d");
  EXPECT_EQ(t.dataset_subset, "hard");
  EXPECT_EQ(t.chat_template, "chatml");
  EXPECT_EQ(t.max_length, 1024);
  EXPECT_EQ(t.lora_r, 16);
  EXPECT_DOUBLE_EQ(t.lora_dropout, 0.05);
  EXPECT_EQ(t.lora_target_modules, (std::vector<std::string>{"q_proj", "k_proj", "v_proj"}));
  const TrainingArgs& a = t.training_args;
  EXPECT_EQ(a.max_steps, -1);
  EXPECT_DOUBLE_EQ(a.num_train_epochs, 2);
  EXPECT_EQ(a.evaluation_strategy, "epoch");
  EXPECT_EQ(a.gradient_accumulation_steps, 4);
  EXPECT_EQ(a.lr_scheduler_type, "cosine");
  EXPECT_DOUBLE_EQ(a.adam_beta2, 0.95);
  EXPECT_EQ(a.save_total_limit, 0);
  EXPECT_TRUE(a.gradient_checkpointing);
  EXPECT_EQ(a.warmup_steps_for(1000), 100);
  EXPECT_EQ(a.warmup_steps_for(1001), 101);  // ceil
}

TEST(Experiment, AnUnknownLoraTargetModuleNamesItsLine) {
  EXPECT_TRUE(error_with(
      [] { trial_of(kMinimal + "  lora: true\n  lora_target_modules: [q_proj, vproj]\n"); },
      {"t.yaml:7", "lora_target_modules[1]", "'vproj'", "did you mean 'v_proj'?"}));
  EXPECT_TRUE(error_with([] { trial_of(kMinimal + "  target_modules: qkv\n"); },
                         {"t.yaml:6", "target_modules", "'qkv'", "all-linear"}));
  EXPECT_EQ(trial_of(kMinimal + "  target_modules: all-linear\n").lora_target_modules,
            std::vector<std::string>{"all-linear"});
}

TEST(Experiment, MetricsEpsilonsAndSearchValuesOutOfRangeAreErrors) {
  EXPECT_TRUE(error_with(
      [] {
        experiment_parse(kMinimal + "searcher:\n  name: single\n  metric: eval_los\n", "t.yaml");
      },
      {"t.yaml:8", "searcher.metric", "'eval_los' is not a metric", "did you mean 'eval_loss'?"}));
  EXPECT_TRUE(error_with([] { trial_of(kMinimal + "    adam_epsilon: 0\n"); },
                         {"t.yaml:6", "adam_epsilon", "must be > 0"}));
  // 10^400 is past any double: a log search value that overflows is refused, not stored as null.
  EXPECT_TRUE(error_with(
      [] {
        experiment_parse(kMinimal +
                             "  lora_alpha:\n    type: log\n    minval: 1\n    maxval: "
                             "400\n    base: 10\n",
                         "t.yaml");
      },
      {"hyperparameters.lora_alpha.maxval", "finite number"}));
}

TEST(Experiment, AMissingDatasetGetsANotice) {
  EXPECT_TRUE(
      has_notice(experiment_parse(kMinimal, "t.yaml"), "hyperparameters.dataset is not set"));
  EXPECT_FALSE(has_notice(experiment_parse(kMinimal + "  dataset: data/x\n", "t.yaml"),
                          "hyperparameters.dataset"));
}

TEST(Experiment, WarmupStepsWinOverTheRatio) {
  TrainingArgs a;
  a.warmup_ratio = 0.5;
  EXPECT_EQ(a.warmup_steps_for(10), 5);
  a.warmup_steps = 3;
  EXPECT_EQ(a.warmup_steps_for(10), 3);
}

TEST(Experiment, ClusterOnlyKeysAndIgnoredTrainingArgumentsGetNotices) {
  const ExperimentConfig e = experiment_parse(R"(
workspace: w
project: p
labels: [a]
bind_mounts: []
resources:
  slots_per_trial: 1
  resource_pool: gpu
  priority: 10
searcher:
  name: single
  source_trial_id: 3
hyperparameters:
  model: m
  training_args:
    max_steps: 5
    report_to: tensorboard
    push_to_hub: false
    remove_unused_columns: false
checkpoint_policy: best
reproducibility:
  experiment_seed: 7
min_validation_period:
  batches: 100
)",
                                              "t.yaml");
  EXPECT_TRUE(has_notice(e, "workspace: only meaningful"));
  EXPECT_TRUE(has_notice(e, "labels: only meaningful"));
  EXPECT_TRUE(has_notice(e, "resources.resource_pool: only meaningful"));
  EXPECT_TRUE(has_notice(e, "resources.priority: only meaningful"));
  EXPECT_TRUE(has_notice(e, "searcher.source_trial_id"));
  EXPECT_TRUE(has_notice(e, "hyperparameters.training_args.report_to: has no effect"));
  EXPECT_TRUE(has_notice(e, "hyperparameters.training_args.push_to_hub"));
  EXPECT_TRUE(has_notice(e, "hyperparameters.dataset is not set"));
  EXPECT_EQ(e.notices.size(), 11u);
}

TEST(Experiment, SearcherLengthFillsOrIsComparedWithMaxSteps) {
  const std::string yaml = R"(
searcher:
  name: single
  max_length: 300
hyperparameters:
  model: m
  training_args: {per_device_train_batch_size: 2}
)";
  EXPECT_EQ(trial_of(yaml).training_args.max_steps, 300);
  const ExperimentConfig e =
      experiment_parse(yaml, "t.yaml", {"hyperparameters.training_args.max_steps=200"});
  EXPECT_TRUE(has_notice(e,
                         "searcher.max_length (300 batches) differs from "
                         "hyperparameters.training_args.max_steps (200)"));
  EXPECT_EQ(trial_config(e, e.hyperparameters, 1).training_args.max_steps, 200);
}

TEST(Experiment, CheckpointStorageIsRead) {
  const ExperimentConfig e = experiment_parse(kMinimal + R"(
checkpoint_storage:
  type: shared_fs
  host_path: /data/ckpt
  storage_path: runs
  save_trial_best: 2
  save_trial_latest: 0
)",
                                              "t.yaml");
  EXPECT_EQ(e.checkpoint_storage.host_path, "/data/ckpt");
  EXPECT_EQ(e.checkpoint_storage.storage_path, "runs");
  EXPECT_EQ(e.checkpoint_storage.save_trial_best, 2);
  EXPECT_EQ(e.checkpoint_storage.save_trial_latest, 0);
  const ExperimentConfig d = experiment_parse(
      kMinimal + "checkpoint_storage:\n  type: directory\n  container_path: /x\n", "t.yaml");
  EXPECT_EQ(d.checkpoint_storage.host_path, "/x");
  EXPECT_TRUE(
      error_with([] { experiment_parse(kMinimal + "checkpoint_storage:\n  type: s3\n", "t.yaml"); },
                 {"t.yaml:7: checkpoint_storage.type: 's3' is not supported"}));
}

TEST(Experiment, TheRawConfigParsesBackAsJson) {
  // The CLI stores `raw` as JSON and reads it back through experiment_parse (JSON is YAML).
  const std::string yaml = R"(name: rt
searcher: {name: grid, max_length: {batches: 10}}
hyperparameters:
  model: m
  r: {type: categorical, vals: [8, 16]}
  training_args: {learning_rate: 1e-5, max_steps: 10, output_dir: "a \"quoted\" dir"}
environment: {image: x}
)";
  const ExperimentConfig e = experiment_parse(yaml, "t.yaml", {"hyperparameters.lora=true"});
  const ExperimentConfig back = experiment_parse(e.raw.dump(), "t.yaml");
  EXPECT_EQ(back.raw, e.raw);
  EXPECT_EQ(back.hyperparameters, e.hyperparameters);
  EXPECT_EQ(search_points(back, 0), search_points(e, 0));
  EXPECT_EQ(back.notices, e.notices);
  EXPECT_EQ(trial_config(back, search_points(back, 0)[1], 1).training_args.output_dir,
            "a \"quoted\" dir");
}

// ---- --set overrides ----

TEST(Override, ValuesAreTypedAsYaml) {
  const ExperimentConfig e =
      experiment_parse(kMinimal, "t.yaml",
                       {"hyperparameters.lora=true", "hyperparameters.r=16",
                        "hyperparameters.training_args.learning_rate=1e-4",
                        "hyperparameters.lora_target_modules=[q_proj, o_proj]", "name=x y",
                        "hyperparameters.dataset_subset='easy'"});
  EXPECT_EQ(e.name, "x y");
  EXPECT_EQ(e.raw["hyperparameters"]["lora"], json(true));
  const TrialConfig t = trial_config(e, e.hyperparameters, 1);
  EXPECT_TRUE(t.lora);
  EXPECT_EQ(t.lora_r, 16);
  EXPECT_DOUBLE_EQ(t.training_args.learning_rate, 1e-4);
  EXPECT_EQ(t.lora_target_modules, (std::vector<std::string>{"q_proj", "o_proj"}));
  EXPECT_EQ(t.dataset_subset, "easy");
  // A later override wins; false turns LoRA off again.
  EXPECT_FALSE(
      trial_of(kMinimal, {"hyperparameters.lora=true", "hyperparameters.lora=false"}).lora);
}

TEST(Override, CreatesMissingParents) {
  const ExperimentConfig e = experiment_parse(
      kMinimal, "t.yaml", {"checkpoint_storage.host_path=/tmp/c", "resources.slots_per_trial=4"});
  EXPECT_EQ(e.checkpoint_storage.host_path, "/tmp/c");
  EXPECT_EQ(e.slots_per_trial, 4);
  const ExperimentConfig f = experiment_parse("name: x\n", "t.yaml", {"hyperparameters.model=m"});
  EXPECT_EQ(f.hyperparameters["model"], json("m"));
}

TEST(Override, MisspelledKeyGetsTheSameSuggestionAndSaysItCameFromSet) {
  EXPECT_TRUE(error_with(
      [] {
        experiment_parse(kMinimal, "t.yaml", {"hyperparameters.training_args.learning_rat=1e-4"});
      },
      {"unknown key 'hyperparameters.training_args.learning_rat' in --set "
       "hyperparameters.training_args.learning_rat=1e-4; did you mean 'learning_rate'?"}));
  EXPECT_TRUE(error_with([] { experiment_parse(kMinimal, "t.yaml", {"sercher.name=grid"}); },
                         {"unknown key 'sercher' in --set sercher.name=grid", "'searcher'"}));
  EXPECT_TRUE(
      error_with([] { experiment_parse(kMinimal, "t.yaml", {"hyperparameters.r=sixteen"}); },
                 {"--set hyperparameters.r=sixteen: hyperparameters.r: expected an integer"}));
}

TEST(Override, BadSyntaxIsAnError) {
  auto set = [](const std::string& o) {
    return [o] { experiment_parse(kMinimal, "t.yaml", {o}); };
  };
  EXPECT_TRUE(error_with(set("hyperparameters.lora"),
                         {"bad --set hyperparameters.lora", "expected key.path=value"}));
  EXPECT_TRUE(error_with(set("=5"), {"bad --set =5", "expected key.path=value"}));
  EXPECT_TRUE(error_with(set("a..b=1"), {"bad --set a..b=1", "not a dotted key path"}));
  EXPECT_TRUE(error_with(set("hyperparameters.r=[8, 16"), {"bad --set", "invalid YAML"}));
  EXPECT_TRUE(error_with(set("name.first=x"), {"bad --set name.first=x", "'name' is the string"}));
}

TEST(Override, KeepsTheWrittenPlaceOfTheKey) {
  const ExperimentConfig e =
      experiment_parse("hyperparameters:\n  model: m\n  r: 8\n  lora_alpha: 16\n", "t.yaml",
                       {"hyperparameters.r=32", "hyperparameters.lora_dropout=0.2"});
  std::vector<std::string> keys;
  for (const KeyOrigin& k : e.keys) keys.push_back(k.key + "@" + k.origin);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "hyperparameters@t.yaml:1", "hyperparameters.model@t.yaml:2",
                      "hyperparameters.r@--set hyperparameters.r=32",
                      "hyperparameters.lora_alpha@t.yaml:4",
                      "hyperparameters.lora_dropout@--set hyperparameters.lora_dropout=0.2"}));
}

// ---- errors ----

TEST(ExperimentErrors, UnknownTopLevelKeyNamesFileLineAndClosestKey) {
  EXPECT_TRUE(
      error_with([] { experiment_parse(kMinimal + "serarcher:\n  name: single\n", "exp.yaml"); },
                 {"unknown key 'serarcher' in exp.yaml:6; did you mean 'searcher'?"}));
  EXPECT_TRUE(
      error_with([] { experiment_parse(kMinimal + "max_restart: 0\n", "exp.yaml"); },
                 {"unknown key 'max_restart' in exp.yaml:6; did you mean 'max_restarts'?"}));
  // A hyperparameter written at the top level points to where it belongs.
  EXPECT_TRUE(
      error_with([] { experiment_parse("model: m\n", "exp.yaml"); },
                 {"unknown key 'model' in exp.yaml:1; did you mean 'hyperparameters.model'?"}));
  EXPECT_TRUE(error_with([] { experiment_parse("zzzz: 1\n", "exp.yaml"); },
                         {"unknown key 'zzzz' in exp.yaml:1"}));
}

TEST(ExperimentErrors, UnknownKeysInEverySection) {
  auto parse = [](const std::string& y) { return [y] { experiment_parse(y, "e.yaml"); }; };
  EXPECT_TRUE(error_with(parse(R"(hyperparameters:
  model: m
  training_args:
    max_steps: 5
    learning_rat: 1e-5
)"),
                         {"unknown key 'hyperparameters.training_args.learning_rat' in e.yaml:5; "
                          "did you mean 'learning_rate'?"}));
  EXPECT_TRUE(error_with(parse("hyperparameters:\n  model: m\n  lora_alpah: 16\n"),
                         {"unknown key 'hyperparameters.lora_alpah' in e.yaml:3; did you mean "
                          "'lora_alpha'?"}));
  EXPECT_TRUE(error_with(parse("hyperparameters:\n  model: m\n  learning_rate: 1e-5\n"),
                         {"unknown key 'hyperparameters.learning_rate' in e.yaml:3; did you mean "
                          "'hyperparameters.training_args.learning_rate'?"}));
  EXPECT_TRUE(error_with(
      parse(kMinimal + "resources:\n  slots_per_trail: 2\n"),
      {"unknown key 'resources.slots_per_trail' in e.yaml:7; did you mean 'slots_per_trial'?"}));
  EXPECT_TRUE(error_with(parse(kMinimal + "searcher:\n  name: single\n  metirc: eval_loss\n"),
                         {"unknown key 'searcher.metirc' in e.yaml:8; did you mean 'metric'?"}));
  EXPECT_TRUE(error_with(parse(kMinimal + "checkpoint_storage:\n  hostpath: /x\n"),
                         {"'checkpoint_storage.hostpath' in e.yaml:7; did you mean 'host_path'?"}));
  EXPECT_TRUE(error_with(parse("hyperparameters:\n  model: m\n  training_args:\n    "
                               "lora_alpha: 16\n"),
                         {"did you mean 'hyperparameters.lora_alpha'?"}));
}

TEST(ExperimentErrors, WrongTypesNameTheLine) {
  auto parse = [](const std::string& y) { return [y] { experiment_parse(y, "e.yaml"); }; };
  EXPECT_TRUE(error_with(
      parse("hyperparameters:\n  model: m\n  training_args:\n    max_steps: many\n"),
      {"e.yaml:4: hyperparameters.training_args.max_steps: expected an integer, got the string "
       "\"many\""}));
  EXPECT_TRUE(error_with(
      parse("hyperparameters:\n  model: m\n  training_args:\n    learning_rate: \"1e-5\"\n"),
      {"e.yaml:4: hyperparameters.training_args.learning_rate: expected a number",
       "remove the quotes"}));
  EXPECT_TRUE(error_with(parse("hyperparameters:\n  model: m\n  lora: yes\n"),
                         {"e.yaml:3: hyperparameters.lora: expected true or false"}));
  EXPECT_TRUE(error_with(parse("hyperparameters:\n  model: m\n  r: 8.5\n"),
                         {"e.yaml:3: hyperparameters.r: expected an integer, got 8.5"}));
  EXPECT_TRUE(error_with(parse("name: [a]\nhyperparameters: {model: m}\n"),
                         {"e.yaml:1: name: expected a string, got a list"}));
  EXPECT_TRUE(
      error_with(parse("hyperparameters: 5\n"), {"e.yaml:1: hyperparameters: expected a map"}));
  EXPECT_TRUE(error_with(parse("- a\n- b\n"), {"e.yaml:1: an experiment config is a map"}));
  EXPECT_TRUE(error_with(parse("hyperparameters:\n  model: m\n  lora_target_modules: 5\n"),
                         {"hyperparameters.lora_target_modules: expected a list"}));
}

TEST(ExperimentErrors, BadValues) {
  auto parse = [](const std::string& hp) {
    return [hp] { experiment_parse("hyperparameters:\n  model: m\n" + hp, "e.yaml"); };
  };
  EXPECT_TRUE(error_with(parse("  dataset_subset: tiny\n"),
                         {"e.yaml:3: hyperparameters.dataset_subset: 'tiny' is not one of easy, "
                          "medium, hard, all"}));
  EXPECT_TRUE(error_with(parse("  training_args:\n    per_device_train_batch_size: 0\n"),
                         {"per_device_train_batch_size: must be >= 1, got 0"}));
  EXPECT_TRUE(error_with(parse("  training_args:\n    learning_rate: 0\n"),
                         {"learning_rate: must be > 0"}));
  EXPECT_TRUE(error_with(parse("  training_args:\n    lr_scheduler_type: polynomial\n"),
                         {"'polynomial' is not one of linear, cosine, constant, "
                          "constant_with_warmup"}));
  EXPECT_TRUE(error_with(parse("  training_args:\n    evaluation_strategy: always\n"),
                         {"evaluation_strategy: 'always' is not one of no, steps, epoch"}));
  EXPECT_TRUE(error_with(parse("  training_args:\n    save_strategy: sometimes\n"),
                         {"save_strategy: 'sometimes' is not one of"}));
  EXPECT_TRUE(error_with(parse("  lora_dropout: 1.5\n"), {"lora_dropout: must be in [0, 1)"}));
  EXPECT_TRUE(
      error_with(parse("  training_args:\n    optim: sgd\n"),
                 {"e.yaml:4: hyperparameters.training_args.optim: 'sgd' is not supported"}));
  EXPECT_TRUE(error_with(parse("  model: ''\n"), {"duplicate key 'hyperparameters.model'"}));
  EXPECT_TRUE(error_with([] { experiment_parse("hyperparameters:\n  model: ''\n", "e.yaml"); },
                         {"hyperparameters.model: must not be empty"}));
  EXPECT_TRUE(error_with([] { experiment_parse("name: x\n", "e.yaml"); },
                         {"e.yaml: 'hyperparameters' is required"}));
  EXPECT_TRUE(error_with([] { experiment_parse("hyperparameters:\n  r: 8\n", "e.yaml"); },
                         {"hyperparameters: 'model' is required"}));
}

TEST(ExperimentErrors, ConflictsAreFoundWhenTheTrialIsBuilt) {
  EXPECT_TRUE(error_with(
      [] {
        trial_of(
            "hyperparameters:\n  model: m\n  training_args:\n    max_steps: 5\n    bf16: "
            "true\n    fp16: true\n");
      },
      {"t.yaml:6: hyperparameters.training_args.fp16: bf16 and fp16 are both true"}));
  EXPECT_TRUE(error_with(
      [] { trial_of("hyperparameters:\n  model: m\n  training_args:\n    num_train_epochs: 0\n"); },
      {"hyperparameters.training_args: no training length"}));
  EXPECT_TRUE(error_with(
      [] {
        experiment_parse(
            "hyperparameters:\n  model: m\n  training_args:\n    eval_strategy: "
            "steps\n    evaluation_strategy: steps\n",
            "e.yaml");
      },
      {"eval_strategy and evaluation_strategy are the same setting"}));
  EXPECT_TRUE(error_with(
      [] {
        experiment_parse(
            "hyperparameters:\n  model: m\n  r: 8\n  target_modules: [a]\n  "
            "lora_target_modules: [b]\n",
            "e.yaml");
      },
      {"target_modules and lora_target_modules are the same setting"}));
  EXPECT_TRUE(error_with(
      [] {
        trial_of(
            "hyperparameters:\n  model: m\n  training_args:\n    max_steps: 5\n    "
            "save_steps: 0\n");
      },
      {"save_steps: must be > 0 when save_strategy is steps"}));
}

TEST(ExperimentErrors, SearcherProblems) {
  auto parse = [](const std::string& s) {
    return [s] { experiment_parse(kMinimal + "searcher:\n" + s, "e.yaml"); };
  };
  EXPECT_TRUE(error_with(parse("  name: pbt\n  max_trials: 4\n"),
                         {"e.yaml:7: searcher.name: pbt is not supported; use adaptive_asha, grid "
                          "or random"}));
  EXPECT_TRUE(error_with(parse("  name: adaptive_asha\n  max_trials: 4\n  mode: standard\n"),
                         {"'max_length' is required for adaptive_asha"}));
  const std::string asha = "  name: adaptive_asha\n  max_trials: 4\n  max_length: {batches: 8}\n";
  EXPECT_TRUE(error_with(parse("  name: adaptive_asha\n  max_length: {batches: 8}\n"),
                         {"'max_trials' is required for the adaptive_asha searcher"}));
  EXPECT_TRUE(error_with(parse(asha + "  mode: bold\n"),
                         {"e.yaml:10: searcher.mode", "'bold' is not one of aggressive"}));
  EXPECT_TRUE(error_with(parse(asha + "  divisor: 1\n"), {"searcher.divisor: must be >= 2"}));
  EXPECT_TRUE(error_with(parse(asha + "  max_rungs: 0\n"), {"searcher.max_rungs: must be >= 1"}));
  EXPECT_TRUE(error_with(parse(asha + "  stop_once: often\n"),
                         {"searcher.stop_once: expected true or false"}));
  EXPECT_TRUE(error_with(parse(asha + "  bracket_rungs: [3, 2]\n"),
                         {"searcher.bracket_rungs", "not supported"}));
  EXPECT_TRUE(error_with(parse("  name: random\n  max_trials: 2\n  divisor: 3\n"),
                         {"searcher.divisor: applies to the adaptive_asha searcher only"}));
  EXPECT_TRUE(error_with(parse("  name: gird\n"), {"unknown searcher 'gird'", "'grid'"}));
  EXPECT_TRUE(error_with(parse("  metric: eval_loss\n"), {"searcher: 'name' is required"}));
  EXPECT_TRUE(
      error_with(parse("  name: random\n"), {"'max_trials' is required for the random searcher"}));
  EXPECT_TRUE(error_with(parse("  name: single\n  max_length:\n    epochs: 1\n"),
                         {"e.yaml:9: searcher.max_length.epochs: a length in epochs needs "
                          "records_per_epoch"}));
  EXPECT_TRUE(error_with(parse("  name: single\n  max_length: {records: 10, batches: 2}\n"),
                         {"searcher.max_length: expected one unit"}));
  EXPECT_TRUE(error_with(parse("  name: single\n  max_length: {records: 0}\n"),
                         {"searcher.max_length: must be >= 1 records"}));
  EXPECT_TRUE(error_with([] { experiment_parse(kMinimal + "records_per_epoch: 0\n", "e.yaml"); },
                         {"records_per_epoch: must be >= 1"}));
  EXPECT_TRUE(error_with(parse("  name: single\n  max_length:\n    batchs: 100\n"),
                         {"did you mean 'batches'?"}));
  EXPECT_TRUE(error_with(parse("  name: single\n  smaller_is_better: maybe\n"),
                         {"searcher.smaller_is_better: expected true or false"}));
}

// Determined's units: records are ceil(records / global batch) batches, an epoch is
// records_per_epoch records; a trial without max_steps trains searcher.max_length.
TEST(Experiment, LengthsInRecordsAndEpochs) {
  const std::string hp = R"(name: t
hyperparameters:
  model: models/m
  training_args:
    per_device_train_batch_size: 4
    gradient_accumulation_steps: 2
)";
  const ExperimentConfig records =
      experiment_parse(hp + "searcher:\n  name: single\n  max_length: {records: 100}\n", "e.yaml");
  EXPECT_EQ(records.searcher.max_length.unit, "records");
  EXPECT_EQ(trial_config(records, search_points(records, 0)[0], 1).training_args.max_steps,
            13);  // ceil(100 / 8)
  EXPECT_EQ(trial_config(records, search_points(records, 0)[0], 2).training_args.max_steps,
            7);  // ceil(100 / 16) on 2 processes
  const ExperimentConfig epochs = experiment_parse(
      hp + "records_per_epoch: 30\nsearcher:\n  name: single\n  max_length: {epochs: 2}\n",
      "e.yaml");
  EXPECT_EQ(epochs.records_per_epoch, 30);
  const TrialConfig t = trial_config(epochs, search_points(epochs, 0)[0], 1);
  EXPECT_EQ(t.training_args.max_steps, 8);                                  // ceil(60 / 8)
  EXPECT_EQ(length_batches(epochs, t.training_args, 1, {"epochs", 1}), 4);  // ceil(30 / 8)
  EXPECT_EQ(length_batches(epochs, t.training_args, 1, {"records", 3}), 1);
  EXPECT_EQ(length_batches(epochs, t.training_args, 1, {"batches", 5}), 5);
  // max_steps, when written, is the trial's length whatever the searcher's.
  const ExperimentConfig both = experiment_parse(
      kMinimal + "searcher:\n  name: single\n  max_length: {records: 1000}\n", "e.yaml");
  EXPECT_EQ(trial_config(both, search_points(both, 0)[0], 1).training_args.max_steps, 10);
}

TEST(Experiment, AdaptiveAshaSettings) {
  const ExperimentConfig d = experiment_parse(
      kMinimal + "searcher:\n  name: adaptive_asha\n  max_trials: 16\n  max_length: 100\n",
      "e.yaml");
  EXPECT_EQ(d.searcher.name, "adaptive_asha");
  EXPECT_EQ(d.searcher.max_length.value, 100);
  EXPECT_EQ(d.searcher.mode, "standard");  // Determined's defaults
  EXPECT_EQ(d.searcher.divisor, 4);
  EXPECT_EQ(d.searcher.max_rungs, 5);
  EXPECT_FALSE(d.searcher.stop_once);
  const ExperimentConfig e = experiment_parse(
      kMinimal +
          "searcher:\n  name: adaptive_asha\n  max_trials: 3\n  max_length: {batches: 8}\n"
          "  mode: aggressive\n  divisor: 2\n  max_rungs: 3\n  stop_once: true\n"
          "  metric: eval_accuracy\n  smaller_is_better: false\n"
          "reproducibility:\n  experiment_seed: 5\n",
      "e.yaml");
  EXPECT_EQ(e.searcher.mode, "aggressive");
  EXPECT_EQ(e.searcher.divisor, 2);
  EXPECT_EQ(e.searcher.max_rungs, 3);
  EXPECT_TRUE(e.searcher.stop_once);
  EXPECT_FALSE(e.searcher.smaller_is_better);
  EXPECT_EQ(e.experiment_seed, 5);
  EXPECT_EQ(search_points(e, 5).size(), 3u);  // max_trials draws, as the random searcher
}

TEST(ExperimentErrors, MissingFilesAndInvalidYaml) {
  EXPECT_TRUE(error_with([] { experiment_load("/nonexistent/exp.yaml"); },
                         {"cannot read experiment file '/nonexistent/exp.yaml'"}));
  EXPECT_TRUE(error_with(
      [] { experiment_parse("name: x\nhyperparameters:\n  model: m\n   r: 8\n", "bad.yaml"); },
      {"bad.yaml:4: invalid YAML"}));
  EXPECT_TRUE(
      error_with([] { experiment_parse("name: [x\n", ""); }, {"<config>:", "invalid YAML"}));
}

TEST(ExperimentErrors, MissingDeepspeedFileNamesThePathAndTheKey) {
  ScratchDir dir;
  const std::string path =
      write_file(dir.root() / "exp.yaml", kMinimal + R"(    deepspeed: ds/none.json
)");
  const ExperimentConfig e = experiment_load(path);
  EXPECT_TRUE(error_with([&] { trial_config(e, e.hyperparameters, 1); },
                         {path + ":6: hyperparameters.training_args.deepspeed",
                          (dir.root() / "ds/none.json").string(), "not found"}));
}

TEST(Experiment, DeepspeedPathIsRelativeToTheExperimentFile) {
  ScratchDir dir;
  write_file(dir.root() / "sub/ds.json", R"({"train_micro_batch_size_per_gpu": "auto",
    "zero_optimization": {"stage": 2}})");
  const std::string path =
      write_file(dir.root() / "sub/exp.yaml", kMinimal + "    deepspeed: ds.json\n");
  const ExperimentConfig e = experiment_load(path);
  const TrialConfig t = trial_config(e, e.hyperparameters, 3);
  ASSERT_TRUE(t.deepspeed.has_value());
  EXPECT_EQ(t.deepspeed->zero_stage, 2);
  EXPECT_EQ(t.deepspeed->train_batch_size, 24);  // 3 ranks x 8 x 1
  EXPECT_EQ(t.training_args.deepspeed, "ds.json");
}

}  // namespace
}  // namespace llmtune::config
