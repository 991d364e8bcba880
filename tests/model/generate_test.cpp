// Generation with the key/value cache: its logits equal the full forward pass at the same
// positions, batching does not change a row's result, and sampling follows its options.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/philox.h"
#include "model/generate.h"
#include "support/compare.h"
#include "support/errors.h"
#include "support/tiny_llama.h"

namespace llmtune::model {
namespace {

using test::max_rel_error;

ModelConfig config(int64_t window) {
  ModelConfig c = test::tiny_llama(80, 0.3);
  if (window > 0) {
    c.architecture = "MistralForCausalLM";
    c.model_type = "mistral";
    c.sliding_window = window;
  }
  return c;
}

std::unique_ptr<LlamaModel> make_model(int64_t window, bool lora) {
  ModelOptions o;
  o.training = lora ? Training::kLora : Training::kNone;
  auto m = std::make_unique<LlamaModel>(config(window), o);
  m->init_weights(7);
  if (lora) {
    LoraConfig l;
    l.r = 4;
    l.alpha = 8;
    l.target_modules = {"all-linear"};
    m->add_lora(l, 3);
    test::lora_b_randomize(*m, 5, 0.2f);  // non-zero B, so the adapter changes the logits
  }
  return m;
}

std::vector<int32_t> tokens(int64_t n, uint64_t seed) {
  std::vector<int32_t> t;
  PhiloxStream rng(seed, 1);
  for (int64_t i = 0; i < n; ++i) t.push_back(static_cast<int32_t>(rng.bits(i) % 80));
  return t;
}

// Logits of position t of the full forward pass over `ids` (one row).
std::vector<float> full_logits_at(LlamaModel& m, const std::vector<int32_t>& ids, int64_t t) {
  Batch b;
  b.batch = 1;
  b.seq = static_cast<int64_t>(ids.size());
  b.input_ids = ids;
  const std::vector<float> all = m.logits(b).to_f32();
  return std::vector<float>(all.begin() + t * 80, all.begin() + (t + 1) * 80);
}

TEST(KvCache, LogitsEqualTheFullForwardPass) {
  for (int64_t window : {0, 4}) {
    for (int mode = 0; mode < 3; ++mode) {  // plain, LoRA attached, LoRA merged
      SCOPED_TRACE(::testing::Message() << "window " << window << " mode " << mode);
      auto m = make_model(window, mode > 0);
      if (mode == 2) m->merge_lora();
      const std::vector<int32_t> ids = tokens(12, 2);
      KvCache cache = m->new_cache(1, 12);
      std::vector<int32_t> prefix(ids.begin(), ids.begin() + 5), pos = {0, 1, 2, 3, 4};
      std::vector<float> got = m->forward_cached(cache, prefix, pos, 5).to_f32();
      EXPECT_LE(max_rel_error(got, full_logits_at(*m, ids, 4)), 1e-5);
      for (int64_t t = 5; t < 12; ++t) {
        got = m->forward_cached(cache, {ids[t]}, {static_cast<int32_t>(t)}, 1).to_f32();
        EXPECT_LE(max_rel_error(got, full_logits_at(*m, ids, t)), 1e-5) << "position " << t;
      }
      EXPECT_EQ(cache.used, 12);
      EXPECT_THROW(m->forward_cached(cache, {1}, {12}, 1), Error);  // full
    }
  }
}

TEST(KvCache, RowsOfDifferentLengthsInOneBatch) {
  auto m = make_model(0, false);
  const std::vector<std::vector<int32_t>> prompts = {tokens(3, 1), tokens(9, 2), tokens(6, 3)};
  KvCache cache = m->new_cache(3, 9);
  std::vector<int32_t> ids(27, 0), pos(27, -1);
  for (int r = 0; r < 3; ++r) {
    for (size_t i = 0; i < prompts[r].size(); ++i) {
      ids[r * 9 + i] = prompts[r][i];
      pos[r * 9 + i] = static_cast<int32_t>(i);
    }
  }
  const std::vector<float> got = m->forward_cached(cache, ids, pos, 9).to_f32();
  for (int r = 0; r < 3; ++r) {
    const std::vector<float> row(got.begin() + r * 80, got.begin() + (r + 1) * 80);
    EXPECT_LE(max_rel_error(row, full_logits_at(*m, prompts[r], prompts[r].size() - 1)), 1e-5) << r;
  }
}

TEST(Generate, GreedyResultDoesNotDependOnTheBatch) {
  auto m = make_model(0, false);
  SamplingOptions o;
  o.max_new_tokens = 10;
  const std::vector<int32_t> a = tokens(5, 11);
  const std::vector<Generation> alone = generate(*m, {a}, o);
  const std::vector<Generation> batched = generate(*m, {tokens(9, 12), a, tokens(2, 13)}, o);
  EXPECT_EQ(alone[0].tokens, batched[1].tokens);
  EXPECT_EQ(alone[0].tokens.size(), 10u);
  EXPECT_EQ(alone[0].finish, "length");
  // Greedy decoding by hand with the full forward pass gives the same tokens.
  std::vector<int32_t> seq = a;
  for (int i = 0; i < 10; ++i) {
    const std::vector<float> l = full_logits_at(*m, seq, static_cast<int64_t>(seq.size()) - 1);
    seq.push_back(static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin()));
  }
  EXPECT_EQ(std::vector<int32_t>(seq.begin() + 5, seq.end()), alone[0].tokens);
}

TEST(Generate, StopsAtStopTokensAndCallbacks) {
  auto m = make_model(0, false);
  SamplingOptions o;
  o.max_new_tokens = 10;
  const std::vector<int32_t> free = generate(*m, {tokens(4, 21)}, o)[0].tokens;
  o.stop_ids = {free[2]};  // the third token ends the row (and is kept), unless it came earlier
  const Generation g = generate(*m, {tokens(4, 21)}, o)[0];
  const size_t first = std::find(free.begin(), free.end(), free[2]) - free.begin();
  EXPECT_EQ(g.tokens, std::vector<int32_t>(free.begin(), free.begin() + first + 1));
  EXPECT_EQ(g.finish, "stop_id");
  o.stop_ids.clear();
  const Generation h = generate(*m, {tokens(4, 21)}, o, [](size_t, const std::vector<int32_t>& t) {
    return t.size() == 4;
  })[0];
  EXPECT_EQ(h.tokens.size(), 4u);
  EXPECT_EQ(h.finish, "stop");
  EXPECT_THROW(generate(*m, {{}}, o), Error);
  o.max_new_tokens = 0;
  EXPECT_THROW(generate(*m, {tokens(2, 1)}, o), Error);
}

TEST(Sampling, TemperatureTopKTopP) {
  const std::vector<float> logits = {1.0f, 3.0f, 3.0f, 0.0f, 2.0f};
  SamplingOptions greedy;
  EXPECT_EQ(sample_token(logits, greedy, 0.9f), 1);  // argmax, the lower id on a tie
  SamplingOptions o;
  o.temperature = 1.0;
  // Probabilities e^(l - 3) normalized; the uniform number picks by cumulative mass in the
  // order of decreasing logit: ids 1, 2, 4, 0, 3.
  std::vector<double> p = {std::exp(-2.0), 1.0, 1.0, std::exp(-3.0), std::exp(-1.0)};
  double sum = 0;
  for (double x : p) sum += x;
  EXPECT_EQ(sample_token(logits, o, 0.0f), 1);
  EXPECT_EQ(sample_token(logits, o, static_cast<float>(1.0 / sum + 1e-4)), 2);
  EXPECT_EQ(sample_token(logits, o, static_cast<float>(2.0 / sum + 1e-4)), 4);
  EXPECT_EQ(sample_token(logits, o, 0.9999f), 3);
  o.top_k = 2;  // only ids 1 and 2 remain, half each
  EXPECT_EQ(sample_token(logits, o, 0.49f), 1);
  EXPECT_EQ(sample_token(logits, o, 0.51f), 2);
  EXPECT_EQ(sample_token(logits, o, 0.9999f), 2);
  o.top_k = 0;
  o.top_p = 0.3;  // the first candidate alone holds 1/sum > 0.3 of the mass
  EXPECT_EQ(sample_token(logits, o, 0.9999f), 1);
  o.top_p = 1.0;
  o.temperature = 0.01;  // nearly greedy: the tie splits the mass
  EXPECT_EQ(sample_token(logits, o, 0.25f), 1);
  EXPECT_EQ(sample_token(logits, o, 0.75f), 2);
}

// Out-of-range settings are refused by name (a NaN temperature used to emit one token forever);
// a vanishing temperature tends to the argmax instead of overflowing into NaN.
TEST(Sampling, SettingsAreCheckedAndTinyTemperaturesStayFinite) {
  auto error_of = [](const SamplingOptions& o) {
    try {
      sampling_check(o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  SamplingOptions o;
  EXPECT_EQ(error_of(o), "");
  o.temperature = std::nan("");
  EXPECT_NE(error_of(o).find("temperature must be a finite number >= 0"), std::string::npos);
  o.temperature = -1;
  EXPECT_NE(error_of(o).find("temperature"), std::string::npos);
  o.temperature = std::numeric_limits<double>::infinity();
  EXPECT_NE(error_of(o).find("temperature"), std::string::npos);
  o = {};
  o.top_p = std::nan("");
  EXPECT_NE(error_of(o).find("top_p must be in (0, 1]"), std::string::npos);
  o = {};
  o.top_k = -3;
  EXPECT_NE(error_of(o).find("top_k must be >= 0"), std::string::npos);
  o = {};
  o.max_new_tokens = 0;
  EXPECT_NE(error_of(o).find("max_new_tokens"), std::string::npos);
  auto m = make_model(0, false);
  o = {};
  o.temperature = std::nan("");
  EXPECT_THROW(generate(*m, {tokens(4, 5)}, o), Error);

  const std::vector<float> logits = {1.0f, 3.0f, 2.5f, 0.0f};
  o = {};
  o.temperature = 1e-300;
  for (float u : {0.0f, 0.5f, 0.9999f}) EXPECT_EQ(sample_token(logits, o, u), 1) << u;
}

// Weights that hold NaN (a damaged checkpoint) make every logit NaN; generation says so instead
// of emitting token 0 for ever.
TEST(Generate, NonFiniteLogitsAreAnError) {
  auto m = make_model(0, false);
  for (model::ParamRef& p : m->parameters()) {
    if (p.name == "model.norm.weight") {
      p.value->copy_(
          Tensor::from_f32(std::vector<float>(p.value->numel(), std::nanf("")), p.value->shape()));
    }
  }
  SamplingOptions o;
  o.max_new_tokens = 3;
  EXPECT_TRUE(test::throws_error([&] { generate(*m, {tokens(4, 5)}, o); },
                                 {"logits are not finite", "check the checkpoint"}));
}

TEST(Sampling, SeededGenerationRepeatsAndVaries) {
  auto m = make_model(0, false);
  SamplingOptions o;
  o.max_new_tokens = 12;
  o.temperature = 1.5;
  o.seed = 1;
  const auto a = generate(*m, {tokens(4, 5)}, o)[0].tokens;
  EXPECT_EQ(generate(*m, {tokens(4, 5)}, o)[0].tokens, a);
  o.seed = 2;
  EXPECT_NE(generate(*m, {tokens(4, 5)}, o)[0].tokens, a);
  // The empirical distribution of the first token matches the softmax at temperature 1.5.
  const std::vector<float> l = full_logits_at(*m, tokens(4, 5), 3);
  std::map<int32_t, int> counts;
  const int n = 4000;
  o.temperature = 1.5;
  for (int i = 0; i < n; ++i) {
    counts[sample_token(l, o, PhiloxStream(9, 9).uniform(i))]++;
  }
  double sum = 0, mx = *std::max_element(l.begin(), l.end());
  for (float x : l) sum += std::exp((x - mx) / 1.5);
  for (auto [tok, c] : counts) {
    const double p = std::exp((l[tok] - mx) / 1.5) / sum;
    EXPECT_NEAR(c / static_cast<double>(n), p, 5 * std::sqrt(p * (1 - p) / n) + 1e-3) << tok;
  }
}

}  // namespace
}  // namespace llmtune::model
