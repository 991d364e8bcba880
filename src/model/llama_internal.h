// Private parts of LlamaModel shared by llama.cpp (parameters) and llama_passes.cpp
// (forward and backward).
#pragma once

#include "model/llama.h"

namespace llmtune::model {

// Module sites within a layer: they key dropout masks and initialization streams.
enum Site { kQ, kK, kV, kO, kGate, kUp, kDown, kSites };
inline const char* const kSiteNames[kSites] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                               "gate_proj", "up_proj", "down_proj"};

struct LlamaModel::Layer {
  Tensor input_norm, input_norm_grad;  // (C)
  Tensor post_norm, post_norm_grad;    // (C)
  Linear proj[kSites];                 // q (Hq*D, C), k, v (Hkv*D, C), o (C, Hq*D),
                                       // gate, up (I, C), down (C, I)
};

// Activations one decoder layer keeps for its backward pass.
struct LlamaModel::Saved {
  Tensor x;          // (N, C) layer input
  Tensor rstd1, n1;  // (N), (N, C) input_layernorm
  Tensor q, k, v;    // (N, Hq*D), (N, Hkv*D) after rotary embedding
  Tensor attn, lse;  // (N, Hq*D), (B, Hq, T)
  Tensor h;          // (N, C) after the attention residual
  Tensor rstd2, n2;  // post_attention_layernorm
  Tensor gate, up;   // (N, I)
  Tensor act;        // (N, I) silu(gate) * up
  LinearSaved lin[kSites];
};

// Holds one parameter group acquired (ParamHooks) for a scope; `next` is the group the pass
// acquires after it (-1: none).
class LlamaModel::Use {
 public:
  Use(ParamHooks* hooks, int group, bool grads, int next = -1) : hooks_(hooks), group_(group) {
    if (hooks_) hooks_->acquire(group_, grads, next);
  }
  ~Use() {
    if (hooks_) hooks_->release(group_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  void grads_ready() {
    if (hooks_) hooks_->grads_ready(group_);
  }

 private:
  ParamHooks* hooks_;
  int group_;
};

struct LlamaModel::Context {
  int64_t b = 0, t = 0, n = 0;
  Tensor ids;        // (N) int32
  Tensor positions;  // (B, T) int32
  AttentionMask mask;
  bool train = false;
  StepOptions step;
  Tensor target_rows;  // (R) rows of (N) with a next-token label
  Tensor targets;      // (R) the labels
  int64_t n_targets = 0;
};

}  // namespace llmtune::model
