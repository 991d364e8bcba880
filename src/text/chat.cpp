#include "text/chat.h"

#include <filesystem>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/error.h"
#include "core/files.h"
#include "text/jinja.h"

namespace llmtune::text {

namespace {

using nlohmann::ordered_json;

// Templates are parsed once per distinct source: a dataset renders thousands of conversations.
const jinja::Template& compiled(const std::string& source) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::unique_ptr<jinja::Template>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[source];
  if (!slot) slot = std::make_unique<jinja::Template>(source);
  return *slot;
}

std::string render(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                   const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  ordered_json context = ordered_json::object();
  ordered_json list = ordered_json::array();
  for (const ChatMessage& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
  context["messages"] = list;
  context["add_generation_prompt"] = add_generation_prompt;
  const SpecialTokens& s = tokenizer.special_tokens();
  for (auto [key, value] : {std::pair{"bos_token", &s.bos_token},
                            {"eos_token", &s.eos_token},
                            {"unk_token", &s.unk_token},
                            {"pad_token", &s.pad_token}}) {
    if (!value->empty()) context[key] = *value;
  }
  try {
    return compiled(chat_template.source).render(context);
  } catch (const jinja::TemplateError& e) {
    throw Error(
        str("chat template ",
            chat_template.origin.empty() ? std::string("(given as text)") : chat_template.origin,
            ": ", e.what()));
  }
}

std::string builtin_names() {
  std::string names;
  for (const std::string& n : builtin_chat_template_names())
    names += (names.empty() ? "" : ", ") + n;
  return names;
}

}  // namespace

std::string apply_chat_template(const Tokenizer& tokenizer,
                                const std::vector<ChatMessage>& messages,
                                const ChatOptions& options) {
  const ChatTemplate& source =
      options.template_override.empty() ? tokenizer.chat_template() : options.template_override;
  if (source.empty()) {
    throw Error(
        "the tokenizer has no chat_template (tokenizer_config.json); give one: a built-in name "
        "(" +
        builtin_names() + ") or a Jinja file");
  }
  try {
    return render(source, tokenizer, messages, options.add_generation_prompt);
  } catch (const jinja::TemplateRaised&) {
    const bool system_first = !messages.empty() && messages[0].role == "system";
    if (!options.merge_rejected_system || !system_first || messages.size() < 2 ||
        messages[1].role != "user") {
      throw;
    }
    std::vector<ChatMessage> merged(messages.begin() + 1, messages.end());
    merged[0].content = messages[0].content + "\n" + merged[0].content;
    return render(source, tokenizer, merged, options.add_generation_prompt);
  }
}

std::vector<int32_t> encode_chat(const Tokenizer& tokenizer,
                                 const std::vector<ChatMessage>& messages,
                                 const ChatOptions& options) {
  EncodeOptions e;
  e.add_special_tokens = false;
  e.parse_special = true;
  return tokenizer.encode(apply_chat_template(tokenizer, messages, options), e);
}

ChatTemplate chat_template_resolve(const std::string& name_or_path) {
  if (const char* t = builtin_chat_template(name_or_path))
    return {t, "built-in template " + name_or_path};
  if (file_exists(name_or_path) && !std::filesystem::is_directory(name_or_path))
    return {read_file(name_or_path), name_or_path};
  throw Error(str("chat template \"", name_or_path, "\" is neither a built-in template (",
                  builtin_names(), ") nor a file"));
}

std::vector<ChatMessage> chat_load(const std::string& path) {
  nlohmann::json j = read_json(path);
  if (j.is_object() && j.contains("messages")) j = j["messages"];
  if (!j.is_array())
    throw Error(str(path, ": expected a list of {\"role\", \"content\"} messages"));
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& m = j[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string()) {
      throw Error(str(path, ": message ", i, " needs string fields \"role\" and \"content\""));
    }
    out.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  }
  return out;
}

}  // namespace llmtune::text
