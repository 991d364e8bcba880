// The libFuzzer entry point of one target, chosen at compile time (LLMTUNE_FUZZ_TARGET).
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return llmtune::fuzz::LLMTUNE_FUZZ_TARGET(data, size);
}
