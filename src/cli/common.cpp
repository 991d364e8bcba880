#include "cli/common.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <climits>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/device.h"
#include "core/error.h"
#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"

namespace llmtune::cli {

namespace {

template <typename T>
CLI::Validator number_check(bool allow_zero) {
  const std::string want =
      str(std::is_integral_v<T> ? "an integer" : "a finite number", allow_zero ? " >= 0" : " > 0");
  return CLI::Validator(
      [allow_zero, want](std::string& text) -> std::string {
        T v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        const bool ok = ec == std::errc() && end == text.data() + text.size() &&
                        std::isfinite(static_cast<double>(v)) && v >= 0 && (allow_zero || v > 0);
        return ok ? "" : str("\"", text, "\" is not ", want);
      },
      std::is_integral_v<T> ? (allow_zero ? "INT >= 0" : "INT > 0")
                            : (allow_zero ? "NUMBER >= 0" : "NUMBER > 0"));
}

}  // namespace

const CLI::Validator kFinitePositive = number_check<double>(false);
const CLI::Validator kFiniteNonNegative = number_check<double>(true);
const CLI::Validator kPositiveInteger = number_check<int64_t>(false);
const CLI::Validator kNonNegativeInteger = number_check<int64_t>(true);

void add_model_options(CLI::App* cmd, ModelArgs* a) {
  cmd->add_option("--model", a->dir, "Hugging Face model directory (config.json, safetensors)")
      ->required();
  cmd->add_option("--adapter", a->adapter, "PEFT LoRA adapter directory to apply");
  cmd->add_flag("--merge", a->merge, "Merge the adapter into the weights before running");
  cmd->add_option("--dtype", a->dtype, "Weight storage: f32 or bf16")->capture_default_str();
  cmd->add_option("--tokenizer", a->tokenizer, "Tokenizer directory (default: the model's)");
  cmd->add_option("--device", a->device, "cpu, cuda, cuda:N, or auto (a GPU when there is one)")
      ->capture_default_str();
}

std::unique_ptr<model::LlamaModel> load_model(const ModelArgs& a) {
  model::ModelOptions o;
  o.device = device_resolve(a.device);
  if (a.dtype == "bf16")
    o.frozen_dtype = DType::BF16;
  else if (a.dtype != "f32")
    throw Error(str("--dtype \"", a.dtype, "\" must be f32 or bf16"));
  namespace fs = std::filesystem;
  if (!fs::exists(fs::path(a.dir) / "config.json") &&
      fs::exists(fs::path(a.dir) / "adapter_config.json")) {
    const model::LoraConfig lora = io::adapter_config_load(a.dir);
    throw Error(
        str(a.dir, " is a LoRA adapter, not a model: give its base model with --model",
            lora.base_model_name_or_path.empty() ? "" : " (" + lora.base_model_name_or_path + ")",
            " and this directory with --adapter"));
  }
  auto m = io::model_load(a.dir, o);
  if (!a.adapter.empty()) {
    io::adapter_load(*m, a.adapter);
    if (a.merge) m->merge_lora();
  } else if (a.merge) {
    throw Error("--merge needs an --adapter to merge");
  }
  return m;
}

std::unique_ptr<text::Tokenizer> load_tokenizer(const ModelArgs& a, bool optional) {
  const std::string dir = a.tokenizer.empty() ? a.dir : a.tokenizer;
  namespace fs = std::filesystem;
  if (optional && !fs::exists(fs::path(dir) / "tokenizer.json") &&
      !fs::exists(fs::path(dir) / "tokenizer.model")) {
    return nullptr;
  }
  return text::tokenizer_load(dir);
}

std::vector<int32_t> parse_token_ids(const std::string& text, const std::string& option) {
  const auto bad = [&](const std::string& why) {
    return Error(str(option, ": ", why, "; give ids like 1,15043,3186"));
  };
  std::string_view s = text;
  const auto trim = [](std::string_view v) {
    const size_t b = v.find_first_not_of(" \t\n");
    return b == std::string_view::npos ? std::string_view()
                                       : v.substr(b, v.find_last_not_of(" \t\n") - b + 1);
  };
  s = trim(s);
  if (s.starts_with('[') && s.ends_with(']')) s = trim(s.substr(1, s.size() - 2));
  // Separated by commas (every item then non-empty) or, without commas, by spaces.
  const bool commas = s.find(',') != std::string_view::npos;
  std::vector<int32_t> ids;
  while (!s.empty()) {
    const size_t cut = commas ? s.find(',') : s.find_first_of(" \t\n");
    const std::string_view word = trim(s.substr(0, cut));
    s = cut == std::string_view::npos ? std::string_view() : trim(s.substr(cut + 1));
    if (word.empty()) throw bad("an empty item between commas");
    int32_t v = -1;
    const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
    if (ec != std::errc() || end != word.data() + word.size() || v < 0)
      throw bad(str("\"", word, "\" is not a token id (an integer from 0 to ", INT32_MAX, ")"));
    ids.push_back(v);
    if (commas && cut != std::string_view::npos && s.empty()) throw bad("a trailing comma");
  }
  if (ids.empty()) throw bad("no token ids given");
  return ids;
}

}  // namespace llmtune::cli
