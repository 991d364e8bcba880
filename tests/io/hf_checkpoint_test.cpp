// Hugging Face model directories: save and load round trips (single file, shards, bf16, tied
// embeddings) with transformers' file layout and formatting, and the errors of a directory that
// does not match its config.json.
#include "io/hf_checkpoint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/files.h"
#include "io/io_test_util.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "support/compare.h"

namespace llmtune::io {
namespace {

using model::LlamaModel;
using model::ModelConfig;
using model::ModelOptions;
using model::Training;
using test::bit_equal;
using test::find_tensor;
using test::rewrite;
using test::ScratchDir;
using test::throws_error;

constexpr const char* kConfig = R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 2, "vocab_size": 64, "max_position_embeddings": 64,
  "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": false,
  "use_cache": true, "pretraining_tp": 1})";

// json.dumps(config, indent=2, sort_keys=True) + "\n" of what model_save writes for kConfig:
// its keys (unknown ones kept), the fields llmtune fills in, and torch_dtype.
constexpr const char* kSavedConfig = R"({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 32,
  "initializer_range": 0.02,
  "intermediate_size": 48,
  "max_position_embeddings": 64,
  "model_type": "llama",
  "num_attention_heads": 4,
  "num_hidden_layers": 2,
  "num_key_value_heads": 2,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "rope_theta": 10000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "float32",
  "use_cache": true,
  "vocab_size": 64
}
)";

// F32 bytes of the kConfig model: embeddings and head 2 * 64*32*4, per layer (32*32 + 2*16*32 +
// 32*32 + 3*48*32 + 2*32)*4 = 30976, final norm 128.
constexpr uint64_t kTotalBytes = 78464;
// A shard limit that two shards fill exactly (8192 + 4096 + 2 * 2048 and 4096 + 2 * 6144).
constexpr uint64_t kShardBytes = 16384;

ModelConfig tiny_config(bool tied = false) {
  nlohmann::json j = nlohmann::json::parse(kConfig);
  j["tie_word_embeddings"] = tied;
  return ModelConfig::from_json(j, "tiny config");
}

ModelOptions options(Training training, DType frozen = DType::F32) {
  ModelOptions o;
  o.training = training;
  o.frozen_dtype = frozen;
  return o;
}

std::unique_ptr<LlamaModel> tiny_model(bool tied = false) {
  auto m = std::make_unique<LlamaModel>(tiny_config(tied), options(Training::kFull));
  m->init_weights(11);
  return m;
}

std::vector<std::string> parameter_names(LlamaModel& m) {
  std::vector<std::string> out;
  for (const model::ParamRef& p : m.parameters()) out.push_back(p.name);
  return out;
}

// Same parameter names, in order, with the same dtypes, shapes and bytes.
void expect_same_weights(LlamaModel& got, LlamaModel& want) {
  ASSERT_EQ(parameter_names(got), parameter_names(want));
  for (const model::ParamRef& p : want.parameters()) {
    EXPECT_TRUE(bit_equal(*got.find_parameter(p.name), *p.value)) << p.name;
  }
}

void expect_same_config(const ModelConfig& got, const ModelConfig& want) {
  EXPECT_EQ(got.architecture, want.architecture);
  EXPECT_EQ(got.model_type, want.model_type);
  EXPECT_EQ(got.vocab_size, want.vocab_size);
  EXPECT_EQ(got.hidden_size, want.hidden_size);
  EXPECT_EQ(got.intermediate_size, want.intermediate_size);
  EXPECT_EQ(got.num_hidden_layers, want.num_hidden_layers);
  EXPECT_EQ(got.num_attention_heads, want.num_attention_heads);
  EXPECT_EQ(got.num_key_value_heads, want.num_key_value_heads);
  EXPECT_EQ(got.head_dim, want.head_dim);
  EXPECT_EQ(got.max_position_embeddings, want.max_position_embeddings);
  EXPECT_EQ(got.rms_norm_eps, want.rms_norm_eps);
  EXPECT_EQ(got.rope_theta, want.rope_theta);
  EXPECT_EQ(got.tie_word_embeddings, want.tie_word_embeddings);
  EXPECT_EQ(got.initializer_range, want.initializer_range);
  EXPECT_EQ(got.bos_token_id, want.bos_token_id);
  EXPECT_EQ(got.eos_token_id, want.eos_token_id);
}

std::vector<std::string> tensor_names(const std::string& path) {
  std::vector<std::string> out;
  const auto file = SafetensorsFile::open(path);
  for (const SafetensorsEntry& e : file->entries()) out.push_back(e.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::string shard_file(int i, int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", i, n);
  return buf;
}

// transformers 4.37 shard_checkpoint: state-dict order, a new shard when the next tensor would
// go over the limit and the current shard is not empty (so a tensor over the limit is alone).
// Returns each tensor's 1-based shard; `count` receives the number of shards.
std::map<std::string, int> transformers_shards(LlamaModel& m, uint64_t max_bytes, int* count) {
  std::map<std::string, int> shard_of;
  int shard = 1;
  uint64_t bytes = 0, total = 0;
  for (const model::ParamRef& p : m.parameters()) {
    if (bytes > 0 && bytes + p.value->nbytes() > max_bytes) ++shard, bytes = 0;
    shard_of[p.name] = shard;
    bytes += p.value->nbytes();
    total += p.value->nbytes();
  }
  EXPECT_EQ(total, kTotalBytes);
  *count = shard;
  return shard_of;
}

TEST(HfCheckpoint, SingleFileRoundTripIsBitExact) {
  auto m = tiny_model();
  ScratchDir dir;
  model_save(*m, dir.path());
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"config.json", "model.safetensors"}));
  EXPECT_EQ(read_file(dir.file("config.json")), kSavedConfig);

  const auto file = SafetensorsFile::open(dir.file("model.safetensors"));
  EXPECT_EQ(file->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  std::vector<std::string> names = parameter_names(*m);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(tensor_names(dir.file("model.safetensors")), names);
  EXPECT_EQ(names.size(), 2u * 9 + 3);
  for (const SafetensorsEntry& e : file->entries()) EXPECT_EQ(e.dtype_name, "F32") << e.name;

  auto loaded = model_load(dir.path(), options(Training::kFull));
  expect_same_config(loaded->config(), m->config());
  expect_same_weights(*loaded, *m);
}

TEST(HfCheckpoint, ShardsAndIndexFollowTransformers) {
  auto m = tiny_model();
  ScratchDir dir;
  model_save(*m, dir.path());  // a single file first: the sharded save must remove it
  SaveOptions save;
  save.max_shard_bytes = kShardBytes;
  model_save(*m, dir.path(), save);

  int shard = 0;
  const std::map<std::string, int> shard_of = transformers_shards(*m, save.max_shard_bytes, &shard);
  ASSERT_EQ(shard, 5);
  // Shards 1 and 2 end exactly at the limit: embeddings, q, k, v; then o, gate, up.
  EXPECT_EQ(shard_of.at("model.layers.0.self_attn.v_proj.weight"), 1);
  EXPECT_EQ(shard_of.at("model.layers.0.mlp.up_proj.weight"), 2);
  EXPECT_EQ(shard_of.at("model.layers.0.mlp.down_proj.weight"), 3);
  EXPECT_EQ(shard_of.at("lm_head.weight"), 5);

  std::vector<std::string> files = {"config.json"};
  for (int i = 1; i <= 5; ++i) files.push_back(shard_file(i, 5));
  files.push_back("model.safetensors.index.json");
  EXPECT_EQ(dir.listing(), files);

  // json.dumps(index, indent=2, sort_keys=True) + "\n", written out by hand.
  std::string index = "{\n  \"metadata\": {\n    \"total_size\": " + std::to_string(kTotalBytes) +
                      "\n  },\n  \"weight_map\": {\n";
  std::map<int, std::vector<std::string>> names_in;
  for (auto it = shard_of.begin(); it != shard_of.end(); ++it) {
    index += "    \"" + it->first + "\": \"" + shard_file(it->second, 5) + "\"" +
             (std::next(it) == shard_of.end() ? "\n" : ",\n");
    names_in[it->second].push_back(it->first);
  }
  index += "  }\n}\n";
  EXPECT_EQ(read_file(dir.file("model.safetensors.index.json")), index);
  for (const auto& [i, names] : names_in) {
    EXPECT_EQ(tensor_names(dir.file(shard_file(i, 5))), names) << shard_file(i, 5);
  }

  auto loaded = model_load(dir.path(), options(Training::kFull));
  expect_same_weights(*loaded, *m);

  model_save(*m, dir.path());  // back to one file: the index must go, or loaders would use it
  EXPECT_FALSE(std::filesystem::exists(dir.file("model.safetensors.index.json")));
  expect_same_weights(*model_load(dir.path(), options(Training::kFull)), *m);
}

TEST(HfCheckpoint, TensorsOverTheShardLimitGetTheirOwnShard) {
  auto m = tiny_model();
  ScratchDir dir;
  SaveOptions save;
  save.max_shard_bytes = 6000;  // under the embeddings (8192) and every MLP weight (6144)
  model_save(*m, dir.path(), save);
  int n = 0;
  const std::map<std::string, int> shard_of = transformers_shards(*m, save.max_shard_bytes, &n);
  ASSERT_EQ(n, 15);
  EXPECT_EQ(shard_of.at("model.embed_tokens.weight"), 1);
  EXPECT_EQ(shard_of.at("model.layers.0.self_attn.q_proj.weight"), 2);
  const nlohmann::json index = read_json(dir.file("model.safetensors.index.json"));
  EXPECT_EQ(index["weight_map"].size(), shard_of.size());
  for (const auto& [name, i] : shard_of) EXPECT_EQ(index["weight_map"][name], shard_file(i, n));
  EXPECT_EQ(dir.listing().size(), n + 2u);  // no empty shard
  expect_same_weights(*model_load(dir.path(), options(Training::kFull)), *m);
}

TEST(HfCheckpoint, Bf16SaveLoadsIntoBf16LoraModel) {
  auto m = tiny_model();
  ScratchDir dir;
  SaveOptions save;
  save.dtype = DType::BF16;
  model_save(*m, dir.path(), save);
  EXPECT_EQ(read_json(dir.file("config.json"))["torch_dtype"], "bfloat16");
  const auto file = SafetensorsFile::open(dir.file("model.safetensors"));
  for (const SafetensorsEntry& e : file->entries()) {
    EXPECT_EQ(e.dtype_name, "BF16") << e.name;
    EXPECT_TRUE(bit_equal(file->tensor(e.name), m->find_parameter(e.name)->to(DType::BF16)));
  }

  auto loaded = model_load(dir.path(), options(Training::kLora, DType::BF16));
  ASSERT_EQ(parameter_names(*loaded), parameter_names(*m));
  for (const model::ParamRef& p : loaded->parameters()) {
    SCOPED_TRACE(p.name);
    const Tensor& want = *m->find_parameter(p.name);
    // Norm weights stay F32; they hold the bf16 values of the file.
    EXPECT_EQ(p.value->dtype(), p.name.ends_with("norm.weight") ? DType::F32 : DType::BF16);
    EXPECT_TRUE(bit_equal(*p.value, want.to(DType::BF16).to(p.value->dtype())));
    EXPECT_LT(test::max_rel_error(*p.value, want), 1.0 / 128);  // rounding, not garbage
  }
}

TEST(HfCheckpoint, TiedEmbeddingsSaveNoLmHead) {
  auto m = tiny_model(/*tied=*/true);
  ScratchDir dir;
  model_save(*m, dir.path());
  const std::vector<std::string> names = tensor_names(dir.file("model.safetensors"));
  EXPECT_EQ(std::count(names.begin(), names.end(), "lm_head.weight"), 0);
  EXPECT_EQ(names.size(), 2u * 9 + 2);
  EXPECT_EQ(read_json(dir.file("config.json"))["tie_word_embeddings"], true);
  auto loaded = model_load(dir.path(), options(Training::kFull));
  EXPECT_TRUE(loaded->config().tie_word_embeddings);
  expect_same_weights(*loaded, *m);

  // Some tied checkpoints carry lm_head.weight anyway: accepted, and the embedding wins.
  rewrite(dir.file("model.safetensors"), [](NamedTensors& t) {
    t.emplace_back("lm_head.weight", Tensor::zeros({64, 32}, DType::F32));
  });
  expect_same_weights(*model_load(dir.path(), options(Training::kFull)), *m);
}

// A saved tiny model to break in one way per test.
class HfLoadError : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = tiny_model();
    model_save(*model_, dir_.path());
  }
  std::string weights() const { return dir_.file("model.safetensors"); }
  ::testing::AssertionResult load_fails(const std::vector<std::string>& parts) {
    return throws_error([&] { model_load(dir_.path(), options(Training::kFull)); }, parts);
  }

  std::unique_ptr<LlamaModel> model_;
  ScratchDir dir_;
};

TEST_F(HfLoadError, MissingConfig) {
  std::filesystem::remove(dir_.file("config.json"));
  EXPECT_TRUE(load_fails({"cannot open " + dir_.file("config.json"), "needs a config.json"}));
}

TEST_F(HfLoadError, ConfigMissingRequiredKey) {
  nlohmann::json j = read_json(dir_.file("config.json"));
  j.erase("hidden_size");
  write_file_atomic(dir_.file("config.json"), j.dump());
  EXPECT_TRUE(load_fails({dir_.file("config.json"), "missing required key \"hidden_size\""}));
}

TEST_F(HfLoadError, NoWeightsFile) {
  std::filesystem::remove(weights());
  EXPECT_TRUE(load_fails({dir_.path(), "no model.safetensors or model.safetensors.index.json"}));
}

// A config.json edited to describe far more than the weights hold stops before the model is
// allocated (10,000 layers here: the allocation alone would take minutes and gigabytes).
TEST_F(HfLoadError, ConfigFarLargerThanTheWeightsStopsBeforeAllocating) {
  nlohmann::json j = read_json(dir_.file("config.json"));
  j["num_hidden_layers"] = 100000;
  j["intermediate_size"] = 4096;
  write_file_atomic(dir_.file("config.json"), j.dump());
  EXPECT_TRUE(
      load_fails({dir_.path(), "100000 layers", "but the weights hold", "different models"}));
}

TEST_F(HfLoadError, MissingTensorIsNamed) {
  rewrite(weights(), [](NamedTensors& t) {
    std::erase_if(t,
                  [](const auto& nt) { return nt.first == "model.layers.1.mlp.up_proj.weight"; });
  });
  EXPECT_TRUE(load_fails(
      {dir_.path(), "tensor \"model.layers.1.mlp.up_proj.weight\" [48, 32] is missing"}));
}

TEST_F(HfLoadError, WrongShapeNamesTensorAndBothShapes) {
  rewrite(weights(), [](NamedTensors& t) {
    *find_tensor(t, "model.layers.0.self_attn.k_proj.weight") = Tensor::zeros({8, 32}, DType::F32);
  });
  EXPECT_TRUE(load_fails({weights(),
                          "tensor \"model.layers.0.self_attn.k_proj.weight\" has shape "
                          "[8, 32] but config.json implies [16, 32]"}));
  // Transposed: the same element count is not enough.
  rewrite(weights(), [](NamedTensors& t) {
    *find_tensor(t, "model.layers.0.self_attn.k_proj.weight") = Tensor::zeros({32, 16}, DType::F32);
  });
  EXPECT_TRUE(load_fails({weights(), "has shape [32, 16] but config.json implies [16, 32]"}));
}

TEST_F(HfLoadError, UnexpectedTensorIsNamed) {
  rewrite(weights(), [](NamedTensors& t) {
    t.emplace_back("model.layers.0.self_attn.extra.weight", Tensor::zeros({2}, DType::F32));
  });
  EXPECT_TRUE(
      load_fails({weights(), "unexpected tensor \"model.layers.0.self_attn.extra.weight\""}));
}

TEST_F(HfLoadError, IntegerWeightIsRefused) {
  rewrite(weights(), [](NamedTensors& t) {
    *find_tensor(t, "model.norm.weight") = Tensor::from_i32(std::vector<int32_t>(32, 1), {32});
  });
  EXPECT_TRUE(load_fails({weights(), "tensor \"model.norm.weight\" is I32"}));
}

TEST_F(HfLoadError, RotaryInvFreqIsIgnored) {
  rewrite(weights(), [](NamedTensors& t) {
    t.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq",
                   Tensor::from_f32({1.0f, 0.1f, 0.01f, 0.001f}, {4}));
  });
  expect_same_weights(*model_load(dir_.path(), options(Training::kFull)), *model_);
}

TEST_F(HfLoadError, IndexListsMissingShard) {
  SaveOptions save;
  save.max_shard_bytes = kShardBytes;
  model_save(*model_, dir_.path(), save);
  std::filesystem::remove(dir_.file(shard_file(3, 5)));
  EXPECT_TRUE(
      load_fails({dir_.file("model.safetensors.index.json"), "lists shard " + shard_file(3, 5),
                  dir_.file(shard_file(3, 5)) + " does not exist"}));
}

TEST_F(HfLoadError, IndexMapsTensorToWrongShard) {
  SaveOptions save;
  save.max_shard_bytes = kShardBytes;
  model_save(*model_, dir_.path(), save);
  const std::string index = dir_.file("model.safetensors.index.json");
  nlohmann::json j = read_json(index);
  j["weight_map"]["model.embed_tokens.weight"] = shard_file(2, 5);
  write_file_atomic(index, j.dump());
  EXPECT_TRUE(load_fails({index, "maps \"model.embed_tokens.weight\" to " + shard_file(2, 5) +
                                     ", which does not contain it"}));
}

// An index from a stranger names only files of its own directory: an absolute path, a path with
// directories or .., and a symbolic link that leads out of the directory are refused, naming the
// index and the key. A hub cache's links into its blobs/ directory still load.
TEST_F(HfLoadError, IndexNamingAShardOutsideItsDirectoryIsRefused) {
  SaveOptions save;
  save.max_shard_bytes = kShardBytes;
  model_save(*model_, dir_.path(), save);
  const std::string index = dir_.file("model.safetensors.index.json");
  const nlohmann::json original = read_json(index);
  const std::string key = "model.embed_tokens.weight";
  ScratchDir elsewhere;
  std::filesystem::copy_file(dir_.file(shard_file(1, 5)), elsewhere.file(shard_file(1, 5)));
  for (const std::string& bad :
       std::vector<std::string>{elsewhere.file(shard_file(1, 5)), "../" + shard_file(1, 5), "..",
                                ".", "", "sub/" + shard_file(1, 5)}) {
    nlohmann::json j = original;
    j["weight_map"][key] = bad;
    write_file_atomic(index, j.dump());
    EXPECT_TRUE(load_fails({index, "weight_map[\"" + key + "\"] names \"" + bad + "\"",
                            "not a plain file name", "fix the index"}));
  }
  std::filesystem::remove(dir_.file(shard_file(1, 5)));
  std::filesystem::create_symlink(elsewhere.file(shard_file(1, 5)), dir_.file(shard_file(1, 5)));
  write_file_atomic(index, original.dump());
  EXPECT_TRUE(
      load_fails({index, "weight_map[\"", "a symbolic link to " + elsewhere.file(shard_file(1, 5)),
                  "outside the model directory"}));

  // The hub cache's layout: snapshots/REV/FILE -> ../../blobs/HASH.
  ScratchDir cache;
  const std::filesystem::path snapshot = cache.path() + "/snapshots/abc123";
  std::filesystem::create_directories(snapshot);
  std::filesystem::create_directories(cache.path() + "/blobs");
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    if (e.is_symlink()) continue;
    const std::string name = e.path().filename().string();
    std::filesystem::copy_file(e.path(), cache.path() + "/blobs/" + name + ".blob");
    std::filesystem::create_symlink("../../blobs/" + name + ".blob", snapshot / name);
  }
  std::filesystem::copy_file(elsewhere.file(shard_file(1, 5)), cache.path() + "/blobs/shard1.blob");
  std::filesystem::create_symlink("../../blobs/shard1.blob", snapshot / shard_file(1, 5));
  expect_same_weights(*model_load(snapshot.string(), options(Training::kFull)), *model_);
}

}  // namespace
}  // namespace llmtune::io
