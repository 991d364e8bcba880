// LlamaModel's incremental forward pass over a key/value cache, for generation.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/llama_internal.h"

namespace llmtune::model {

KvCache LlamaModel::new_cache(int64_t batch, int64_t capacity) const {
  if (batch < 1 || capacity < 1)
    throw Error(str("a cache needs rows and room, got ", batch, " x ", capacity));
  KvCache c;
  c.batch = batch;
  c.capacity = capacity;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Shape shape = {batch, capacity, config_.num_key_value_heads, config_.head_dim};
    c.k.push_back(Tensor::empty(shape, DType::F32, options_.device));
    c.v.push_back(Tensor::empty(shape, DType::F32, options_.device));
  }
  c.positions.assign(static_cast<size_t>(batch * capacity), -1);
  return c;
}

Tensor LlamaModel::forward_cached(KvCache& cache, const std::vector<int32_t>& ids,
                                  const std::vector<int32_t>& positions, int64_t t) {
  const ModelConfig& c = config_;
  const Device dev = options_.device;
  const int64_t b = cache.batch, n = b * t;
  if (static_cast<int64_t>(ids.size()) != n || static_cast<int64_t>(positions.size()) != n) {
    throw Error(str("forward_cached: ", ids.size(), " ids and ", positions.size(),
                    " positions for ", b, " rows of ", t));
  }
  if (cache.used + t > cache.capacity) {
    throw Error(str("the cache holds ", cache.capacity, " tokens per row; ", cache.used, " + ", t,
                    " do not fit"));
  }
  // Validate and record positions; padding (-1) runs as position 0 but is never attended to.
  Batch probe;
  probe.batch = b;
  probe.seq = t;
  probe.input_ids = ids;
  probe.position_ids = positions;
  for (int32_t& p : probe.position_ids) {
    if (p < -1) throw Error(str("position ", p, " is not -1 (padding) or a position"));
    p = std::max(p, 0);
  }
  Context ctx = make_context(probe, false, nullptr);  // ids, rope tables, positions
  for (int64_t r = 0; r < b; ++r) {
    for (int64_t i = 0; i < t; ++i) {
      cache.positions[r * cache.capacity + cache.used + i] = positions[r * t + i];
    }
  }
  const Tensor q_pos = Tensor::from_i32(positions, {b, t}, dev);
  const Tensor k_pos = Tensor::from_i32(cache.positions, {b, cache.capacity}, dev);
  const int64_t hq = c.num_attention_heads, hkv = c.num_key_value_heads, d = c.head_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const int64_t window = c.sliding_window;

  Tensor x = Tensor::empty({n, c.hidden_size}, DType::F32, dev);
  {
    Use use(hooks_, 0, false, 1);
    ops::embedding_forward(x, ctx.ids, embed_);
  }
  for (size_t l = 0; l < layers_.size(); ++l) {
    Use use(hooks_, 1 + static_cast<int>(l), false, 2 + static_cast<int>(l));
    Layer& L = layers_[l];
    Tensor n1 = Tensor::empty({n, c.hidden_size}, DType::F32, dev);
    Tensor rstd;
    ops::rmsnorm_forward(n1, rstd, x, L.input_norm, eps);
    Tensor q = Tensor::empty({n, c.q_dim()}, DType::F32, dev);
    Tensor k = Tensor::empty({n, c.kv_dim()}, DType::F32, dev);
    Tensor v = Tensor::empty({n, c.kv_dim()}, DType::F32, dev);
    L.proj[kQ].forward(q, n1, false, nullptr, nullptr);
    L.proj[kK].forward(k, n1, false, nullptr, nullptr);
    L.proj[kV].forward(v, n1, false, nullptr, nullptr);
    Tensor q4 = q.view({b, t, hq, d}), k4 = k.view({b, t, hkv, d});
    ops::rope(q4, rope_cos_, rope_sin_, ctx.positions, false);
    ops::rope(k4, rope_cos_, rope_sin_, ctx.positions, false);
    ops::kv_append(cache.k[l], k4, cache.used);
    ops::kv_append(cache.v[l], v.view({b, t, hkv, d}), cache.used);
    Tensor attn = Tensor::empty({n, c.q_dim()}, DType::F32, dev);
    Tensor a4 = attn.view({b, t, hq, d});
    ops::attention_cached(a4, q4, cache.k[l], cache.v[l], q_pos, k_pos, window, scale);
    Tensor h = x.clone();
    L.proj[kO].forward(h, attn, true, nullptr, nullptr);
    Tensor n2 = Tensor::empty({n, c.hidden_size}, DType::F32, dev);
    ops::rmsnorm_forward(n2, rstd, h, L.post_norm, eps);
    Tensor gate = Tensor::empty({n, c.intermediate_size}, DType::F32, dev);
    Tensor up = Tensor::empty({n, c.intermediate_size}, DType::F32, dev);
    L.proj[kGate].forward(gate, n2, false, nullptr, nullptr);
    L.proj[kUp].forward(up, n2, false, nullptr, nullptr);
    ops::swiglu_forward(gate, gate, up);
    L.proj[kDown].forward(h, gate, true, nullptr, nullptr);
    x = h;
  }
  cache.used += t;

  // Each row's last real token of this chunk; rows without one read their first (ignored).
  std::vector<int32_t> rows(static_cast<size_t>(b));
  for (int64_t r = 0; r < b; ++r) {
    int64_t last = 0;
    for (int64_t i = 0; i < t; ++i) {
      if (positions[r * t + i] >= 0) last = i;
    }
    rows[r] = static_cast<int32_t>(r * t + last);
  }
  Tensor picked = Tensor::empty({b, c.hidden_size}, DType::F32, dev);
  ops::gather_rows(picked, x, Tensor::from_i32(rows, {b}, dev));
  Use head(hooks_, head_group(), false);
  Use tied(c.tie_word_embeddings ? hooks_ : nullptr, 0, false);
  Tensor normed = final_norm(picked, nullptr);
  Tensor logits = Tensor::empty({b, c.vocab_size}, DType::F32, dev);
  ops::gemm(logits, normed, false, head_weight(), true);
  return logits;
}

}  // namespace llmtune::model
