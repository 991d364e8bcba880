// DeepSpeed JSON with its "auto" values resolved as transformers' HfTrainerDeepSpeedConfig
// resolves them: trainer_config_process at load, trainer_config_finalize once the model and the
// step count are known. The keys themselves are checked in deepspeed_keys.cpp.
#include "config/deepspeed.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "config/deepspeed_keys.h"
#include "config/experiment.h"
#include "config/keys.h"
#include "core/error.h"
#include "core/json.h"

namespace llmtune::config {

using nlohmann::json;

namespace {

// HfTrainerDeepSpeedConfig.fill_match / fill_only: a present "auto" becomes the Transformers
// value; a present value that differs from it is a mismatch; an absent key stays absent.
class Resolver {
 public:
  Resolver(json& resolved, const Locator& loc) : resolved_(resolved), loc_(loc) {}

  void match(std::string_view key, const json& hf, const std::string& hf_text) {
    const json* v = deepspeed_find(resolved_, key);
    if (v == nullptr) return;
    if (deepspeed_is_auto(v)) {
      resolved_[deepspeed_pointer(key)] = hf;
    } else if (!same(*v, hf)) {
      mismatches_.push_back(
          str(loc_.at(std::string(key)), ": ", key, "=", v->dump(), " but ", hf_text));
    }
  }
  void fill(std::string_view key, const json& value) {
    if (deepspeed_is_auto(deepspeed_find(resolved_, key))) {
      resolved_[deepspeed_pointer(key)] = value;
    }
  }
  void throw_mismatches() const {
    if (mismatches_.empty()) return;
    std::string message;
    for (const std::string& m : mismatches_) message += str(message.empty() ? "" : "; ", m);
    throw Error(message + " (write \"auto\" to take the training_args value)");
  }

 private:
  static bool same(const json& a, const json& b) {
    if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
    if (a.is_array() && b.is_array()) {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!same(a[i], b[i])) return false;
      }
      return true;
    }
    return a == b;
  }

  json& resolved_;
  const Locator& loc_;
  std::vector<std::string> mismatches_;
};

std::string hf_value(const std::string& name, const json& v) {
  return str("training_args.", name, "=", v.dump());
}

// Reads a resolved number, or `fallback` when absent or still "auto" (filled by finalize).
double number_or(const json& j, std::string_view key, double fallback) {
  const json* v = deepspeed_find(j, key);
  return v == nullptr || deepspeed_is_auto(v) ? fallback : v->get<double>();
}
int64_t int_or(const json& j, std::string_view key, int64_t fallback) {
  const json* v = deepspeed_find(j, key);
  return v == nullptr || deepspeed_is_auto(v) ? fallback : static_cast<int64_t>(v->get<double>());
}
bool bool_or(const json& j, std::string_view key, bool fallback) {
  const json* v = deepspeed_find(j, key);
  return v == nullptr ? fallback : v->get<bool>();
}

void fields_set(DeepSpeedConfig& c, const json& r, const TrainingArgs& args, int64_t world_size,
                const Locator& loc) {
  c.zero_stage = int_or(r, "zero_optimization.stage", 0);
  // DeepSpeed ignores optimizer offload at stage 0 and parameter offload below stage 3.
  const json* od = deepspeed_find(r, "zero_optimization.offload_optimizer.device");
  c.offload_optimizer = od != nullptr && *od == "cpu" && c.zero_stage >= 1;
  const json* pd = deepspeed_find(r, "zero_optimization.offload_param.device");
  c.offload_param = pd != nullptr && *pd == "cpu" && c.zero_stage == 3;

  c.fp16 = bool_or(r, "fp16.enabled", false);
  c.bf16 = bool_or(r, "bf16.enabled", false);
  if (c.fp16 && c.bf16) {
    fail_at(loc, "bf16.enabled", "fp16 and bf16 are both enabled; DeepSpeed allows one");
  }
  const double loss_scale = number_or(r, "fp16.loss_scale", 0);
  c.loss_scale.dynamic = loss_scale == 0;
  c.loss_scale.static_scale = loss_scale > 0 ? loss_scale : 1.0;
  c.loss_scale.initial_scale_power = int_or(r, "fp16.initial_scale_power", 16);
  c.loss_scale.loss_scale_window = int_or(r, "fp16.loss_scale_window", 1000);
  c.loss_scale.hysteresis = int_or(r, "fp16.hysteresis", 2);
  c.loss_scale.min_loss_scale = number_or(r, "fp16.min_loss_scale", 1);

  if (const json* t = deepspeed_find(r, "optimizer.type")) {
    // DeepSpeed's "Adam" is FusedAdam with adam_w_mode true by default, the same decoupled
    // AdamW as "AdamW" (adam_w_mode false is refused above). Defaults are FusedAdam's.
    std::string type = t->get<std::string>();
    std::transform(type.begin(), type.end(), type.begin(), ::tolower);
    c.optimizer_type = type == "adamw" ? "AdamW" : "Adam";
    c.lr = number_or(r, "optimizer.params.lr", 1e-3);
    const json* betas = deepspeed_find(r, "optimizer.params.betas");
    c.beta1 = betas ? (*betas)[0].get<double>() : 0.9;
    c.beta2 = betas ? (*betas)[1].get<double>() : 0.999;
    c.eps = number_or(r, "optimizer.params.eps", 1e-8);
    c.weight_decay = number_or(r, "optimizer.params.weight_decay", 0.0);
  } else {  // Transformers builds torch AdamW from training_args
    c.lr = args.learning_rate;
    c.beta1 = args.adam_beta1;
    c.beta2 = args.adam_beta2;
    c.eps = args.adam_epsilon;
    c.weight_decay = args.weight_decay;
  }

  // An absent scheduler parameter takes DeepSpeed's default, not a training_args value.
  if (const json* t = deepspeed_find(r, "scheduler.type")) {
    c.scheduler_type = t->get<std::string>();
    c.warmup_min_lr = number_or(r, "scheduler.params.warmup_min_lr", 0.0);
    c.warmup_max_lr = number_or(r, "scheduler.params.warmup_max_lr", 1e-3);
    c.warmup_num_steps = int_or(r, "scheduler.params.warmup_num_steps", 1000);
    c.total_num_steps = int_or(r, "scheduler.params.total_num_steps", 0);
    const json* w = deepspeed_find(r, "scheduler.params.warmup_type");
    c.warmup_type = w ? w->get<std::string>() : "log";
    c.warmup_min_ratio = number_or(r, "scheduler.params.warmup_min_ratio", 0.0);
    c.cos_min_ratio = number_or(r, "scheduler.params.cos_min_ratio", 1e-4);
  } else {
    c.warmup_max_lr = args.learning_rate;
  }

  // Absent batch keys: the Trainer's data loader still batches by training_args.
  c.gradient_accumulation_steps =
      int_or(r, "gradient_accumulation_steps", args.gradient_accumulation_steps);
  // Without gradient_clipping DeepSpeed does not clip, and the HF Trainer leaves clipping to it.
  c.gradient_clipping = number_or(r, "gradient_clipping", 0.0);
  c.train_micro_batch_size_per_gpu =
      int_or(r, "train_micro_batch_size_per_gpu", args.per_device_train_batch_size);
  c.train_batch_size =
      int_or(r, "train_batch_size",
             c.train_micro_batch_size_per_gpu * c.gradient_accumulation_steps * world_size);
  // DeepSpeed's identity; the matches against training_args above already enforce it.
  LLMTUNE_CHECK(c.train_batch_size ==
                    c.train_micro_batch_size_per_gpu * c.gradient_accumulation_steps * world_size,
                "train_batch_size ", c.train_batch_size,
                " is not micro x accumulation x world size");

  c.reduce_bucket_size = number_or(r, "zero_optimization.reduce_bucket_size", 5e8);
  c.allgather_bucket_size = number_or(r, "zero_optimization.allgather_bucket_size", 5e8);
  c.stage3_prefetch_bucket_size =
      number_or(r, "zero_optimization.stage3_prefetch_bucket_size", 5e7);
  c.stage3_param_persistence_threshold =
      number_or(r, "zero_optimization.stage3_param_persistence_threshold", 1e5);
  c.overlap_comm = bool_or(r, "zero_optimization.overlap_comm", c.zero_stage == 3);
  c.contiguous_gradients = bool_or(r, "zero_optimization.contiguous_gradients", true);
}

DeepSpeedConfig parse(const json& j, const Locator& loc, const TrainingArgs& args,
                      int64_t world_size) {
  if (!j.is_object()) {
    throw Error(str(loc.file(), ": a DeepSpeed config is a JSON object, not ", describe(j)));
  }
  if (world_size < 1) throw Error(str("DeepSpeed: world size ", world_size, " must be >= 1"));
  deepspeed_check(j, loc);

  DeepSpeedConfig c;
  c.path = loc.file();
  c.resolved = j;
  Resolver r(c.resolved, loc);
  const int64_t micro = args.per_device_train_batch_size;
  const int64_t accumulation = args.gradient_accumulation_steps;
  const int64_t total_batch = world_size * micro * accumulation;
  r.match("train_micro_batch_size_per_gpu", micro, hf_value("per_device_train_batch_size", micro));
  r.match("gradient_accumulation_steps", accumulation,
          hf_value("gradient_accumulation_steps", accumulation));
  r.match("train_batch_size", total_batch,
          str("world size × training_args.per_device_train_batch_size × ",
              "gradient_accumulation_steps = ", world_size, " × ", micro, " × ", accumulation,
              " = ", total_batch));
  r.match("gradient_clipping", args.max_grad_norm, hf_value("max_grad_norm", args.max_grad_norm));
  r.match("optimizer.params.lr", args.learning_rate, hf_value("learning_rate", args.learning_rate));
  const json betas = {args.adam_beta1, args.adam_beta2};
  r.match("optimizer.params.betas", betas,
          str("training_args.[adam_beta1, adam_beta2]=", betas.dump()));
  r.match("optimizer.params.eps", args.adam_epsilon, hf_value("adam_epsilon", args.adam_epsilon));
  r.match("optimizer.params.weight_decay", args.weight_decay,
          hf_value("weight_decay", args.weight_decay));
  r.fill("scheduler.params.warmup_min_lr", 0);
  r.match("scheduler.params.warmup_max_lr", args.learning_rate,
          hf_value("learning_rate", args.learning_rate));
  // Transformers fills warmup_num_steps in finalize; when it does not depend on the step count
  // it is known now, and a conflict is better reported before training starts.
  if (args.warmup_steps > 0 || args.warmup_ratio == 0) {
    r.match("scheduler.params.warmup_num_steps", args.warmup_steps_for(0),
            hf_value("warmup_steps", args.warmup_steps_for(0)));
  }
  r.match("fp16.enabled", args.fp16, hf_value("fp16", args.fp16));
  r.match("bf16.enabled", args.bf16, hf_value("bf16", args.bf16));
  r.throw_mismatches();
  fields_set(c, c.resolved, args, world_size, loc);
  return c;
}

}  // namespace

DeepSpeedConfig deepspeed_load(const std::string& path, const TrainingArgs& args,
                               int64_t world_size) {
  const std::string text = read_text_file(path, "DeepSpeed config");
  json_check_depth(text, path);
  json j;
  std::string duplicate;
  try {
    j = json_parse_keys(text, &duplicate);
  } catch (const json::parse_error& e) {
    std::string what = e.what();  // "[json.exception.parse_error.101] parse error at line 3..."
    const size_t bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    throw Error(str(path, ": invalid JSON: ", what));
  } catch (const json::out_of_range& e) {  // a number past the double range
    throw Error(str(path, ": invalid JSON: ", e.what()));
  }
  if (!duplicate.empty()) {
    throw Error(str(path, ": \"", duplicate, "\" is given twice in one object; keep one"));
  }
  // JSON is YAML, so yaml-cpp gives each key its line for messages; a file it cannot read
  // simply gets messages without lines.
  std::vector<KeyOrigin> keys;
  try {
    keys = yaml_to_json(text, path).keys;
  } catch (const Error&) {
  }
  return parse(j, Locator(path, keys), args, world_size);
}

DeepSpeedConfig deepspeed_parse(const json& j, const std::string& path, const TrainingArgs& args,
                                int64_t world_size) {
  return parse(j, Locator(path.empty() ? "<deepspeed>" : path, {}), args, world_size);
}

void deepspeed_finalize(DeepSpeedConfig& config, const TrainingArgs& args, int64_t hidden_size,
                        int64_t num_training_steps) {
  if (num_training_steps < 1) {
    throw Error(
        str(config.path, ": the number of training steps (", num_training_steps, ") must be >= 1"));
  }
  json& r = config.resolved;
  const bool zero3 = config.zero_stage == 3;
  const bool hidden_auto =
      deepspeed_is_auto(deepspeed_find(r, "zero_optimization.reduce_bucket_size")) ||
      deepspeed_is_auto(deepspeed_find(r, "zero_optimization.stage3_prefetch_bucket_size")) ||
      deepspeed_is_auto(deepspeed_find(r, "zero_optimization.stage3_param_persistence_threshold"));
  if (hidden_auto && hidden_size < 1) {
    throw Error(str(config.path, ": zero_optimization sizes are \"auto\" but the model's ",
                    "hidden_size (", hidden_size, ") is unknown"));
  }
  const double h = static_cast<double>(hidden_size);
  const Locator loc(config.path, {});
  Resolver resolver(r, loc);
  resolver.fill("zero_optimization.reduce_bucket_size", hidden_size * hidden_size);
  // Transformers fills the stage3_* sizes only under ZeRO-3; below it they have no effect and
  // get DeepSpeed's defaults so that no "auto" is left.
  resolver.fill("zero_optimization.stage3_prefetch_bucket_size", zero3 ? 0.9 * h * h : 5e7);
  resolver.fill("zero_optimization.stage3_param_persistence_threshold",
                zero3 ? json(10 * hidden_size) : json(1e5));
  resolver.match("scheduler.params.total_num_steps", num_training_steps,
                 str("the number of training steps is ", num_training_steps));
  const int64_t warmup = args.warmup_steps_for(num_training_steps);
  resolver.match("scheduler.params.warmup_num_steps", warmup,
                 str("training_args gives ", warmup, " warmup steps for ", num_training_steps,
                     " training steps"));
  resolver.throw_mismatches();

  config.reduce_bucket_size = number_or(r, "zero_optimization.reduce_bucket_size", 5e8);
  config.stage3_prefetch_bucket_size =
      number_or(r, "zero_optimization.stage3_prefetch_bucket_size", 5e7);
  config.stage3_param_persistence_threshold =
      number_or(r, "zero_optimization.stage3_param_persistence_threshold", 1e5);
  config.total_num_steps = num_training_steps;
  if (!config.scheduler_type.empty()) {
    config.warmup_num_steps = int_or(r, "scheduler.params.warmup_num_steps", 1000);
  }
}

}  // namespace llmtune::config
