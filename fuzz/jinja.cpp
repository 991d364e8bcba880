// A chat template (Jinja), parsed and rendered with a conversation as Transformers passes it.
#include "text/jinja.h"
#include "fuzz/targets.h"

namespace llmtune::fuzz {

int fuzz_jinja(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json kContext = {
      {"messages",
       {{{"role", "system"}, {"content", "You are a SQL assistant."}},
        {{"role", "user"}, {"content", "How many rows?\nCREATE TABLE t (id INT)"}},
        {{"role", "assistant"}, {"content", "SELECT COUNT(*) FROM t"}},
        {{"role", "user"}, {"content", "naïve 🦙 \"quoted\" {{ not a tag }}"}}}},
      {"add_generation_prompt", true},
      {"bos_token", "<s>"},
      {"eos_token", "</s>"},
      {"unk_token", "<unk>"},
      {"pad_token", nullptr}};
  const std::string_view source = fuzz_bytes(data, size);
  return fuzz_run([&] {
    const text::jinja::Template t(source);
    (void)t.render(kContext);
  });
}

}  // namespace llmtune::fuzz
