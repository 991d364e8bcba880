// The DeepSpeed keys llmtune models (DeepSpeed 0.10), each with its type and whether
// Transformers fills "auto" there.
#include "config/deepspeed_keys.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/error.h"

namespace llmtune::config {

using nlohmann::json;

namespace {

enum class Kind { kMap, kBool, kInt, kNumber, kString, kStringOrNull, kPair };

struct DsKey {
  std::string_view key;
  Kind kind;
  bool autoable = false;  // Transformers fills "auto" here
};

const std::vector<DsKey> kKeys = {
    {"fp16", Kind::kMap},
    {"fp16.enabled", Kind::kBool, true},
    {"fp16.loss_scale", Kind::kNumber},
    {"fp16.initial_scale_power", Kind::kInt},
    {"fp16.loss_scale_window", Kind::kInt},
    {"fp16.hysteresis", Kind::kInt},
    {"fp16.min_loss_scale", Kind::kNumber},
    {"bf16", Kind::kMap},
    {"bf16.enabled", Kind::kBool, true},
    {"optimizer", Kind::kMap},
    {"optimizer.type", Kind::kString},
    {"optimizer.params", Kind::kMap},
    {"optimizer.params.lr", Kind::kNumber, true},
    {"optimizer.params.betas", Kind::kPair, true},
    {"optimizer.params.eps", Kind::kNumber, true},
    {"optimizer.params.weight_decay", Kind::kNumber, true},
    {"optimizer.params.adam_w_mode", Kind::kBool},
    {"optimizer.params.torch_adam", Kind::kBool},
    {"scheduler", Kind::kMap},
    {"scheduler.type", Kind::kString},
    {"scheduler.params", Kind::kMap},
    {"scheduler.params.warmup_min_lr", Kind::kNumber, true},
    {"scheduler.params.warmup_max_lr", Kind::kNumber, true},
    {"scheduler.params.warmup_num_steps", Kind::kInt, true},
    {"scheduler.params.total_num_steps", Kind::kInt, true},
    {"scheduler.params.warmup_type", Kind::kString},
    {"scheduler.params.warmup_min_ratio", Kind::kNumber},
    {"scheduler.params.cos_min_ratio", Kind::kNumber},
    {"scheduler.params.last_batch_iteration", Kind::kInt},
    {"zero_optimization", Kind::kMap},
    {"zero_optimization.stage", Kind::kInt},
    {"zero_optimization.offload_optimizer", Kind::kMap},
    {"zero_optimization.offload_optimizer.device", Kind::kString},
    {"zero_optimization.offload_optimizer.pin_memory", Kind::kBool},
    {"zero_optimization.offload_optimizer.nvme_path", Kind::kStringOrNull},
    {"zero_optimization.offload_optimizer.buffer_count", Kind::kInt},
    {"zero_optimization.offload_optimizer.pipeline_read", Kind::kBool},
    {"zero_optimization.offload_optimizer.pipeline_write", Kind::kBool},
    {"zero_optimization.offload_optimizer.fast_init", Kind::kBool},
    {"zero_optimization.offload_optimizer.ratio", Kind::kNumber},
    {"zero_optimization.offload_param", Kind::kMap},
    {"zero_optimization.offload_param.device", Kind::kString},
    {"zero_optimization.offload_param.pin_memory", Kind::kBool},
    {"zero_optimization.offload_param.nvme_path", Kind::kStringOrNull},
    {"zero_optimization.offload_param.buffer_count", Kind::kInt},
    {"zero_optimization.offload_param.buffer_size", Kind::kNumber},
    {"zero_optimization.offload_param.max_in_cpu", Kind::kNumber},
    {"zero_optimization.overlap_comm", Kind::kBool},
    {"zero_optimization.contiguous_gradients", Kind::kBool},
    {"zero_optimization.sub_group_size", Kind::kNumber},
    {"zero_optimization.reduce_bucket_size", Kind::kNumber, true},
    {"zero_optimization.stage3_prefetch_bucket_size", Kind::kNumber, true},
    {"zero_optimization.stage3_param_persistence_threshold", Kind::kNumber, true},
    {"zero_optimization.stage3_max_live_parameters", Kind::kNumber},
    {"zero_optimization.stage3_max_reuse_distance", Kind::kNumber},
    {"zero_optimization.stage3_gather_16bit_weights_on_model_save", Kind::kBool},
    {"zero_optimization.stage3_gather_fp16_weights_on_model_save", Kind::kBool},  // old name
    {"zero_optimization.allgather_partitions", Kind::kBool},
    {"zero_optimization.allgather_bucket_size", Kind::kNumber},
    {"zero_optimization.reduce_scatter", Kind::kBool},
    {"zero_optimization.round_robin_gradients", Kind::kBool},
    {"gradient_accumulation_steps", Kind::kInt, true},
    {"gradient_clipping", Kind::kNumber, true},
    {"train_batch_size", Kind::kInt, true},
    {"train_micro_batch_size_per_gpu", Kind::kInt, true},
    {"flops_profiler", Kind::kMap},
    {"flops_profiler.enabled", Kind::kBool},
    {"flops_profiler.profile_step", Kind::kInt},
    {"flops_profiler.module_depth", Kind::kInt},
    {"flops_profiler.top_modules", Kind::kInt},
    {"flops_profiler.detailed", Kind::kBool},
    {"flops_profiler.output_file", Kind::kStringOrNull},
    {"steps_per_print", Kind::kInt},
    {"wall_clock_breakdown", Kind::kBool},
    {"zero_allow_untested_optimizer", Kind::kBool},
};

// The parameters each scheduler takes (DeepSpeed 0.10 lr_schedules.py).
const std::vector<std::string_view> kWarmupLrParams = {
    "warmup_min_lr", "warmup_max_lr", "warmup_num_steps", "warmup_type", "last_batch_iteration"};
const std::vector<std::string_view> kWarmupDecayParams = {
    "warmup_min_lr", "warmup_max_lr",        "warmup_num_steps",
    "warmup_type",   "last_batch_iteration", "total_num_steps"};
const std::vector<std::string_view> kWarmupCosineParams = {
    "total_num_steps", "warmup_min_ratio", "warmup_num_steps",
    "cos_min_ratio",   "warmup_type",      "last_batch_iteration"};

void keys_check(const json& obj, const std::string& prefix, const Locator& loc) {
  for (const auto& [name, v] : obj.items()) {
    const std::string key = key_join(prefix, name);
    const auto entry =
        std::find_if(kKeys.begin(), kKeys.end(), [&](const DsKey& k) { return k.key == key; });
    if (entry == kKeys.end()) {
      std::vector<std::string_view> siblings;
      for (const DsKey& k : kKeys) {
        const std::string_view s = k.key;
        const size_t dot = s.find_last_of('.');
        const std::string_view parent = dot == std::string_view::npos ? "" : s.substr(0, dot);
        if (parent == prefix)
          siblings.push_back(dot == std::string_view::npos ? s : s.substr(dot + 1));
      }
      fail_unknown_key(loc, key, siblings);
    }
    if (v.is_null()) continue;
    if (deepspeed_is_auto(&v)) {
      if (!entry->autoable) {
        fail_at(loc, key, "\"auto\" is resolved only where Transformers fills it in; give a value");
      }
      continue;
    }
    switch (entry->kind) {
      case Kind::kMap:
        keys_check(read_map(v, key, loc), key, loc);
        break;
      case Kind::kBool:
        read_bool(v, key, loc);
        break;
      case Kind::kInt:
        read_int(v, key, loc);
        break;
      case Kind::kNumber:
        read_number(v, key, loc);
        break;
      case Kind::kString:
      case Kind::kStringOrNull:
        read_string(v, key, loc);
        break;
      case Kind::kPair:
        if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number()) {
          fail_at(loc, key, str("expected two numbers [beta1, beta2], got ", v.dump()));
        }
        break;
    }
  }
}

// The ranges of numeric settings (DeepSpeed's own checks, and what makes sense at all): a loss
// scale of 2^5000 is infinite and skips every step; a bucket of 1e30 elements overflows.
struct Bound {
  std::string_view key;
  double min;
  bool min_open;
  double max;
};
constexpr double kHuge = 4.6e18;  // about 2^62 elements or steps
const Bound kBounds[] = {
    {"fp16.loss_scale", 0, false, 1e30},  // 0: dynamic
    {"fp16.initial_scale_power", 0, false, 64},
    {"fp16.loss_scale_window", 1, false, kHuge},
    {"fp16.hysteresis", 1, false, kHuge},
    {"fp16.min_loss_scale", 0, true, 1e30},
    {"optimizer.params.lr", 0, false, 1e6},
    {"optimizer.params.eps", 0, true, 1},
    {"optimizer.params.weight_decay", 0, false, 1e6},
    {"scheduler.params.warmup_min_lr", 0, false, 1e6},
    {"scheduler.params.warmup_max_lr", 0, false, 1e6},
    {"scheduler.params.warmup_num_steps", 0, false, kHuge},
    {"scheduler.params.total_num_steps", 1, false, kHuge},
    {"scheduler.params.warmup_min_ratio", 0, false, 1},
    {"scheduler.params.cos_min_ratio", 0, false, 1},
    {"zero_optimization.reduce_bucket_size", 1, false, kHuge},
    {"zero_optimization.stage3_prefetch_bucket_size", 0, false, kHuge},
    {"zero_optimization.stage3_param_persistence_threshold", 0, false, kHuge},
    {"zero_optimization.stage3_max_live_parameters", 0, false, kHuge},
    {"zero_optimization.stage3_max_reuse_distance", 0, false, kHuge},
    {"zero_optimization.allgather_bucket_size", 1, false, kHuge},
    {"zero_optimization.sub_group_size", 1, false, kHuge},
    {"gradient_accumulation_steps", 1, false, kHuge},
    {"gradient_clipping", 0, false, 1e30},
    {"train_batch_size", 1, false, kHuge},
    {"train_micro_batch_size_per_gpu", 1, false, kHuge},
};

// Checks what the key table cannot: value ranges, supported optimizer, scheduler and offload.
void semantics_check(const json& j, const Locator& loc) {
  for (const Bound& b : kBounds) {
    const json* v = deepspeed_find(j, b.key);
    if (v == nullptr || !v->is_number()) continue;  // "auto", or absent
    const double x = v->get<double>();
    if (!(b.min_open ? x > b.min : x >= b.min) || !(x <= b.max)) {
      fail_at(loc, std::string(b.key),
              str("is ", v->dump(), "; it must be ", b.min_open ? "> " : ">= ", b.min,
                  " and <= ", b.max));
    }
  }
  if (const json* betas = deepspeed_find(j, "optimizer.params.betas"); betas && betas->is_array()) {
    for (const json& b : *betas) {
      if (b.is_number() && !(b.get<double>() >= 0 && b.get<double>() < 1))
        fail_at(loc, "optimizer.params.betas",
                str("are ", betas->dump(), "; each must be in [0, 1)"));
    }
  }
  if (const json* s = deepspeed_find(j, "zero_optimization.stage")) {
    const int64_t stage = read_int(*s, "zero_optimization.stage", loc);
    if (stage < 0 || stage > 3) fail_at(loc, "zero_optimization.stage", "must be 0, 1, 2 or 3");
  }
  for (const char* k :
       {"zero_optimization.offload_optimizer.device", "zero_optimization.offload_param.device"}) {
    if (const json* d = deepspeed_find(j, k)) {
      const std::string device = d->get<std::string>();
      if (device == "nvme") {
        fail_at(loc, k, "nvme offload is not supported; use cpu or none");
      } else if (device != "cpu" && device != "none") {
        fail_at(loc, k, str("'", device, "' is not one of cpu, none"));
      }
    }
  }
  if (const json* t = deepspeed_find(j, "optimizer.type")) {
    std::string type = t->get<std::string>();
    std::transform(type.begin(), type.end(), type.begin(), ::tolower);
    if (type != "adam" && type != "adamw") {
      fail_at(loc, "optimizer.type",
              str("'", t->get<std::string>(), "' is not supported: llmtune's optimizer is AdamW ",
                  "(type Adam or AdamW)"));
    }
    const json* mode = deepspeed_find(j, "optimizer.params.adam_w_mode");
    if (type == "adam" && mode != nullptr && !mode->get<bool>()) {
      fail_at(loc, "optimizer.params.adam_w_mode",
              "false (Adam with L2 regularization) is not supported; llmtune's AdamW decouples "
              "weight decay");
    }
  } else if (deepspeed_find(j, "optimizer") != nullptr) {
    fail_at(loc, "optimizer", "'type' is required (AdamW)");
  }
  if (const json* t = deepspeed_find(j, "scheduler.type")) {
    const std::string type = t->get<std::string>();
    const std::vector<std::string_view>* params = type == "WarmupLR"         ? &kWarmupLrParams
                                                  : type == "WarmupDecayLR"  ? &kWarmupDecayParams
                                                  : type == "WarmupCosineLR" ? &kWarmupCosineParams
                                                                             : nullptr;
    if (params == nullptr) {
      const std::string near = key_closest(type, {"WarmupLR", "WarmupDecayLR", "WarmupCosineLR"});
      fail_at(loc, "scheduler.type",
              str("'", type, "' is not supported (WarmupLR, WarmupDecayLR or WarmupCosineLR)",
                  near.empty() ? "" : str("; did you mean '", near, "'?")));
    }
    const json* p = deepspeed_find(j, "scheduler.params");
    if (p != nullptr) check_keys(*p, "scheduler.params", *params, loc);
    if (type != "WarmupLR" && deepspeed_find(j, "scheduler.params.total_num_steps") == nullptr) {
      fail_at(loc, "scheduler.params",
              str("'total_num_steps' is required for ", type, " (write \"auto\")"));
    }
    if (const json* w = deepspeed_find(j, "scheduler.params.warmup_type")) {
      if (*w != "log" && *w != "linear") {
        fail_at(loc, "scheduler.params.warmup_type", "must be log or linear");
      }
    }
  } else if (deepspeed_find(j, "scheduler") != nullptr) {
    fail_at(loc, "scheduler", "'type' is required (WarmupLR, WarmupDecayLR or WarmupCosineLR)");
  }
}

}  // namespace

json::json_pointer deepspeed_pointer(std::string_view dotted) {
  std::string p(1, '/');
  p.append(dotted);
  std::replace(p.begin(), p.end(), '.', '/');
  return json::json_pointer(p);
}

const json* deepspeed_find(const json& j, std::string_view dotted) {
  const json::json_pointer p = deepspeed_pointer(dotted);
  if (!j.contains(p) || j[p].is_null()) return nullptr;
  return &j[p];
}

bool deepspeed_is_auto(const json* v) {
  return v != nullptr && v->is_string() && v->get<std::string>() == "auto";
}

void deepspeed_check(const json& j, const Locator& loc) {
  keys_check(j, "", loc);
  semantics_check(j, loc);
}

}  // namespace llmtune::config
