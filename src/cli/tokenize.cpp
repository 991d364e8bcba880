// llmtune tokenize --tokenizer DIR TEXT...        ids and pieces of each text
// llmtune tokenize --tokenizer DIR --decode IDS   the text of ids ("1,15043,3186" or "1 15043")
// llmtune tokenize --tokenizer DIR --chat FILE.json [--add-generation-prompt]
//                                                 the rendered chat template and its ids
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "text/chat.h"
#include "text/tokenizer.h"

namespace llmtune::cli {

namespace {

struct TokenizeArgs {
  std::string dir;
  std::vector<std::string> texts;
  std::string decode;
  std::string chat;
  std::string backend = "auto";
  std::string chat_template;
  bool add_generation_prompt = false;
  bool no_special = false;
  bool literal_special = false;
  bool skip_special = false;
};

// A piece as a JSON string: shows spaces, newlines and "▁" unambiguously.
std::string quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void print_ids(const text::Tokenizer& t, const std::vector<int32_t>& ids) {
  std::printf("%zu tokens\n", ids.size());
  for (int32_t id : ids) std::printf("%8d  %s\n", id, quoted(t.id_to_token(id)).c_str());
}

void run(const TokenizeArgs& a) {
  if (a.chat.empty() && (a.add_generation_prompt || !a.chat_template.empty()))
    throw Error("--add-generation-prompt and --chat-template apply to --chat FILE.json");
  if (a.decode.empty() && a.skip_special) throw Error("--skip-special applies to --decode IDS");
  text::TokenizerOptions options;
  options.backend = a.backend;
  const auto t = text::tokenizer_load(a.dir, options);
  text::EncodeOptions encode;
  encode.add_special_tokens = !a.no_special;
  encode.parse_special = !a.literal_special;
  if (!a.decode.empty()) {
    std::printf("%s\n",
                quoted(t->decode(parse_token_ids(a.decode, "--decode"), a.skip_special)).c_str());
    return;
  }
  if (!a.chat.empty()) {
    text::ChatOptions chat;
    chat.add_generation_prompt = a.add_generation_prompt;
    if (!a.chat_template.empty())
      chat.template_override = text::chat_template_resolve(a.chat_template);
    const std::string rendered = text::apply_chat_template(*t, text::chat_load(a.chat), chat);
    std::printf("rendered (%s tokenizer):\n%s\n", t->kind(), quoted(rendered).c_str());
    text::EncodeOptions e;
    e.add_special_tokens = false;  // apply_chat_template(tokenize=True) adds nothing around
    print_ids(*t, t->encode(rendered, e));
    return;
  }
  if (a.texts.empty()) throw Error("give a TEXT to tokenize, --decode IDS, or --chat FILE.json");
  for (size_t i = 0; i < a.texts.size(); ++i) {
    if (i > 0) std::printf("\n");
    std::printf("%s (%s tokenizer)\n", quoted(a.texts[i]).c_str(), t->kind());
    print_ids(*t, t->encode(a.texts[i], encode));
  }
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Show how a model's tokenizer splits text, decodes ids, renders a chat");
  cmd->footer(
      "Examples:\n"
      "  llmtune tokenize --tokenizer ../shared/fixtures/llama2-tokenizer \"Hello world\"\n"
      "  llmtune tokenize --tokenizer ../shared/fixtures/llama2-tokenizer --decode 1,15043,3186\n"
      "  llmtune tokenize --tokenizer MODEL_DIR --chat chat.json --add-generation-prompt");
  cmd->add_option("--tokenizer", args->dir, "Model directory with tokenizer.json / tokenizer.model")
      ->required();
  cmd->add_option("texts", args->texts, "Texts to tokenize");
  cmd->add_option("--decode", args->decode, "Token ids to turn back into text");
  cmd->add_option("--chat", args->chat, "JSON file with [{\"role\", \"content\"}, ...] to render");
  cmd->add_flag("--add-generation-prompt", args->add_generation_prompt,
                "With --chat: end with the assistant prompt");
  cmd->add_option("--chat-template", args->chat_template,
                  "With --chat: a built-in template name (mistral, llama-2, zephyr, chatml, "
                  "llama-3) or a Jinja file instead of the tokenizer's");
  cmd->add_option("--backend", args->backend, "auto, tokenizer.json or sentencepiece")
      ->capture_default_str();
  cmd->add_flag("--no-special", args->no_special, "Do not add BOS/EOS around the text");
  cmd->add_flag("--literal-special", args->literal_special,
                "Treat \"<s>\" and other special tokens in the text as plain text");
  cmd->add_flag("--skip-special", args->skip_special, "With --decode: leave out special tokens");
  cmd->callback([args] { run(*args); });
}

}  // namespace llmtune::cli
