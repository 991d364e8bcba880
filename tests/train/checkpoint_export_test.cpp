// checkpoint export against what a stranger's (or a crash's) files can hold: it consolidates a
// sharded checkpoint exactly, and refuses overlapping or out-of-range pieces, an --out inside
// the source, and an existing temporary, without touching what is already there.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>

#include "core/files.h"
#include "io/safetensors.h"
#include "support/errors.h"
#include "support/scratch.h"
#include "support/tiny_llama.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace llmtune::train {
namespace {

namespace fs = std::filesystem;

std::string rank_file(int rank, int world) {
  char name[64];
  std::snprintf(name, sizeof name, "optimizer-rank-%05d-of-%05d.safetensors", rank, world);
  return name;
}

// A one-step checkpoint of a tiny model, rewritten the way two ZeRO ranks write theirs: each
// rank holds one half of every moment ("exp_avg.NAME@BEGIN"). `edit` may change rank 1's pieces.
class ShardedCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    model::ModelOptions mo;
    mo.training = model::Training::kFull;
    model::LlamaModel m(test::tiny_llama(64, 0.2), mo);
    m.init_weights(3);
    std::vector<data::Sample> samples(4);
    for (data::Sample& s : samples) {
      s.input_ids = {1, 5, 9, 13, 17, 21};
      s.labels = {-100, -100, -100, 13, 17, 21};
      s.prompt_length = 3;
      s.full_length = 6;
    }
    TrainerOptions o;
    o.max_steps = 1;
    o.batch_size = 2;
    o.output_dir = dir_.file("run");
    Trainer(m, samples, o).train();
    ckpt_ = checkpoint_dir(dir_.file("run"), 1);
    whole_ = read_file(ckpt_ + "/optimizer.safetensors");
  }

  void shard(const std::function<void(io::NamedTensors& rank1)>& edit = {}) {
    write_file_atomic(ckpt_ + "/optimizer.safetensors", whole_);  // as Trainer wrote it
    const auto file = io::SafetensorsFile::open(ckpt_ + "/optimizer.safetensors");
    io::NamedTensors ranks[2];
    nlohmann::json layout = {
        {"world_size", 2}, {"stage", 1}, {"parameters", nlohmann::json::array()}};
    for (const io::SafetensorsEntry& e : file->entries()) {
      const Tensor t = file->tensor(e.name).to(DType::F32);
      const Tensor flat = t.view({t.numel()});
      const int64_t half = t.numel() / 2;
      const std::string kind = e.name.substr(0, e.name.find('.'));
      const std::string name = e.name.substr(e.name.find('.') + 1);
      ranks[0].emplace_back(e.name + "@0", flat.narrow(0, 0, half).clone());
      ranks[1].emplace_back(e.name + "@" + std::to_string(half),
                            flat.narrow(0, half, t.numel() - half).clone());
      if (kind == "exp_avg") layout["parameters"].push_back({{"name", name}, {"shape", t.shape()}});
    }
    if (edit) edit(ranks[1]);
    fs::create_directories(ckpt_ + "/zero");
    for (int r = 0; r < 2; ++r) io::safetensors_write(ckpt_ + "/zero/" + rank_file(r, 2), ranks[r]);
    write_file_atomic(ckpt_ + "/zero/layout.json", layout.dump());
    nlohmann::json state = read_json(ckpt_ + "/train_state.json");
    state["zero"] = {{"sharded", true}, {"world_size", 2}, {"stage", 1}};
    write_file_atomic(ckpt_ + "/train_state.json", state.dump());
    fs::remove(ckpt_ + "/optimizer.safetensors");
  }

  test::ScratchDir dir_;
  std::string ckpt_, whole_;
};

TEST_F(ShardedCheckpoint, ExportReassemblesTheMomentsExactly) {
  shard();
  checkpoint_export(ckpt_, dir_.file("whole/"));  // a trailing slash names the same directory
  EXPECT_EQ(read_file(dir_.file("whole/optimizer.safetensors")), whole_);
  EXPECT_FALSE(read_json(dir_.file("whole/train_state.json"))["zero"]["sharded"]);
  EXPECT_FALSE(fs::exists(dir_.file("whole.partial")));
  EXPECT_TRUE(checkpoint_verify(dir_.file("whole")));  // its own manifest, not the source's
  EXPECT_FALSE(read_json(dir_.file("whole/manifest.json"))["files"].contains("zero/layout.json"));
}

TEST_F(ShardedCheckpoint, OutInsideTheSourceOrAnExistingTemporaryIsRefused) {
  shard();
  EXPECT_TRUE(test::throws_error([&] { checkpoint_export(ckpt_, ckpt_ + "/inner"); },
                                 {"lies inside the checkpoint"}));
  EXPECT_TRUE(test::throws_error([&] { checkpoint_export(ckpt_, ckpt_); }, {"exists"}));
  EXPECT_FALSE(fs::exists(ckpt_ + "/inner.partial"));
  fs::create_directories(dir_.file("precious.partial"));
  write_file_atomic(dir_.file("precious.partial/notes.txt"), "keep");
  EXPECT_TRUE(test::throws_error([&] { checkpoint_export(ckpt_, dir_.file("precious")); },
                                 {"precious.partial exists", "remove it or choose another"}));
  EXPECT_EQ(read_file(dir_.file("precious.partial/notes.txt")), "keep");
  EXPECT_TRUE(test::throws_error([&] { checkpoint_export(ckpt_, ""); }, {"--out needs"}));
}

TEST_F(ShardedCheckpoint, OverlappingOrOutOfRangePiecesAreRefused) {
  // Rank 1 repeats rank 0's half instead of holding its own: every element of the first half
  // twice, none of the second.
  shard([](io::NamedTensors& rank1) {
    for (auto& [name, t] : rank1) name = name.substr(0, name.rfind('@')) + "@0";
  });
  EXPECT_TRUE(test::throws_error([&] { checkpoint_export(ckpt_, dir_.file("a")); }, {"overlap"}));
  EXPECT_FALSE(fs::exists(dir_.file("a")));
  EXPECT_FALSE(fs::exists(dir_.file("a.partial")));
  // An offset at the end of int64 would overflow a naive bounds check and write out of bounds.
  shard([](io::NamedTensors& rank1) {
    rank1[0].first = rank1[0].first.substr(0, rank1[0].first.rfind('@')) + "@9223372036854775807";
  });
  EXPECT_TRUE(test::throws_error([&] { checkpoint_export(ckpt_, dir_.file("b")); },
                                 {"lies outside its parameter"}));
  shard([](io::NamedTensors& rank1) {
    rank1[0].first = rank1[0].first.substr(0, rank1[0].first.rfind('@')) + "@abc";
  });
  EXPECT_TRUE(test::throws_error([&] { checkpoint_export(ckpt_, dir_.file("c")); },
                                 {"lies outside its parameter"}));
  write_file_atomic(ckpt_ + "/zero/layout.json", R"({"world_size": "two"})");
  EXPECT_TRUE(test::throws_error([&] { checkpoint_export(ckpt_, dir_.file("d")); },
                                 {"layout.json", "world_size"}));
}

}  // namespace
}  // namespace llmtune::train
