// LlamaModel: LlamaForCausalLM / MistralForCausalLM as Transformers computes them, with
// forward and backward passes written layer by layer (no autograd), optional LoRA adapters on
// any projection, and activation checkpointing per decoder layer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/ops.h"
#include "model/batch.h"
#include "model/config.h"
#include "model/linear.h"
#include "model/lora.h"

namespace llmtune::model {

// Keys and values of the tokens seen so far, per layer, for incremental decoding.
struct KvCache {
  int64_t batch = 0, capacity = 0, used = 0;  // columns used of `capacity`
  std::vector<Tensor> k, v;                   // per layer (B, capacity, Hkv, D), after RoPE
  std::vector<int32_t> positions;             // (B, capacity): each key's position, -1: none
};

enum class Training {
  kNone,  // inference: weights only
  kFull,  // every parameter trains, in fp32
  kLora,  // base weights frozen (fp32 or 16-bit storage); adapters train
};

struct ModelOptions {
  Training training = Training::kNone;
  // Storage of frozen weights (kNone, kLora): F32, BF16 or F16. Norm weights stay F32.
  DType frozen_dtype = DType::F32;
  // Keep only each decoder layer's input in forward and recompute the layer in backward.
  bool checkpoint_activations = false;
  // Rows of logits computed at a time by the loss (0: about 16 MiB worth).
  int64_t loss_chunk_rows = 0;
  Device device = Device::cpu();
};

// A parameter, named as Hugging Face (base) or PEFT (adapter) names it.
struct ParamRef {
  std::string name;
  Tensor* value;
  Tensor* grad;  // null when frozen
  bool decay;    // false for norm weights (Transformers' Trainer excludes them from decay)
};

// Where ZeRO takes hold of parameter memory (DESIGN.md: "ZeRO owns parameter memory"). The
// parameters form groups, as parameter_groups() lists them: 0 the embedding, 1 + l decoder
// layer l with its adapters, L + 1 the final norm and an untied lm_head. The model calls
// acquire(g) before it reads group g's parameters and release(g) when done; only in between
// must they be whole. With `grads`, it also accumulates into the group's gradient tensors,
// until grads_ready(g) says that this micro-batch's gradients of the group are complete.
// `next` is the group this pass acquires after g (-1: none), for a prefetch.
// Without hooks every tensor is resident and the calls do not happen.
class ParamHooks {
 public:
  virtual ~ParamHooks() = default;
  virtual void acquire(int group, bool grads, int next) = 0;
  virtual void release(int group) = 0;
  virtual void grads_ready(int group) = 0;
};

// One training step's forward settings.
struct StepOptions {
  float grad_scale = 1.0f;   // gradients are of grad_scale * loss (1 / accumulation steps)
  uint64_t seed = 0;         // dropout masks are keyed by (seed, rng_counter, layer, module)
  uint64_t rng_counter = 0;  // distinct per micro-batch
};

class LlamaModel {
 public:
  LlamaModel(const ModelConfig& config, const ModelOptions& options);
  ~LlamaModel();
  LlamaModel(const LlamaModel&) = delete;
  LlamaModel& operator=(const LlamaModel&) = delete;

  const ModelConfig& config() const { return config_; }
  const ModelOptions& options() const { return options_; }

  // Transformers' initialization: normal(0, initializer_range) weights, norm weights 1.
  void init_weights(uint64_t seed);

  // Base parameters by Hugging Face name, then adapter weights by PEFT name.
  std::vector<ParamRef> parameters();
  std::vector<ParamRef> trainable_parameters();
  // parameters() by group (see ParamHooks): num_param_groups() lists, each possibly empty.
  std::vector<std::vector<ParamRef>> parameter_groups();
  int num_param_groups() const { return static_cast<int>(config_.num_hidden_layers) + 2; }
  // The hooks (null: none) that every later pass calls; the model does not own them.
  void set_param_hooks(ParamHooks* hooks) { hooks_ = hooks; }
  // The base parameter with this Hugging Face name, or null.
  Tensor* find_parameter(const std::string& name);

  // Adds LoRA adapters (PEFT init: A kaiming-uniform(a=√5), B zero) to the target modules.
  void add_lora(const LoraConfig& lora, uint64_t seed);
  // Removes the adapters again (their merge, if any, is undone first).
  void remove_lora();
  bool has_lora() const { return lora_ != nullptr; }
  const LoraConfig& lora_config() const;
  // The adapted projections, in layer order.
  std::vector<Linear*> lora_linears();
  void merge_lora();
  void unmerge_lora();

  // Mean loss over labelled positions (Transformers' CrossEntropyLoss after the shift);
  // 0 for a batch without labels. Saves nothing.
  Tensor loss(const Batch& batch);
  // All logits (B, T, V), F32. Meant for tests and short generations.
  Tensor logits(const Batch& batch);
  // The loss and, for each labelled position in order (batch row, then time), the most likely
  // next token (argmax of the logits): what teacher-forced accuracy and BLEU need.
  Tensor predict(const Batch& batch, Tensor* argmax);  // argmax: (R) int32

  // An empty cache for `batch` rows of up to `capacity` tokens each.
  KvCache new_cache(int64_t batch, int64_t capacity) const;
  // Runs t new tokens per row (ids (B, t); positions (B, t), -1 marking padding) after what the
  // cache holds, appends their keys and values, and returns the logits (B, V) of each row's last
  // real token in this chunk (zeros for a row without one).
  Tensor forward_cached(KvCache& cache, const std::vector<int32_t>& ids,
                        const std::vector<int32_t>& positions, int64_t t);

  // Training pass, first half: returns the loss and keeps what backward needs. The LM head and
  // the loss are fused: each chunk of logits is turned into its gradient at once, so the head's
  // gradients (scaled by step.grad_scale) are already accumulated when this returns.
  Tensor forward(const Batch& batch, const StepOptions& step);
  // Second half: accumulates the remaining gradients into the trainable parameters.
  void backward();
  void zero_grad();

  // Bytes of parameter, gradient and adapter memory.
  size_t parameter_bytes();

 private:
  struct Layer;
  struct Saved;
  struct Context;
  class Use;

  Context make_context(const Batch& batch, bool train, const StepOptions* step);
  void layer_forward(int l, Tensor& x, Saved* saved, const Context& ctx);
  void layer_backward(int l, Tensor& dx, Saved& saved, const Context& ctx);
  Tensor run_layers(const Context& ctx, bool keep);
  Tensor final_norm(const Tensor& x, Tensor* rstd);
  Tensor head_loss(const Tensor& normed, const Context& ctx, Tensor* dnormed,
                   Tensor* argmax = nullptr);
  void alloc_parameters();
  bool full() const { return options_.training == Training::kFull; }
  int head_group() const { return num_param_groups() - 1; }
  // The output projection: lm_head's weight, or the embedding when tied.
  const Tensor& head_weight() const {
    return config_.tie_word_embeddings ? embed_ : lm_head_.weight;
  }
  Tensor& head_grad() { return config_.tie_word_embeddings ? embed_grad_ : lm_head_.grad; }

  ModelConfig config_;
  ModelOptions options_;
  Tensor embed_, embed_grad_;  // (V, C)
  std::vector<Layer> layers_;
  Tensor norm_, norm_grad_;  // (C)
  Linear lm_head_;           // unused when tied (head_weight() is embed_)
  std::unique_ptr<LoraConfig> lora_;
  ParamHooks* hooks_ = nullptr;
  // Training state between forward() and backward().
  std::unique_ptr<Context> ctx_;
  std::vector<Saved> saved_;
  Tensor final_x_, final_rstd_, final_dnormed_;
  // Rotary tables, grown as longer sequences arrive.
  Tensor rope_cos_, rope_sin_;
  int64_t rope_positions_ = 0, rope_seq_ = 0;
};

}  // namespace llmtune::model
