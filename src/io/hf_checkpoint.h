// Hugging Face model directories: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json. Files written here load with transformers' from_pretrained.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/llama.h"

namespace llmtune::io {

// The tensors of a model directory, whichever files hold them. Tensors are views of the
// memory-mapped files.
class WeightSet {
 public:
  // Throws llmtune::Error when the directory has neither model.safetensors nor an index, or a
  // listed shard is missing or invalid.
  static WeightSet open(const std::string& dir);

  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return where_.count(name) > 0; }
  Tensor get(const std::string& name) const;
  const std::string& file_of(const std::string& name) const;

 private:
  std::string dir_;
  std::map<std::string, std::shared_ptr<SafetensorsFile>> files_;  // by file name
  std::map<std::string, std::string> where_;                       // tensor -> file name
};

// Reads config.json, builds the model and loads its weights.
std::unique_ptr<model::LlamaModel> model_load(const std::string& dir,
                                              const model::ModelOptions& options);

// Copies the directory's weights into `model` (converted to the model's dtypes). Every base
// parameter must be present with its exact shape; an unknown tensor is an error too.
void model_load_weights(model::LlamaModel& model, const std::string& dir);

struct SaveOptions {
  DType dtype = DType::F32;                  // tensor dtype in the files
  uint64_t max_shard_bytes = 5'000'000'000;  // Transformers' default "5GB"
};

// Writes config.json and the weights (sharded above max_shard_bytes, with the index) into dir,
// creating it. A merged LoRA model saves as a plain model; unmerged adapters are not saved here
// (see adapter_save).
void model_save(model::LlamaModel& model, const std::string& dir, const SaveOptions& options = {});

}  // namespace llmtune::io
