// DeepSpeed JSON: the reference ds_config_*.json files resolved as Transformers resolves them
// (INTEROP.md section 6.1), finalize's hidden-size values, and the mismatch and key errors.
#include "config/deepspeed.h"

#include <gtest/gtest.h>

#include "config/experiment.h"
#include "config_test_util.h"

namespace llmtune::config {
namespace {

using nlohmann::json;
using test::error_with;
using test::ScratchDir;
using test::write_file;

// The reference deepspeed.yaml's training_args.
TrainingArgs blog_args() {
  TrainingArgs a;
  a.max_steps = 5000;
  a.per_device_train_batch_size = 2;
  a.per_device_eval_batch_size = 4;
  a.bf16 = true;
  a.learning_rate = 1e-5;
  return a;
}

DeepSpeedConfig parse(const std::string& text, const TrainingArgs& args = blog_args(),
                      int64_t world = 2) {
  return deepspeed_parse(json::parse(text), "ds.json", args, world);
}

TEST(DeepSpeed, ReferenceStage3ResolvesFromTrainingArgs) {
  const std::string path = test::reference_configs() + "/ds_config_stage_3.json";
  LLMTUNE_REQUIRE_SHARED(path);
  DeepSpeedConfig c = deepspeed_load(path, blog_args(), 2);
  EXPECT_EQ(c.path, path);
  EXPECT_EQ(c.zero_stage, 3);
  EXPECT_FALSE(c.offload_optimizer);
  EXPECT_FALSE(c.offload_param);
  EXPECT_FALSE(c.fp16);  // fp16.enabled "auto" <- training_args.fp16
  EXPECT_TRUE(c.bf16);   // bf16.enabled "auto" <- training_args.bf16
  EXPECT_TRUE(c.loss_scale.dynamic);
  EXPECT_EQ(c.loss_scale.initial_scale_power, 16);
  EXPECT_EQ(c.loss_scale.loss_scale_window, 1000);
  EXPECT_EQ(c.loss_scale.hysteresis, 2);
  EXPECT_DOUBLE_EQ(c.loss_scale.min_loss_scale, 1.0);
  EXPECT_EQ(c.optimizer_type, "AdamW");
  EXPECT_DOUBLE_EQ(c.lr, 1e-5);
  EXPECT_DOUBLE_EQ(c.beta1, 0.9);
  EXPECT_DOUBLE_EQ(c.beta2, 0.999);
  EXPECT_DOUBLE_EQ(c.eps, 1e-8);
  EXPECT_DOUBLE_EQ(c.weight_decay, 0.0);
  EXPECT_EQ(c.scheduler_type, "WarmupDecayLR");
  EXPECT_DOUBLE_EQ(c.warmup_min_lr, 0.0);
  EXPECT_DOUBLE_EQ(c.warmup_max_lr, 1e-5);
  EXPECT_EQ(c.warmup_num_steps, 0);
  EXPECT_EQ(c.warmup_type, "log");
  EXPECT_EQ(c.total_num_steps, 0);  // until finalize
  EXPECT_EQ(c.gradient_accumulation_steps, 1);
  EXPECT_DOUBLE_EQ(c.gradient_clipping, 1.0);
  EXPECT_EQ(c.train_micro_batch_size_per_gpu, 2);
  EXPECT_EQ(c.train_batch_size, 4);  // 2 ranks x 2 x 1
  EXPECT_TRUE(c.overlap_comm);
  EXPECT_TRUE(c.contiguous_gradients);
  const json& r = c.resolved;
  EXPECT_EQ(r["optimizer"]["params"]["betas"], json::parse("[0.9, 0.999]"));
  EXPECT_EQ(r["scheduler"]["params"]["warmup_min_lr"], json(0));
  EXPECT_EQ(r["zero_optimization"]["reduce_bucket_size"], json("auto"));  // finalize's
  EXPECT_EQ(r["scheduler"]["params"]["total_num_steps"], json("auto"));
  EXPECT_EQ(r["zero_optimization"]["sub_group_size"], json(1e9));

  deepspeed_finalize(c, blog_args(), 4096, 5000);  // Mistral
  EXPECT_DOUBLE_EQ(c.reduce_bucket_size, 16777216);
  EXPECT_DOUBLE_EQ(c.stage3_prefetch_bucket_size, 15099494.4);
  EXPECT_DOUBLE_EQ(c.stage3_param_persistence_threshold, 40960);
  EXPECT_EQ(c.total_num_steps, 5000);
  EXPECT_EQ(c.warmup_num_steps, 0);
  EXPECT_EQ(c.resolved["zero_optimization"]["reduce_bucket_size"], json(16777216));
  EXPECT_EQ(c.resolved["zero_optimization"]["stage3_param_persistence_threshold"], json(40960));
  EXPECT_EQ(c.resolved["scheduler"]["params"]["warmup_num_steps"], json(0));
  EXPECT_EQ(c.resolved.dump().find("auto"), std::string::npos);
}

TEST(DeepSpeed, FinalizeForTinyLlamaHiddenSize) {
  const std::string path = test::reference_configs() + "/ds_config_stage_3.json";
  LLMTUNE_REQUIRE_SHARED(path);
  DeepSpeedConfig c = deepspeed_load(path, blog_args(), 1);
  EXPECT_EQ(c.train_batch_size, 2);
  deepspeed_finalize(c, blog_args(), 2048, 3000);
  EXPECT_DOUBLE_EQ(c.reduce_bucket_size, 4194304);
  EXPECT_DOUBLE_EQ(c.stage3_prefetch_bucket_size, 3774873.6);
  EXPECT_DOUBLE_EQ(c.stage3_param_persistence_threshold, 20480);
  EXPECT_EQ(c.total_num_steps, 3000);
}

TEST(DeepSpeed, ReferenceStage2) {
  const std::string path = test::reference_configs() + "/ds_config_stage_2.json";
  LLMTUNE_REQUIRE_SHARED(path);
  TrainingArgs a = blog_args();
  a.per_device_train_batch_size = 8;
  a.gradient_accumulation_steps = 2;
  DeepSpeedConfig c = deepspeed_load(path, a, 2);
  EXPECT_EQ(c.zero_stage, 2);
  EXPECT_FALSE(c.bf16);  // no bf16 block: Transformers fills nothing, DeepSpeed's default is off
  EXPECT_FALSE(c.fp16);
  EXPECT_EQ(c.scheduler_type, "");  // Transformers' schedule from training_args
  EXPECT_EQ(c.train_batch_size, 32);
  EXPECT_EQ(c.gradient_accumulation_steps, 2);
  EXPECT_DOUBLE_EQ(c.reduce_bucket_size, 2e8);
  deepspeed_finalize(c, a, 4096, 100);
  EXPECT_DOUBLE_EQ(c.reduce_bucket_size, 2e8);  // not "auto": kept
  EXPECT_DOUBLE_EQ(c.stage3_prefetch_bucket_size, 5e7);
  EXPECT_EQ(c.resolved["flops_profiler"]["output_file"], json(nullptr));
}

TEST(DeepSpeed, ReferenceStage2CpuOffload) {
  const std::string path = test::reference_configs() + "/ds_config_stage_2_cpu_offload.json";
  LLMTUNE_REQUIRE_SHARED(path);
  TrainingArgs a = blog_args();
  a.warmup_ratio = 0.1;
  DeepSpeedConfig c = deepspeed_load(path, a, 2);
  EXPECT_TRUE(c.offload_optimizer);
  EXPECT_FALSE(c.offload_param);
  EXPECT_EQ(c.scheduler_type, "WarmupLR");
  EXPECT_DOUBLE_EQ(c.warmup_max_lr, 1e-5);
  // warmup from a ratio needs the step count: finalize fills it.
  EXPECT_EQ(c.resolved["scheduler"]["params"]["warmup_num_steps"], json("auto"));
  deepspeed_finalize(c, a, 2048, 5000);
  EXPECT_EQ(c.warmup_num_steps, 500);
  EXPECT_EQ(c.resolved["scheduler"]["params"]["warmup_num_steps"], json(500));
  EXPECT_FALSE(c.resolved["scheduler"]["params"].contains("total_num_steps"));
}

TEST(DeepSpeed, AbsentKeysTakeDeepSpeedDefaults) {
  TrainingArgs a = blog_args();
  a.max_grad_norm = 0.3;
  const DeepSpeedConfig c = parse(R"({"zero_optimization": {"stage": 1},
    "optimizer": {"type": "adam"}, "scheduler": {"type": "WarmupLR"}})",
                                  a);
  EXPECT_EQ(c.zero_stage, 1);
  EXPECT_EQ(c.optimizer_type, "Adam");      // decoupled like AdamW (adam_w_mode defaults true)
  EXPECT_DOUBLE_EQ(c.lr, 1e-3);             // FusedAdam's default
  EXPECT_DOUBLE_EQ(c.warmup_max_lr, 1e-3);  // WarmupLR's defaults
  EXPECT_EQ(c.warmup_num_steps, 1000);
  EXPECT_DOUBLE_EQ(c.gradient_clipping, 0.0);  // DeepSpeed clips only when told
  EXPECT_EQ(c.train_micro_batch_size_per_gpu, 2);
  EXPECT_EQ(c.train_batch_size, 4);
  EXPECT_FALSE(c.overlap_comm);  // DeepSpeed's default below stage 3
  const DeepSpeedConfig d = parse("{}", a, 1);
  EXPECT_EQ(d.zero_stage, 0);
  EXPECT_EQ(d.optimizer_type, "");
  EXPECT_DOUBLE_EQ(d.lr, 1e-5);  // from training_args
}

TEST(DeepSpeed, ExplicitValuesThatAgreeAreKept) {
  const DeepSpeedConfig c = parse(R"({"train_micro_batch_size_per_gpu": 2,
    "gradient_accumulation_steps": 1, "train_batch_size": 4, "gradient_clipping": 1.0,
    "optimizer": {"type": "AdamW", "params": {"lr": 1e-5, "betas": [0.9, 0.999]}},
    "bf16": {"enabled": true}, "fp16": {"enabled": false}})");
  EXPECT_EQ(c.train_batch_size, 4);
  EXPECT_TRUE(c.bf16);
}

TEST(DeepSpeed, MismatchesNameBothValues) {
  TrainingArgs a = blog_args();
  a.per_device_train_batch_size = 8;
  EXPECT_TRUE(error_with([&] { parse(R"({"train_micro_batch_size_per_gpu": 4})", a); },
                         {"ds.json: train_micro_batch_size_per_gpu=4 but "
                          "training_args.per_device_train_batch_size=8",
                          "\"auto\""}));
  EXPECT_TRUE(error_with([] { parse(R"({"gradient_clipping": 0.5})"); },
                         {"gradient_clipping=0.5 but training_args.max_grad_norm=1.0"}));
  EXPECT_TRUE(error_with([] { parse(R"({"train_batch_size": 8})"); },
                         {"train_batch_size=8 but world size", "= 2 × 2 × 1 = 4"}));
  EXPECT_TRUE(
      error_with([] { parse(R"({"optimizer": {"type": "AdamW", "params": {"lr": 1e-4}}})"); },
                 {"optimizer.params.lr=0.0001 but training_args.learning_rate=1e-05"}));
  EXPECT_TRUE(error_with(
      [] { parse(R"({"optimizer": {"type": "AdamW", "params": {"betas": [0.9, 0.95]}}})"); },
      {"optimizer.params.betas=[0.9,0.95] but training_args.[adam_beta1, adam_beta2]"}));
  EXPECT_TRUE(error_with([] { parse(R"({"fp16": {"enabled": true}})"); },
                         {"fp16.enabled=true but training_args.fp16=false"}));
  EXPECT_TRUE(error_with(
      [] { parse(R"({"scheduler": {"type": "WarmupLR", "params": {"warmup_num_steps": 10}}})"); },
      {"scheduler.params.warmup_num_steps=10 but training_args.warmup_steps=0"}));
  // Every mismatch is listed at once.
  EXPECT_TRUE(error_with([] { parse(R"({"gradient_clipping": 0.5, "train_batch_size": 8})"); },
                         {"gradient_clipping=0.5", "; ", "train_batch_size=8"}));
}

TEST(DeepSpeed, FinalizeChecksTheStepCount) {
  DeepSpeedConfig c = parse(R"({"scheduler": {"type": "WarmupDecayLR",
    "params": {"total_num_steps": 1000}}})");
  EXPECT_TRUE(error_with([&] { deepspeed_finalize(c, blog_args(), 4096, 5000); },
                         {"scheduler.params.total_num_steps=1000 but the number of training "
                          "steps is 5000"}));
  DeepSpeedConfig d = parse(R"({"zero_optimization": {"stage": 3, "reduce_bucket_size": "auto"}})");
  EXPECT_TRUE(error_with([&] { deepspeed_finalize(d, blog_args(), 0, 10); }, {"hidden_size"}));
  EXPECT_TRUE(error_with([&] { deepspeed_finalize(d, blog_args(), 8, 0); }, {"training steps"}));
  TrainingArgs a = blog_args();
  a.warmup_ratio = 0.1;
  DeepSpeedConfig e = parse(R"({"scheduler": {"type": "WarmupDecayLR",
    "params": {"total_num_steps": "auto", "warmup_num_steps": 20}}})",
                            a);
  EXPECT_TRUE(error_with([&] { deepspeed_finalize(e, a, 8, 100); },
                         {"scheduler.params.warmup_num_steps=20 but training_args gives 10 "
                          "warmup steps for 100 training steps"}));
}

TEST(DeepSpeed, Stage3SizesBelowStage3GetDeepSpeedDefaults) {
  DeepSpeedConfig c = parse(R"({"zero_optimization": {"stage": 2, "reduce_bucket_size": "auto",
    "stage3_prefetch_bucket_size": "auto", "stage3_param_persistence_threshold": "auto"}})");
  deepspeed_finalize(c, blog_args(), 2048, 10);
  EXPECT_DOUBLE_EQ(c.reduce_bucket_size, 4194304);
  EXPECT_DOUBLE_EQ(c.stage3_prefetch_bucket_size, 5e7);
  EXPECT_DOUBLE_EQ(c.stage3_param_persistence_threshold, 1e5);
  EXPECT_EQ(c.resolved.dump().find("auto"), std::string::npos);
}

TEST(DeepSpeedErrors, UnknownKeysGetTheClosestKeyAndLine) {
  ScratchDir dir;
  const std::string path = write_file(dir.root() / "ds_config.json", R"({
  "train_micro_batch_size_per_gpu": "auto",
  "zero_optimisation": {
    "stage": 3
  }
})");
  EXPECT_TRUE(error_with(
      [&] { deepspeed_load(path, blog_args(), 1); },
      {"unknown key 'zero_optimisation' in " + path + ":3", "did you mean 'zero_optimization'?"}));
  const std::string nested = write_file(dir.root() / "n.json", R"({
  "zero_optimization": {
    "stage": 3,
    "stage3_prefetch_bucket": "auto"
  }
})");
  EXPECT_TRUE(
      error_with([&] { deepspeed_load(nested, blog_args(), 1); },
                 {"unknown key 'zero_optimization.stage3_prefetch_bucket' in " + nested + ":4",
                  "did you mean 'stage3_prefetch_bucket_size'?"}));
  EXPECT_TRUE(error_with([] { parse(R"({"fp16": {"enabled": "auto", "loss_scal": 0}})"); },
                         {"unknown key 'fp16.loss_scal' in ds.json", "'loss_scale'"}));
  EXPECT_TRUE(error_with([] { parse(R"({"tensorboard": {"enabled": true}})"); },
                         {"unknown key 'tensorboard'"}));
}

TEST(DeepSpeedErrors, UnsupportedChoices) {
  EXPECT_TRUE(error_with([] { parse(R"({"optimizer": {"type": "Lamb"}})"); },
                         {"optimizer.type: 'Lamb' is not supported", "AdamW"}));
  EXPECT_TRUE(error_with(
      [] { parse(R"({"optimizer": {"type": "Adam", "params": {"adam_w_mode": false}}})"); },
      {"optimizer.params.adam_w_mode: false", "not supported"}));
  EXPECT_TRUE(error_with([] { parse(R"({"scheduler": {"type": "OneCycle"}})"); },
                         {"scheduler.type: 'OneCycle' is not supported"}));
  EXPECT_TRUE(error_with([] { parse(R"({"scheduler": {"type": "WarmupDecayLr"}})"); },
                         {"did you mean 'WarmupDecayLR'?"}));
  EXPECT_TRUE(error_with([] { parse(R"({"scheduler": {"type": "WarmupDecayLR"}})"); },
                         {"'total_num_steps' is required for WarmupDecayLR"}));
  EXPECT_TRUE(error_with(
      [] {
        parse(R"({"scheduler": {"type": "WarmupLR", "params": {"total_num_steps": "auto"}}})");
      },
      {"unknown key 'scheduler.params.total_num_steps'"}));
  EXPECT_TRUE(error_with(
      [] { parse(R"({"zero_optimization": {"stage": 3, "offload_param": {"device": "nvme"}}})"); },
      {"zero_optimization.offload_param.device: nvme offload is not supported"}));
  EXPECT_TRUE(error_with([] { parse(R"({"zero_optimization": {"stage": 4}})"); },
                         {"zero_optimization.stage: must be 0, 1, 2 or 3"}));
  EXPECT_TRUE(error_with([] { parse(R"({"zero_optimization": {"stage": "auto"}})"); },
                         {"zero_optimization.stage: \"auto\" is resolved only where"}));
  TrainingArgs fp16 = blog_args();
  fp16.bf16 = false;
  fp16.fp16 = true;
  EXPECT_TRUE(error_with(
      [&] { parse(R"({"fp16": {"enabled": "auto"}, "bf16": {"enabled": true}})", fp16); },
      {"bf16.enabled=true but training_args.bf16=false"}));
}

TEST(DeepSpeedErrors, WrongTypesInvalidJsonAndMissingFiles) {
  EXPECT_TRUE(error_with([] { parse(R"({"zero_optimization": {"stage": "three"}})"); },
                         {"ds.json: zero_optimization.stage: expected an integer, got the string "
                          "\"three\""}));
  EXPECT_TRUE(error_with([] { parse(R"({"gradient_clipping": true})"); },
                         {"gradient_clipping: expected a number, got true"}));
  EXPECT_TRUE(
      error_with([] { parse(R"({"optimizer": {"type": "AdamW", "params": {"betas": 0.9}}})"); },
                 {"optimizer.params.betas: expected two numbers"}));
  EXPECT_TRUE(error_with([] { parse(R"({"optimizer": {"params": {}}})"); },
                         {"optimizer: 'type' is required"}));
  EXPECT_TRUE(
      error_with([] { parse("[1, 2]"); }, {"ds.json: a DeepSpeed config is a JSON object"}));
  ScratchDir dir;
  const std::string bad =
      write_file(dir.root() / "bad.json", "{\n  \"fp16\": {\n    \"enabled\": ,\n}");
  EXPECT_TRUE(
      error_with([&] { deepspeed_load(bad, blog_args(), 1); }, {bad + ": invalid JSON", "line 3"}));
  EXPECT_TRUE(error_with([] { deepspeed_load("/nonexistent/ds.json", blog_args(), 1); },
                         {"cannot read DeepSpeed config '/nonexistent/ds.json'"}));
}

// Values DeepSpeed would refuse or that overflow are errors naming the key: 2^5000 as the
// initial loss scale is infinite and skips every step.
TEST(DeepSpeedErrors, OutOfRangeValuesAndRepeatedKeys) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"fp16": {"enabled": true, "initial_scale_power": 5000}})", "fp16.initial_scale_power"},
      {R"({"fp16": {"enabled": true, "loss_scale": -1}})", "fp16.loss_scale"},
      {R"({"zero_optimization": {"stage3_param_persistence_threshold": -1}})",
       "stage3_param_persistence_threshold"},
      {R"({"zero_optimization": {"allgather_bucket_size": 1e30}})", "allgather_bucket_size"},
      {R"({"optimizer": {"type": "AdamW", "params": {"eps": 0}}})", "optimizer.params.eps"},
      {R"({"optimizer": {"type": "AdamW", "params": {"betas": [0.9, 1.5]}}})",
       "optimizer.params.betas"},
      {R"({"gradient_clipping": -1})", "gradient_clipping"},
  };
  for (const auto& c : cases) {
    const char* text = c.first;  // named, not bound: clang 14 lambdas cannot capture those
    EXPECT_TRUE(error_with([&] { parse(text); }, {c.second, "must be"})) << text;
  }
  ScratchDir dir;
  const std::string path = write_file(dir.root() / "dup.json", R"({"zero_optimization": {
    "stage": 2, "stage": 3}})");
  EXPECT_TRUE(error_with([&] { deepspeed_load(path, blog_args(), 1); },
                         {path, "\"stage\" is given twice"}));
}

}  // namespace
}  // namespace llmtune::config
