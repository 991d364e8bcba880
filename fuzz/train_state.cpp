// A checkpoint's train_state.json (in a directory named checkpoint-4), checked as resuming
// checks it.
#include "fuzz/targets.h"
#include "train/checkpoint.h"

namespace llmtune::fuzz {

int fuzz_train_state(const uint8_t* data, size_t size) {
  fuzz_write("run/checkpoint-4/train_state.json", fuzz_bytes(data, size));
  return fuzz_run([&] {
    const std::string dir = fuzz_scratch() + "/run/checkpoint-4";
    const nlohmann::json state = train::checkpoint_state(dir);
    train::checkpoint_check_ranks(dir, state, 1);
  });
}

}  // namespace llmtune::fuzz
