// PEFT LoRA adapter directories: adapter_config.json and adapter_model.safetensors, with the
// tensor names and config keys of peft 0.8.2, so adapters move between llmtune and PEFT.
#pragma once

#include <string>

#include "model/llama.h"
#include "model/lora.h"

namespace llmtune::io {

// Parses adapter_config.json into a LoraConfig. Known PEFT keys are checked; a key llmtune
// does not know is accepted only while it holds an "off" value (null, false, empty), since
// any other value would ask for behaviour llmtune does not implement.
model::LoraConfig adapter_config_load(const std::string& dir);

// Adds the adapter in `dir` to `model` (which must not have one yet) and loads its weights.
// Every adapted module's lora_A (r, in) and lora_B (out, r) must be present with those shapes.
void adapter_load(model::LlamaModel& model, const std::string& dir);

// Loads the adapter weights in `dir` into the model's existing adapter (same targets and rank),
// as resuming a LoRA run needs.
void adapter_load_weights(model::LlamaModel& model, const std::string& dir);

// Writes the model's adapter (F32) and adapter_config.json, as PeftModel.save_pretrained does.
void adapter_save(model::LlamaModel& model, const std::string& dir);

}  // namespace llmtune::io
