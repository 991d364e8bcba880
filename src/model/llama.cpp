#include "model/llama.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "core/error.h"
#include "core/philox.h"
#include "model/llama_internal.h"

namespace llmtune::model {

LlamaModel::LlamaModel(const ModelConfig& config, const ModelOptions& options)
    : config_(config), options_(options) {
  const DType f = options.frozen_dtype;
  if (f == DType::I32) throw Error("frozen weights need a float type (F32, BF16 or F16)");
  if (options.training == Training::kFull && f != DType::F32) {
    throw Error("full training keeps fp32 weights; 16-bit storage is for frozen weights (LoRA)");
  }
  alloc_parameters();
}

LlamaModel::~LlamaModel() = default;

void LlamaModel::alloc_parameters() {
  const ModelConfig& c = config_;
  const bool full = options_.training == Training::kFull;
  const DType wdt = full ? DType::F32 : options_.frozen_dtype;
  const Device dev = options_.device;
  auto grad_for = [&](const Shape& s) {
    return full ? Tensor::zeros(s, DType::F32, dev) : Tensor();
  };
  embed_ = Tensor::empty({c.vocab_size, c.hidden_size}, wdt, dev);
  embed_grad_ = grad_for(embed_.shape());
  layers_.resize(static_cast<size_t>(c.num_hidden_layers));
  const int64_t dims[kSites][2] = {
      {c.q_dim(), c.hidden_size},           {c.kv_dim(), c.hidden_size},
      {c.kv_dim(), c.hidden_size},          {c.hidden_size, c.q_dim()},
      {c.intermediate_size, c.hidden_size}, {c.intermediate_size, c.hidden_size},
      {c.hidden_size, c.intermediate_size}};
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    Layer& L = layers_[l];
    L.input_norm = Tensor::empty({c.hidden_size}, DType::F32, dev);
    L.post_norm = Tensor::empty({c.hidden_size}, DType::F32, dev);
    L.input_norm_grad = grad_for({c.hidden_size});
    L.post_norm_grad = grad_for({c.hidden_size});
    for (int s = 0; s < kSites; ++s) {
      Linear& lin = L.proj[s];
      lin.name = str("model.layers.", l, s < kGate ? ".self_attn." : ".mlp.", kSiteNames[s]);
      lin.out = dims[s][0];
      lin.in = dims[s][1];
      lin.weight = Tensor::empty({lin.out, lin.in}, wdt, dev);
      lin.grad = grad_for(lin.weight.shape());
      lin.trains = full;
    }
  }
  norm_ = Tensor::empty({c.hidden_size}, DType::F32, dev);
  norm_grad_ = grad_for({c.hidden_size});
  lm_head_.name = "lm_head";
  lm_head_.out = c.vocab_size;
  lm_head_.in = c.hidden_size;
  if (!c.tie_word_embeddings) {
    lm_head_.weight = Tensor::empty({c.vocab_size, c.hidden_size}, wdt, dev);
    lm_head_.grad = grad_for(lm_head_.weight.shape());
    lm_head_.trains = full;
  }
}

// A parameter's gradient slot is listed whenever the parameter trains, even while ZeRO has
// released the buffer (the tensor is then undefined).
std::vector<ParamRef> LlamaModel::parameters() {
  auto grad_ptr = [this](Tensor& g) { return full() ? &g : nullptr; };
  std::vector<ParamRef> out;
  out.push_back({"model.embed_tokens.weight", &embed_, grad_ptr(embed_grad_), true});
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    for (Linear& lin : L.proj)
      out.push_back({lin.name + ".weight", &lin.weight, grad_ptr(lin.grad), true});
    out.push_back({str("model.layers.", l, ".input_layernorm.weight"), &L.input_norm,
                   grad_ptr(L.input_norm_grad), false});
    out.push_back({str("model.layers.", l, ".post_attention_layernorm.weight"), &L.post_norm,
                   grad_ptr(L.post_norm_grad), false});
  }
  out.push_back({"model.norm.weight", &norm_, grad_ptr(norm_grad_), false});
  if (!config_.tie_word_embeddings) {
    out.push_back({"lm_head.weight", &lm_head_.weight, grad_ptr(lm_head_.grad), true});
  }
  for (Linear* lin : lora_linears()) {
    LoraWeights& lw = *lin->lora;
    const std::string base = "base_model.model." + lin->name;
    out.push_back({base + ".lora_A.weight", &lw.a, lw.trains ? &lw.grad_a : nullptr, true});
    out.push_back({base + ".lora_B.weight", &lw.b, lw.trains ? &lw.grad_b : nullptr, true});
  }
  return out;
}

std::vector<ParamRef> LlamaModel::trainable_parameters() {
  std::vector<ParamRef> out;
  for (ParamRef& p : parameters()) {
    if (p.grad != nullptr) out.push_back(p);
  }
  return out;
}

std::vector<std::vector<ParamRef>> LlamaModel::parameter_groups() {
  std::vector<std::vector<ParamRef>> groups(static_cast<size_t>(num_param_groups()));
  for (ParamRef& p : parameters()) {
    int group = head_group();
    if (p.name.starts_with("model.embed_tokens.")) group = 0;
    constexpr std::string_view kLayers = "model.layers.";  // also inside adapter names
    const size_t at = p.name.find(kLayers);
    if (at != std::string::npos) group = 1 + std::stoi(p.name.substr(at + kLayers.size()));
    groups[static_cast<size_t>(group)].push_back(p);
  }
  return groups;
}

Tensor* LlamaModel::find_parameter(const std::string& name) {
  for (ParamRef& p : parameters()) {
    if (p.name == name) return p.value;
  }
  return nullptr;
}

void LlamaModel::init_weights(uint64_t seed) {
  const float std = static_cast<float>(config_.initializer_range);
  uint64_t index = 0;
  for (ParamRef& p : parameters()) {
    if (p.name.find("lora_") != std::string::npos) continue;
    std::vector<float> values(static_cast<size_t>(p.value->numel()));
    if (p.name.ends_with("norm.weight")) {
      std::fill(values.begin(), values.end(), 1.0f);
    } else {
      PhiloxStream(seed, philox_stream(0x696e6974, index))
          .fill_normal(values.data(), values.size(), 0.0f, std);
    }
    p.value->copy_(Tensor::from_f32(values, p.value->shape(), p.value->dtype(), p.value->device()));
    ++index;
  }
}

void LlamaModel::add_lora(const LoraConfig& lora, uint64_t seed) {
  if (lora_) throw Error("the model already has a LoRA adapter");
  if (options_.training == Training::kFull) {
    throw Error("LoRA adapters train with the base frozen: build the model with Training::kLora");
  }
  lora.validate();
  const std::vector<std::string> targets = lora.resolved_targets();
  const bool train = options_.training == Training::kLora;
  const Device dev = options_.device;
  for (size_t l = 0; l < layers_.size(); ++l) {
    for (int s = 0; s < kSites; ++s) {
      if (std::find(targets.begin(), targets.end(), kSiteNames[s]) == targets.end()) continue;
      Linear& lin = layers_[l].proj[s];
      LoraWeights w;
      // PEFT: kaiming_uniform_(A, a=sqrt(5)) is U(-1/sqrt(in), 1/sqrt(in)); B = 0.
      std::vector<float> a(static_cast<size_t>(lora.r * lin.in));
      const float bound = 1.0f / std::sqrt(static_cast<float>(lin.in));
      PhiloxStream(seed, philox_stream(0x6c6f7261, l, s))
          .fill_uniform(a.data(), a.size(), -bound, bound);
      w.a = Tensor::from_f32(a, {lora.r, lin.in}, DType::F32, dev);
      w.b = Tensor::zeros({lin.out, lora.r}, DType::F32, dev);
      if (train) {
        w.grad_a = Tensor::zeros(w.a.shape(), DType::F32, dev);
        w.grad_b = Tensor::zeros(w.b.shape(), DType::F32, dev);
        w.trains = true;
      }
      w.scale = static_cast<float>(lora.scaling());
      w.dropout = static_cast<float>(lora.dropout);
      lin.lora = std::move(w);
    }
  }
  lora_ = std::make_unique<LoraConfig>(lora);
}

void LlamaModel::remove_lora() {
  for (Linear* lin : lora_linears()) {
    if (lin->merged) lin->unmerge_lora();
    lin->lora.reset();
  }
  lora_.reset();
}

const LoraConfig& LlamaModel::lora_config() const {
  LLMTUNE_CHECK(lora_ != nullptr, "the model has no LoRA adapter");
  return *lora_;
}

std::vector<Linear*> LlamaModel::lora_linears() {
  std::vector<Linear*> out;
  for (Layer& L : layers_) {
    for (Linear& lin : L.proj) {
      if (lin.lora) out.push_back(&lin);
    }
  }
  return out;
}

void LlamaModel::merge_lora() {
  for (Linear* lin : lora_linears()) lin->merge_lora();
}

void LlamaModel::unmerge_lora() {
  for (Linear* lin : lora_linears()) lin->unmerge_lora();
}

void LlamaModel::zero_grad() {
  for (ParamRef& p : trainable_parameters()) {
    if (p.grad->defined()) p.grad->zero_();
  }
}

size_t LlamaModel::parameter_bytes() {
  size_t total = 0;
  for (ParamRef& p : parameters()) {
    if (p.value->defined()) total += p.value->nbytes();
    if (p.grad && p.grad->defined()) total += p.grad->nbytes();
  }
  return total;
}

}  // namespace llmtune::model
