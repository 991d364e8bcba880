// ZeRO stages 0-3 under mpirun (see CMakeLists.txt: 1, 2 and 3 ranks) on the tiny reference
// models: N ranks with accumulation A must follow one process with accumulation A·N, step by
// step, for full training and for LoRA (with dropout); the partitioner's memory must fall as
// ZeRO predicts and its traffic must match the ZeRO paper's volumes.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <filesystem>

#include "core/error.h"
#include "core/philox.h"
#include "io/hf_checkpoint.h"
#include "parallel/mpi_main.h"
#include "parallel/zero.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace llmtune::parallel {
namespace {

using test::mpi_comm;

std::string reference_model(const std::string& name) {
  return std::string(LLMTUNE_REFERENCE_DIR) + "/" + name;
}

// Samples of 5..24 tokens whose later part is labelled (the same on every rank).
std::vector<data::Sample> samples(int64_t n, int64_t vocab) {
  std::vector<data::Sample> out;
  const PhiloxStream rng(77, 5);
  for (int64_t i = 0; i < n; ++i) {
    data::Sample s;
    const int64_t len = 5 + static_cast<int64_t>(rng.bits(2 * i) % 20);
    for (int64_t t = 0; t < len; ++t) {
      const auto id = static_cast<int32_t>(rng.bits(1000 + i * 64 + t) % vocab);
      s.input_ids.push_back(id);
      s.labels.push_back(t >= len / 3 ? id : -100);
    }
    s.prompt_length = len / 3;
    s.full_length = len;
    out.push_back(s);
  }
  return out;
}

std::unique_ptr<model::LlamaModel> load(const std::string& name, bool lora) {
  model::ModelOptions o;
  o.training = lora ? model::Training::kLora : model::Training::kFull;
  auto m = io::model_load(reference_model(name), o);
  if (lora) {
    model::LoraConfig l;
    l.r = 4;
    l.alpha = 8;
    l.dropout = 0.1;
    l.target_modules = {"q_proj", "v_proj", "gate_proj", "down_proj"};
    m->add_lora(l, 3);
  }
  return m;
}

train::TrainerOptions options(int64_t accumulation, int64_t steps) {
  train::TrainerOptions o;
  o.max_steps = steps;
  o.batch_size = 2;
  o.accumulation = accumulation;
  o.adamw.weight_decay = 0.01;
  o.schedule.type = "linear";
  o.schedule.lr = 2e-3;
  o.schedule.warmup_steps = 3;
  o.schedule.total_steps = steps;
  o.max_grad_norm = 0.5;  // clipping acts: the norm must be the global one
  o.logging_steps = 1000;
  o.save_final = false;
  o.seed = 11;
  return o;
}

// Small buckets and a persistence threshold that keeps the norms whole, so that chunked
// collectives and both kinds of stage-3 parameters are exercised.
ZeroOptions zero(int stage) {
  ZeroOptions z;
  z.stage = stage;
  z.reduce_bucket_size = 1000;
  z.allgather_bucket_size = 1500;
  z.prefetch_bucket_size = 700;
  z.param_persistence_threshold = 100;
  return z;
}

struct Trained {
  std::vector<double> losses;
  std::vector<std::vector<float>> weights;  // every parameter, whole, after training
};

// Trains `steps` steps on `comm` (null: alone) and reads back all weights.
Trained train_run(const std::string& name, bool lora, int64_t accumulation, int64_t steps,
                  Communicator* comm, const ZeroOptions& z) {
  auto m = load(name, lora);
  train::TrainerOptions o = options(accumulation, steps);
  o.comm = comm;
  o.zero = z;
  Trained run;
  {
    train::Trainer trainer(*m, samples(40, m->config().vocab_size), o);
    run.losses = trainer.train().losses;
  }  // the engine leaves the model whole
  for (const model::ParamRef& p : m->parameters()) run.weights.push_back(p.value->to_f32());
  return run;
}

double relative(double a, double b) {
  return std::abs(a - b) / std::max(1e-12, std::abs(b));
}

void expect_same(const Trained& got, const Trained& want, const std::string& what) {
  ASSERT_EQ(got.losses.size(), want.losses.size()) << what;
  for (size_t i = 0; i < want.losses.size(); ++i) {
    EXPECT_LT(relative(got.losses[i], want.losses[i]), 1e-6)
        << what << " step " << i + 1 << ": " << got.losses[i] << " vs " << want.losses[i];
  }
  ASSERT_EQ(got.weights.size(), want.weights.size()) << what;
  double worst = 0;
  for (size_t p = 0; p < want.weights.size(); ++p) {
    for (size_t i = 0; i < want.weights[p].size(); ++i)
      worst = std::max(worst, std::abs(double{got.weights[p][i]} - want.weights[p][i]));
  }
  EXPECT_LT(worst, 1e-5) << what << ": weights differ after training";
}

class ZeroEquivalence : public testing::TestWithParam<std::tuple<std::string, bool>> {};

TEST_P(ZeroEquivalence, EveryStageFollowsOneProcessWithTheSameGlobalBatch) {
  const auto& [name, lora] = GetParam();
  const int world = mpi_comm().world_size();
  const int64_t accumulation = 2, steps = 20;
  // The single-process reference: every rank computes it alone.
  const Trained alone = train_run(name, lora, accumulation * world, steps, nullptr, ZeroOptions{});
  std::vector<ZeroOptions> configs = {zero(0), zero(1), zero(2), zero(3)};
  ZeroOptions prefetching;  // DeepSpeed's default buckets: whole layers, prefetched
  prefetching.stage = 3;
  configs.push_back(prefetching);
  for (const ZeroOptions& z : configs) {
    const Trained run = train_run(name, lora, accumulation, steps, &mpi_comm(), z);
    expect_same(run, alone,
                str(name, lora ? " LoRA" : " full", " stage ", z.stage, " on ", world,
                    " ranks, prefetch bucket ", z.prefetch_bucket_size));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, ZeroEquivalence,
    testing::Combine(testing::Values("llama_gqa", "llama_tied", "mistral_window"), testing::Bool()),
    [](const auto& info) {
      return std::get<0>(info.param) + (std::get<1>(info.param) ? "_lora" : "_full");
    });

// Elements per parameter group of the trainable parameters, padded to the world size.
std::vector<int64_t> padded_groups(model::LlamaModel& m, int world) {
  std::vector<int64_t> out;
  for (const auto& group : m.parameter_groups()) {
    int64_t n = 0;
    for (const model::ParamRef& p : group) n += p.grad ? p.value->numel() : 0;
    if (n > 0) out.push_back((n + world - 1) / world * world);
  }
  return out;
}

TEST(ZeroTraffic, BytesPerStepMatchTheZeroPaper) {
  const int world = mpi_comm().world_size();
  if (world == 1) GTEST_SKIP() << "one rank sends nothing";
  int64_t part_bytes = 0;  // (N-1)/N of every padded group, in fp32 bytes
  int64_t measured[4] = {};
  for (int stage = 0; stage <= 3; ++stage) {
    auto m = load("llama_gqa", false);  // untied: each group is gathered once per pass
    part_bytes = 0;
    for (int64_t n : padded_groups(*m, world)) part_bytes += n / world * (world - 1) * 4;
    ZeroOptions z;  // default buckets: one collective per group
    z.stage = stage;
    z.param_persistence_threshold = 0;
    train::TrainerOptions o = options(1, 1);
    o.comm = &mpi_comm();
    o.zero = z;
    train::Trainer trainer(*m, samples(40, m->config().vocab_size), o);
    const int64_t before = mpi_comm().stats().bytes_sent;
    trainer.train();
    measured[stage] = mpi_comm().stats().bytes_sent - before;
  }
  // One fp32 scalar all-reduce for the loss, and one for the norm at stages 1-3.
  const int64_t scalar = 2 * (world - 1) * 4 / world;
  EXPECT_EQ(measured[0] - scalar, 2 * part_bytes);      // all-reduce (the norm is local)
  EXPECT_EQ(measured[1] - 2 * scalar, 2 * part_bytes);  // reduce-scatter + all-gather
  EXPECT_EQ(measured[2] - 2 * scalar, 2 * part_bytes);
  EXPECT_EQ(measured[3] - 2 * scalar, 3 * part_bytes);  // two all-gathers + reduce-scatter
  if (mpi_comm().rank() == 0) {
    std::printf(
        "ZeRO bytes sent per rank and step, %d ranks: stage 0 %lld, 1 %lld, 2 %lld, "
        "3 %lld (stage 3 / stage 0 = %.3f)\n",
        world, static_cast<long long>(measured[0]), static_cast<long long>(measured[1]),
        static_cast<long long>(measured[2]), static_cast<long long>(measured[3]),
        static_cast<double>(measured[3]) / static_cast<double>(measured[0]));
  }
}

TEST(ZeroMemoryUse, PartitionsShrinkWithTheWorldAndMatchWhatIsAllocated) {
  const int world = mpi_comm().world_size();
  int64_t single = 0;  // parameters + gradients + optimizer of one whole process
  for (int stage = 0; stage <= 3; ++stage) {
    const size_t base = device_memory(Device::cpu()).stats().in_use;
    auto m = load("llama_gqa", false);
    int64_t elements = 0;
    for (const model::ParamRef& p : m->parameters()) elements += p.value->numel();
    ZeroOptions z;
    z.stage = stage;
    z.param_persistence_threshold = 0;
    train::TrainerOptions o = options(1, 2);
    o.comm = &mpi_comm();
    o.zero = z;
    auto trainer = std::make_unique<train::Trainer>(*m, samples(40, m->config().vocab_size), o);
    trainer->train();
    const ZeroMemory acc = trainer->engine().accounted();
    const int64_t measured =
        static_cast<int64_t>(device_memory(Device::cpu()).stats().in_use - base);
    if (stage == 0) single = 16 * elements;  // fp32 value, gradient, two moments
    const double n = world;
    // Stage 0 keeps everything; 1 splits the moments; 2 the gradients too; 3 all of it.
    // Stage 1 keeps the whole gradient and, with several ranks, its reduced partition.
    const double stage1 = (8.0 + 8.0 / n + (world > 1 ? 4.0 / n : 0.0)) * elements;
    const double expected[4] = {16.0 * elements, stage1, (4.0 + 12.0 / n) * elements,
                                16.0 * elements / n};
    const int64_t pad = 64 * 4 * 16;  // per-group padding, at most N-1 elements of each kind
    EXPECT_NEAR(static_cast<double>(acc.total()), expected[stage], pad) << "stage " << stage;
    // What is allocated beyond the accounting: rotary tables and small buffers only.
    EXPECT_GE(measured, acc.total()) << "stage " << stage;
    EXPECT_LT(measured - acc.total(), 64 * 1024) << "stage " << stage;
    if (mpi_comm().rank() == 0) {
      std::printf(
          "stage %d, %d ranks: params %lld + grads %lld + optimizer %lld = %lld bytes "
          "accounted, %lld allocated (%.2f of one process)\n",
          stage, world, static_cast<long long>(acc.parameters),
          static_cast<long long>(acc.gradients), static_cast<long long>(acc.optimizer),
          static_cast<long long>(acc.total()), static_cast<long long>(measured),
          static_cast<double>(acc.total()) / static_cast<double>(single));
    }
  }
}

// A directory every rank names alike (rank 0's process id), removed by rank 0 at the end.
class SharedDir {
 public:
  SharedDir() {
    const int64_t id = broadcast_value(mpi_comm(), ::getpid(), 0);
    path_ = (std::filesystem::temp_directory_path() / str("llmtune-zero-test-", id)).string();
    mpi_comm().barrier();
  }
  ~SharedDir() {
    mpi_comm().barrier();
    std::error_code ec;
    if (mpi_comm().rank() == 0) std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct Resumable {
  std::vector<double> head, tail;  // steps 1..N, and N+1..2N after resuming
  std::vector<std::vector<float>> weights;
};

// N steps with a checkpoint at N, then a fresh model and trainer resumed from it for N more.
Resumable resumed_run(const std::string& name, bool lora, int64_t accumulation, int64_t steps,
                      Communicator* comm, const ZeroOptions& z, const std::string& out,
                      const std::string& resume_from = "") {
  train::TrainerOptions o = options(accumulation, 2 * steps);
  o.comm = comm;
  o.zero = z;
  o.output_dir = out;
  o.save_steps = steps;
  Resumable r;
  if (resume_from.empty()) {
    auto m = load(name, lora);
    train::TrainerHooks stop;
    stop.stop_after = [steps](int64_t s) { return s == steps; };
    train::Trainer first(*m, samples(40, m->config().vocab_size), o, stop);
    r.head = first.train().losses;
  }
  auto m = load(name, lora);
  {
    train::Trainer second(*m, samples(40, m->config().vocab_size), o);
    second.resume(resume_from.empty() ? train::checkpoint_dir(out, steps) : resume_from);
    r.tail = second.train().losses;
  }
  for (const model::ParamRef& p : m->parameters()) r.weights.push_back(p.value->to_f32());
  return r;
}

class ZeroCheckpoint : public testing::TestWithParam<std::tuple<int, bool>> {};

// A sharded checkpoint resumes with the same ranks bit for bit; exported, it resumes in one
// process with the same global batch and follows the sharded run.
TEST_P(ZeroCheckpoint, ResumesExactlyAndExportsForAnyWorldSize) {
  const auto& [stage, lora] = GetParam();
  const int world = mpi_comm().world_size();
  const int64_t steps = 4, accumulation = 2;
  SharedDir dir;
  const Trained straight =
      train_run("llama_gqa", lora, accumulation, 2 * steps, &mpi_comm(), zero(stage));
  const Resumable split = resumed_run("llama_gqa", lora, accumulation, steps, &mpi_comm(),
                                      zero(stage), dir.file("split"));
  ASSERT_EQ(split.head.size() + split.tail.size(), straight.losses.size());
  for (size_t i = 0; i < split.head.size(); ++i) EXPECT_EQ(split.head[i], straight.losses[i]);
  for (size_t i = 0; i < split.tail.size(); ++i)
    EXPECT_EQ(split.tail[i], straight.losses[steps + i]) << "step " << steps + i + 1;
  EXPECT_EQ(split.weights, straight.weights);

  const std::string ckpt = train::checkpoint_dir(dir.file("split"), steps);
  const bool sharded = world > 1 && stage >= 1;
  EXPECT_EQ(std::filesystem::exists(ckpt + "/zero/layout.json"), sharded);
  if (mpi_comm().rank() == 0 && sharded) train::checkpoint_export(ckpt, dir.file("whole"));
  mpi_comm().barrier();
  const std::string whole = sharded ? dir.file("whole") : ckpt;
  // One process (every rank on its own) with accumulation x ranks continues the run.
  const Resumable alone =
      resumed_run("llama_gqa", lora, accumulation * world, steps, nullptr, ZeroOptions{},
                  dir.file(str("alone-", mpi_comm().rank())), whole);
  ASSERT_EQ(alone.tail.size(), static_cast<size_t>(steps));
  for (size_t i = 0; i < alone.tail.size(); ++i) {
    EXPECT_LT(relative(alone.tail[i], straight.losses[steps + i]), 1e-6)
        << "step " << steps + i + 1;
  }
  if (sharded) {  // the sharded directory itself refuses another world size, saying what to do
    auto m = load("llama_gqa", lora);
    train::TrainerOptions o = options(accumulation * world, 2 * steps);
    train::Trainer other(*m, samples(40, m->config().vocab_size), o);
    try {
      other.resume(ckpt);
      ADD_FAILURE() << "a checkpoint sharded over " << world << " ranks resumed in one";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("llmtune checkpoint export"), std::string::npos)
          << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Stages, ZeroCheckpoint,
                         testing::Combine(testing::Values(1, 2, 3), testing::Bool()),
                         [](const auto& info) {
                           return str("stage", std::get<0>(info.param),
                                      std::get<1>(info.param) ? "_lora" : "_full");
                         });

}  // namespace
}  // namespace llmtune::parallel

int main(int argc, char** argv) {
  return llmtune::test::mpi_test_main(argc, argv);
}
