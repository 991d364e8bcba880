#include <gtest/gtest.h>

#include "core/error.h"
#include "model/config.h"

namespace llmtune::model {
namespace {

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
}
}  // namespace
}  // namespace llmtune::model
