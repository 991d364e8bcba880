// The engine against the independent PyTorch oracle (tests/reference/make_reference.py):
// logits, loss and every gradient for full and LoRA training, merged-LoRA logits, and 10
// AdamW steps with clipping and gradient accumulation. fp32 throughout.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "io/files.h"
#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"
#include "support/compare.h"
#include "support/reference_data.h"
#include "train/step.h"

namespace llmtune {
namespace {

using model::Batch;
using model::LlamaModel;
using model::ModelOptions;
using model::Training;
using test::max_rel_error;

constexpr double kTol = 1e-4;      // logits and gradients
constexpr double kLossTol = 1e-5;  // step losses
// Weights after ten AdamW steps. Adam divides each gradient by its own running magnitude, so an
// element whose gradient is near the fp32 rounding noise of the whole tensor moves by a good
// part of lr per step in a direction that noise picks; two fp32 implementations (or this one at
// another thread count or vector width) drift apart by ~1e-4 of the tensor's scale in ten
// steps (measured: 1e-5 with AVX-512, up to 1.6e-4 with AVX2 at 1 to 4 threads).
constexpr double kTrainedTol = 5e-4;

std::string case_dir(const std::string& name) {
  return std::string(LLMTUNE_REFERENCE_DIR) + "/" + name;
}

struct Case {
  std::string dir;
  std::shared_ptr<io::SafetensorsFile> data, expected;
  nlohmann::json params;

  explicit Case(const std::string& name) : dir(case_dir(name)) {
    data = io::SafetensorsFile::open(dir + "/data.safetensors");
    expected = io::SafetensorsFile::open(dir + "/expected.safetensors");
    params = io::read_json(dir + "/case.json");
  }
  Tensor want(const std::string& name) const { return expected->tensor(name); }

  Batch batch(const std::string& prefix, int64_t index = 0) const {
    return test::reference_batch(*data, prefix, index);
  }
};

class Reference : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(case_dir(GetParam()) + "/expected.safetensors")) {
      GTEST_FAIL() << "reference files missing in " << case_dir(GetParam())
                   << "; `make reference` or ctest's reference_generate writes them";
    }
  }
};

std::unique_ptr<LlamaModel> load(const Case& c, Training training, bool checkpoint = false) {
  ModelOptions o;
  o.training = training;
  o.checkpoint_activations = checkpoint;
  auto m = io::model_load(c.dir, o);
  if (training == Training::kLora) io::adapter_load(*m, c.dir + "/adapter");
  return m;
}

TEST_P(Reference, FullLogitsLossAndGradients) {
  const Case c(GetParam());
  for (bool checkpoint : {false, true}) {
    SCOPED_TRACE(checkpoint ? "with activation checkpointing" : "without checkpointing");
    auto m = load(c, Training::kFull, checkpoint);
    const Batch b = c.batch("");
    EXPECT_LE(max_rel_error(m->logits(b), c.want("logits")), kTol);
    EXPECT_LE(max_rel_error(m->loss(b), c.want("loss").view({1})), kLossTol);
    const Tensor loss = m->forward(b, {});
    m->backward();
    EXPECT_LE(max_rel_error(loss, c.want("loss").view({1})), kLossTol);
    int checked = 0;
    for (model::ParamRef& p : m->trainable_parameters()) {
      const double err = max_rel_error(*p.grad, c.want("grad." + p.name));
      EXPECT_LE(err, kTol) << "gradient of " << p.name;
      ++checked;
    }
    EXPECT_EQ(checked, static_cast<int>(m->parameters().size()));
  }
}

TEST_P(Reference, LoraLogitsGradientsAndMerge) {
  const Case c(GetParam());
  auto m = load(c, Training::kLora);
  const Batch b = c.batch("");
  EXPECT_LE(max_rel_error(m->logits(b), c.want("lora.logits")), kTol);
  const Tensor loss = m->forward(b, {});
  m->backward();
  EXPECT_LE(max_rel_error(loss, c.want("lora.loss").view({1})), kLossTol);
  const auto trainable = m->trainable_parameters();
  EXPECT_EQ(trainable.size(), 2 * m->lora_linears().size());
  EXPECT_EQ(m->lora_linears().size(),
            c.params["lora"]["target_modules"].size() * m->config().num_hidden_layers);
  for (const model::ParamRef& p : trainable) {
    EXPECT_LE(max_rel_error(*p.grad, c.want("lora.grad." + p.name)), kTol) << p.name;
  }
  for (model::ParamRef& p : m->parameters()) {  // frozen weights carry no gradient buffer
    if (p.name.find("lora_") == std::string::npos) {
      EXPECT_EQ(p.grad, nullptr) << p.name;
    }
  }
  m->merge_lora();
  const Tensor merged = m->logits(b);
  EXPECT_LE(max_rel_error(merged, c.want("merged.logits")), kTol);
  EXPECT_LE(max_rel_error(merged, c.want("lora.logits")), 1e-5);
}

// Ten optimizer steps of two accumulated micro-batches, clipped, as the oracle trains.
void check_training(const Case& c, Training training) {
  const bool lora = training == Training::kLora;
  const std::string tag = lora ? "lora" : "full";
  auto m = load(c, training);
  train::AdamWOptions opt;
  opt.beta1 = c.params["betas"][0].get<double>();
  opt.beta2 = c.params["betas"][1].get<double>();
  opt.eps = c.params["eps"].get<double>();
  opt.weight_decay = c.params["weight_decay"].get<double>();
  train::AdamW adamw(m->trainable_parameters(), opt);
  train::StepConfig step;
  step.lr = c.params[lora ? "lora_lr" : "full_lr"].get<double>();
  step.max_grad_norm = c.params["max_grad_norm"].get<double>();
  const int steps = c.params["steps"].get<int>();
  const int accum = c.params["grad_accum"].get<int>();
  const std::vector<float> want_loss = c.want(tag + ".step_losses").to_f32();
  const std::vector<float> want_norm = c.want(tag + ".grad_norms").to_f32();
  for (int s = 0; s < steps; ++s) {
    std::vector<Batch> micro;
    for (int a = 0; a < accum; ++a) micro.push_back(c.batch("train.", s * accum + a));
    const train::StepResult r = train::train_step(*m, adamw, micro, step);
    EXPECT_LE(std::fabs(r.loss - want_loss[s]) / std::fabs(want_loss[s]), kLossTol)
        << tag << " step " << s << ": " << r.loss << " vs " << want_loss[s];
    EXPECT_LE(std::fabs(r.grad_norm - want_norm[s]) / want_norm[s], kTol) << tag << " step " << s;
  }
  for (model::ParamRef& p : m->trainable_parameters()) {
    EXPECT_LE(max_rel_error(*p.value, c.want(tag + ".final." + p.name)), kTrainedTol) << p.name;
  }
}

TEST_P(Reference, FullTrainingSteps) {
  check_training(Case(GetParam()), Training::kFull);
}
TEST_P(Reference, LoraTrainingSteps) {
  check_training(Case(GetParam()), Training::kLora);
}

INSTANTIATE_TEST_SUITE_P(Cases, Reference,
                         ::testing::Values("llama_gqa", "mistral_window", "llama_tied",
                                           "llama_linear"));

}  // namespace
}  // namespace llmtune
