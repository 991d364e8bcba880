// llmtune export CHECKPOINT [--out DIR [--merge] [--dtype bf16|f16|f32] [--max-shard-size 5GB]]
//                           [--gguf FILE [--type f16|q8_0|f32]] [--base DIR] [--tokenizer DIR]
//     A trained model for serving: a Hugging Face model directory (Transformers, vLLM) with a LoRA
//     checkpoint merged into its base, and/or a GGUF file (llama.cpp, Ollama).
#include <charconv>
#include <cstdio>
#include <filesystem>

#include "cli/verbs.h"
#include "core/error.h"
#include "export/export.h"

namespace llmtune::cli {

namespace {

namespace fs = std::filesystem;

struct ExportArgs {
  std::string checkpoint, out, gguf, base, tokenizer, name;
  bool merge = false;
  std::string dtype;              // "": the source's torch_dtype
  std::string max_shard = "5GB";  // Transformers' default
  std::string type = "f16";
};

// "5GB", "500MB", "40KB", "2GiB" or a number of bytes, as Transformers' max_shard_size.
uint64_t parse_size(const std::string& text) {
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  const std::string unit(end, text.data() + text.size());
  constexpr uint64_t kK = 1000, kKi = 1024;
  const std::pair<const char*, uint64_t> units[] = {{"", 1},
                                                    {"B", 1},
                                                    {"KB", kK},
                                                    {"MB", kK * kK},
                                                    {"GB", kK * kK * kK},
                                                    {"KiB", kKi},
                                                    {"MiB", kKi * kKi},
                                                    {"GiB", kKi * kKi * kKi}};
  for (const auto& [u, scale] : units) {
    if (ec == std::errc() && n > 0 && unit == u && n <= UINT64_MAX / scale) return n * scale;
  }
  throw Error(str("--max-shard-size \"", text, "\" is not a size like 5GB, 500MB or 2GiB"));
}

DType parse_dtype(const std::string& d) {
  if (d == "f32") return DType::F32;
  if (d == "bf16") return DType::BF16;
  if (d == "f16") return DType::F16;
  throw Error(str("--dtype \"", d, "\" must be bf16, f16 or f32"));
}

io::GgmlType parse_type(const std::string& t) {
  if (t == "f16") return io::GgmlType::kF16;
  if (t == "q8_0") return io::GgmlType::kQ8_0;
  if (t == "f32") return io::GgmlType::kF32;
  throw Error(str("--type \"", t, "\" must be f16, q8_0 or f32"));
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Option combinations that ask for something export does not do, before anything is read.
void check_options(const ExportArgs& a, const CLI::App& cmd) {
  if (a.out.empty() && a.gguf.empty()) {
    throw Error(
        "give --out DIR (a Hugging Face model directory), --gguf FILE (a GGUF file for "
        "llama.cpp) or both");
  }
  if (a.out.empty()) {
    for (const char* o : {"--dtype", "--max-shard-size", "--merge"}) {
      if (cmd.count(o) > 0) throw Error(str(o, " is about the --out directory; give --out DIR"));
    }
  }
  if (a.gguf.empty() && cmd.count("--type") > 0)
    throw Error("--type is the GGUF file's; give --gguf FILE (--dtype sets the --out weights')");
  if (!a.out.empty() && fs::path(a.out).lexically_normal() == fs::path(a.gguf).lexically_normal())
    throw Error("--out and --gguf name the same path; give two");
}

std::string default_name(const std::string& checkpoint) {
  const fs::path p = fs::path(checkpoint).lexically_normal();
  return (p.filename().empty() ? p.parent_path() : p).filename().string();
}

void run(ExportArgs& a, const CLI::App& cmd) {
  check_options(a, cmd);
  const exporting::ExportSource s = exporting::export_source(a.checkpoint, a.base, a.tokenizer);
  const bool adapter_only = s.lora && !a.out.empty() && !a.merge;
  if (adapter_only && cmd.count("--dtype") > 0) {
    throw Error(str(a.checkpoint, " is a LoRA checkpoint: without --merge it is exported as its ",
                    "adapter, as trained; add --merge for a model with --dtype weights"));
  }
  const std::string out =
      a.out.empty() ? "" : exporting::export_target(a.out, "--out", ".partial", s);
  const std::string gguf =
      a.gguf.empty() ? "" : exporting::export_target(a.gguf, "--gguf", ".tmp", s);
  exporting::HfExportOptions hf;
  hf.dtype = a.dtype.empty() ? exporting::source_dtype(s) : parse_dtype(a.dtype);
  hf.max_shard_bytes = parse_size(a.max_shard);
  exporting::GgufExportOptions g;
  g.type = parse_type(a.type);
  g.name = a.name.empty() ? default_name(a.checkpoint) : a.name;
  if (adapter_only) {
    const auto files = exporting::export_adapter(s, out);
    std::printf("wrote %s: the LoRA adapter as a PEFT directory over the base %s (%s)\n",
                out.c_str(), s.model_dir.c_str(), join(files).c_str());
  }
  if ((out.empty() || adapter_only) && gguf.empty()) return;
  const auto model = exporting::export_model(s);
  if (!gguf.empty() && model->config().sliding_window > 0) {
    std::fprintf(stderr,
                 "note: llama.cpp's llama architecture has no sliding window; beyond %lld "
                 "tokens the GGUF model attends further back than this one\n",
                 static_cast<long long>(model->config().sliding_window));
  }
  if (!out.empty() && !adapter_only) {
    const auto files = exporting::export_hf(*model, s, out, hf);
    std::printf("wrote %s: a Hugging Face model directory, %s weights%s (%s)\n", out.c_str(),
                dtype_name(hf.dtype), s.lora ? ", the LoRA adapter merged into its base" : "",
                join(files).c_str());
  }
  if (!gguf.empty()) {
    exporting::export_gguf(*model, s, gguf, g);
    std::printf("wrote %s: GGUF for llama.cpp, %s matrices, %.1f MB\n", gguf.c_str(),
                io::ggml_type_name(g.type), static_cast<double>(fs::file_size(gguf)) / 1e6);
  }
}

}  // namespace

void add_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export", "A checkpoint for serving: a Hugging Face directory and/or a GGUF file");
  cmd->footer(
      "A LoRA checkpoint is merged into its base model (adapter_config.json's "
      "base_model_name_or_path, or --base) for --gguf and for --out with --merge; --out without "
      "--merge writes the adapter alone, as a PEFT directory.\n"
      "Examples:\n"
      "  llmtune export runs/exp/trial/checkpoint-120 --merge --out model-hf\n"
      "  llmtune export runs/exp/trial/checkpoint-120 --gguf model.gguf --type q8_0\n"
      "  llmtune export CHECKPOINT --merge --out DIR --dtype bf16 --gguf FILE --base BASE_DIR");
  cmd->add_option("checkpoint", a->checkpoint, "Checkpoint (or model) directory")->required();
  cmd->add_option("--out", a->out, "New Hugging Face model directory to write");
  cmd->add_flag("--merge", a->merge, "Merge a LoRA checkpoint into its base model for --out");
  cmd->add_option("--dtype", a->dtype, "--out weights: bf16, f16 or f32 (default: the source's)");
  cmd->add_option("--max-shard-size", a->max_shard, "Largest safetensors file, as Transformers")
      ->capture_default_str();
  cmd->add_option("--gguf", a->gguf, "New GGUF file to write, for llama.cpp");
  cmd->add_option("--type", a->type, "GGUF matrices: f16, q8_0 or f32")->capture_default_str();
  cmd->add_option("--base", a->base,
                  "A LoRA checkpoint's base model directory (default: the one "
                  "its adapter_config.json names)");
  cmd->add_option("--tokenizer", a->tokenizer,
                  "Tokenizer directory (default: the checkpoint's, else the base model's)");
  cmd->add_option("--name", a->name, "The GGUF's general.name (default: the checkpoint's name)");
  cmd->callback([a, cmd] { run(*a, *cmd); });
}

}  // namespace llmtune::cli
