// A tokenizer.json, loaded and then used: fixed texts encoded (special tokens parsed and not)
// and the ids decoded back.
#include <array>

#include "fuzz/targets.h"
#include "text/hf_tokenizer.h"

namespace llmtune::fuzz {

int fuzz_tokenizer_json(const uint8_t* data, size_t size) {
  const std::string path = fuzz_write("tokenizer/tokenizer.json", fuzz_bytes(data, size));
  return fuzz_run([&] {
    const auto tokenizer = text::hf_tokenizer_load(path, {});
    static const std::array<const char*, 4> kTexts = {
        "Hello world! 1234 <s>[INST] naïve café [/INST]</s>",
        "  SELECT name FROM t WHERE id = 7;\n\ttabs\r\n",
        "日本語のテキスト 🦙 emoji \u200b zero width", ""};
    for (const char* t : kTexts) {
      for (bool special : {true, false}) {
        const std::vector<int32_t> ids = tokenizer->encode(t, {special, special});
        (void)tokenizer->decode(ids, !special);
        for (int32_t id : ids) (void)tokenizer->id_to_token(id);
      }
    }
    const int64_t n = tokenizer->vocab_size();
    for (int32_t id : {int32_t{0}, int32_t{-1}, static_cast<int32_t>(n - 1)}) {
      if (id >= 0 && id < n) (void)tokenizer->token_to_id(tokenizer->id_to_token(id));
    }
  });
}

}  // namespace llmtune::fuzz
