// ModelConfig: the fields of a Hugging Face config.json that define a Llama or Mistral model.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace llmtune::model {

struct RopeScaling {
  enum class Type { kNone, kLinear, kDynamic, kLlama3 };
  Type type = Type::kNone;
  double factor = 1.0;
  // Llama 3 only.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture = "LlamaForCausalLM";  // or "MistralForCausalLM"
  std::string model_type = "llama";               // or "mistral"
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;
  int64_t head_dim = 128;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t sliding_window = 0;  // 0: none
  bool tie_word_embeddings = false;
  double initializer_range = 0.02;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;
  // The config.json this came from, so saving keeps the keys llmtune does not use.
  nlohmann::json source = nlohmann::json::object();

  // Parses config.json text; `where` names the file in errors. Throws llmtune::Error for a
  // missing required key, a wrong type, or a feature llmtune does not implement.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& where);
  static ModelConfig load(const std::string& path);

  // A config.json for this model: the source keys, updated with these fields.
  nlohmann::json to_json() const;

  bool is_mistral() const { return model_type == "mistral"; }
  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  // Parameters in the base model (embeddings counted once when tied).
  int64_t parameter_count() const;
};

}  // namespace llmtune::model
