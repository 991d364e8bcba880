#include "io/peft_adapter.h"

#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "io/safetensors.h"

namespace llmtune::io {

namespace {

using nlohmann::json;

constexpr const char* kConfig = "adapter_config.json";
constexpr const char* kWeights = "adapter_model.safetensors";

bool is_off(const json& v) {
  return v.is_null() || (v.is_boolean() && !v.get<bool>()) ||
         ((v.is_object() || v.is_array() || v.is_string()) && v.empty());
}

// A number that is integral prints as an int, as Python writes PEFT's int fields.
json number(double v) {
  return v == static_cast<double>(static_cast<int64_t>(v)) ? json(static_cast<int64_t>(v))
                                                           : json(v);
}

}  // namespace

model::LoraConfig adapter_config_load(const std::string& dir) {
  const std::string path = path_join(dir, kConfig);
  if (!file_exists(path))
    throw Error(str(dir, ": no ", kConfig, "; is this a PEFT adapter directory?"));
  const json j = read_json(path);
  if (!j.is_object()) throw Error(str(path, ": expected a JSON object"));
  model::LoraConfig c;
  // Typed reads that refuse what nlohmann would convert: r 4.5 (truncated) or 1e300 (out of
  // int64's range, undefined behaviour), an infinite alpha.
  auto get = [&](const char* key, auto fallback) { return json_get_or(j, key, fallback, path); };
  const std::string peft_type = get("peft_type", std::string("LORA"));
  if (peft_type != "LORA") {
    throw Error(
        str(path, ": peft_type \"", peft_type, "\" is not supported; llmtune loads LoRA adapters"));
  }
  const std::string task = get("task_type", std::string("CAUSAL_LM"));
  if (task != "CAUSAL_LM") {
    throw Error(str(path, ": task_type \"", task, "\": llmtune adapters are for CAUSAL_LM"));
  }
  c.r = get("r", int64_t{8});
  c.alpha = get("lora_alpha", 8.0);
  c.dropout = get("lora_dropout", 0.0);
  c.use_rslora = get("use_rslora", false);
  c.base_model_name_or_path = get("base_model_name_or_path", std::string());
  if (j.contains("target_modules") && !j["target_modules"].is_null()) {
    const json& t = j["target_modules"];
    if (t.is_string() && t.get<std::string>() == "all-linear") {
      c.target_modules = {"all-linear"};
    } else if (t.is_string()) {
      throw Error(str(path, ": target_modules ", t.dump(), " is a regular expression, which ",
                      "llmtune does not support; list the module names instead"));
    } else if (t.is_array()) {
      if (t.empty()) {
        throw Error(str(path, ": target_modules is empty, so the adapter changes nothing; ",
                        "list the modules it adapts"));
      }
      for (const json& m : t) {
        if (!m.is_string()) throw Error(str(path, ": target_modules must hold strings"));
        c.target_modules.push_back(m.get<std::string>());
      }
    } else {
      throw Error(str(path, ": target_modules must be a list of module names"));
    }
  }
  const std::string bias = get("bias", std::string("none"));
  if (bias != "none")
    throw Error(str(path, ": bias \"", bias, "\" is not supported (use \"none\")"));
  static const std::set<std::string> kKnown = {
      "peft_type",         "task_type",      "r",
      "lora_alpha",        "lora_dropout",   "use_rslora",
      "target_modules",    "bias",           "base_model_name_or_path",
      "init_lora_weights", "inference_mode", "revision",
      "auto_mapping",      "megatron_core",  "megatron_config",
      "loftq_config",      "fan_in_fan_out", "layers_to_transform",
      "layers_pattern",    "rank_pattern",   "alpha_pattern",
      "modules_to_save",   "use_dora",       "layer_replication",
      "runtime_config",    "lora_bias",      "exclude_modules"};
  for (auto& [key, value] : j.items()) {
    if (kKnown.count(key)) continue;
    if (!is_off(value)) {
      throw Error(str(path, ": \"", key, "\": ", value.dump(),
                      " asks for a PEFT feature llmtune does not implement"));
    }
  }
  for (const char* key : {"fan_in_fan_out", "layers_to_transform", "layers_pattern", "rank_pattern",
                          "alpha_pattern", "modules_to_save", "use_dora", "layer_replication",
                          "lora_bias", "exclude_modules", "loftq_config"}) {
    if (j.contains(key) && !is_off(j[key])) {
      throw Error(str(path, ": \"", key, "\": ", j[key].dump(),
                      " is not supported by llmtune; use an adapter without it"));
    }
  }
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(str(path, ": ", e.what()));
  }
  return c;
}

namespace {

// Copies every adapter tensor of `model` from `file`, which must hold exactly those, shaped so.
void load_lora_tensors(model::LlamaModel& model, const SafetensorsFile& file) {
  const std::string& path = file.path();
  std::set<std::string> expected;
  for (model::ParamRef& p : model.parameters()) {
    if (p.name.find("lora_") == std::string::npos) continue;
    expected.insert(p.name);
    if (file.find(p.name) == nullptr) {
      throw Error(str(path, ": tensor \"", p.name, "\" is missing (adapter_config.json targets ",
                      "this module)"));
    }
    const Tensor src = file.tensor(p.name);
    if (src.shape() != p.value->shape()) {
      throw Error(str(path, ": tensor \"", p.name, "\" has shape ", shape_str(src.shape()),
                      " but the model needs ", shape_str(p.value->shape()),
                      "; the adapter was trained for a different model or r"));
    }
    if (src.dtype() == DType::I32) {
      throw Error(
          str(path, ": tensor \"", p.name, "\" is I32; adapter weights must be F32, BF16 or F16"));
    }
    p.value->copy_(src);
  }
  for (const SafetensorsEntry& e : file.entries()) {
    if (!expected.count(e.name)) {
      throw Error(str(path, ": unexpected tensor \"", e.name,
                      "\"; it matches no LoRA module of this model and adapter_config.json"));
    }
  }
}

}  // namespace

void adapter_load(model::LlamaModel& model, const std::string& dir) {
  const Activity activity("loading the adapter " + dir);
  const model::LoraConfig config = adapter_config_load(dir);
  const std::string path = path_join(dir, kWeights);
  if (!file_exists(path)) throw Error(str(dir, ": no ", kWeights));
  const auto file = SafetensorsFile::open(path);
  model.add_lora(config, 0);
  try {
    load_lora_tensors(model, *file);
  } catch (...) {
    model.remove_lora();  // leave the model as it was
    throw;
  }
}

void adapter_load_weights(model::LlamaModel& model, const std::string& dir) {
  const std::string path = path_join(dir, kWeights);
  if (!file_exists(path)) throw Error(str(dir, ": no ", kWeights));
  load_lora_tensors(model, *SafetensorsFile::open(path));
}

void adapter_save(model::LlamaModel& model, const std::string& dir) {
  const model::LoraConfig& c = model.lora_config();
  std::filesystem::create_directories(dir);
  NamedTensors tensors;
  for (model::ParamRef& p : model.parameters()) {
    if (p.name.find("lora_") != std::string::npos) tensors.emplace_back(p.name, *p.value);
  }
  safetensors_write(path_join(dir, kWeights), tensors);
  // peft 0.8.2's key set and formatting: json.dumps(indent=2, sort_keys=True), no newline.
  json j = {{"alpha_pattern", json::object()},
            {"auto_mapping", nullptr},
            {"base_model_name_or_path", c.base_model_name_or_path},
            {"bias", "none"},
            {"fan_in_fan_out", false},
            {"inference_mode", true},
            {"init_lora_weights", true},
            {"layers_pattern", nullptr},
            {"layers_to_transform", nullptr},
            {"loftq_config", json::object()},
            {"lora_alpha", number(c.alpha)},
            {"lora_dropout", c.dropout},
            {"megatron_config", nullptr},
            {"megatron_core", "megatron.core"},
            {"modules_to_save", nullptr},
            {"peft_type", "LORA"},
            {"r", c.r},
            {"rank_pattern", json::object()},
            {"revision", nullptr},
            {"target_modules", c.resolved_targets()},
            {"task_type", "CAUSAL_LM"},
            {"use_rslora", c.use_rslora}};
  write_file_atomic(path_join(dir, kConfig), json_dumps_sorted(j));
}

}  // namespace llmtune::io
