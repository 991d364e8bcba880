// LlamaModel's forward and backward passes.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/philox.h"
#include "model/llama_internal.h"
#include "model/rope_table.h"

namespace llmtune::model {

namespace {

Tensor empty_f32(const Shape& shape, Device dev) {
  return Tensor::empty(shape, DType::F32, dev);
}

}  // namespace

LlamaModel::Context LlamaModel::make_context(const Batch& batch, bool train,
                                             const StepOptions* step) {
  batch.validate();
  const Device dev = options_.device;
  Context ctx;
  ctx.b = batch.batch;
  ctx.t = batch.seq;
  ctx.n = ctx.b * ctx.t;
  ctx.train = train;
  if (step) ctx.step = *step;
  // Bad ids or labels are refused here, before any work, so a failed call changes nothing.
  const int64_t vocab = config_.vocab_size;
  for (int64_t i = 0; i < ctx.n; ++i) {
    const int32_t id = batch.input_ids[i];
    if (id < 0 || id >= vocab) {
      throw Error(str("input_ids[", i / ctx.t, "][", i % ctx.t, "] = ", id,
                      " is outside the vocabulary [0, ", vocab,
                      "); the tokenizer and the model's vocab_size do not match"));
    }
    const int32_t label = batch.labels.empty() ? -100 : batch.labels[i];
    if (label != -100 && (label < 0 || label >= vocab)) {
      throw Error(str("labels[", i / ctx.t, "][", i % ctx.t, "] = ", label,
                      " is outside the vocabulary [0, ", vocab, ") and is not -100 (ignored)"));
    }
  }
  ctx.ids = Tensor::from_i32(batch.input_ids, {ctx.n}, dev);

  std::vector<int32_t> positions = batch.position_ids;
  if (positions.empty()) {
    positions.resize(static_cast<size_t>(ctx.n));
    for (int64_t i = 0; i < ctx.n; ++i) positions[i] = static_cast<int32_t>(i % ctx.t);
  }
  ctx.positions = Tensor::from_i32(positions, {ctx.b, ctx.t}, dev);
  const int64_t max_pos = *std::max_element(positions.begin(), positions.end());
  if (*std::min_element(positions.begin(), positions.end()) < 0) {
    throw Error("batch position_ids must not be negative");
  }

  // Rotary tables cover every position seen so far; dynamic NTK scaling also depends on T.
  const bool dynamic = config_.rope_scaling.type == RopeScaling::Type::kDynamic &&
                       ctx.t > config_.max_position_embeddings;
  if (max_pos >= rope_positions_ || (dynamic ? ctx.t : 0) != rope_seq_) {
    rope_positions_ = std::max<int64_t>((max_pos + 256) / 256 * 256, rope_positions_);
    rope_seq_ = dynamic ? ctx.t : 0;
    std::vector<float> cos, sin;
    rope_tables(config_, ctx.t, rope_positions_, &cos, &sin);
    const int64_t half = config_.head_dim / 2;
    rope_cos_ = Tensor::from_f32(cos, {rope_positions_, half}, DType::F32, dev);
    rope_sin_ = Tensor::from_f32(sin, {rope_positions_, half}, DType::F32, dev);
  }

  if (!batch.attention_mask.empty() &&
      std::find(batch.attention_mask.begin(), batch.attention_mask.end(), 0) !=
          batch.attention_mask.end()) {
    ctx.mask.key_padding = Tensor::from_i32(batch.attention_mask, {ctx.b, ctx.t}, dev);
  }
  if (config_.sliding_window > 0 && config_.sliding_window < ctx.t) {
    ctx.mask.window = config_.sliding_window;
  }

  std::vector<int32_t> rows, targets;
  if (!batch.labels.empty()) {
    for (int64_t b = 0; b < ctx.b; ++b) {
      for (int64_t t = 0; t + 1 < ctx.t; ++t) {
        const int32_t label = batch.labels[b * ctx.t + t + 1];
        if (label == -100) continue;
        rows.push_back(static_cast<int32_t>(b * ctx.t + t));
        targets.push_back(label);
      }
    }
  }
  ctx.n_targets = static_cast<int64_t>(rows.size());
  if (ctx.n_targets > 0) {
    ctx.target_rows = Tensor::from_i32(rows, {ctx.n_targets}, dev);
    ctx.targets = Tensor::from_i32(targets, {ctx.n_targets}, dev);
  }
  return ctx;
}

void LlamaModel::layer_forward(int l, Tensor& x, Saved* keep, const Context& ctx) {
  const ModelConfig& c = config_;
  Layer& L = layers_[l];
  const Device dev = options_.device;
  const int64_t n = ctx.n, hq = c.num_attention_heads, hkv = c.num_key_value_heads;
  const int64_t d = c.head_dim;
  Saved local;
  Saved& s = keep ? *keep : local;
  DropoutKey keys[kSites];
  auto key = [&](int site) -> const DropoutKey* {
    if (!ctx.train) return nullptr;
    keys[site] = {ctx.step.seed, philox_stream(ctx.step.rng_counter, l, site)};
    return &keys[site];
  };
  auto save = [&](int site) { return keep ? &s.lin[site] : nullptr; };
  const float eps = static_cast<float>(c.rms_norm_eps);

  s.x = x;
  s.n1 = empty_f32({n, c.hidden_size}, dev);
  s.rstd1 = empty_f32({n}, dev);
  ops::rmsnorm_forward(s.n1, s.rstd1, x, L.input_norm, eps);
  s.q = empty_f32({n, c.q_dim()}, dev);
  s.k = empty_f32({n, c.kv_dim()}, dev);
  s.v = empty_f32({n, c.kv_dim()}, dev);
  L.proj[kQ].forward(s.q, s.n1, false, save(kQ), key(kQ));
  L.proj[kK].forward(s.k, s.n1, false, save(kK), key(kK));
  L.proj[kV].forward(s.v, s.n1, false, save(kV), key(kV));
  Tensor q4 = s.q.view({ctx.b, ctx.t, hq, d});
  Tensor k4 = s.k.view({ctx.b, ctx.t, hkv, d});
  ops::rope(q4, rope_cos_, rope_sin_, ctx.positions, false);
  ops::rope(k4, rope_cos_, rope_sin_, ctx.positions, false);
  s.attn = empty_f32({n, c.q_dim()}, dev);
  s.lse = empty_f32({ctx.b, hq, ctx.t}, dev);
  Tensor a4 = s.attn.view({ctx.b, ctx.t, hq, d});
  ops::attention_forward(a4, s.lse, q4, k4, s.v.view({ctx.b, ctx.t, hkv, d}), ctx.mask,
                         1.0f / std::sqrt(static_cast<float>(d)));
  s.h = x.clone();
  L.proj[kO].forward(s.h, s.attn, true, save(kO), key(kO));

  s.n2 = empty_f32({n, c.hidden_size}, dev);
  s.rstd2 = empty_f32({n}, dev);
  ops::rmsnorm_forward(s.n2, s.rstd2, s.h, L.post_norm, eps);
  s.gate = empty_f32({n, c.intermediate_size}, dev);
  s.up = empty_f32({n, c.intermediate_size}, dev);
  L.proj[kGate].forward(s.gate, s.n2, false, save(kGate), key(kGate));
  L.proj[kUp].forward(s.up, s.n2, false, save(kUp), key(kUp));
  s.act = empty_f32({n, c.intermediate_size}, dev);
  ops::swiglu_forward(s.act, s.gate, s.up);
  Tensor out = s.h.clone();
  L.proj[kDown].forward(out, s.act, true, save(kDown), key(kDown));
  x = out;

  if (keep) {  // drop what backward will not read
    if (!L.proj[kQ].needs_input() && !L.proj[kK].needs_input() && !L.proj[kV].needs_input()) {
      s.n1 = Tensor();
    }
    if (!L.proj[kGate].needs_input() && !L.proj[kUp].needs_input()) s.n2 = Tensor();
    if (!L.proj[kDown].needs_input()) s.act = Tensor();
  }
}

void LlamaModel::layer_backward(int l, Tensor& dx, Saved& s, const Context& ctx) {
  const ModelConfig& c = config_;
  Layer& L = layers_[l];
  const Device dev = options_.device;
  const int64_t n = ctx.n, hq = c.num_attention_heads, hkv = c.num_key_value_heads;
  const int64_t d = c.head_dim;
  DropoutKey keys[kSites];
  auto key = [&](int site) -> const DropoutKey* {
    keys[site] = {ctx.step.seed, philox_stream(ctx.step.rng_counter, l, site)};
    return &keys[site];
  };
  auto norm_grad = [this](Tensor& g) { return full() ? &g : nullptr; };

  // MLP: out = h + down(silu(gate(n2)) * up(n2)), n2 = norm(h).
  Tensor dact = empty_f32({n, c.intermediate_size}, dev);
  L.proj[kDown].backward(&dact, false, dx, s.act, s.lin[kDown], key(kDown));
  Tensor dup = empty_f32({n, c.intermediate_size}, dev);
  ops::swiglu_backward(dact, dup, dact, s.gate, s.up);  // dact becomes dgate in place
  Tensor dn2 = empty_f32({n, c.hidden_size}, dev);
  L.proj[kGate].backward(&dn2, false, dact, s.n2, s.lin[kGate], key(kGate));
  L.proj[kUp].backward(&dn2, true, dup, s.n2, s.lin[kUp], key(kUp));
  dact = Tensor();
  dup = Tensor();
  ops::rmsnorm_backward(dx, norm_grad(L.post_norm_grad), dn2, s.h, L.post_norm, s.rstd2, true);
  dn2 = Tensor();

  // Attention: h = x + o(attn(rope(q(n1)), rope(k(n1)), v(n1))), n1 = norm(x).
  Tensor datt = empty_f32({n, c.q_dim()}, dev);
  L.proj[kO].backward(&datt, false, dx, s.attn, s.lin[kO], key(kO));
  Tensor dq = empty_f32({n, c.q_dim()}, dev);
  Tensor dk = empty_f32({n, c.kv_dim()}, dev);
  Tensor dv = empty_f32({n, c.kv_dim()}, dev);
  Tensor dq4 = dq.view({ctx.b, ctx.t, hq, d});
  Tensor dk4 = dk.view({ctx.b, ctx.t, hkv, d});
  Tensor dv4 = dv.view({ctx.b, ctx.t, hkv, d});
  ops::attention_backward(dq4, dk4, dv4, datt.view({ctx.b, ctx.t, hq, d}),
                          s.q.view({ctx.b, ctx.t, hq, d}), s.k.view({ctx.b, ctx.t, hkv, d}),
                          s.v.view({ctx.b, ctx.t, hkv, d}), s.attn.view({ctx.b, ctx.t, hq, d}),
                          s.lse, ctx.mask, 1.0f / std::sqrt(static_cast<float>(d)));
  datt = Tensor();
  ops::rope(dq4, rope_cos_, rope_sin_, ctx.positions, true);
  ops::rope(dk4, rope_cos_, rope_sin_, ctx.positions, true);
  // The first layer's input gradient is only needed to train the embeddings.
  const bool need_dx = l > 0 || full();
  Tensor dn1 = need_dx ? empty_f32({n, c.hidden_size}, dev) : Tensor();
  Tensor* dn1p = need_dx ? &dn1 : nullptr;
  L.proj[kQ].backward(dn1p, false, dq, s.n1, s.lin[kQ], key(kQ));
  L.proj[kK].backward(dn1p, true, dk, s.n1, s.lin[kK], key(kK));
  L.proj[kV].backward(dn1p, true, dv, s.n1, s.lin[kV], key(kV));
  if (need_dx) {
    ops::rmsnorm_backward(dx, norm_grad(L.input_norm_grad), dn1, s.x, L.input_norm, s.rstd1, true);
  }
}

Tensor LlamaModel::run_layers(const Context& ctx, bool keep) {
  Tensor x = empty_f32({ctx.n, config_.hidden_size}, options_.device);
  {
    Use use(hooks_, 0, false, 1);
    ops::embedding_forward(x, ctx.ids, embed_);
  }
  for (int l = 0; l < static_cast<int>(layers_.size()); ++l) {
    Use use(hooks_, 1 + l, false, 2 + l);
    if (keep && !options_.checkpoint_activations) {
      layer_forward(l, x, &saved_[l], ctx);
    } else {
      if (keep) saved_[l].x = x;
      layer_forward(l, x, nullptr, ctx);
    }
  }
  return x;
}

Tensor LlamaModel::final_norm(const Tensor& x, Tensor* rstd) {
  Tensor normed = empty_f32(x.shape(), options_.device);
  Tensor r = empty_f32({x.size(0)}, options_.device);
  ops::rmsnorm_forward(normed, r, x, norm_, static_cast<float>(config_.rms_norm_eps));
  if (rstd) *rstd = r;
  return normed;
}

Tensor LlamaModel::head_loss(const Tensor& normed, const Context& ctx, Tensor* dnormed,
                             Tensor* argmax) {
  const Device dev = options_.device;
  const int64_t c = config_.hidden_size, v = config_.vocab_size, r = ctx.n_targets;
  Tensor loss = Tensor::zeros({1}, DType::F32, dev);
  if (dnormed) *dnormed = Tensor::zeros({ctx.n, c}, DType::F32, dev);
  if (argmax) *argmax = Tensor::empty({r}, DType::I32, dev);
  if (r == 0) return loss;  // nothing labelled: loss 0, no gradient (Transformers gives NaN)

  // Only rows with a label need logits: prompt and padding rows are skipped entirely.
  Tensor hsel = empty_f32({r, c}, dev);
  ops::gather_rows(hsel, normed, ctx.target_rows);
  Tensor losses = empty_f32({r}, dev);
  Tensor dsel = dnormed ? empty_f32({r, c}, dev) : Tensor();
  const int64_t chunk =
      std::min(r, options_.loss_chunk_rows > 0 ? options_.loss_chunk_rows
                                               : std::max<int64_t>(16, (int64_t{4} << 20) / v));
  Tensor logits_buf = empty_f32({chunk, v}, dev);
  const float grad_scale = dnormed ? ctx.step.grad_scale / static_cast<float>(r) : 0.0f;
  for (int64_t r0 = 0; r0 < r; r0 += chunk) {
    const int64_t rc = std::min(chunk, r - r0);
    Tensor logits = logits_buf.narrow(0, 0, rc);
    Tensor h = hsel.narrow(0, r0, rc);
    ops::gemm(logits, h, false, head_weight(), true);
    if (argmax) {
      Tensor chunk_argmax = argmax->narrow(0, r0, rc);
      ops::argmax_rows(chunk_argmax, logits);
    }
    Tensor chunk_losses = losses.narrow(0, r0, rc);
    ops::cross_entropy(chunk_losses, logits, ctx.targets.narrow(0, r0, rc), grad_scale);
    if (!dnormed) continue;
    Tensor dh = dsel.narrow(0, r0, rc);  // logits now hold their gradient
    ops::gemm(dh, logits, false, head_weight(), false);
    if (full()) ops::gemm(head_grad(), logits, true, h, false, 1.0f, 1.0f);
  }
  ops::sum(loss, losses, 1.0f / static_cast<float>(r));
  if (dnormed) ops::scatter_add_rows(*dnormed, dsel, ctx.target_rows);
  return loss;
}

Tensor LlamaModel::loss(const Batch& batch) {
  return predict(batch, nullptr);
}

Tensor LlamaModel::predict(const Batch& batch, Tensor* argmax) {
  Context ctx = make_context(batch, false, nullptr);
  Tensor x = run_layers(ctx, false);
  Use head(hooks_, head_group(), false);
  Use tied(config_.tie_word_embeddings ? hooks_ : nullptr, 0, false);
  return head_loss(final_norm(x, nullptr), ctx, nullptr, argmax);
}

Tensor LlamaModel::logits(const Batch& batch) {
  Context ctx = make_context(batch, false, nullptr);
  Tensor x = run_layers(ctx, false);
  Use head(hooks_, head_group(), false);
  Use tied(config_.tie_word_embeddings ? hooks_ : nullptr, 0, false);
  Tensor normed = final_norm(x, nullptr);
  Tensor out = empty_f32({ctx.n, config_.vocab_size}, options_.device);
  ops::gemm(out, normed, false, head_weight(), true);
  return out.view({ctx.b, ctx.t, config_.vocab_size});
}

Tensor LlamaModel::forward(const Batch& batch, const StepOptions& step) {
  if (options_.training == Training::kNone) {
    throw Error("forward() trains: build the model with Training::kFull or kLora");
  }
  if (options_.training == Training::kLora && !has_lora()) {
    throw Error("nothing to train: a Training::kLora model needs add_lora() or adapter_load()");
  }
  if (!(step.grad_scale > 0.0f)) {
    throw Error(str("grad_scale must be positive, got ", step.grad_scale));
  }
  LLMTUNE_CHECK(ctx_ == nullptr, "forward() called twice without backward()");
  auto ctx = std::make_unique<Context>(make_context(batch, true, &step));  // validates the batch
  saved_.assign(layers_.size(), Saved{});
  final_x_ = run_layers(*ctx, true);
  // The head's weight gradient is formed here, fused with the loss.
  Use head(hooks_, head_group(), true);
  Use tied(config_.tie_word_embeddings ? hooks_ : nullptr, 0, true);
  Tensor normed = final_norm(final_x_, &final_rstd_);
  Tensor loss = head_loss(normed, *ctx, &final_dnormed_);
  ctx_ = std::move(ctx);
  return loss;
}

void LlamaModel::backward() {
  LLMTUNE_CHECK(ctx_ != nullptr, "backward() without a training forward()");
  const Context& ctx = *ctx_;
  Tensor dx = empty_f32({ctx.n, config_.hidden_size}, options_.device);
  {
    Use head(hooks_, head_group(), true, head_group() - 1);
    ops::rmsnorm_backward(dx, full() ? &norm_grad_ : nullptr, final_dnormed_, final_x_, norm_,
                          final_rstd_, false);
    head.grads_ready();
  }
  final_x_ = final_rstd_ = final_dnormed_ = Tensor();
  for (int l = static_cast<int>(layers_.size()) - 1; l >= 0; --l) {
    Use use(hooks_, 1 + l, true, l);
    if (options_.checkpoint_activations) {
      Saved s;
      Tensor x = saved_[l].x;
      layer_forward(l, x, &s, ctx);  // recompute, with the same dropout masks
      layer_backward(l, dx, s, ctx);
    } else {
      layer_backward(l, dx, saved_[l], ctx);
    }
    saved_[l] = Saved{};
    use.grads_ready();
  }
  {
    Use embed(hooks_, 0, true);
    if (full()) ops::embedding_backward(embed_grad_, ctx.ids, dx);
    embed.grads_ready();
  }
  saved_.clear();
  ctx_.reset();
}

}  // namespace llmtune::model
