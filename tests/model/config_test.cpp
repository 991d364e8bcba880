#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>

#include "core/error.h"
#include "model/config.h"
#include "model/rope_table.h"

namespace llmtune::model {
namespace {

nlohmann::json llama_json() {
  return nlohmann::json::parse(R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
    "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "max_position_embeddings": 2048,
    "rope_scaling": null, "tie_word_embeddings": false, "hidden_act": "silu",
    "attention_bias": false, "pretraining_tp": 1, "torch_dtype": "bfloat16"})");
}

// The error message of `f`, or "" when it does not throw llmtune::Error.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfig, MistralDefaultsAndParameterCount) {
  const auto j = nlohmann::json::parse(R"({"architectures": ["MistralForCausalLM"],
    "model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "vocab_size": 32000, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
    "max_position_embeddings": 32768, "sliding_window": null, "tie_word_embeddings": false})");
  const ModelConfig c = ModelConfig::from_json(j, "config.json");
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.sliding_window, 0);
  EXPECT_EQ(c.parameter_count(), 7241732096);  // INTEROP §1.4

  nlohmann::json early = j;  // early copies of v0.2 had a 4096 window; v0.1 configs omit the key
  early["sliding_window"] = 4096;
  EXPECT_EQ(ModelConfig::from_json(early, "c").sliding_window, 4096);
  early.erase("sliding_window");
  EXPECT_EQ(ModelConfig::from_json(early, "c").sliding_window, 4096);  // MistralConfig default
}

TEST(ModelConfig, TinyLlamaFieldsAndRoundTrip) {
  const ModelConfig c = ModelConfig::from_json(llama_json(), "config.json");
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.kv_dim(), 256);
  EXPECT_EQ(c.parameter_count(), 1100048384);  // INTEROP §1.4
  const ModelConfig back = ModelConfig::from_json(c.to_json(), "again");
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(c.to_json()["torch_dtype"], "bfloat16");  // keys llmtune does not use are kept
}

TEST(ModelConfig, ErrorsNameTheKeyAndTheFile) {
  for (const char* key : {"hidden_size", "num_hidden_layers", "vocab_size", "intermediate_size",
                          "num_attention_heads"}) {
    nlohmann::json j = llama_json();
    j.erase(key);
    const std::string e = error_of([&] { ModelConfig::from_json(j, "m/config.json"); });
    EXPECT_NE(e.find("m/config.json"), std::string::npos) << e;
    EXPECT_NE(e.find(std::string("\"") + key + "\""), std::string::npos) << e;
  }
  auto with = [](const char* key, nlohmann::json v) {
    nlohmann::json j = llama_json();
    j[key] = v;
    return error_of([&] { ModelConfig::from_json(j, "config.json"); });
  };
  EXPECT_NE(with("hidden_size", "big").find("wrong type"), std::string::npos);
  EXPECT_NE(with("architectures", {"GPT2LMHeadModel"}).find("GPT2LMHeadModel"), std::string::npos);
  EXPECT_NE(with("hidden_act", "gelu").find("gelu"), std::string::npos);
  EXPECT_NE(with("attention_bias", true).find("attention_bias"), std::string::npos);
  EXPECT_NE(with("num_key_value_heads", 5).find("multiple"), std::string::npos);
  EXPECT_NE(with("rope_scaling", {{"type", "yarn"}, {"factor", 4}}).find("yarn"),
            std::string::npos);
  EXPECT_NE(with("rope_scaling", {{"rope_type", "llama3"}, {"factor", 8}}).find("low_freq_factor"),
            std::string::npos);
  EXPECT_NE(error_of([] { ModelConfig::load("/nonexistent/config.json"); }).find("/nonexistent"),
            std::string::npos);
}

TEST(ModelConfig, EosListsAndAbsurdSizesAreCheckedBeforeUse) {
  auto with = [](const char* key, nlohmann::json v) {
    nlohmann::json j = llama_json();
    j[key] = v;
    return error_of([&] { ModelConfig::from_json(j, "config.json"); });
  };
  nlohmann::json j = llama_json();
  j["vocab_size"] = 128256;
  j["eos_token_id"] = {128001, 128009};  // Llama 3 lists several
  EXPECT_EQ(ModelConfig::from_json(j, "config.json").eos_token_id, 128001);
  EXPECT_NE(with("eos_token_id", nlohmann::json::array()).find("non-empty list of ids"),
            std::string::npos);
  EXPECT_NE(with("eos_token_id", {"x"}).find("non-empty list of ids"), std::string::npos);
  // Sizes no model has are refused before anything would allocate them.
  for (auto [key, value] : {std::pair{"hidden_size", int64_t{1000000000000}},
                            {"vocab_size", int64_t{1} << 40},
                            {"num_hidden_layers", int64_t{1} << 40},
                            {"intermediate_size", int64_t{1} << 45}}) {
    const std::string e = with(key, value);
    EXPECT_NE(e.find("far beyond any Llama/Mistral"), std::string::npos) << key << ": " << e;
  }
  EXPECT_NE(with("head_dim", 1 << 20).find("head_dim"), std::string::npos);
  // Heads times an explicit head_dim past int64 (found by fuzz_hf_model: q_dim() overflowed).
  j = llama_json();
  j["num_attention_heads"] = j["num_key_value_heads"] = int64_t{1} << 62;
  j["head_dim"] = 2;
  EXPECT_NE(error_of([&] {
              ModelConfig::from_json(j, "config.json");
            }).find("attention far beyond any Llama/Mistral"),
            std::string::npos);
}

TEST(ModelConfig, TokenIdsWindowsAndIntegersAreChecked) {
  auto with = [](const char* key, nlohmann::json v, const char* type = "llama") {
    nlohmann::json j = llama_json();
    j["model_type"] = type;
    j["architectures"] = {std::string(type) == "mistral" ? "MistralForCausalLM"
                                                         : "LlamaForCausalLM"};
    j[key] = v;
    return error_of([&] { ModelConfig::from_json(j, "config.json"); });
  };
  EXPECT_NE(with("eos_token_id", 32000).find("\"eos_token_id\" 32000 is outside the vocabulary"),
            std::string::npos);
  EXPECT_NE(with("bos_token_id", -1).find("bos_token_id"), std::string::npos);
  EXPECT_NE(with("sliding_window", -5, "mistral").find("sliding_window"), std::string::npos);
  EXPECT_NE(with("sliding_window", 0, "mistral").find("sliding_window"), std::string::npos);
  EXPECT_NE(with("sliding_window", 4.5, "mistral").find("wrong type"), std::string::npos);
  EXPECT_NE(with("num_hidden_layers", 22.5).find("wrong type"), std::string::npos);
  EXPECT_NE(with("rms_norm_eps", std::numeric_limits<double>::infinity()).find("wrong type"),
            std::string::npos);
  EXPECT_NE(with("rope_scaling", {{"rope_type", "llama3"},
                                  {"factor", 8},
                                  {"low_freq_factor", 1},
                                  {"high_freq_factor", 4},
                                  {"original_max_position_embeddings", 0}})
                .find("original_max_position_embeddings >= 1"),
            std::string::npos);
  EXPECT_EQ(with("sliding_window", nullptr, "mistral"), "");  // null: no window
}

TEST(RopeTable, InverseFrequenciesAndScaling) {
  ModelConfig c = ModelConfig::from_json(llama_json(), "c");
  const std::vector<float> inv = rope_inv_freq(c, 16);
  ASSERT_EQ(inv.size(), 32u);
  for (int i = 0; i < 32; ++i) {
    EXPECT_NEAR(inv[i], std::pow(10000.0, -2.0 * i / 64), 1e-6 * std::pow(10000.0, -2.0 * i / 64));
  }
  // Dynamic NTK (Transformers 4.37): only beyond max_position_embeddings, with a larger base.
  c.rope_scaling.type = RopeScaling::Type::kDynamic;
  c.rope_scaling.factor = 2.0;
  EXPECT_EQ(rope_inv_freq(c, 2048), inv);
  const double base = 10000.0 * std::pow(2.0 * 4096 / 2048 - 1.0, 64.0 / 62.0);
  const std::vector<float> dyn = rope_inv_freq(c, 4096);
  for (int i = 0; i < 32; ++i) EXPECT_NEAR(dyn[i], std::pow(base, -2.0 * i / 64), 1e-5 * dyn[i]);
  // Linear: angles at position p equal those at p / factor.
  c.rope_scaling.type = RopeScaling::Type::kLinear;
  std::vector<float> cos, sin;
  rope_tables(c, 16, 9, &cos, &sin);
  EXPECT_NEAR(cos[8 * 32 + 1], std::cos(4.0 * inv[1]), 1e-6);
  EXPECT_NEAR(sin[8 * 32 + 3], std::sin(4.0 * inv[3]), 1e-6);
}

}  // namespace
}  // namespace llmtune::model
