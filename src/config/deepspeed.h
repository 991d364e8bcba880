// DeepSpeed JSON configs with their "auto" values resolved the way the Hugging Face integration
// (transformers integrations/deepspeed.py, HfTrainerDeepSpeedConfig) resolves them from
// TrainingArguments; a value that is not "auto" and disagrees with TrainingArguments is an error
// naming both.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace llmtune::config {

struct TrainingArgs;

struct LossScaleConfig {
  bool dynamic = true;        // fp16.loss_scale == 0
  double static_scale = 1.0;  // fp16.loss_scale when > 0
  int64_t initial_scale_power = 16;
  int64_t loss_scale_window = 1000;
  int64_t hysteresis = 2;
  double min_loss_scale = 1.0;
};

struct DeepSpeedConfig {
  std::string path;
  int64_t zero_stage = 0;
  bool offload_optimizer = false;  // zero_optimization.offload_optimizer.device == "cpu"
  bool offload_param = false;
  bool fp16 = false;
  bool bf16 = false;
  LossScaleConfig loss_scale;
  // optimizer block ("" when absent: Transformers' AdamW from training_args)
  std::string optimizer_type;
  double lr = 5e-5, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  // scheduler block ("" when absent: training_args.lr_scheduler_type)
  std::string scheduler_type;  // WarmupDecayLR, WarmupLR, WarmupCosineLR
  double warmup_min_lr = 0, warmup_max_lr = 5e-5;
  int64_t warmup_num_steps = 0, total_num_steps = 0;  // total 0 until deepspeed_finalize
  std::string warmup_type = "log";
  double warmup_min_ratio = 0, cos_min_ratio = 1e-4;  // WarmupCosineLR only
  int64_t gradient_accumulation_steps = 1;
  double gradient_clipping = 1.0;
  int64_t train_batch_size = 0;  // = micro * accumulation * world size
  int64_t train_micro_batch_size_per_gpu = 0;
  // zero_optimization sizes ("auto" ones filled by deepspeed_finalize from hidden_size)
  double reduce_bucket_size = 5e8;
  double allgather_bucket_size = 5e8;  // stages 1-2: elements per parameter all-gather
  double stage3_prefetch_bucket_size = 5e7;
  double stage3_param_persistence_threshold = 1e5;
  bool overlap_comm = false;
  bool contiguous_gradients = true;
  nlohmann::json resolved;  // the JSON with every "auto" replaced (after finalize: all of them)
};

// Parses a DeepSpeed JSON and resolves the "auto" values that TrainingArguments decide (batch
// sizes, gradient accumulation, clipping, optimizer lr/betas/eps/weight_decay, scheduler
// warmup_min_lr/warmup_max_lr/warmup_num_steps, fp16/bf16 enabled). Throws llmtune::Error
// naming the file and key for bad JSON, an unknown optimizer or scheduler type, or a conflict
// ("ds_config.json: gradient_clipping is 0.5 but training_args.max_grad_norm is 1.0").
DeepSpeedConfig deepspeed_load(const std::string& path, const TrainingArgs& args,
                               int64_t world_size);
DeepSpeedConfig deepspeed_parse(const nlohmann::json& json, const std::string& path,
                                const TrainingArgs& args, int64_t world_size);

// The values only known at train time: total_num_steps (num_training_steps, and
// warmup_num_steps when it depends on it) and, from the model's hidden size,
// reduce_bucket_size = H*H, stage3_prefetch_bucket_size = 0.9*H*H (ZeRO-3 only),
// stage3_param_persistence_threshold = 10*H (ZeRO-3 only).
void deepspeed_finalize(DeepSpeedConfig& config, const TrainingArgs& args, int64_t hidden_size,
                        int64_t num_training_steps);

}  // namespace llmtune::config
