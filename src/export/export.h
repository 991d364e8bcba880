// Shipping a trained model: a checkpoint (a full model, or a LoRA adapter merged into its base)
// as a Hugging Face model directory that Transformers and vLLM load, and as a GGUF file that
// llama.cpp and Ollama run, with the metadata, tokenizer and tensor names llama.cpp's own
// converter (convert_hf_to_gguf.py) writes. Every output is written under a temporary name and
// renamed when complete.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/gguf.h"
#include "model/llama.h"

namespace llmtune::exporting {

// What a checkpoint path resolves to.
struct ExportSource {
  std::string checkpoint;     // as given
  bool lora = false;          // a LoRA adapter (adapter_config.json) rather than a model
  std::string model_dir;      // the model: the checkpoint itself, or the LoRA's base
  std::string tokenizer_dir;  // where the tokenizer files are
  nlohmann::json config;      // model_dir's config.json
};

// Resolves CHECKPOINT: a model directory (config.json) or a LoRA checkpoint (adapter_config.json)
// whose base model is `base` when given, else the adapter's base_model_name_or_path, which must
// then be a local model directory. The tokenizer comes from `tokenizer` when given, else from
// the checkpoint, else from the base. Throws llmtune::Error naming the path and what to do.
ExportSource export_source(const std::string& checkpoint, const std::string& base,
                           const std::string& tokenizer);

// The model in fp32, with a LoRA adapter merged into its weights.
std::unique_ptr<model::LlamaModel> export_model(const ExportSource& source);

// Checks that `out` (given with `flag`, e.g. "--out") can be written as a new file or directory:
// it does not exist, nor does its temporary twin `out` + `temp_suffix`, and it does not lie
// inside the checkpoint, the base model or the tokenizer directory. Returns it normalized.
std::string export_target(const std::string& out, const std::string& flag,
                          const std::string& temp_suffix, const ExportSource& source);

struct HfExportOptions {
  DType dtype = DType::F32;
  uint64_t max_shard_bytes = 5'000'000'000;  // Transformers' default "5GB"
};

// The weights' dtype the source's config.json names (torch_dtype), F32 when it names none.
DType source_dtype(const ExportSource& source);

// Writes `out`: config.json, generation_config.json, the weights as safetensors (sharded above
// max_shard_bytes, with model.safetensors.index.json) and the tokenizer files with the chat
// template, as save_pretrained lays them out. Returns the names of the files written.
std::vector<std::string> export_hf(model::LlamaModel& model, const ExportSource& source,
                                   const std::string& out, const HfExportOptions& options);

// Writes `out` as a PEFT adapter directory (adapter_config.json, adapter_model.safetensors and
// the tokenizer files), the LoRA checkpoint without its training state. Returns the file names.
std::vector<std::string> export_adapter(const ExportSource& source, const std::string& out);

struct GgufExportOptions {
  io::GgmlType type = io::GgmlType::kF16;  // of the matrices; norms are always F32
  std::string name;                        // general.name
};

// Writes the model as a GGUF file of llama.cpp's "llama" architecture.
void export_gguf(model::LlamaModel& model, const ExportSource& source, const std::string& path,
                 const GgufExportOptions& options);

// Throws llmtune::Error naming the weight when `values` hold NaN or infinity (a damaged
// checkpoint) or, when `f16`, a magnitude float16 cannot hold (above 65504).
void check_weights(const std::string& name, const std::vector<float>& values, bool f16);

// The GGUF name of a Hugging Face parameter ("model.layers.3.self_attn.q_proj.weight" ->
// "blk.3.attn_q.weight"), or "" when it has none.
std::string gguf_tensor_name(const std::string& hf_name);

// Reorders the rows of a q_proj or k_proj weight (n_heads * head_dim, in) from Transformers'
// rotary layout (dimension i of a head rotates with i + head_dim/2) to GGUF's (2i with 2i+1),
// as the converter's permute(): row h*d + 2i + j comes from row h*d + j*d/2 + i.
Tensor gguf_permute_qk(const Tensor& weight, int64_t n_heads);

// The type a tensor is stored as in a file of matrix type `type`: F32 for norms and vectors,
// F16 for a Q8_0 matrix whose rows are not made of 32-element blocks (as the converter falls
// back).
io::GgmlType gguf_tensor_type(const std::string& gguf_name, const Shape& shape, io::GgmlType type);

}  // namespace llmtune::exporting
