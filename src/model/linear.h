// Linear: the one place LoRA happens. y = x Wᵀ + s · dropout(x) Aᵀ Bᵀ, s = alpha / r
// (or alpha / sqrt(r) with rsLoRA). A frozen W has no gradient buffer and gets no dW.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/tensor.h"

namespace llmtune::model {

struct LoraWeights {
  Tensor a;             // (r, in) F32
  Tensor b;             // (out, r) F32
  Tensor grad_a;        // (r, in) F32 while training (and its group is acquired with gradients)
  Tensor grad_b;        // (out, r) F32
  bool trains = false;  // A and B train: backward accumulates into grad_a and grad_b
  float scale = 1.0f;
  float dropout = 0.0f;
};

// Identifies a dropout mask: same key, same mask (forward and its recomputation in backward).
struct DropoutKey {
  uint64_t seed = 0;
  uint64_t stream = 0;
};

// What forward keeps for backward.
struct LinearSaved {
  Tensor lora_u;  // (N, r): dropout(x) Aᵀ
};

struct Linear {
  std::string name;  // Hugging Face module name, "model.layers.0.self_attn.q_proj"
  int64_t in = 0, out = 0;
  Tensor weight;        // (out, in), F32 or BF16/F16 when frozen
  Tensor grad;          // (out, in) F32 when W trains (and its group is acquired with gradients)
  bool trains = false;  // W trains: backward accumulates dW into grad
  std::optional<LoraWeights> lora;
  bool merged = false;  // W holds W + s·BA; the adapter branch is skipped

  bool lora_active() const { return lora.has_value() && !merged; }
  // Backward reads x only to form dW, dA or dB.
  bool needs_input() const { return trains || lora_active(); }

  // y (N, out) = (accumulate ? y : 0) + x Wᵀ + adapter. dropout: the key when training with
  // dropout, else null. saved: filled for backward when non-null.
  void forward(Tensor& y, const Tensor& x, bool accumulate, LinearSaved* saved,
               const DropoutKey* dropout) const;
  // Accumulates dW, dA, dB; dx (N, in) = or += dy W + adapter path when dx is non-null.
  void backward(Tensor* dx, bool accumulate, const Tensor& dy, const Tensor& x,
                const LinearSaved& saved, const DropoutKey* dropout);

  // W += s·BA (merge) or W -= s·BA (unmerge), computed in fp32 and rounded to W's dtype.
  void merge_lora();
  void unmerge_lora();
};

}  // namespace llmtune::model
