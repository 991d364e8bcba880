#include "config/fields.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <variant>

#include "core/device.h"
#include "core/error.h"
#include "model/lora.h"

namespace llmtune::config {

using nlohmann::json;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The allowed interval of a numeric field; open ends exclude the bound.
struct Range {
  double min = -kInf;
  bool min_open = false;
  double max = kInf;
  bool max_open = false;

  bool contains(double v) const {
    return (min_open ? v > min : v >= min) && (max_open ? v < max : v <= max);
  }
  std::string text() const {
    if (max == kInf) return str(min_open ? "> " : ">= ", min);
    if (min == -kInf) return str(max_open ? "< " : "<= ", max);
    return str("in ", min_open ? "(" : "[", min, ", ", max, max_open ? ")" : "]");
  }
};

constexpr Range kAny{};
constexpr Range kPositive{.min = 0, .min_open = true};
constexpr Range kAtLeastOne{.min = 1};
constexpr Range kNonNegative{.min = 0};
constexpr Range kUnitOpen{.min = 0, .max = 1, .max_open = true};
constexpr Range kUnit{.min = 0, .max = 1};

template <typename T>
using Member = std::variant<std::string T::*, int64_t T::*, double T::*, bool T::*>;

template <typename T>
struct Field {
  Field(std::string_view name, Member<T> member, Range range = {},
        std::vector<std::string_view> choices = {})
      : name(name), member(member), range(range), choices(std::move(choices)) {}
  std::string_view name;
  Member<T> member;
  Range range;
  std::vector<std::string_view> choices;  // empty: any string
};

const std::vector<Field<TrainingArgs>>& training_fields() {
  using A = TrainingArgs;
  static const std::vector<Field<A>> fields = {
      {"output_dir", &A::output_dir},
      {"max_steps", &A::max_steps, {.min = -1}},
      {"num_train_epochs", &A::num_train_epochs, kNonNegative},
      {"per_device_train_batch_size", &A::per_device_train_batch_size, kAtLeastOne},
      {"per_device_eval_batch_size", &A::per_device_eval_batch_size, kAtLeastOne},
      {"gradient_accumulation_steps", &A::gradient_accumulation_steps, kAtLeastOne},
      {"learning_rate", &A::learning_rate, kPositive},
      {"weight_decay", &A::weight_decay, kNonNegative},
      {"adam_beta1", &A::adam_beta1, kUnitOpen},
      {"adam_beta2", &A::adam_beta2, kUnitOpen},
      {"adam_epsilon", &A::adam_epsilon, kPositive},  // 0 divides by zero where v is 0
      {"max_grad_norm", &A::max_grad_norm, kNonNegative},
      {"lr_scheduler_type",
       &A::lr_scheduler_type,
       kAny,
       {"linear", "cosine", "constant", "constant_with_warmup"}},
      {"warmup_ratio", &A::warmup_ratio, kUnit},
      {"warmup_steps", &A::warmup_steps, kNonNegative},
      {"bf16", &A::bf16},
      {"fp16", &A::fp16},
      {"evaluation_strategy", &A::evaluation_strategy, kAny, {"no", "steps", "epoch"}},
      {"eval_steps", &A::eval_steps, kNonNegative},
      {"logging_strategy", &A::logging_strategy, kAny, {"no", "steps", "epoch"}},
      {"logging_steps", &A::logging_steps, kNonNegative},
      {"save_strategy", &A::save_strategy, kAny, {"no", "steps", "epoch"}},
      {"save_steps", &A::save_steps, kNonNegative},
      {"save_total_limit", &A::save_total_limit, kNonNegative},
      {"seed", &A::seed, kNonNegative},
      {"gradient_checkpointing", &A::gradient_checkpointing},
      {"group_by_length", &A::group_by_length},
      {"deepspeed", &A::deepspeed},
  };
  return fields;
}

// TrainingArguments names that change nothing in llmtune (reporting, hub, data loader workers,
// which checkpoint HF reloads at the end): accepted so reference configs load, with a notice.
const std::vector<std::string_view> kIgnoredTrainingArgs = {
    "report_to",
    "push_to_hub",
    "hub_model_id",
    "hub_strategy",
    "logging_dir",
    "logging_first_step",
    "run_name",
    "remove_unused_columns",
    "dataloader_num_workers",
    "dataloader_pin_memory",
    "ddp_find_unused_parameters",
    "overwrite_output_dir",
    "load_best_model_at_end",
    "metric_for_best_model",
    "greater_is_better",
    "disable_tqdm",
    "save_safetensors",
    "bf16_full_eval",
    "fp16_full_eval",
    "log_level",
};
constexpr std::string_view kOptimizers[] = {"adamw_torch", "adamw_hf"};

const std::vector<Field<TrialConfig>>& trial_fields() {
  using T = TrialConfig;
  static const std::vector<Field<T>> fields = {
      {"model", &T::model},
      {"tokenizer", &T::tokenizer},
      {"dataset", &T::dataset},
      {"dataset_subset", &T::dataset_subset, kAny, {"easy", "medium", "hard", "all"}},
      {"chat_template", &T::chat_template},
      {"device", &T::device},
      {"max_length", &T::max_length, kAtLeastOne},
      {"lora", &T::lora},
      {"r", &T::lora_r, kAtLeastOne},
      {"lora_alpha", &T::lora_alpha, kPositive},
      {"lora_dropout", &T::lora_dropout, kUnitOpen},
  };
  return fields;
}

template <typename T>
const Field<T>* field_find(const std::vector<Field<T>>& fields, std::string_view name) {
  for (const Field<T>& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

template <typename T>
void field_set(T& target, const Field<T>& f, const json& v, const std::string& key,
               const Locator& loc) {
  if (v.is_null()) return;  // null (Python's None) keeps the default
  auto check_range = [&](double x) {
    if (!f.range.contains(x)) fail_at(loc, key, str("must be ", f.range.text(), ", got ", x));
  };
  std::visit(
      [&](auto member) {
        using V = std::remove_reference_t<decltype(target.*member)>;
        if constexpr (std::is_same_v<V, std::string>) {
          std::string s = read_string(v, key, loc);
          if (!f.choices.empty() &&
              std::find(f.choices.begin(), f.choices.end(), s) == f.choices.end()) {
            std::string list;
            for (std::string_view c : f.choices) list += str(list.empty() ? "" : ", ", c);
            fail_at(loc, key, str("'", s, "' is not one of ", list));
          }
          target.*member = std::move(s);
        } else if constexpr (std::is_same_v<V, int64_t>) {
          const int64_t x = read_int(v, key, loc);
          check_range(static_cast<double>(x));
          target.*member = x;
        } else if constexpr (std::is_same_v<V, double>) {
          const double x = read_number(v, key, loc);
          check_range(x);
          target.*member = x;
        } else {
          target.*member = read_bool(v, key, loc);
        }
      },
      f.member);
}

bool is_ignored_training_arg(std::string_view name) {
  return std::find(kIgnoredTrainingArgs.begin(), kIgnoredTrainingArgs.end(), name) !=
         kIgnoredTrainingArgs.end();
}

void add_notice(std::vector<std::string>& notices, const std::string& line) {
  if (std::find(notices.begin(), notices.end(), line) == notices.end()) notices.push_back(line);
}

std::vector<std::string> full_keys(const std::string& prefix,
                                   const std::vector<std::string_view>& names) {
  std::vector<std::string> out;
  for (std::string_view n : names) out.push_back(key_join(prefix, std::string(n)));
  return out;
}

void training_args_map_check(const json& m, const std::string& key, const Locator& loc,
                             std::vector<std::string>& notices, bool allow_typed) {
  read_map(m, key, loc);
  check_keys(m, key, training_arg_names(), loc,
             full_keys("hyperparameters", hyperparameter_names()));
  if (m.contains("eval_strategy") && m.contains("evaluation_strategy")) {
    fail_at(loc, key + ".eval_strategy",
            "eval_strategy and evaluation_strategy are the same setting; keep one");
  }
  for (const auto& [name, v] : m.items()) {
    const std::string k = key_join(key, name);
    if (is_ignored_training_arg(name)) {
      add_notice(notices, str(k, ": has no effect in llmtune; ignored"));
      continue;
    }
    TrainingArgs scratch;
    if (allow_typed && hp_is_typed(v)) {
      hp_check_typed(v, k, loc);
      for (const auto& [suffix, c] : hp_candidates(v)) {
        training_arg_set(scratch, name, c, k + suffix, loc);
      }
    } else {
      training_arg_set(scratch, name, v, k, loc);
    }
  }
}

void hyperparameter_value_check(const std::string& name, const json& v, const std::string& key,
                                const Locator& loc, std::vector<std::string>& notices) {
  if (name == "training_args") {
    training_args_map_check(v, key, loc, notices, false);
  } else {
    TrialConfig scratch;
    trial_field_set(scratch, name, v, key, loc);
  }
}

}  // namespace

const std::vector<std::string_view>& hyperparameter_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const auto& f : trial_fields()) out.push_back(f.name);
    out.insert(out.end(), {"lora_target_modules", "target_modules", "training_args"});
    return out;
  }();
  return names;
}

const std::vector<std::string_view>& training_arg_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const auto& f : training_fields()) out.push_back(f.name);
    out.push_back("eval_strategy");
    out.push_back("optim");
    out.insert(out.end(), kIgnoredTrainingArgs.begin(), kIgnoredTrainingArgs.end());
    return out;
  }();
  return names;
}

bool hp_is_typed(const json& v) {
  return v.is_object() && v.contains("type");
}

void hp_check_typed(const json& v, const std::string& key, const Locator& loc) {
  static const std::vector<std::string_view> kTypes = {"const", "int", "double", "log",
                                                       "categorical"};
  const std::string type_key = key + ".type";
  const std::string type = read_string(v["type"], type_key, loc);
  if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end()) {
    const std::string near = key_closest(type, kTypes);
    fail_at(loc, type_key,
            str("unknown hyperparameter type '", type, "' (const, int, double, log or categorical)",
                near.empty() ? "" : str("; did you mean '", near, "'?")));
  }
  auto require = [&](const char* name) -> const json& {
    if (!v.contains(name)) fail_at(loc, key, str("a ", type, " hyperparameter needs '", name, "'"));
    return v[name];
  };
  if (type == "const") {
    check_keys(v, key, {"type", "val"}, loc);
    require("val");
  } else if (type == "categorical") {
    check_keys(v, key, {"type", "vals"}, loc);
    const json& vals = require("vals");
    if (!vals.is_array() || vals.empty()) {
      fail_at(loc, key + ".vals", str("expected a non-empty list, got ", describe(vals)));
    }
  } else {
    if (type == "log") {
      check_keys(v, key, {"type", "minval", "maxval", "base", "count"}, loc);
      if (read_number(require("base"), key + ".base", loc) <= 0) {
        fail_at(loc, key + ".base", "must be > 0");
      }
    } else {
      check_keys(v, key, {"type", "minval", "maxval", "count"}, loc);
    }
    auto bound = [&](const char* name) {
      const json& b = require(name);
      return type == "int" ? static_cast<double>(read_int(b, str(key, ".", name), loc))
                           : read_number(b, str(key, ".", name), loc);
    };
    const double lo = bound("minval"), hi = bound("maxval");
    if (!(lo < hi)) fail_at(loc, key, str("minval (", lo, ") must be less than maxval (", hi, ")"));
    if (v.contains("count") && !v["count"].is_null() &&
        read_int(v["count"], key + ".count", loc) < 1) {
      fail_at(loc, key + ".count", "must be >= 1");
    }
  }
}

std::vector<std::pair<std::string, json>> hp_candidates(const json& v) {
  const std::string type = v["type"].get<std::string>();
  if (type == "const") return {{".val", v["val"]}};
  std::vector<std::pair<std::string, json>> out;
  if (type == "categorical") {
    for (size_t i = 0; i < v["vals"].size(); ++i)
      out.emplace_back(str(".vals[", i, "]"), v["vals"][i]);
    return out;
  }
  if (type == "int") return {{".minval", v["minval"]}, {".maxval", v["maxval"]}};
  const double lo = v["minval"].get<double>(), hi = v["maxval"].get<double>();
  const double base = type == "log" ? v["base"].get<double>() : 0;
  auto value = [&](double x) { return type == "log" ? std::pow(base, x) : x; };
  return {{".minval", value(lo)}, {".maxval", value(hi)}, {"", value((lo + hi) / 2)}};
}

void hyperparameters_check(const json& hp, const Locator& loc, std::vector<std::string>& notices) {
  read_map(hp, "hyperparameters", loc);
  check_keys(hp, "hyperparameters", hyperparameter_names(), loc,
             full_keys("hyperparameters.training_args", training_arg_names()));
  if (hp.contains("lora_target_modules") && hp.contains("target_modules")) {
    fail_at(loc, "hyperparameters.target_modules",
            "target_modules and lora_target_modules are the same setting; keep one");
  }
  for (const auto& [name, v] : hp.items()) {
    const std::string key = "hyperparameters." + name;
    if (hp_is_typed(v)) {
      hp_check_typed(v, key, loc);
      for (const auto& [suffix, c] : hp_candidates(v)) {
        hyperparameter_value_check(name, c, key + suffix, loc, notices);
      }
    } else if (name == "training_args") {
      training_args_map_check(v, key, loc, notices, true);
    } else {
      hyperparameter_value_check(name, v, key, loc, notices);
    }
  }
  if (!hp.contains("dataset") || hp["dataset"].is_null()) {
    add_notice(notices,
               "hyperparameters.dataset is not set: trials train on llmtune's built-in synthetic "
               "text-to-SQL set (give a prepared directory or a records file to use your data)");
  }
  if (!hp.contains("model") || hp["model"].is_null()) {
    fail_at(loc, "hyperparameters",
            "'model' is required: the directory of a Hugging Face model (config.json and "
            "safetensors)");
  }
}

void trial_field_set(TrialConfig& t, const std::string& name, const json& v, const std::string& key,
                     const Locator& loc) {
  if (name == "lora_target_modules" || name == "target_modules") {
    t.lora_target_modules.clear();
    if (v.is_null()) return;
    if (v.is_string()) {  // PEFT also takes one name
      t.lora_target_modules.push_back(v.get<std::string>());
    } else if (!v.is_array()) {
      fail_at(loc, key, str("expected a list of module names, got ", describe(v)));
    }
    for (size_t i = 0; v.is_array() && i < v.size(); ++i) {
      t.lora_target_modules.push_back(read_string(v[i], str(key, "[", i, "]"), loc));
    }
    // The model's own check, here so that the error names the file and line.
    const std::vector<std::string>& known = model::lora_supported_modules();
    for (size_t i = 0; i < t.lora_target_modules.size(); ++i) {
      const std::string& m = t.lora_target_modules[i];
      if (m == "all-linear" && t.lora_target_modules.size() == 1) break;
      if (std::find(known.begin(), known.end(), m) == known.end()) {
        std::vector<std::string_view> names(known.begin(), known.end());
        const std::string near = key_closest(m, names);
        std::string list;
        for (const std::string& k : known) list += k + ", ";
        fail_at(loc, v.is_array() ? str(key, "[", i, "]") : key,
                str("'", m, "' is not a module LoRA can target",
                    near.empty() ? "" : str(" (did you mean '", near, "'?)"), "; choose from ",
                    list, "or all-linear"));
      }
    }
    return;
  }
  if (name == "training_args") {
    read_map(v, key, loc);
    for (const auto& [n, av] : v.items()) {
      training_arg_set(t.training_args, n, av, key_join(key, n), loc);
    }
    return;
  }
  const Field<TrialConfig>* f = field_find(trial_fields(), name);
  if (f == nullptr) {
    fail_unknown_key(loc, key, hyperparameter_names(),
                     full_keys("hyperparameters.training_args", training_arg_names()));
  }
  field_set(t, *f, v, key, loc);
  Device device;
  if (name == "device" && !device_parse(t.device, &device))
    fail_at(loc, key, str("'", t.device, "' is not one of auto, cpu, cuda, cuda:N"));
  if ((name == "model" || name == "dataset") && v.is_string() && v.get<std::string>().empty()) {
    fail_at(loc, key, "must not be empty");
  }
}

void training_arg_set(TrainingArgs& a, const std::string& name, const json& v,
                      const std::string& key, const Locator& loc) {
  if (is_ignored_training_arg(name)) return;
  if (name == "optim") {
    if (v.is_null()) return;
    const std::string o = read_string(v, key, loc);
    if (std::find(std::begin(kOptimizers), std::end(kOptimizers), o) == std::end(kOptimizers)) {
      fail_at(
          loc, key,
          str("'", o, "' is not supported: llmtune trains with AdamW (adamw_torch or adamw_hf)"));
    }
    return;
  }
  const Field<TrainingArgs>* f =
      field_find(training_fields(), name == "eval_strategy" ? "evaluation_strategy" : name);
  if (f == nullptr) {
    fail_unknown_key(loc, key, training_arg_names(),
                     full_keys("hyperparameters", hyperparameter_names()));
  }
  field_set(a, *f, v, key, loc);
}

void training_args_check(const TrainingArgs& a, const std::string& prefix, const Locator& loc) {
  if (a.bf16 && a.fp16) {
    fail_at(loc, prefix + ".fp16", "bf16 and fp16 are both true; choose one");
  }
  if (a.max_steps <= 0 && a.num_train_epochs <= 0) {
    fail_at(loc, prefix, "no training length: set max_steps > 0 or num_train_epochs > 0");
  }
  if (a.logging_strategy == "steps" && a.logging_steps == 0) {
    fail_at(loc, prefix + ".logging_steps", "must be > 0 when logging_strategy is steps");
  }
  if (a.save_strategy == "steps" && a.save_steps == 0) {
    fail_at(loc, prefix + ".save_steps", "must be > 0 when save_strategy is steps");
  }
  if (a.evaluation_strategy == "steps" && a.eval_steps == 0 && a.logging_steps == 0) {
    fail_at(loc, prefix + ".eval_steps", "must be > 0 when evaluation_strategy is steps");
  }
}

}  // namespace llmtune::config
