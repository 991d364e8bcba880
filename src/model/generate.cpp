#include "model/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/philox.h"

namespace llmtune::model {

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void sampling_check(const SamplingOptions& o) {
  if (o.max_new_tokens < 1)
    throw Error(str("max_new_tokens must be at least 1, got ", o.max_new_tokens));
  if (!(o.temperature >= 0.0) || !std::isfinite(o.temperature))  // NaN fails the first
    throw Error(str("temperature must be a finite number >= 0 (0: greedy), got ", o.temperature));
  if (!(o.top_p > 0.0 && o.top_p <= 1.0))
    throw Error(str("top_p must be in (0, 1] (1: off), got ", o.top_p));
  if (o.top_k < 0) throw Error(str("top_k must be >= 0 (0: off), got ", o.top_k));
}

int32_t sample_token(std::vector<float> logits, const SamplingOptions& o, float uniform) {
  const int64_t v = static_cast<int64_t>(logits.size());
  if (v == 0) throw Error("no logits to sample from");
  if (o.temperature <= 0.0) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  // Candidates by decreasing logit (ties: lower id first); the temperature keeps the order.
  std::vector<int32_t> order(static_cast<size_t>(v));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  int64_t keep = v;
  if (o.top_k > 0) keep = std::min(keep, o.top_k);
  // Softmax of logits / temperature over the kept candidates, in double. The maximum is taken
  // out before dividing, so a tiny temperature tends to the argmax instead of overflowing.
  std::vector<double> p(static_cast<size_t>(keep));
  const double mx = logits[order[0]];
  double sum = 0;
  for (int64_t i = 0; i < keep; ++i)
    sum += (p[i] = std::exp((static_cast<double>(logits[order[i]]) - mx) / o.temperature));
  for (double& x : p) x /= sum;
  if (o.top_p < 1.0) {  // the smallest prefix whose mass reaches top_p (at least one token)
    double mass = 0;
    int64_t cut = 0;
    while (cut < keep) {
      mass += p[cut++];
      if (mass >= o.top_p) break;
    }
    keep = cut;
    sum = std::accumulate(p.begin(), p.begin() + keep, 0.0);
    for (int64_t i = 0; i < keep; ++i) p[i] /= sum;
  }
  double acc = 0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += p[i];
    if (uniform < acc) return order[i];
  }
  return order[keep - 1];
}

std::vector<Generation> generate(LlamaModel& model,
                                 const std::vector<std::vector<int32_t>>& prompts,
                                 const SamplingOptions& o, const StopCheck& stop,
                                 GenerationStats* stats) {
  sampling_check(o);
  if (prompts.empty()) return {};
  const int64_t b = static_cast<int64_t>(prompts.size());
  int64_t longest = 0;
  for (const auto& p : prompts) {
    if (p.empty()) throw Error("a prompt needs at least one token");
    longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
  }
  GenerationStats local;
  GenerationStats& st = stats ? *stats : local;
  KvCache cache = model.new_cache(b, longest + o.max_new_tokens);

  // Prefill: prompts padded on the right; padding has position -1 and is never attended to.
  std::vector<int32_t> ids(static_cast<size_t>(b * longest), 0), pos(ids.size(), -1);
  for (int64_t r = 0; r < b; ++r) {
    for (size_t i = 0; i < prompts[r].size(); ++i) {
      ids[r * longest + i] = prompts[r][i];
      pos[r * longest + i] = static_cast<int32_t>(i);
    }
    st.prompt_tokens += static_cast<int64_t>(prompts[r].size());
  }
  double t0 = now();
  Tensor logits = model.forward_cached(cache, ids, pos, longest);
  st.prefill_seconds += now() - t0;

  const int64_t vocab = logits.size(1);
  std::vector<Generation> out(static_cast<size_t>(b));
  std::vector<bool> done(static_cast<size_t>(b), false);
  std::vector<int32_t> next_pos(static_cast<size_t>(b));
  for (int64_t r = 0; r < b; ++r) next_pos[r] = static_cast<int32_t>(prompts[r].size());
  t0 = now();
  for (int64_t step = 0; step < o.max_new_tokens; ++step) {
    const std::vector<float> all = logits.to_f32();
    std::vector<int32_t> step_ids(static_cast<size_t>(b), 0), step_pos(static_cast<size_t>(b), -1);
    for (int64_t r = 0; r < b; ++r) {
      if (done[r]) continue;
      const auto row = all.begin() + r * vocab;
      if (!std::all_of(row, row + vocab, [](float x) { return std::isfinite(x); })) {
        throw Error(str("the model's logits are not finite (row ", r, ", generated token ",
                        step + 1, "): its weights or adapter hold NaN or infinity, or overflow; ",
                        "check the checkpoint"));
      }
      const float u = PhiloxStream(o.seed, philox_stream(0x67656e, r, step)).uniform(0);
      const int32_t tok = sample_token(
          std::vector<float>(all.begin() + r * vocab, all.begin() + (r + 1) * vocab), o, u);
      Generation& g = out[r];
      g.tokens.push_back(tok);
      ++st.generated_tokens;
      if (std::find(o.stop_ids.begin(), o.stop_ids.end(), tok) != o.stop_ids.end()) {
        g.finish = "stop_id";
      } else if (stop && stop(static_cast<size_t>(r), g.tokens)) {
        g.finish = "stop";
      } else if (static_cast<int64_t>(g.tokens.size()) >= o.max_new_tokens) {
        g.finish = "length";
      }
      if (!g.finish.empty()) {
        done[r] = true;
        continue;
      }
      step_ids[r] = tok;
      step_pos[r] = next_pos[r]++;
    }
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    logits = model.forward_cached(cache, step_ids, step_pos, 1);
  }
  st.decode_seconds += now() - t0;
  return out;
}

}  // namespace llmtune::model
