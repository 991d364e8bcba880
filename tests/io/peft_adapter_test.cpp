// PEFT adapter directories: peft 0.8.2's exact adapter_config.json and tensor names, round
// trips, the reference program's adapter, and the refusal of adapters llmtune cannot apply.
#include "io/peft_adapter.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/files.h"
#include "io/hf_checkpoint.h"
#include "io/io_test_util.h"
#include "io/safetensors.h"
#include "model/llama.h"

namespace llmtune::io {
namespace {

using model::LlamaModel;
using model::LoraConfig;
using model::ModelOptions;
using model::Training;
using nlohmann::json;
using test::bit_equal;
using test::find_tensor;
using test::rewrite;
using test::ScratchDir;
using test::throws_error;

std::unique_ptr<LlamaModel> base_model(int64_t hidden = 32) {
  const json j = {{"architectures", {"LlamaForCausalLM"}},
                  {"model_type", "llama"},
                  {"hidden_size", hidden},
                  {"intermediate_size", 48},
                  {"num_hidden_layers", 2},
                  {"num_attention_heads", 4},
                  {"num_key_value_heads", 2},
                  {"vocab_size", 64}};
  ModelOptions o;
  o.training = Training::kLora;
  auto m = std::make_unique<LlamaModel>(model::ModelConfig::from_json(j, "tiny config"), o);
  m->init_weights(3);
  return m;
}

LoraConfig lora_config() {
  LoraConfig c;
  c.r = 4;
  c.alpha = 16;
  c.dropout = 0.05;
  c.target_modules = {"q_proj", "v_proj"};
  c.base_model_name_or_path = "org/tiny-llam\u00e9";  // non-ASCII: Python escapes it
  return c;
}

// A base model with an adapter whose B weights are non-zero (PEFT initializes them to zero).
std::unique_ptr<LlamaModel> adapted_model(const LoraConfig& c = lora_config()) {
  auto m = base_model();
  m->add_lora(c, 5);
  int k = 0;
  for (const model::ParamRef& p : m->parameters()) {
    if (!p.name.ends_with("lora_B.weight")) continue;
    std::vector<float> v(static_cast<size_t>(p.value->numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.01f * static_cast<float>(i % 7) - 0.03f + k;
    p.value->copy_(Tensor::from_f32(v, p.value->shape()));
    ++k;
  }
  return m;
}

std::vector<model::ParamRef> adapter_parameters(LlamaModel& m) {
  std::vector<model::ParamRef> out;
  for (const model::ParamRef& p : m.parameters()) {
    if (p.name.find("lora_") != std::string::npos) out.push_back(p);
  }
  return out;
}

void expect_same_adapter(LlamaModel& got, LlamaModel& want) {
  ASSERT_TRUE(got.has_lora());
  const LoraConfig& a = got.lora_config();
  const LoraConfig& b = want.lora_config();
  EXPECT_EQ(a.r, b.r);
  EXPECT_EQ(a.alpha, b.alpha);
  EXPECT_EQ(a.dropout, b.dropout);
  EXPECT_EQ(a.resolved_targets(), b.resolved_targets());
  EXPECT_EQ(a.use_rslora, b.use_rslora);
  EXPECT_EQ(a.base_model_name_or_path, b.base_model_name_or_path);
  const auto got_params = adapter_parameters(got), want_params = adapter_parameters(want);
  ASSERT_EQ(got_params.size(), want_params.size());
  for (size_t i = 0; i < want_params.size(); ++i) {
    EXPECT_EQ(got_params[i].name, want_params[i].name);
    EXPECT_TRUE(bit_equal(*got_params[i].value, *want_params[i].value)) << want_params[i].name;
  }
}

// json.dumps(asdict(config), indent=2, sort_keys=True) of peft 0.8.2, no trailing newline.
constexpr const char* kAdapterConfig = R"({
  "alpha_pattern": {},
  "auto_mapping": null,
  "base_model_name_or_path": "org/tiny-llam\u00e9",
  "bias": "none",
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 16,
  "lora_dropout": 0.05,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "peft_type": "LORA",
  "r": 4,
  "rank_pattern": {},
  "revision": null,
  "target_modules": [
    "q_proj",
    "v_proj"
  ],
  "task_type": "CAUSAL_LM",
  "use_rslora": false
})";

TEST(PeftAdapter, SaveWritesPeft082Files) {
  auto m = adapted_model();
  ScratchDir dir;
  adapter_save(*m, dir.path());
  EXPECT_EQ(dir.listing(),
            (std::vector<std::string>{"adapter_config.json", "adapter_model.safetensors"}));
  EXPECT_EQ(read_file(dir.file("adapter_config.json")), kAdapterConfig);
  EXPECT_EQ(read_json(dir.file("adapter_config.json")).size(), 22u);

  const auto file = SafetensorsFile::open(dir.file("adapter_model.safetensors"));
  EXPECT_EQ(file->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  std::vector<std::pair<std::string, Shape>> want;
  for (int l = 0; l < 2; ++l) {
    const std::string p = "base_model.model.model.layers." + std::to_string(l) + ".self_attn.";
    want.push_back({p + "q_proj.lora_A.weight", {4, 32}});
    want.push_back({p + "q_proj.lora_B.weight", {32, 4}});
    want.push_back({p + "v_proj.lora_A.weight", {4, 32}});
    want.push_back({p + "v_proj.lora_B.weight", {16, 4}});
  }
  std::vector<std::pair<std::string, Shape>> got;
  for (const SafetensorsEntry& e : file->entries()) {
    got.push_back({e.name, e.shape});
    EXPECT_EQ(e.dtype_name, "F32") << e.name;
    const Tensor* value = m->find_parameter(e.name);
    ASSERT_NE(value, nullptr) << e.name;
    EXPECT_TRUE(bit_equal(file->tensor(e.name), *value)) << e.name;
  }
  EXPECT_EQ(got, want);  // one dtype: name order
}

TEST(PeftAdapter, LoadIntoFreshModelIsBitExact) {
  auto m = adapted_model();
  ScratchDir dir;
  adapter_save(*m, dir.path());
  auto fresh = base_model();
  adapter_load(*fresh, dir.path());
  expect_same_adapter(*fresh, *m);
  EXPECT_TRUE(bit_equal(*fresh->find_parameter("model.layers.1.self_attn.q_proj.weight"),
                        *m->find_parameter("model.layers.1.self_attn.q_proj.weight")));
}

TEST(PeftAdapter, FractionalAlphaRsloraAllLinearRoundTrip) {
  LoraConfig c = lora_config();
  c.alpha = 12.5;
  c.use_rslora = true;
  c.target_modules = {"all-linear"};
  auto m = adapted_model(c);
  ScratchDir dir;
  adapter_save(*m, dir.path());
  const std::string text = read_file(dir.file("adapter_config.json"));
  EXPECT_NE(text.find("\"lora_alpha\": 12.5,\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\"use_rslora\": true\n}"), std::string::npos) << text;
  EXPECT_EQ(read_json(dir.file("adapter_config.json"))["target_modules"],
            json({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}));
  EXPECT_EQ(SafetensorsFile::open(dir.file("adapter_model.safetensors"))->entries().size(),
            2u * 7 * 2);
  auto fresh = base_model();
  adapter_load(*fresh, dir.path());
  expect_same_adapter(*fresh, *m);
}

TEST(PeftAdapter, LoadsReferenceAdapter) {
  const std::string root = std::string(LLMTUNE_REFERENCE_DIR) + "/mistral_window";
  ASSERT_TRUE(std::filesystem::exists(root + "/adapter/adapter_config.json"))
      << "run tests/reference/make_reference.py --out " << LLMTUNE_REFERENCE_DIR;
  const LoraConfig c = adapter_config_load(root + "/adapter");
  EXPECT_EQ(c.r, 8);
  EXPECT_EQ(c.alpha, 32.0);
  EXPECT_EQ(c.dropout, 0.0);
  EXPECT_FALSE(c.use_rslora);
  EXPECT_EQ(c.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));

  ModelOptions o;
  o.training = Training::kLora;
  auto m = model_load(root, o);
  adapter_load(*m, root + "/adapter");
  const auto file = SafetensorsFile::open(root + "/adapter/adapter_model.safetensors");
  const auto params = adapter_parameters(*m);
  EXPECT_EQ(params.size(), file->entries().size());
  for (const model::ParamRef& p : params) {
    EXPECT_TRUE(bit_equal(*p.value, file->tensor(p.name))) << p.name;
  }
}

// A saved adapter to break in one way per test.
class PeftLoadError : public ::testing::Test {
 protected:
  void SetUp() override { adapter_save(*adapted_model(), dir_.path()); }
  std::string config_path() const { return dir_.file("adapter_config.json"); }
  std::string weights() const { return dir_.file("adapter_model.safetensors"); }
  void edit_config(const std::function<void(json&)>& edit) {
    json j = read_json(config_path());
    edit(j);
    write_file_atomic(config_path(), j.dump(2));
  }
  ::testing::AssertionResult load_fails(const std::vector<std::string>& parts,
                                        int64_t hidden = 32) {
    auto m = base_model(hidden);
    return throws_error([&] { adapter_load(*m, dir_.path()); }, parts);
  }

  ScratchDir dir_;
};

const std::string kQA = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";

TEST_F(PeftLoadError, RankOfConfigDoesNotMatchTensors) {
  edit_config([](json& j) { j["r"] = 8; });
  EXPECT_TRUE(load_fails(
      {weights(), "tensor \"" + kQA + "\" has shape [4, 32] but the model needs [8, 32]"}));
}

// A failed load leaves the model without an adapter, so a good adapter can be loaded next.
TEST_F(PeftLoadError, FailedLoadLeavesTheModelUnchanged) {
  edit_config([](json& j) { j["r"] = 8; });
  auto m = base_model();
  EXPECT_TRUE(throws_error([&] { adapter_load(*m, dir_.path()); }, {"has shape [4, 32]"}));
  EXPECT_FALSE(m->has_lora());
  EXPECT_TRUE(m->lora_linears().empty());
  edit_config([](json& j) { j["r"] = 4; });
  adapter_load(*m, dir_.path());
  EXPECT_EQ(m->lora_linears().size(), 4u);
}

TEST_F(PeftLoadError, AdapterForAnotherHiddenSize) {
  EXPECT_TRUE(load_fails(
      {weights(), "tensor \"" + kQA + "\" has shape [4, 32] but the model needs [4, 48]"}, 48));
}

TEST_F(PeftLoadError, MissingTensorIsNamed) {
  const std::string name = "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight";
  rewrite(weights(), [&](NamedTensors& t) {
    std::erase_if(t, [&](const auto& nt) { return nt.first == name; });
  });
  EXPECT_TRUE(load_fails({weights(), "tensor \"" + name + "\" is missing"}));
}

TEST_F(PeftLoadError, UnexpectedTensorIsNamed) {
  const std::string name = "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight";
  rewrite(weights(), [&](NamedTensors& t) {
    t.emplace_back(name, Tensor::zeros({4, 32}, DType::F32));
  });
  EXPECT_TRUE(load_fails({weights(), "unexpected tensor \"" + name + "\""}));
}

TEST_F(PeftLoadError, RegexTargetModules) {
  edit_config([](json& j) { j["target_modules"] = R"(.*\.(q|v)_proj)"; });
  EXPECT_TRUE(load_fails({config_path(), "is a regular expression"}));
}

TEST_F(PeftLoadError, UnsupportedTargetModule) {
  edit_config([](json& j) { j["target_modules"] = {"q_proj", "lm_head"}; });
  EXPECT_TRUE(load_fails({config_path(), "LoRA target module \"lm_head\" is not supported"}));
}

TEST_F(PeftLoadError, OtherPeftType) {
  edit_config([](json& j) { j["peft_type"] = "IA3"; });
  EXPECT_TRUE(load_fails({config_path(), "peft_type \"IA3\" is not supported"}));
}

TEST_F(PeftLoadError, KeysThatAskForUnimplementedFeatures) {
  const std::vector<std::pair<std::string, json>> cases = {{"use_dora", true},
                                                           {"some_future_option", 3},
                                                           {"layers_to_transform", {0}},
                                                           {"modules_to_save", {"lm_head"}},
                                                           {"rank_pattern", {{"q_proj", 2}}}};
  for (const auto& c : cases) {
    const std::string& key = c.first;  // named, not bound: clang 14 lambdas cannot capture those
    const json& value = c.second;
    SCOPED_TRACE(key);
    adapter_save(*adapted_model(), dir_.path());
    edit_config([&](json& j) { j[key] = value; });
    EXPECT_TRUE(load_fails({config_path(), "\"" + key + "\": " + value.dump()}));
  }
}

TEST_F(PeftLoadError, UnknownKeysHoldingOffValuesAreAccepted) {
  edit_config([](json& j) {
    j["some_future_option"] = nullptr;
    j["another_option"] = false;
    j["third_option"] = json::object();
    j["use_dora"] = false;
    j["layer_replication"] = nullptr;
  });
  auto want = adapted_model();
  auto m = base_model();
  adapter_load(*m, dir_.path());
  expect_same_adapter(*m, *want);
}

TEST_F(PeftLoadError, MissingConfig) {
  std::filesystem::remove(config_path());
  EXPECT_TRUE(load_fails({dir_.path(), "no adapter_config.json"}));
}

TEST_F(PeftLoadError, ModelAlreadyHasAnAdapter) {
  auto m = base_model();
  m->add_lora(lora_config(), 1);
  EXPECT_TRUE(throws_error([&] { adapter_load(*m, dir_.path()); }, {"already has a LoRA adapter"}));
}

TEST_F(PeftLoadError, Bf16TensorsAreConverted) {
  // PEFT saves a bf16 model's adapters in bf16 (INTEROP 3.2).
  rewrite(weights(), [](NamedTensors& t) {
    for (auto& [name, value] : t) value = value.to(DType::BF16);
  });
  auto m = base_model();
  adapter_load(*m, dir_.path());
  const auto file = SafetensorsFile::open(weights());
  for (const model::ParamRef& p : adapter_parameters(*m)) {
    EXPECT_EQ(p.value->dtype(), DType::F32);
    EXPECT_TRUE(bit_equal(*p.value, file->tensor(p.name).to(DType::F32))) << p.name;
  }
}

TEST_F(PeftLoadError, IntegerTensorIsAUserError) {
  rewrite(weights(), [](NamedTensors& t) {
    *find_tensor(t, kQA) = Tensor::from_i32(std::vector<int32_t>(4 * 32, 1), {4, 32});
  });
  EXPECT_TRUE(load_fails({weights(), "\"" + kQA + "\"", "I32"}));
}

// An adapter that targets nothing, or scales its update past any float, is refused (PEFT
// errors on the first; the second would turn every logit into NaN or infinity).
TEST_F(PeftLoadError, EmptyTargetsAndAbsurdAlphaAreRefused) {
  edit_config([](json& j) { j["target_modules"] = json::array(); });
  EXPECT_TRUE(load_fails({config_path(), "target_modules is empty"}));
  edit_config([](json& j) {
    j["target_modules"] = {"q_proj", "v_proj"};
    j["lora_alpha"] = 1e308;
  });
  EXPECT_TRUE(load_fails({"lora_alpha must be positive and at most 1e6"}));
}

// A rank that is not an integer is refused, not truncated (4.5) or cast past int64's range
// (1e300, undefined behaviour; found by fuzz_peft_adapter, tests/fuzz_regressions).
TEST_F(PeftLoadError, NonIntegerRankIsRefused) {
  for (double r : {4.5, 1e300}) {
    edit_config([&](json& j) { j["r"] = r; });
    EXPECT_TRUE(load_fails({config_path(), "\"r\" must be"})) << r;
  }
}

}  // namespace
}  // namespace llmtune::io
