// Fuzz targets: what one libFuzzer input does to a parser. Each takes the input's bytes, feeds
// them to llmtune's own reader (through a file in a scratch directory when the reader takes a
// path) and returns 0. llmtune::Error is the expected answer to bad input; anything else that
// escapes (an InternalError from LLMTUNE_CHECK, a std::exception of a library, a sanitizer
// report) is a bug. The same functions run in the libFuzzer executables (fuzz/driver.cpp) and in
// the normal test suite, which replays the seeds and tests/fuzz_regressions (tests/fuzz).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace llmtune::fuzz {

using TargetFn = int (*)(const uint8_t* data, size_t size);

struct Target {
  const char* name;  // "safetensors": the executable is fuzz_<name>
  TargetFn fn;
};

int fuzz_safetensors(const uint8_t* data, size_t size);       // a .safetensors file
int fuzz_hf_model(const uint8_t* data, size_t size);          // config.json and the shard index
int fuzz_peft_adapter(const uint8_t* data, size_t size);      // adapter_config.json
int fuzz_tokenizer_json(const uint8_t* data, size_t size);    // tokenizer.json, then encoding
int fuzz_tokenizer_encode(const uint8_t* data, size_t size);  // text, real tokenizers (../shared)
int fuzz_jinja(const uint8_t* data, size_t size);             // a chat template, rendered
int fuzz_experiment(const uint8_t* data, size_t size);        // experiment YAML
int fuzz_deepspeed(const uint8_t* data, size_t size);         // DeepSpeed JSON
int fuzz_records(const uint8_t* data, size_t size);           // JSON Lines, JSON, CSV records
int fuzz_predictions(const uint8_t* data, size_t size);       // eval --predictions file
int fuzz_train_state(const uint8_t* data, size_t size);       // a checkpoint's train_state.json

// Every target, by name.
const std::vector<Target>& fuzz_targets();

// Runs `body`, treating llmtune::Error as the expected outcome. InternalError (a failed
// LLMTUNE_CHECK) and every other exception propagate: they are bugs, whatever the input.
template <typename F>
int fuzz_run(F&& body) {
  try {
    body();
  } catch (const InternalError&) {
    throw;
  } catch (const Error&) {
  }
  return 0;
}

// A per-process scratch directory (under /dev/shm when there is one), removed at exit.
const std::string& fuzz_scratch();
// Writes the bytes to fuzz_scratch()/`name` (creating its folder) and returns the path.
std::string fuzz_write(const std::string& name, std::string_view bytes);

inline std::string_view fuzz_bytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace llmtune::fuzz
