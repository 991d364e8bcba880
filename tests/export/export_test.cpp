// Export: tensor names and the q/k row permutation of llama.cpp's converter (checked against
// RoPE itself), merged Hugging Face directories that load back with the merged model's logits,
// and GGUF files read back tensor by tensor and key by key.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "export/export.h"
#include "export_fixture.h"
#include "io/gguf.h"
#include "model/batch.h"
#include "support/compare.h"

namespace llmtune {
namespace {

namespace fs = std::filesystem;
using exporting::gguf_permute_qk;
using io::GgmlType;

model::Batch batch(int64_t vocab) {
  model::Batch b;
  b.batch = 2;
  b.seq = 7;
  for (int64_t i = 0; i < 14; ++i)
    b.input_ids.push_back(static_cast<int32_t>((i * 37 + 5) % vocab));
  b.attention_mask.assign(14, 1);
  return b;
}

TEST(ExportNames, EveryParameterHasLlamaCppsName) {
  EXPECT_EQ(exporting::gguf_tensor_name("model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(exporting::gguf_tensor_name("model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(exporting::gguf_tensor_name("lm_head.weight"), "output.weight");
  const std::pair<const char*, const char*> layer[] = {
      {"input_layernorm", "attn_norm"},    {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},      {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"}, {"post_attention_layernorm", "ffn_norm"},
      {"mlp.gate_proj", "ffn_gate"},       {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"}};
  for (const auto& [hf, gguf] : layer) {
    EXPECT_EQ(exporting::gguf_tensor_name(str("model.layers.17.", hf, ".weight")),
              str("blk.17.", gguf, ".weight"));
  }
  EXPECT_EQ(exporting::gguf_tensor_name("model.layers.0.self_attn.q_proj.lora_A.weight"), "");
  EXPECT_EQ(exporting::gguf_tensor_name("model.layers.0.self_attn.rotary_emb.inv_freq"), "");
}

TEST(ExportPermute, RowsOfEachHeadInterleaveItsTwoHalves) {
  // 2 heads of dimension 4, one column holding the row number.
  std::vector<float> rows(8);
  for (int i = 0; i < 8; ++i) rows[i] = static_cast<float>(i);
  EXPECT_EQ(gguf_permute_qk(Tensor::from_f32(rows, {8, 1}), 2).to_f32(),
            (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
}

// The reason for the permutation: Transformers rotates dimension i of a head with i + d/2
// (rotate_half); ggml's RoPE for llama rotates 2i with 2i + 1, at the same frequency
// base^(-2i/d). With the rows permuted, ggml's rotation of the permuted projection is Transformers'
// rotation of the original, element for element in the permuted order, so every attention
// score q.k is unchanged.
TEST(ExportPermute, GgmlRopeOfThePermutedProjectionIsTransformersRope) {
  const int64_t heads = 3, d = 8, half = d / 2, cols = 5, pos = 7;
  std::vector<float> w(heads * d * cols), x(cols);
  PhiloxStream(1, 0).fill_normal(w.data(), w.size(), 0.0f, 1.0f);
  PhiloxStream(2, 0).fill_normal(x.data(), x.size(), 0.0f, 1.0f);
  const Tensor hf = Tensor::from_f32(w, {heads * d, cols});
  const std::vector<float> permuted = gguf_permute_qk(hf, heads).to_f32();
  const auto project = [&](const std::vector<float>& m) {
    std::vector<double> q(heads * d, 0.0);
    for (int64_t r = 0; r < heads * d; ++r)
      for (int64_t c = 0; c < cols; ++c) q[r] += static_cast<double>(m[r * cols + c]) * x[c];
    return q;
  };
  const std::vector<double> q = project(w), qp = project(permuted);
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      const double theta = pos * std::pow(10000.0, -2.0 * static_cast<double>(i) / d);
      const double c = std::cos(theta), s = std::sin(theta);
      const double* a = q.data() + h * d;  // Transformers: (i, i + d/2)
      const double hf_lo = a[i] * c - a[i + half] * s, hf_hi = a[i + half] * c + a[i] * s;
      const double* b = qp.data() + h * d;  // ggml: (2i, 2i + 1)
      const double gg_lo = b[2 * i] * c - b[2 * i + 1] * s, gg_hi = b[2 * i] * s + b[2 * i + 1] * c;
      EXPECT_NEAR(gg_lo, hf_lo, 1e-9) << "head " << h << " pair " << i;
      EXPECT_NEAR(gg_hi, hf_hi, 1e-9) << "head " << h << " pair " << i;
    }
  }
}

class ExportModel : public test::ExportFixture {};

TEST_F(ExportModel, MergedLoraDirectoryLoadsWithTheMergedLogits) {
  const exporting::ExportSource s = exporting::export_source(lora(), "", "");
  EXPECT_TRUE(s.lora);
  EXPECT_EQ(s.model_dir, base());
  EXPECT_EQ(s.tokenizer_dir, lora());
  auto merged = exporting::export_model(s);
  auto unmerged = io::model_load(base(), {});
  io::adapter_load(*unmerged, lora());
  const model::Batch b = batch(vocab());
  const Tensor want = merged->logits(b);
  EXPECT_LT(test::max_rel_error(want, unmerged->logits(b)), 1e-5);
  EXPECT_GT(test::max_rel_error(want, io::model_load(base(), {})->logits(b)), 1e-2);

  const auto files = exporting::export_hf(*merged, s, path("hf"), {});
  EXPECT_EQ(files,
            (std::vector<std::string>{"config.json", "generation_config.json", "model.safetensors",
                                      "tokenizer.model", "tokenizer_config.json"}));
  EXPECT_EQ(test::ScratchDir::listing_of(path("hf")), files);
  EXPECT_FALSE(fs::exists(path("hf.partial")));
  EXPECT_EQ(io::model_load(path("hf"), {})->logits(b).to_f32(), want.to_f32());
  const nlohmann::json gen = read_json(path("hf/generation_config.json"));
  EXPECT_EQ(gen, (nlohmann::json{
                     {"_from_model_config", true}, {"bos_token_id", 1}, {"eos_token_id", 2}}));
  EXPECT_EQ(read_json(path("hf/config.json"))["torch_dtype"], "float32");
  EXPECT_EQ(text::tokenizer_load(path("hf"))->chat_template().source,
            text::builtin_chat_template("mistral"));
}

TEST_F(ExportModel, Bf16WeightsAreTheMergedWeightsRounded) {
  const exporting::ExportSource s = exporting::export_source(lora(), "", "");
  auto merged = exporting::export_model(s);
  exporting::HfExportOptions o;
  o.dtype = DType::BF16;
  o.max_shard_bytes = 20000;  // several shards and the index
  exporting::export_hf(*merged, s, path("bf16"), o);
  const nlohmann::json index = read_json(path("bf16/model.safetensors.index.json"));
  std::set<std::string> shards;
  for (const auto& [name, file] : index["weight_map"].items()) shards.insert(file);
  EXPECT_GT(shards.size(), 1u);
  EXPECT_EQ(read_json(path("bf16/config.json"))["torch_dtype"], "bfloat16");
  for (model::ParamRef& p : merged->parameters()) p.value->copy_(p.value->to(DType::BF16));
  const model::Batch b = batch(vocab());
  EXPECT_EQ(io::model_load(path("bf16"), {})->logits(b).to_f32(), merged->logits(b).to_f32());
}

TEST_F(ExportModel, AnAdapterWithoutMergeIsCopiedAsAPeftDirectory) {
  const exporting::ExportSource s = exporting::export_source(lora(), "", "");
  const auto files = exporting::export_adapter(s, path("adapter"));
  EXPECT_EQ(files, (std::vector<std::string>{"adapter_config.json", "adapter_model.safetensors",
                                             "tokenizer.model", "tokenizer_config.json"}));
  EXPECT_EQ(io::adapter_config_load(path("adapter")).base_model_name_or_path, base());
  auto m = io::model_load(base(), {});
  io::adapter_load(*m, path("adapter"));
  m->merge_lora();
  EXPECT_EQ(m->logits(batch(vocab())).to_f32(),
            exporting::export_model(s)->logits(batch(vocab())).to_f32());
}

// Each tensor of the GGUF file against the merged model's parameter, in the file's layout.
void expect_tensors(const io::GgufFile& f, model::LlamaModel& m, GgmlType type) {
  const model::ModelConfig& c = m.config();
  size_t n = 0;
  for (model::ParamRef& p : m.parameters()) {
    if (p.name.find("lora_") != std::string::npos) continue;  // merged into the weights
    const std::string name = exporting::gguf_tensor_name(p.name);
    SCOPED_TRACE(name);
    const io::GgufTensorInfo* t = f.find_tensor(name);
    ASSERT_NE(t, nullptr);
    ++n;
    Tensor want = *p.value;
    if (p.name.ends_with("q_proj.weight")) want = gguf_permute_qk(want, c.num_attention_heads);
    if (p.name.ends_with("k_proj.weight")) want = gguf_permute_qk(want, c.num_key_value_heads);
    const Shape& shape = want.shape();
    EXPECT_EQ(t->dims, Shape(shape.rbegin(), shape.rend()));
    const GgmlType stored = exporting::gguf_tensor_type(name, shape, type);
    EXPECT_EQ(t->type, static_cast<uint32_t>(stored));
    const std::vector<float> v = want.to_f32();
    std::string bytes(io::ggml_bytes(stored, want.numel()), '\0');
    if (stored == GgmlType::kF32) {
      std::memcpy(bytes.data(), v.data(), bytes.size());
    } else if (stored == GgmlType::kF16) {
      for (size_t i = 0; i < v.size(); ++i) {
        const uint16_t h = f32_to_f16(v[i]);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
    } else {
      io::q8_0_quantize(v.data(), want.numel(), reinterpret_cast<uint8_t*>(bytes.data()));
    }
    EXPECT_TRUE(f.tensor_bytes(*t) == bytes);
  }
  EXPECT_EQ(f.tensors.size(), n);
}

TEST_F(ExportModel, GgufHoldsTheArchitectureTheVocabularyAndEveryTensor) {
  const exporting::ExportSource s = exporting::export_source(lora(), "", "");
  auto m = exporting::export_model(s);
  for (GgmlType type : {GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kF32}) {
    SCOPED_TRACE(io::ggml_type_name(type));
    const std::string file = path(str("m-", io::ggml_type_name(type), ".gguf"));
    exporting::export_gguf(*m, s, file, {type, "tiny"});
    const io::GgufFile f = io::gguf_read(file);
    const auto u32 = [&](const std::string& k) { return f.find(k)->number; };
    EXPECT_EQ(f.metadata[0].first, "general.architecture");
    EXPECT_EQ(f.find("general.architecture")->string, "llama");
    EXPECT_EQ(f.find("general.name")->string, "tiny");
    EXPECT_EQ(u32("general.file_type"), type == GgmlType::kF32   ? 0
                                        : type == GgmlType::kF16 ? 1
                                                                 : 7);
    EXPECT_EQ(u32("general.quantization_version"), 2);
    EXPECT_EQ(u32("llama.block_count"), 2);
    EXPECT_EQ(u32("llama.embedding_length"), 32);
    EXPECT_EQ(u32("llama.feed_forward_length"), 48);
    EXPECT_EQ(u32("llama.attention.head_count"), 4);
    EXPECT_EQ(u32("llama.attention.head_count_kv"), 2);
    EXPECT_EQ(u32("llama.rope.dimension_count"), 8);
    EXPECT_EQ(u32("llama.vocab_size"), vocab());
    EXPECT_EQ(u32("llama.rope.freq_base"), 10000);
    EXPECT_EQ(f.find("llama.attention.layer_norm_rms_epsilon")->type, io::GgufType::kF32);
    EXPECT_EQ(f.find("tokenizer.ggml.model")->string, "llama");
    EXPECT_EQ(f.find("tokenizer.ggml.tokens")->strings.size(), static_cast<size_t>(vocab()));
    EXPECT_EQ(f.find("tokenizer.ggml.tokens")->strings[1], "<s>");
    EXPECT_EQ(f.find("tokenizer.ggml.token_type")->numbers[0], 2);  // <unk>: unknown
    EXPECT_EQ(f.find("tokenizer.ggml.token_type")->numbers[1], 3);  // <s>: control
    EXPECT_EQ(f.find("tokenizer.ggml.token_type")->numbers[3], 6);  // <0x00>: byte
    EXPECT_EQ(u32("tokenizer.ggml.bos_token_id"), 1);
    EXPECT_EQ(u32("tokenizer.ggml.eos_token_id"), 2);
    EXPECT_EQ(f.find("tokenizer.ggml.padding_token_id"), nullptr);  // none declared
    EXPECT_EQ(u32("tokenizer.ggml.add_bos_token"), 1);
    EXPECT_EQ(u32("tokenizer.ggml.add_eos_token"), 0);
    EXPECT_EQ(f.find("tokenizer.chat_template")->string, text::builtin_chat_template("mistral"));
    expect_tensors(f, *m, type);
    // ffn_down's rows are 48 long, not blocks of 32: F16 in a Q8_0 file, as the converter does.
    EXPECT_EQ(f.find_tensor("blk.0.ffn_down.weight")->type,
              static_cast<uint32_t>(type == GgmlType::kQ8_0 ? GgmlType::kF16 : type));
  }
}

TEST_F(ExportModel, ATiedModelHasNoOutputTensor) {
  model::ModelConfig c = test::tiny_llama(vocab(), 0.3);
  c.tie_word_embeddings = true;
  model::LlamaModel m(c, {});
  m.init_weights(2);
  io::model_save(m, path("tied"));
  copy_tokenizer(path("tied"));
  const exporting::ExportSource s = exporting::export_source(path("tied"), "", "");
  EXPECT_FALSE(s.lora);
  exporting::export_gguf(*exporting::export_model(s), s, path("tied.gguf"), {});
  const io::GgufFile f = io::gguf_read(path("tied.gguf"));
  EXPECT_NE(f.find_tensor("token_embd.weight"), nullptr);
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);  // llama.cpp uses token_embd
}

}  // namespace
}  // namespace llmtune
