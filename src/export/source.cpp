// Resolving what to export and where it may go.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "export/export.h"
#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"

namespace llmtune::exporting {

namespace {

namespace fs = std::filesystem;

bool has(const std::string& dir, const char* name) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / name, ec);
}

bool has_tokenizer(const std::string& dir) {
  return has(dir, "tokenizer.json") || has(dir, "tokenizer.model");
}

// The LoRA checkpoint's base model directory: `base`, else base_model_name_or_path.
std::string lora_base(const std::string& checkpoint, const std::string& base) {
  if (!base.empty()) {
    if (!has(base, "config.json")) {
      throw Error(str("--base ", base, " is not a model directory (no config.json); give the ",
                      "directory of the model the adapter was trained on"));
    }
    return base;
  }
  const std::string named = io::adapter_config_load(checkpoint).base_model_name_or_path;
  const std::string config = path_join(checkpoint, "adapter_config.json");
  if (named.empty()) {
    throw Error(str(config, " names no base model (base_model_name_or_path); give the base ",
                    "model's directory with --base DIR"));
  }
  if (!has(named, "config.json")) {
    throw Error(str(checkpoint, " is a LoRA adapter of the base model \"", named, "\" (", config,
                    "), which is not a local model directory (no ", path_join(named, "config.json"),
                    "); give the base model's directory with --base DIR"));
  }
  return named;
}

fs::path absolute_normal(const std::string& p) {
  std::error_code ec;
  return fs::weakly_canonical(fs::absolute(p), ec);
}

bool inside(const fs::path& dir, const fs::path& p) {
  return !dir.empty() &&
         std::mismatch(dir.begin(), dir.end(), p.begin(), p.end()).first == dir.end();
}

}  // namespace

ExportSource export_source(const std::string& checkpoint, const std::string& base,
                           const std::string& tokenizer) {
  ExportSource s;
  s.checkpoint = checkpoint;
  std::error_code ec;
  if (!fs::exists(checkpoint, ec)) {
    throw Error(str(checkpoint, " does not exist; give a checkpoint directory (",
                    "`llmtune checkpoint list ID` lists them) or a model directory"));
  }
  if (!fs::is_directory(checkpoint, ec))
    throw Error(str(checkpoint, " is not a directory; a checkpoint is a directory"));
  if (fs::path(checkpoint).lexically_normal().string().ends_with(".partial")) {
    throw Error(str(checkpoint, " is a checkpoint that was never completed (.partial); export a ",
                    "complete one"));
  }
  const bool model = has(checkpoint, "config.json"),
             adapter = has(checkpoint, "adapter_config.json");
  if (model && adapter) {
    throw Error(str(checkpoint, " holds both a model (config.json) and a LoRA adapter ",
                    "(adapter_config.json); export the model or the adapter from a directory ",
                    "that holds one"));
  }
  if (!model && !adapter) {
    throw Error(str(checkpoint, " holds neither config.json (a model) nor adapter_config.json (a ",
                    "LoRA adapter); give a checkpoint directory or a model directory"));
  }
  if (model && !base.empty()) {
    throw Error(str("--base is for LoRA checkpoints; ", checkpoint,
                    " is a whole model (config.json), which needs no base"));
  }
  s.lora = adapter;
  s.model_dir = adapter ? lora_base(checkpoint, base) : checkpoint;
  s.config = read_json(path_join(s.model_dir, "config.json"));
  if (!tokenizer.empty()) {
    if (!has_tokenizer(tokenizer)) {
      throw Error(str("--tokenizer ", tokenizer, " has no tokenizer.json or tokenizer.model"));
    }
    s.tokenizer_dir = tokenizer;
  } else if (has_tokenizer(checkpoint)) {
    s.tokenizer_dir = checkpoint;
  } else if (has_tokenizer(s.model_dir)) {
    s.tokenizer_dir = s.model_dir;
  } else {
    throw Error(str("no tokenizer files (tokenizer.json or tokenizer.model) in ", checkpoint,
                    s.lora ? " or its base " + s.model_dir : "",
                    "; an exported model ships with its tokenizer: give one with --tokenizer DIR"));
  }
  return s;
}

std::unique_ptr<model::LlamaModel> export_model(const ExportSource& s) {
  auto m = io::model_load(s.model_dir, {});  // inference, fp32 weights
  if (s.lora) {
    io::adapter_load(*m, s.checkpoint);
    m->merge_lora();
  }
  return m;
}

std::string export_target(const std::string& out, const std::string& flag,
                          const std::string& temp_suffix, const ExportSource& s) {
  fs::path target = fs::path(out).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "new/" -> "new"
  if (target.empty() || target == "." || target == "..")
    throw Error(str(flag, " needs the path of something new to write"));
  const std::string t = target.string();
  std::error_code ec;
  if (fs::exists(t, ec) || fs::is_symlink(t, ec)) {
    throw Error(str(flag, " ", t, " exists; export writes something new and never over what is ",
                    "there: remove it or choose another path"));
  }
  if (fs::exists(t + temp_suffix, ec)) {
    throw Error(str(t + temp_suffix, " exists (an export that did not finish, or something of ",
                    "yours); remove it or choose another ", flag));
  }
  const fs::path where = absolute_normal(t);
  for (const std::string& dir : {s.checkpoint, s.model_dir, s.tokenizer_dir}) {
    if (inside(absolute_normal(dir), where)) {
      throw Error(str(flag, " ", out, " lies inside ", dir,
                      ", which export reads; choose a path outside it"));
    }
  }
  return t;
}

void check_weights(const std::string& name, const std::vector<float>& values, bool f16) {
  for (float v : values) {
    if (!std::isfinite(v)) {
      throw Error(str("weight ", name, " holds ", v, "; the checkpoint is damaged (training ",
                      "stops before writing such weights): export another checkpoint"));
    }
    if (f16 && std::fabs(v) > 65504.0f) {
      throw Error(str("weight ", name, " holds ", v, ", beyond float16's largest value 65504; ",
                      "export it as bf16 or f32 (--dtype, --type)"));
    }
  }
}

DType source_dtype(const ExportSource& s) {
  const auto it = s.config.is_object() ? s.config.find("torch_dtype") : s.config.end();
  const std::string d = it != s.config.end() && it->is_string() ? it->get<std::string>() : "";
  if (d == "bfloat16") return DType::BF16;
  if (d == "float16") return DType::F16;
  return DType::F32;
}

}  // namespace llmtune::exporting
