// LlamaModel behaviour beyond the PyTorch oracle: dropout (finite differences, determinism,
// recomputation under checkpointing), 16-bit frozen storage, merging, memory, bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/philox.h"
#include "model/llama.h"
#include "support/compare.h"
#include "support/tiny_llama.h"
#include "train/trainer.h"

namespace llmtune::model {
namespace {

using test::max_rel_error;

ModelConfig tiny_config(bool tied = false) {
  // An initializer range large enough that the logits are far from uniform.
  ModelConfig c = test::tiny_llama(96, 0.2);
  c.tie_word_embeddings = tied;
  return c;
}

Batch tiny_batch(uint64_t seed, int64_t b = 2, int64_t t = 10) {
  Batch batch;
  batch.batch = b;
  batch.seq = t;
  PhiloxStream rng(seed, 7);
  for (int64_t i = 0; i < b * t; ++i) batch.input_ids.push_back(rng.bits(i) % 96);
  batch.labels = batch.input_ids;
  batch.labels[0] = batch.labels[1] = -100;  // a prompt
  batch.attention_mask.assign(static_cast<size_t>(b * t), 1);
  batch.attention_mask[b * t - 1] = 0;  // right padding in the last row
  batch.labels[b * t - 1] = -100;
  return batch;
}

std::unique_ptr<LlamaModel> tiny_model(Training training, DType frozen = DType::F32,
                                       bool checkpoint = false, double dropout = 0.0) {
  ModelOptions o;
  o.training = training;
  o.frozen_dtype = frozen;
  o.checkpoint_activations = checkpoint;
  auto m = std::make_unique<LlamaModel>(tiny_config(), o);
  m->init_weights(3);
  if (training != Training::kFull) {
    LoraConfig l;
    l.r = 4;
    l.alpha = 8;
    l.dropout = dropout;
    l.target_modules = {"all-linear"};
    m->add_lora(l, 5);
    // PEFT starts B at zero; give it values so that A has a gradient to check.
    uint64_t i = 0;
    for (ParamRef& p : m->parameters()) {
      if (p.name.ends_with("lora_B.weight")) {
        std::vector<float> v(static_cast<size_t>(p.value->numel()));
        PhiloxStream(11, i++).fill_normal(v.data(), v.size(), 0.0f, 0.1f);
        p.value->copy_(Tensor::from_f32(v, p.value->shape()));
      }
    }
  }
  return m;
}

size_t adapter_count(LlamaModel& m) {
  size_t n = 0;
  for (ParamRef& p : m.trainable_parameters()) n += static_cast<size_t>(p.value->numel());
  return n;
}

float train_loss(LlamaModel& m, const Batch& b, const StepOptions& s) {
  const float loss = m.forward(b, s).item();
  m.backward();
  return loss;
}

TEST(LoraDropout, GradientsMatchFiniteDifferencesUnderTheSameMask) {
  auto m = tiny_model(Training::kLora, DType::F32, false, 0.3);
  const Batch b = tiny_batch(1);
  StepOptions s;
  s.seed = 9;
  s.rng_counter = 4;
  train_loss(*m, b, s);
  std::vector<std::vector<float>> grads;
  for (ParamRef& p : m->trainable_parameters()) grads.push_back(p.grad->to_f32());
  m->zero_grad();
  int checked = 0;
  for (ParamRef& p : m->trainable_parameters()) {
    const std::vector<float> grad = grads[checked++];
    if (p.name.find("layers.0.self_attn.v_proj") == std::string::npos &&
        p.name.find("layers.1.mlp.down_proj") == std::string::npos) {
      continue;
    }
    std::vector<float> w = p.value->to_f32();
    for (size_t i : {size_t{0}, w.size() / 2, w.size() - 1}) {
      const float h = 1e-2f, w0 = w[i];
      auto loss_at = [&](float v) {
        w[i] = v;
        p.value->copy_(Tensor::from_f32(w, p.value->shape()));
        const double l = train_loss(*m, b, s);
        m->zero_grad();
        return l;
      };
      const double fd = (loss_at(w0 + h) - loss_at(w0 - h)) / (2 * h);
      loss_at(w0);
      EXPECT_NEAR(grad[i], fd, 2e-3 * std::max(1.0, std::fabs(fd))) << p.name << "[" << i << "]";
    }
  }
}

TEST(LoraDropout, MasksDependOnSeedAndCounterOnly) {
  const Batch b = tiny_batch(2);
  auto run = [&](uint64_t seed, uint64_t counter) {
    auto m = tiny_model(Training::kLora, DType::F32, false, 0.5);
    StepOptions s;
    s.seed = seed;
    s.rng_counter = counter;
    return train_loss(*m, b, s);
  };
  EXPECT_EQ(run(1, 0), run(1, 0));  // bit for bit
  EXPECT_NE(run(1, 0), run(1, 1));
  EXPECT_NE(run(1, 0), run(2, 0));
  auto eval = tiny_model(Training::kLora, DType::F32, false, 0.5);  // no dropout in evaluation
  auto no_dropout = tiny_model(Training::kLora);
  EXPECT_EQ(eval->loss(b).item(), no_dropout->loss(b).item());
}

TEST(Checkpointing, RecomputesExactlyIncludingDropout) {
  const Batch b = tiny_batch(3);
  StepOptions s;
  s.seed = 4;
  s.rng_counter = 2;
  for (Training t : {Training::kFull, Training::kLora}) {
    auto plain = tiny_model(t, DType::F32, false, t == Training::kLora ? 0.2 : 0.0);
    auto ckpt = tiny_model(t, DType::F32, true, t == Training::kLora ? 0.2 : 0.0);
    EXPECT_EQ(train_loss(*plain, b, s), train_loss(*ckpt, b, s));
    auto pa = plain->trainable_parameters(), pb = ckpt->trainable_parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
      EXPECT_EQ(pa[i].grad->to_f32(), pb[i].grad->to_f32()) << pa[i].name;
    }
  }
}

TEST(Training, SameSeedSameLossesBitForBit) {
  auto run = [](uint64_t seed) {
    auto m = tiny_model(Training::kLora, DType::F32, false, 0.1);
    train::TrainerOptions o;
    o.schedule.type = "constant";
    o.schedule.lr = 1e-2;
    o.seed = seed;
    train::Trainer trainer(*m, {}, o);
    std::vector<float> losses;
    for (int64_t step = 0; step < 4; ++step) {
      std::vector<Batch> micro = {tiny_batch(10 + step), tiny_batch(20 + step)};
      const std::vector<int64_t> ids = {2 * step, 2 * step + 1};
      const int64_t targets = micro[0].count_targets() + micro[1].count_targets();
      losses.push_back(static_cast<float>(trainer.step(micro, ids, targets).loss));
    }
    return losses;
  };
  const auto a = run(1), b = run(1), c = run(2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_LT(a.back(), a.front());  // it learns
}

// A model with 16-bit frozen weights computes exactly what an fp32 model computes with those
// weights rounded to 16 bits (the math is fp32 either way), and stays close to the unrounded one.
TEST(FrozenStorage, Bf16WeightsAreWidenedExactly) {
  const Batch b = tiny_batch(4);
  auto f32 = tiny_model(Training::kNone);
  auto bf16 = tiny_model(Training::kNone, DType::BF16);
  auto rounded = tiny_model(Training::kNone);
  for (ParamRef& p : rounded->parameters()) {
    if (p.name.find("norm") == std::string::npos && p.name.find("lora_") == std::string::npos) {
      p.value->copy_(p.value->to(DType::BF16).to(DType::F32));
    }
  }
  for (ParamRef& p : bf16->parameters()) {
    const bool frozen16 =
        p.name.find("norm") == std::string::npos && p.name.find("lora_") == std::string::npos;
    EXPECT_EQ(p.value->dtype(), frozen16 ? DType::BF16 : DType::F32) << p.name;
  }
  const Tensor lb = bf16->logits(b);
  EXPECT_LE(max_rel_error(lb, rounded->logits(b)), 1e-6);
  // Stated tolerance for bf16 storage against fp32 weights: 8 mantissa bits (2^-9 relative
  // rounding per weight) through two layers stays within 2% of the logit scale.
  EXPECT_LE(max_rel_error(lb, f32->logits(b)), 2e-2);
  EXPECT_GT(max_rel_error(lb, f32->logits(b)), 0.0);  // the rounding is real

  // LoRA training on bf16 storage: gradients within the same tolerance of fp32 storage.
  auto lora16 = tiny_model(Training::kLora, DType::BF16);
  auto lora32 = tiny_model(Training::kLora);
  train_loss(*lora16, b, {});
  train_loss(*lora32, b, {});
  auto g16 = lora16->trainable_parameters(), g32 = lora32->trainable_parameters();
  for (size_t i = 0; i < g16.size(); ++i) {
    EXPECT_LE(max_rel_error(*g16[i].grad, *g32[i].grad), 3e-2) << g16[i].name;
  }
  // Frozen weights take 2 bytes each; norms, adapters and adapter gradients 4.
  const ModelConfig c = tiny_config();
  const size_t norms = (2 * c.num_hidden_layers + 1) * c.hidden_size;
  const size_t adapters = adapter_count(*lora32);
  EXPECT_EQ(lora16->parameter_bytes(),
            2 * (c.parameter_count() - norms) + 4 * norms + 2 * 4 * adapters);
}

TEST(Lora, MergeUnmergeAndDefaults) {
  const Batch b = tiny_batch(5);
  auto m = tiny_model(Training::kLora);
  const Tensor before = m->logits(b);
  m->merge_lora();
  EXPECT_LE(max_rel_error(m->logits(b), before), 1e-5);
  m->unmerge_lora();
  EXPECT_LE(max_rel_error(m->logits(b), before), 1e-6);

  LoraConfig d;  // PEFT defaults for Llama/Mistral
  EXPECT_EQ(d.resolved_targets(), (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_EQ(d.scaling(), 1.0);
  d.r = 16;
  d.alpha = 32;
  d.use_rslora = true;
  EXPECT_DOUBLE_EQ(d.scaling(), 8.0);
  d.target_modules = {"lm_head"};
  EXPECT_THROW(d.resolved_targets(), Error);
}

TEST(Lora, PeftInitialization) {
  ModelOptions o;
  o.training = Training::kLora;
  LlamaModel m(tiny_config(), o);
  m.init_weights(1);
  LoraConfig l;
  l.r = 8;
  m.add_lora(l, 42);
  EXPECT_EQ(m.lora_linears().size(), 4u);  // q_proj and v_proj in 2 layers
  float max_a = 0;
  for (ParamRef& p : m.trainable_parameters()) {
    const std::vector<float> v = p.value->to_f32();
    for (float x : v) {
      if (p.name.ends_with("lora_B.weight"))
        ASSERT_EQ(x, 0.0f);
      else
        max_a = std::max(max_a, std::fabs(x));
    }
  }
  const float bound = 1.0f / std::sqrt(32.0f);  // kaiming_uniform(a=sqrt(5)): 1/sqrt(fan_in)
  EXPECT_LE(max_a, bound);
  EXPECT_GT(max_a, 0.95f * bound);
}

TEST(LlamaModel, FrozenWeightsHaveNoGradientsAndFullTrainingKeepsAll) {
  auto full = tiny_model(Training::kFull);
  EXPECT_EQ(full->trainable_parameters().size(), full->parameters().size());
  auto lora = tiny_model(Training::kLora);
  for (ParamRef& p : lora->parameters()) {
    EXPECT_EQ(p.grad != nullptr, p.name.find("lora_") != std::string::npos) << p.name;
  }
  const int64_t n = tiny_config().parameter_count();
  EXPECT_EQ(full->parameter_bytes(), static_cast<size_t>(2 * 4 * n));  // weights and gradients
  EXPECT_EQ(lora->parameter_bytes(), static_cast<size_t>(4 * n) + 2 * 4 * adapter_count(*lora));
}

TEST(LlamaModel, BadInputGivesClearErrors) {
  auto m = tiny_model(Training::kFull);
  Batch b = tiny_batch(6);
  b.input_ids[3] = 96;  // == vocab_size
  try {
    m->loss(b);
    FAIL() << "no error for a token outside the vocabulary";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("outside the vocabulary"), std::string::npos) << e.what();
  }
  b = tiny_batch(6);
  b.labels.pop_back();
  EXPECT_THROW(m->loss(b), Error);
  b = tiny_batch(6);
  b.labels[4] = 500;
  EXPECT_THROW(m->loss(b), Error);
  auto frozen = tiny_model(Training::kNone);
  EXPECT_THROW(frozen->forward(tiny_batch(6), {}), Error);
  EXPECT_THROW(m->add_lora(LoraConfig{}, 0), Error);  // adapters train with the base frozen
  StepOptions zero;
  zero.grad_scale = 0;
  EXPECT_THROW(m->forward(tiny_batch(6), zero), Error);
}

}  // namespace
}  // namespace llmtune::model
