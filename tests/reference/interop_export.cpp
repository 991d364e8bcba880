// Writes what llmtune saves for each PyTorch reference case, for check_transformers.py to load
// with the real Transformers and PEFT libraries:
//   OUT/<case>/full_f32/      model_save of the reference weights (fp32, one file)
//   OUT/<case>/full_sharded/  the same in several shards with model.safetensors.index.json
//   OUT/<case>/full_bf16/     the same in bf16
//   OUT/<case>/adapter/       adapter_save of the reference adapter after 3 LoRA training steps
//   OUT/<case>/ours.safetensors  llmtune's logits for each: "full", "bf16", "lora", and the
//                                adapter-trained "lora_trained", on the reference batch
//
//   interop_export REFERENCE_DIR OUT_DIR
#include <cstdio>
#include <filesystem>

#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"
#include "support/reference_data.h"
#include "train/trainer.h"

using namespace llmtune;

namespace {

void export_case(const std::string& ref, const std::string& out) {
  std::filesystem::create_directories(out);
  const auto data = io::SafetensorsFile::open(ref + "/data.safetensors");
  const model::Batch batch = test::reference_batch(*data, "");
  io::NamedTensors logits;

  model::ModelOptions full;
  auto m = io::model_load(ref, full);
  logits.emplace_back("full", m->logits(batch));
  io::model_save(*m, out + "/full_f32");
  io::SaveOptions sharded;
  sharded.max_shard_bytes = 60000;
  io::model_save(*m, out + "/full_sharded", sharded);
  io::SaveOptions bf16;
  bf16.dtype = DType::BF16;
  io::model_save(*m, out + "/full_bf16", bf16);
  model::ModelOptions frozen16;
  frozen16.frozen_dtype = DType::BF16;
  logits.emplace_back("bf16", io::model_load(out + "/full_bf16", frozen16)->logits(batch));

  model::ModelOptions lora;
  lora.training = model::Training::kLora;
  auto l = io::model_load(ref, lora);
  io::adapter_load(*l, ref + "/adapter");
  logits.emplace_back("lora", l->logits(batch));
  train::TrainerOptions o;
  o.schedule.type = "constant";
  o.schedule.lr = 1e-2;
  train::Trainer trainer(*l, {}, o);
  for (int64_t step = 0; step < 3; ++step) {
    const model::Batch micro[] = {test::reference_batch(*data, "train.", 2 * step),
                                  test::reference_batch(*data, "train.", 2 * step + 1)};
    const int64_t ids[] = {2 * step, 2 * step + 1};
    trainer.step(micro, ids, micro[0].count_targets() + micro[1].count_targets());
  }
  logits.emplace_back("lora_trained", l->logits(batch));
  io::adapter_save(*l, out + "/adapter");
  io::safetensors_write(out + "/ours.safetensors", logits);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: interop_export REFERENCE_DIR OUT_DIR\n");
    return 2;
  }
  try {
    for (const char* c : {"llama_gqa", "mistral_window", "llama_tied", "llama_linear"}) {
      export_case(std::string(argv[1]) + "/" + c, std::string(argv[2]) + "/" + c);
      std::printf("exported %s\n", c);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "interop_export: %s\n", e.what());
    return 1;
  }
  return 0;
}
