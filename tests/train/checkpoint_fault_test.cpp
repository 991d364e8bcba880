// Faults that must lose nothing: a checkpoint's manifest catches a file truncated or damaged
// after saving; a disk that fills up while a checkpoint is written (a real small tmpfs where the
// test may mount one, and always the fault injection LLMTUNE_FAULT_ENOSPC) gives a clear error,
// leaves nothing half-written, keeps the checkpoint before intact and the run resumable.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

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

std::vector<data::Sample> samples(int64_t n) {
  return test::labelled_samples(n, 7, 10);
}

std::unique_ptr<model::LlamaModel> make_model() {
  model::ModelOptions o;
  o.training = model::Training::kFull;
  auto m = std::make_unique<model::LlamaModel>(test::tiny_llama(64, 0.2), o);
  m->init_weights(5);
  return m;
}

TrainerOptions options(const std::string& out) {
  TrainerOptions o;
  o.max_steps = 4;
  o.batch_size = 2;
  o.schedule.lr = 3e-3;
  o.schedule.total_steps = 4;
  o.output_dir = out;
  o.save_steps = 2;
  o.save_final = false;
  return o;
}

// Trains to max_steps into `out`, from its checkpoint of `from` when > 0; the losses.
std::vector<double> train_into(const std::string& out, int64_t from = 0) {
  auto m = make_model();
  Trainer t(*m, samples(12), options(out));
  if (from > 0) t.resume(checkpoint_dir(out, from));
  return t.train().losses;
}

void truncate_to(const std::string& path, uint64_t bytes) {
  fs::resize_file(path, bytes);
}

void flip_byte(const std::string& path, uint64_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  const char c = static_cast<char>(f.get());
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(c ^ 0x20));
}

// Every file of a saved checkpoint is in its manifest, and the checkpoint verifies.
TEST(CheckpointManifest, ListsEveryFileAndVerifies) {
  test::ScratchDir dir;
  train_into(dir.str());
  const std::string ckpt = checkpoint_dir(dir.str(), 4);
  EXPECT_TRUE(checkpoint_verify(ckpt));
  const nlohmann::json m = read_json(ckpt + "/manifest.json");
  EXPECT_EQ(m["format"], "llmtune-checkpoint-manifest-1");
  for (const std::string& f : test::ScratchDir::listing_of(ckpt)) {
    if (f == "manifest.json") continue;
    ASSERT_TRUE(m["files"].contains(f)) << f;
    EXPECT_EQ(m["files"][f]["bytes"].get<uint64_t>(), fs::file_size(ckpt + "/" + f)) << f;
  }
  EXPECT_TRUE(m["files"].contains("optimizer.safetensors"));
  EXPECT_TRUE(m["files"].contains("train_state.json"));
}

// A file truncated, changed by one bit, or missing, and a damaged manifest, are each named; a
// checkpoint without a manifest (an older llmtune's) cannot be checked and says so (false).
TEST(CheckpointManifest, TruncatedDamagedOrMissingFilesAreNamed) {
  test::ScratchDir dir;
  train_into(dir.str());
  const std::string ckpt = checkpoint_dir(dir.str(), 4);
  const std::string optimizer = ckpt + "/optimizer.safetensors";
  const std::string weights = ckpt + "/model.safetensors";
  const std::string good_optimizer = read_file(optimizer), good_weights = read_file(weights);
  const uint64_t size = good_optimizer.size();
  truncate_to(optimizer, size / 2);
  EXPECT_TRUE(test::throws_error([&] { checkpoint_verify(ckpt); },
                                 {optimizer, "has " + std::to_string(size / 2) + " bytes",
                                  "records " + std::to_string(size), "truncated", "is damaged"}));
  write_file_atomic(optimizer, good_optimizer);
  flip_byte(weights, good_weights.size() - 3);
  EXPECT_TRUE(test::throws_error([&] { checkpoint_verify(ckpt); },
                                 {weights, "CRC32C", "recorded in " + ckpt + "/manifest.json"}));
  write_file_atomic(weights, good_weights);
  EXPECT_TRUE(checkpoint_verify(ckpt));
  fs::remove(ckpt + "/trainer_state.json");
  EXPECT_TRUE(test::throws_error([&] { checkpoint_verify(ckpt); },
                                 {ckpt + "/trainer_state.json is missing", "manifest.json lists"}));
  const std::string manifest = read_file(ckpt + "/manifest.json");
  write_file_atomic(ckpt + "/manifest.json", manifest.substr(0, manifest.size() / 2));
  EXPECT_TRUE(test::throws_error([&] { checkpoint_verify(ckpt); }, {ckpt + "/manifest.json"}));
  fs::remove(ckpt + "/manifest.json");
  EXPECT_FALSE(checkpoint_verify(ckpt));
}

// The fault injection stops the write of checkpoint-4's optimizer file halfway with ENOSPC, as
// a full disk does: the error names the checkpoint, the cause and the last complete checkpoint;
// nothing of checkpoint-4 is left; checkpoint-2 verifies; resuming from it once there is space
// trains exactly the steps the failed run would have.
TEST(CheckpointDiskFull, InjectedEnospcKeepsTheCheckpointBeforeAndResumes) {
  test::ScratchDir dir;
  const std::vector<double> straight = train_into(dir.file("straight"));
  const std::string run = dir.file("run");
  ::setenv("LLMTUNE_FAULT_ENOSPC", "checkpoint-4.partial/optimizer", 1);
  const bool failed = test::throws_error(
      [&] { train_into(run); },
      {"checkpoint " + checkpoint_dir(run, 4) + " was not saved", "No space left on device",
       checkpoint_dir(run, 2) + " is the last complete checkpoint", "Free space"});
  ::unsetenv("LLMTUNE_FAULT_ENOSPC");
  EXPECT_TRUE(failed);
  EXPECT_EQ(test::ScratchDir::listing_of(run), std::vector<std::string>{"checkpoint-2"});
  EXPECT_TRUE(checkpoint_verify(checkpoint_dir(run, 2)));
  const std::vector<double> tail = train_into(run, 2);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0], straight[2]);
  EXPECT_EQ(tail[1], straight[3]);
  EXPECT_TRUE(checkpoint_verify(checkpoint_dir(run, 4)));
}

// A tmpfs mounted here for the test (root only: skipped with the reason elsewhere).
class SmallDisk {
 public:
  SmallDisk(const std::string& dir, const std::string& size) : dir_(dir) {
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0) {
      why_ = std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (why_.empty()) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  const std::string& why_not() const { return why_; }

 private:
  std::string dir_, why_;
};

// Fills the disk holding `path` up to `spare` bytes with the file `path`.
void fill_disk(const std::string& path, uint64_t spare) {
  {
    std::ofstream f(path, std::ios::binary);
    const std::string block(4096, 'x');
    while (f.write(block.data(), block.size())) {
    }
  }
  const uint64_t full = fs::file_size(path);
  fs::resize_file(path, full > spare ? full - spare : 0);
}

// The same with a real full disk: a tmpfs with room for the first checkpoint but, once filled,
// not for the second.
TEST(CheckpointDiskFull, RealFullTmpfsKeepsTheCheckpointBeforeAndResumes) {
  test::ScratchDir dir;
  const std::string run = dir.file("disk");
  fs::create_directories(run);
  SmallDisk disk(run, "4m");
  if (!disk.why_not().empty()) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << disk.why_not()
                 << "); the fault-injection test covers the same path";
  }
  {
    auto m = make_model();
    TrainerOptions o = options(run);
    o.max_steps = 2;
    Trainer(*m, samples(12), o).train();
  }
  ASSERT_TRUE(checkpoint_verify(checkpoint_dir(run, 2)));
  uint64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(checkpoint_dir(run, 2)))
    if (e.is_regular_file()) bytes += e.file_size();
  fill_disk(run + "/filler", bytes / 2);
  EXPECT_TRUE(
      test::throws_error([&] { train_into(run, 2); },
                         {checkpoint_dir(run, 4) + " was not saved", "No space left on device",
                          checkpoint_dir(run, 2) + " is the last complete checkpoint"}));
  EXPECT_FALSE(fs::exists(checkpoint_dir(run, 4) + ".partial"));
  EXPECT_FALSE(fs::exists(checkpoint_dir(run, 4)));
  EXPECT_TRUE(checkpoint_verify(checkpoint_dir(run, 2)));
  fs::remove(run + "/filler");
  EXPECT_EQ(train_into(run, 2).size(), 2u);
  EXPECT_TRUE(checkpoint_verify(checkpoint_dir(run, 4)));
}

}  // namespace
}  // namespace llmtune::train
