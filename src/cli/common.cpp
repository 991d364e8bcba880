#include "cli/common.h"

#include <CLI/CLI.hpp>
#include <climits>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"

namespace llmtune::cli {

void add_model_options(CLI::App* cmd, ModelArgs* a) {
  cmd->add_option("--model", a->dir, "Hugging Face model directory (config.json, safetensors)")
      ->required();
  cmd->add_option("--adapter", a->adapter, "PEFT LoRA adapter directory to apply");
  cmd->add_flag("--merge", a->merge, "Merge the adapter into the weights before running");
  cmd->add_option("--dtype", a->dtype, "Weight storage: f32 or bf16")->capture_default_str();
  cmd->add_option("--tokenizer", a->tokenizer, "Tokenizer directory (default: the model's)");
}

std::unique_ptr<model::LlamaModel> load_model(const ModelArgs& a) {
  model::ModelOptions o;
  if (a.dtype == "bf16")
    o.frozen_dtype = DType::BF16;
  else if (a.dtype != "f32")
    throw Error(str("--dtype \"", a.dtype, "\" must be f32 or bf16"));
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
  std::string cleaned = text;
  for (char& c : cleaned) {
    if (c == ',' || c == '[' || c == ']') c = ' ';
  }
  std::vector<int32_t> ids;
  std::istringstream in(cleaned);
  for (std::string word; in >> word;) {
    size_t used = 0;
    long v = -1;
    try {
      v = std::stol(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < INT32_MIN || v > INT32_MAX) {
      throw Error(str(option, ": \"", word, "\" is not a token id; give ids like 1,15043,3186"));
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) throw Error(str(option, ": no token ids given; give ids like 1,15043,3186"));
  return ids;
}

}  // namespace llmtune::cli
