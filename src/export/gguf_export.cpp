// GGUF files of llama.cpp's "llama" architecture, as convert_hf_to_gguf.py writes them.
#include <cmath>
#include <filesystem>
#include <numbers>

#include "core/error.h"
#include "export/export.h"
#include "text/gguf_vocab.h"

namespace llmtune::exporting {

namespace {

using io::GgmlType;
using io::GgufValue;

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

// llama.cpp's LlamaFileType of a file whose matrices are `type`.
uint32_t file_type(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return 0;  // ALL_F32
    case GgmlType::kF16:
      return 1;  // MOSTLY_F16
    case GgmlType::kQ8_0:
      return 7;  // MOSTLY_Q8_0
  }
  return 0;
}

void add_architecture(io::GgufWriter& w, const model::ModelConfig& c, GgmlType type) {
  if (c.rope_scaling.type == model::RopeScaling::Type::kDynamic) {
    throw Error(
        "rope_scaling \"dynamic\" has no counterpart in llama.cpp's llama architecture; "
        "export a model with no, linear or llama3 RoPE scaling");
  }
  const auto u32 = [](int64_t v) { return GgufValue::u32(static_cast<uint32_t>(v)); };
  w.add("llama.block_count", u32(c.num_hidden_layers));
  w.add("llama.context_length", u32(c.max_position_embeddings));
  w.add("llama.embedding_length", u32(c.hidden_size));
  w.add("llama.feed_forward_length", u32(c.intermediate_size));
  w.add("llama.attention.head_count", u32(c.num_attention_heads));
  w.add("llama.attention.head_count_kv", u32(c.num_key_value_heads));
  w.add("llama.rope.freq_base", GgufValue::f32(static_cast<float>(c.rope_theta)));
  w.add("llama.attention.layer_norm_rms_epsilon",
        GgufValue::f32(static_cast<float>(c.rms_norm_eps)));
  if (c.source.contains("head_dim") || c.head_dim * c.num_attention_heads != c.hidden_size) {
    w.add("llama.attention.key_length", u32(c.head_dim));
    w.add("llama.attention.value_length", u32(c.head_dim));
  }
  w.add("general.file_type", GgufValue::u32(file_type(type)));
  w.add("llama.vocab_size", u32(c.vocab_size));
  w.add("llama.rope.dimension_count", u32(c.head_dim));
  if (c.rope_scaling.type == model::RopeScaling::Type::kLinear) {
    w.add("llama.rope.scaling.type", GgufValue::text("linear"));
    w.add("llama.rope.scaling.factor", GgufValue::f32(static_cast<float>(c.rope_scaling.factor)));
  }
}

void add_vocab(io::GgufWriter& w, const text::GgufVocab& v) {
  w.add("tokenizer.ggml.model", GgufValue::text(v.model));
  w.add("tokenizer.ggml.pre", GgufValue::text(v.pre));
  w.add("tokenizer.ggml.tokens", GgufValue::texts(v.tokens));
  if (!v.scores.empty()) w.add("tokenizer.ggml.scores", GgufValue::f32s(v.scores));
  w.add("tokenizer.ggml.token_type", GgufValue::i32s(v.types));
  if (!v.merges.empty()) w.add("tokenizer.ggml.merges", GgufValue::texts(v.merges));
  const std::pair<const char*, int32_t> ids[] = {{"tokenizer.ggml.bos_token_id", v.bos},
                                                 {"tokenizer.ggml.eos_token_id", v.eos},
                                                 {"tokenizer.ggml.unknown_token_id", v.unk},
                                                 {"tokenizer.ggml.padding_token_id", v.pad}};
  for (const auto& [key, id] : ids)
    if (id >= 0) w.add(key, GgufValue::u32(static_cast<uint32_t>(id)));
  w.add("tokenizer.ggml.add_bos_token", GgufValue::boolean(v.add_bos));
  w.add("tokenizer.ggml.add_eos_token", GgufValue::boolean(v.add_eos));
  if (!v.chat_template.empty()) w.add("tokenizer.chat_template", GgufValue::text(v.chat_template));
}

// Llama 3's RoPE scaling as the per-frequency divisors llama.cpp reads from rope_freqs.weight.
Tensor llama3_rope_factors(const model::ModelConfig& c) {
  const model::RopeScaling& s = c.rope_scaling;
  const double low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const double high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
  std::vector<float> factors;
  for (int64_t i = 0; i < c.head_dim / 2; ++i) {
    const float freq = 1.0f / std::pow(static_cast<float>(c.rope_theta),
                                       static_cast<float>(2 * i) / static_cast<float>(c.head_dim));
    const double wavelen = 2.0 * std::numbers::pi / freq;
    double f = 1.0;
    if (wavelen > low_wavelen) {
      f = s.factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                            (s.high_freq_factor - s.low_freq_factor);
      f = 1.0 / ((1.0 - smooth) / s.factor + smooth);
    }
    factors.push_back(static_cast<float>(f));
  }
  return Tensor::from_f32(factors, {c.head_dim / 2});
}

// The values of a parameter as the file stores them: q/k rows permuted, checked.
Tensor file_values(const Tensor& w, const std::string& hf_name, const model::ModelConfig& c,
                   GgmlType type) {
  Tensor v = w;
  if (hf_name.ends_with("q_proj.weight")) v = gguf_permute_qk(w, c.num_attention_heads);
  if (hf_name.ends_with("k_proj.weight")) v = gguf_permute_qk(w, c.num_key_value_heads);
  check_weights(hf_name, v.to_f32(), type == GgmlType::kF16);
  return v;
}

}  // namespace

std::string gguf_tensor_name(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::string prefix = "model.layers.";
  if (!hf.starts_with(prefix)) return "";
  const size_t dot = hf.find('.', prefix.size());
  if (dot == std::string::npos) return "";
  const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  const std::string rest = hf.substr(dot + 1);
  static const std::pair<const char*, const char*> kLayer[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  for (const auto& [from, to] : kLayer)
    if (rest == from) return "blk." + layer + "." + to;
  return "";
}

Tensor gguf_permute_qk(const Tensor& weight, int64_t n_heads) {
  LLMTUNE_CHECK(weight.dim() == 2 && weight.size(0) % n_heads == 0, "q/k weight ", weight.str(),
                " is not ", n_heads, " heads of rows");
  const int64_t cols = weight.size(1), d = weight.size(0) / n_heads, half = d / 2;
  LLMTUNE_CHECK(d % 2 == 0, "head_dim ", d, " is odd");
  const std::vector<float> in = weight.to_f32();
  std::vector<float> out(in.size());
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const float* src = in.data() + (h * d + j * half + i) * cols;
        std::copy(src, src + cols, out.data() + (h * d + 2 * i + j) * cols);
      }
    }
  }
  return Tensor::from_f32(out, weight.shape());
}

GgmlType gguf_tensor_type(const std::string& name, const Shape& shape, GgmlType type) {
  if (shape.size() <= 1 || name.ends_with("_norm.weight")) return GgmlType::kF32;
  if (type == GgmlType::kQ8_0 && shape.back() % io::kQ8Block != 0) return GgmlType::kF16;
  return type;
}

void export_gguf(model::LlamaModel& model, const ExportSource& s, const std::string& path,
                 const GgufExportOptions& o) {
  const Activity activity("exporting " + s.checkpoint + " to " + path);
  const model::ModelConfig& c = model.config();
  io::GgufWriter w;
  w.add("general.architecture", GgufValue::text("llama"));
  w.add("general.type", GgufValue::text("model"));
  w.add("general.name", GgufValue::text(o.name));
  add_architecture(w, c, o.type);
  add_vocab(w, text::gguf_vocab(s.tokenizer_dir, c.vocab_size));
  w.add("general.quantization_version", GgufValue::u32(kQuantizationVersion));
  if (c.rope_scaling.type == model::RopeScaling::Type::kLlama3) {
    const Tensor factors = llama3_rope_factors(c);
    w.add_tensor(
        {"rope_freqs.weight", factors.shape(), GgmlType::kF32, [factors] { return factors; }});
  }
  for (model::ParamRef& p : model.parameters()) {
    if (p.name.find("lora_") != std::string::npos) continue;  // merged into the weights
    const std::string name = gguf_tensor_name(p.name);
    LLMTUNE_CHECK(!name.empty(), "parameter ", p.name, " has no GGUF name");
    const GgmlType type = gguf_tensor_type(name, p.value->shape(), o.type);
    const Tensor* value = p.value;
    const std::string hf = p.name;
    w.add_tensor({name, value->shape(), type,
                  [value, hf, &c, type] { return file_values(*value, hf, c, type); }});
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  w.write(path);
}

}  // namespace llmtune::exporting
