// The Trainer loop: exact resume (full and LoRA), token-weighted gradient accumulation, fp16
// loss scaling with injected overflows, schedules, checkpoints and their retention policy.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "core/error.h"
#include "core/files.h"
#include "support/errors.h"
#include "support/scratch.h"
#include "support/tiny_llama.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace llmtune::train {
namespace {

namespace fs = std::filesystem;

model::ModelConfig tiny() {
  return test::tiny_llama(64, 0.2);
}

// Samples of 6..20 tokens whose second half is labelled.
std::vector<data::Sample> samples(int64_t n, uint64_t seed) {
  return test::labelled_samples(n, seed, 15);
}

std::unique_ptr<model::LlamaModel> make_model(bool lora) {
  model::ModelOptions o;
  o.training = lora ? model::Training::kLora : model::Training::kFull;
  auto m = std::make_unique<model::LlamaModel>(tiny(), o);
  m->init_weights(5);
  if (lora) {
    model::LoraConfig l;
    l.r = 4;
    l.alpha = 16;
    l.dropout = 0.1;  // masks must repeat after resuming too
    l.target_modules = {"q_proj", "v_proj", "down_proj"};
    m->add_lora(l, 9);
  }
  return m;
}

TrainerOptions options(const std::string& out) {
  TrainerOptions o;
  o.max_steps = 8;
  o.batch_size = 3;
  o.accumulation = 2;
  o.adamw.weight_decay = 0.01;
  o.schedule.type = "cosine";
  o.schedule.lr = 3e-3;
  o.schedule.warmup_steps = 2;
  o.schedule.total_steps = 8;
  o.logging_steps = 1;
  o.output_dir = out;
  o.save_final = false;
  return o;
}

std::vector<float> flat_params(model::LlamaModel& m) {
  std::vector<float> out;
  for (const model::ParamRef& p : m.trainable_parameters()) {
    const auto v = p.value->to_f32();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// 2N steps straight vs N steps, a new process's worth of state (fresh model and trainer), and
// the last N from the checkpoint: identical losses and weights, bit for bit.
void check_resume(bool lora) {
  test::ScratchDir dir;
  const auto data = samples(20, 1);
  auto straight_model = make_model(lora);
  TrainerOptions o = options(dir.file("straight"));
  Trainer straight(*straight_model, data, o);
  const TrainResult all = straight.train();
  ASSERT_EQ(all.losses.size(), 8u);

  TrainerOptions first_o = options(dir.file("split"));
  first_o.save_steps = 4;
  auto first_model = make_model(lora);
  TrainerHooks stop_at_4;
  stop_at_4.stop_after = [](int64_t s) { return s == 4; };
  Trainer first(*first_model, data, first_o, stop_at_4);
  const TrainResult head = first.train();
  ASSERT_TRUE(head.stopped);
  ASSERT_EQ(checkpoint_steps(dir.file("split")), std::vector<int64_t>{4});

  auto second_model = make_model(lora);  // the base weights a restarted process loads again
  Trainer second(*second_model, data, first_o);
  second.resume(checkpoint_dir(dir.file("split"), 4));
  EXPECT_EQ(second.step(), 4);
  const TrainResult tail = second.train();
  ASSERT_EQ(tail.losses.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(head.losses[i], all.losses[i]) << "step " << i + 1;
    EXPECT_EQ(tail.losses[i], all.losses[i + 4]) << "step " << i + 5;
  }
  EXPECT_EQ(flat_params(*second_model), flat_params(*straight_model));
  EXPECT_LT(all.losses.back(), all.losses.front());  // it learns
}

TEST(Trainer, ResumeRepeatsTheUninterruptedRunFull) {
  check_resume(false);
}
TEST(Trainer, ResumeRepeatsTheUninterruptedRunLora) {
  check_resume(true);
}

// Micro-batch 2 x 4 accumulation equals micro-batch 8: the loss is the mean over the step's
// labelled tokens, whatever the lengths of the micro-batches.
TEST(Trainer, AccumulationEqualsOneLargeBatch) {
  const auto data = samples(16, 2);
  auto run = [&](int64_t batch, int64_t accumulation) {
    auto m = make_model(false);
    TrainerOptions o = options("");
    o.max_steps = 4;
    o.batch_size = batch;
    o.accumulation = accumulation;
    Trainer t(*m, data, o);
    const TrainResult r = t.train();
    return std::make_pair(r.losses, flat_params(*m));
  };
  const auto [big_losses, big_params] = run(8, 1);
  const auto [acc_losses, acc_params] = run(2, 4);
  ASSERT_EQ(big_losses.size(), acc_losses.size());
  for (size_t i = 0; i < big_losses.size(); ++i) {
    EXPECT_NEAR(acc_losses[i], big_losses[i], 1e-6 * std::fabs(big_losses[i])) << "step " << i;
  }
  double diff = 0, scale = 0;
  for (size_t i = 0; i < big_params.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(acc_params[i]) - big_params[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(big_params[i])));
  }
  EXPECT_LT(diff / scale, 1e-6);
}

TEST(LossScaler, HysteresisWindowAndMinimum) {
  LossScalerOptions o;
  o.initial_scale = 8;
  o.window = 3;
  o.hysteresis = 2;
  o.min_scale = 2;
  LossScaler s(o);
  EXPECT_TRUE(s.update(true));  // first overflow: hysteresis 2 -> 1, scale kept
  EXPECT_EQ(s.scale(), 8);
  EXPECT_TRUE(s.update(true));  // second: halved
  EXPECT_EQ(s.scale(), 4);
  EXPECT_FALSE(s.update(false));
  EXPECT_FALSE(s.update(false));
  EXPECT_EQ(s.scale(), 4);
  EXPECT_FALSE(s.update(false));  // 3 clean steps since the overflow: doubled, hysteresis reset
  EXPECT_EQ(s.scale(), 8);
  EXPECT_TRUE(s.update(true));  // hysteresis back at 2: kept
  EXPECT_EQ(s.scale(), 8);
  EXPECT_EQ(s.skipped(), 3);
  LossScaler copy(o);
  copy.load_state(s.state());
  EXPECT_EQ(copy.state(), s.state());
  o.hysteresis = 1;
  LossScaler floor(o);
  floor.update(true);
  floor.update(true);
  EXPECT_EQ(floor.scale(), 2);
  EXPECT_THROW(floor.update(true), Error);  // overflow at the minimum stops the run
}

// Injected inf and NaN gradients skip their steps (weights and optimizer untouched, schedule
// not advanced), lower the scale after the hysteresis, and the scaler's state survives a
// checkpoint: the resumed run continues exactly.
TEST(Trainer, OverflowsSkipStepsAndTheScalerStateIsCheckpointed) {
  test::ScratchDir dir;
  const auto data = samples(20, 3);
  TrainerOptions o = options(dir.file("run"));
  o.loss_scale = LossScalerOptions{};
  o.loss_scale->initial_scale = 1024;
  o.loss_scale->window = 4;
  o.loss_scale->hysteresis = 2;
  o.save_steps = 4;
  TrainerHooks hooks;
  hooks.after_backward = [](int64_t step, const std::vector<model::ParamRef>& params) {
    if (step == 1 || step == 2) {  // steps 2 and 3 (1-based) overflow
      float* g = params[0].grad->data<float>();
      g[0] = step == 1 ? std::numeric_limits<float>::infinity() : std::nanf("");
    }
  };
  std::vector<double> scales;
  hooks.on_metrics = [&](const std::string& group, int64_t, const nlohmann::json& m) {
    if (group == "training") scales.push_back(m.at("loss_scale").get<double>());
  };
  std::vector<float> before_overflow;
  auto m = make_model(false);
  Trainer t(*m, data, o, hooks);
  const TrainResult r = t.train();
  EXPECT_EQ(r.skipped_steps, 2);
  EXPECT_EQ(t.optimizer().steps(), 6);  // 8 steps, 2 skipped
  // 1024 after step 1; step 2 overflows (hysteresis 2 -> 1, kept); step 3 halves to 512; then
  // 4 clean steps (4..7) double it at step 7.
  ASSERT_EQ(scales.size(), 8u);
  EXPECT_EQ(scales[0], 1024);
  EXPECT_EQ(scales[1], 1024);
  EXPECT_EQ(scales[2], 512);
  EXPECT_EQ(scales[5], 512);
  EXPECT_EQ(scales[6], 1024);
  for (double l : r.losses) EXPECT_TRUE(std::isfinite(l));

  // Resume from step 4: the scaler state comes back and the last four losses repeat.
  const nlohmann::json state = read_json(checkpoint_dir(dir.file("run"), 4) + "/train_state.json");
  EXPECT_EQ(state["loss_scaler"]["scale"].get<double>(), 512);
  EXPECT_EQ(state["loss_scaler"]["skipped"].get<int64_t>(), 2);
  auto m2 = make_model(false);
  TrainerOptions o2 = o;
  o2.output_dir = dir.file("resumed");
  TrainerHooks inject;
  inject.after_backward = hooks.after_backward;
  Trainer t2(*m2, data, o2, inject);
  t2.resume(checkpoint_dir(dir.file("run"), 4));
  const TrainResult tail = t2.train();
  ASSERT_EQ(tail.losses.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(tail.losses[i], r.losses[i + 4]);
  EXPECT_EQ(flat_params(*m2), flat_params(*m));
}

TEST(Trainer, NonFiniteGradientsWithoutAScalerStopWithAnError) {
  auto m = make_model(false);
  TrainerOptions o = options("");
  TrainerHooks nan;
  nan.after_backward = [](int64_t, const std::vector<model::ParamRef>& p) {
    p[0].grad->data<float>()[0] = std::nanf("");
  };
  Trainer t(*m, samples(8, 4), o, nan);
  try {
    t.train();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not finite at step 1"), std::string::npos) << e.what();
  }
}

TEST(Trainer, BadOptionsAndMismatchedResumeAreErrors) {
  test::ScratchDir dir;
  auto m = make_model(false);
  TrainerOptions o = options(dir.file("run"));
  EXPECT_THROW(Trainer(*m, {}, o).train(), Error);  // no samples to train on
  o.max_steps = 0;
  EXPECT_THROW(Trainer(*m, samples(4, 1), o), Error);
  o = options(dir.file("run"));
  o.schedule.type = "polynomial";
  EXPECT_THROW(Trainer(*m, samples(4, 1), o), Error);
  o = options(dir.file("run"));
  o.max_steps = 2;
  o.save_final = true;
  Trainer(*m, samples(8, 1), o).train();
  o.batch_size = 4;  // a different data order cannot continue exactly
  Trainer other(*m, samples(8, 1), o);
  EXPECT_THROW(other.resume(checkpoint_dir(dir.file("run"), 2)), Error);
  auto lora = make_model(true);  // a LoRA model cannot resume a full checkpoint
  Trainer wrong(*lora, samples(8, 1), options(dir.file("run")));
  EXPECT_THROW(wrong.resume(checkpoint_dir(dir.file("run"), 2)), Error);
  EXPECT_THROW(wrong.resume(dir.file("nowhere")), Error);
}

// A checkpoint's state is checked before anything of it is trusted; a complete checkpoint is
// never written over.
TEST(Trainer, EditedCheckpointsAreRefusedAndNoneIsOverwritten) {
  test::ScratchDir dir;
  auto m = make_model(false);
  TrainerOptions o = options(dir.file("run"));
  o.max_steps = 4;
  o.save_steps = 2;
  Trainer(*m, samples(16, 1), o).train();
  const std::string ckpt = checkpoint_dir(dir.file("run"), 4);
  const std::string state_path = ckpt + "/train_state.json";
  const nlohmann::json good = read_json(state_path);
  const auto edited = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json s = good;
    edit(s);
    write_file_atomic(state_path, s.dump());
    auto fresh = make_model(false);
    Trainer t(*fresh, samples(16, 1), o);
    try {
      t.resume(ckpt);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("resumed at step ") + std::to_string(t.step());
  };
  auto expect = [](const std::string& got, const std::string& part) {
    EXPECT_NE(got.find(part), std::string::npos) << got;
  };
  expect(edited([](auto& s) { s["step"] = 3, s["optimizer_steps"] = 3; }),
         "\"step\" is 3 but the directory is checkpoint-4");
  expect(edited([](auto& s) { s["step"] = 3; }), "\"optimizer_steps\" is more than the step 3");
  expect(edited([](auto& s) { s["step"] = "four"; }), "\"step\" is \"four\", not an integer");
  expect(edited([](auto& s) { s.erase("batch_size"); }), "\"batch_size\" is missing");
  expect(edited([](auto& s) { s["zero"] = 5; }), "\"zero\" is not an object");
  expect(edited([](auto& s) { s = nlohmann::json::array(); }), "not a JSON object");
  write_file_atomic(state_path, good.dump());
  EXPECT_EQ(edited([](auto&) {}), "resumed at step 4");
  // Past max_steps: the run would mark itself done at a step it never reached.
  fs::rename(ckpt, checkpoint_dir(dir.file("run"), 999));
  nlohmann::json far = good;
  far["step"] = 999;
  far["optimizer_steps"] = 999;
  write_file_atomic(checkpoint_dir(dir.file("run"), 999) + "/train_state.json", far.dump());
  auto fresh = make_model(false);
  Trainer past(*fresh, samples(16, 1), o);
  EXPECT_TRUE(test::throws_error([&] { past.resume(checkpoint_dir(dir.file("run"), 999)); },
                                 {"at step 999, past this run's max_steps 4"}));
  // Resuming from step 2 while checkpoint-4 exists: saving step 4 again is refused, and the
  // existing checkpoint keeps its bytes.
  fs::rename(checkpoint_dir(dir.file("run"), 999), ckpt);
  write_file_atomic(state_path, good.dump());
  const std::string weights = read_file(ckpt + "/model.safetensors");
  auto again = make_model(false);
  Trainer t(*again, samples(16, 1), o);
  t.resume(checkpoint_dir(dir.file("run"), 2));
  EXPECT_TRUE(test::throws_error([&] { t.train(); }, {ckpt, "never overwrites a checkpoint"}));
  EXPECT_EQ(read_file(ckpt + "/model.safetensors"), weights);
  EXPECT_EQ(read_json(state_path), good);
}

TEST(Schedule, TransformersAndDeepSpeedFormulas) {
  const double pi = 3.14159265358979323846;
  LrSchedule s;
  s.lr = 1.0;
  s.warmup_steps = 4;
  s.total_steps = 20;
  s.type = "linear";
  EXPECT_DOUBLE_EQ(s.at(0), 0.0);
  EXPECT_DOUBLE_EQ(s.at(2), 0.5);
  EXPECT_DOUBLE_EQ(s.at(4), 1.0);
  EXPECT_DOUBLE_EQ(s.at(12), 8.0 / 16.0);
  EXPECT_DOUBLE_EQ(s.at(20), 0.0);
  s.type = "cosine";
  EXPECT_DOUBLE_EQ(s.at(2), 0.5);
  EXPECT_DOUBLE_EQ(s.at(12), 0.5 * (1 + std::cos(pi * 0.5)));
  s.type = "constant_with_warmup";
  EXPECT_DOUBLE_EQ(s.at(1), 0.25);
  EXPECT_DOUBLE_EQ(s.at(15), 1.0);
  s.type = "constant";
  EXPECT_DOUBLE_EQ(s.at(0), 1.0);
  // WarmupDecayLR with warmup 0 (clamped to 2) and log warmup: 0, then the peak, then linear
  // decay (T - s) / (T - 2).
  s.type = "WarmupDecayLR";
  s.warmup_steps = 0;
  s.lr = 1e-5;
  EXPECT_DOUBLE_EQ(s.at(0), 0.0);
  EXPECT_DOUBLE_EQ(s.at(1), 1e-5);
  EXPECT_DOUBLE_EQ(s.at(2), 1e-5 * 18 / 18);
  EXPECT_DOUBLE_EQ(s.at(11), 1e-5 * 9 / 18);
  s.warmup_steps = 10;
  EXPECT_DOUBLE_EQ(s.at(3), 1e-5 * std::log(4.0) / std::log(10.0));
  s.warmup_type = "linear";
  EXPECT_DOUBLE_EQ(s.at(3), 1e-5 * 0.3);
  s.type = "WarmupLR";
  EXPECT_DOUBLE_EQ(s.at(15), 1e-5);
}

// A partial checkpoint (a run died while writing it) is never listed, and is cleaned up.
TEST(Checkpoint, PartialDirectoriesAreNeverListed) {
  test::ScratchDir dir;
  auto m = make_model(false);
  TrainerOptions o = options(dir.str());
  o.max_steps = 1;
  o.save_final = true;
  Trainer(*m, samples(4, 1), o).train();
  fs::create_directories(dir.root() / "checkpoint-2.partial");
  fs::create_directories(dir.root() / "checkpoint-3");  // no train_state.json: not complete
  EXPECT_EQ(checkpoint_steps(dir.str()), std::vector<int64_t>{1});
  EXPECT_EQ(checkpoint_remove_partial(dir.str()), 1);
  EXPECT_FALSE(fs::exists(dir.root() / "checkpoint-2.partial"));
  const auto files = test::ScratchDir::listing_of(checkpoint_dir(dir.str(), 1));
  for (const char* f : {"config.json", "model.safetensors", "optimizer.safetensors",
                        "train_state.json", "trainer_state.json"}) {
    EXPECT_NE(std::find(files.begin(), files.end(), f), files.end()) << f;
  }
}

}  // namespace
}  // namespace llmtune::train
