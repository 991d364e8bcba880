#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fuzz/targets.h"

namespace llmtune::fuzz {

namespace fs = std::filesystem;

namespace {

// Owns the directory; its destructor runs at exit.
struct Scratch {
  std::string path;
  Scratch() {
    std::error_code ec;
    const fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    path = (base / ("llmtune-fuzz-" + std::to_string(::getpid()))).string();
    fs::remove_all(path, ec);
    fs::create_directories(path);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

const std::string& fuzz_scratch() {
  static const Scratch scratch;
  return scratch.path;
}

std::string fuzz_write(const std::string& name, std::string_view bytes) {
  const fs::path path = fs::path(fuzz_scratch()) / name;
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  LLMTUNE_CHECK(out.good(), "cannot write the fuzz input to ", path.string());
  return path.string();
}

const std::vector<Target>& fuzz_targets() {
  static const std::vector<Target> kTargets = {
      {"safetensors", fuzz_safetensors},
      {"hf_model", fuzz_hf_model},
      {"peft_adapter", fuzz_peft_adapter},
      {"tokenizer_json", fuzz_tokenizer_json},
      {"tokenizer_encode", fuzz_tokenizer_encode},
      {"jinja", fuzz_jinja},
      {"experiment", fuzz_experiment},
      {"deepspeed", fuzz_deepspeed},
      {"records", fuzz_records},
      {"predictions", fuzz_predictions},
      {"train_state", fuzz_train_state},
  };
  return kTargets;
}

}  // namespace llmtune::fuzz
