// A model directory's JSON: the input is read as config.json and as
// model.safetensors.index.json beside two small valid shards.
#include <filesystem>

#include "core/json.h"
#include "fuzz/targets.h"
#include "io/hf_checkpoint.h"
#include "model/config.h"

namespace llmtune::fuzz {

namespace {

// The model directory with the shards the index may name (written once per process).
std::string model_dir() {
  static const std::string dir = [] {
    const std::string d = fuzz_scratch() + "/model";
    std::filesystem::create_directories(d);
    const Tensor a = Tensor::zeros({2, 2}, DType::F32), b = Tensor::zeros({3}, DType::BF16);
    io::safetensors_write(d + "/model-00001-of-00002.safetensors",
                          {{"model.embed_tokens.weight", a}, {"model.norm.weight", b}});
    io::safetensors_write(d + "/model-00002-of-00002.safetensors", {{"lm_head.weight", a}});
    return d;
  }();
  return dir;
}

}  // namespace

int fuzz_hf_model(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz_bytes(data, size);
  fuzz_run([&] {
    const model::ModelConfig c =
        model::ModelConfig::from_json(json_parse(text, "config.json"), "config.json");
    (void)c.parameter_count();
    (void)c.to_json().dump();
  });
  const std::string dir = model_dir();
  fuzz_write("model/model.safetensors.index.json", text);
  return fuzz_run([&] {
    const io::WeightSet weights = io::WeightSet::open(dir);
    for (const std::string& name : weights.names()) (void)weights.get(name).numel();
  });
}

}  // namespace llmtune::fuzz
