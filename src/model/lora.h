// LoRA settings, with PEFT's names and defaults (peft 0.8.2 LoraConfig).
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace llmtune::model {

// The projections LoRA can adapt, as PEFT's target_modules names them.
inline const std::vector<std::string>& lora_supported_modules() {
  static const std::vector<std::string> kModules = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                    "gate_proj", "up_proj", "down_proj"};
  return kModules;
}

struct LoraConfig {
  int64_t r = 8;
  double alpha = 8.0;    // lora_alpha
  double dropout = 0.0;  // lora_dropout, applied to the adapter's input while training
  // Empty: PEFT's default for Llama and Mistral, {q_proj, v_proj}. "all-linear": all seven.
  std::vector<std::string> target_modules;
  bool use_rslora = false;  // scaling alpha / sqrt(r) instead of alpha / r
  std::string base_model_name_or_path;

  double scaling() const {
    return use_rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / r;
  }
  // target_modules with the default applied and "all-linear" expanded, in canonical order;
  // throws llmtune::Error naming an unsupported module.
  std::vector<std::string> resolved_targets() const;
  // Throws llmtune::Error for r < 1, negative alpha, dropout outside [0, 1).
  void validate() const;
};

}  // namespace llmtune::model
