// Text encoded by the real tokenizers of ../shared/fixtures (Llama 2's tokenizer.json and
// tokenizer.model, Mistral's tokenizer.model), and decoded back. Without them it does nothing.
#include <filesystem>
#include <memory>

#include "fuzz/targets.h"
#include "text/tokenizer.h"

namespace llmtune::fuzz {

namespace {

std::vector<std::unique_ptr<text::Tokenizer>> load() {
  std::vector<std::unique_ptr<text::Tokenizer>> out;
  const std::string fixtures = std::string(LLMTUNE_SHARED_DIR) + "/fixtures/";
  if (std::filesystem::exists(fixtures + "llama2-tokenizer/tokenizer.json")) {
    out.push_back(text::tokenizer_load(fixtures + "llama2-tokenizer", {"tokenizer.json", ""}));
    out.push_back(text::tokenizer_load(fixtures + "llama2-tokenizer", {"sentencepiece", ""}));
  }
  if (std::filesystem::exists(fixtures + "mistral-tokenizer/tokenizer.model"))
    out.push_back(text::tokenizer_load(fixtures + "mistral-tokenizer", {"sentencepiece", ""}));
  return out;
}

}  // namespace

int fuzz_tokenizer_encode(const uint8_t* data, size_t size) {
  static const std::vector<std::unique_ptr<text::Tokenizer>> tokenizers = load();
  const std::string_view text = fuzz_bytes(data, size);
  return fuzz_run([&] {
    for (const auto& t : tokenizers) {
      for (bool special : {true, false}) {
        const std::vector<int32_t> ids = t->encode(text, {special, special});
        (void)t->decode(ids, !special);
      }
    }
  });
}

}  // namespace llmtune::fuzz
