// apply_chat_template through real tokenizers: the reference workflow's Mistral token stream
// (system text merged into the user turn, the template's own BOS, the double BOS that
// tokenizer(text) would add), and the errors. Template rendering itself is checked against
// python3-jinja2 in jinja_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "support/compare.h"
#include "support/errors.h"
#include "text/chat.h"
#include "text/jinja.h"

namespace llmtune::text {
namespace {

namespace fs = std::filesystem;

// Mistral-7B-Instruct-v0.2's original template (INTEROP §4.4).
const char* kMistralV02 =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] "
    "' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
    "message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles "
    "are "
    "supported!') }}{% endif %}{% endfor %}";

const char* kSystem =
    "You are a helpful programmer assistant that excels at SQL. When prompted with a task and a "
    "definition of an SQL table, you respond with a SQL query to retrieve information from the "
    "table. Don't explain your reasoning, only provide the SQL query.";

class MistralChat : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string model = test::shared_dir() + "/fixtures/mistral-tokenizer/tokenizer.model";
    if (!fs::exists(model)) GTEST_SKIP() << "fixture " << model << " absent";
    dir_ = fs::temp_directory_path() / ("llmtune-chat-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    fs::copy_file(model, dir_ / "tokenizer.model", fs::copy_options::overwrite_existing);
    nlohmann::json config = {{"add_bos_token", true},
                             {"add_eos_token", false},
                             {"bos_token", "<s>"},
                             {"eos_token", "</s>"},
                             {"unk_token", "<unk>"},
                             {"pad_token", nullptr},
                             {"legacy", true},
                             {"tokenizer_class", "LlamaTokenizer"},
                             {"chat_template", kMistralV02}};
    write_file_atomic((dir_ / "tokenizer_config.json").string(), config.dump(2));
    tokenizer_ = tokenizer_load(dir_.string());
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  fs::path dir_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(MistralChat, SystemTextJoinsTheFirstUserTurn) {
  const std::string user =
      "Task: How many heads?\nSQL table: CREATE TABLE head (age INTEGER)\nSQL query: ";
  const std::vector<ChatMessage> chat = {
      {"system", kSystem}, {"user", user}, {"assistant", "SELECT COUNT(*) FROM head"}};
  const std::string rendered = apply_chat_template(*tokenizer_, chat);
  EXPECT_EQ(rendered, std::string("<s>[INST] ") + kSystem + "\n" + user +
                          " [/INST]SELECT COUNT(*) FROM head</s>");
  // The template's "<s>" is the only BOS, then "▁[INST]" as a new word (legacy), and the EOS.
  const std::vector<int32_t> ids = encode_chat(*tokenizer_, chat);
  ASSERT_GE(ids.size(), 5u);
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + 4),
            (std::vector<int32_t>{1, 733, 16289, 28793}));
  EXPECT_EQ(ids.back(), 2);
  // tokenizer(text) adds its own BOS in front: the reference stack's double BOS (INTEROP §4.6).
  const std::vector<int32_t> doubled = tokenizer_->encode(rendered);
  EXPECT_EQ(std::vector<int32_t>(doubled.begin(), doubled.begin() + 5),
            (std::vector<int32_t>{1, 1, 733, 16289, 28793}));

  ChatOptions strict;
  strict.merge_rejected_system = false;
  EXPECT_THROW(apply_chat_template(*tokenizer_, chat, strict), jinja::TemplateRaised);
  const std::vector<ChatMessage> assistant_first = {{"assistant", "hi"}, {"user", "hello"}};
  try {
    apply_chat_template(*tokenizer_, assistant_first);
    FAIL() << "the template accepted an assistant turn first";
  } catch (const jinja::TemplateRaised& e) {
    EXPECT_STREQ(e.what(), "Conversation roles must alternate user/assistant/user/assistant/...");
  }
}

TEST_F(MistralChat, OverrideTemplateAndGenerationPrompt) {
  ChatOptions o;  // the blog's ChatML for TinyLlama-Chat-v0.4 (INTEROP §4.5)
  o.template_override.source =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] "
      "+ '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
      "'<|im_start|>assistant\n' "
      "}}{% endif %}";
  o.add_generation_prompt = true;
  EXPECT_EQ(apply_chat_template(*tokenizer_, {{"user", "Hi"}}, o),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(Chat, ErrorsNameTheProblem) {
  const std::string model = test::shared_dir() + "/fixtures/mistral-tokenizer";
  if (!fs::exists(model)) GTEST_SKIP() << "fixture " << model << " absent";
  const auto t = tokenizer_load(model);  // a bare tokenizer.model: no template
  try {
    apply_chat_template(*t, {{"user", "hi"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no chat_template"), std::string::npos);
  }
  const fs::path file =
      fs::temp_directory_path() / ("llmtune-chat-" + std::to_string(::getpid()) + ".json");
  write_file_atomic(file.string(), R"([{"role": "user"}])");
  try {
    chat_load(file.string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("message 0"), std::string::npos) << e.what();
  }
  write_file_atomic(file.string(), R"({"messages": [{"role": "user", "content": "hi"}]})");
  EXPECT_EQ(chat_load(file.string()).size(), 1u);
  fs::remove(file);
}

}  // namespace
}  // namespace llmtune::text

namespace llmtune::text {
namespace {

// The built-in templates are the texts the rendering tests check against python3-jinja2.
TEST(BuiltinTemplates, SameTextsAsTheRenderingTests) {
  const nlohmann::json all =
      read_json(std::string(LLMTUNE_SOURCE_DIR) + "/tests/text/chat_templates.json");
  const std::pair<const char*, const char*> names[] = {
      {"mistral", "mistral-7b-instruct-v0.2-original"},
      {"mistral-v0.1", "mistral-7b-instruct-v0.1"},
      {"llama-2", "llama-2-chat"},
      {"zephyr", "tinyllama-1.1b-chat-v1.0"},
      {"chatml", "chatml-blog-tinyllama-v0.4"},
      {"llama-3", "llama-3-instruct"}};
  for (auto [builtin, tested] : names) {
    const char* text = builtin_chat_template(builtin);
    ASSERT_NE(text, nullptr) << builtin;
    bool found = false;
    for (const nlohmann::json& t : all["templates"]) {
      if (t["name"] == tested) {
        EXPECT_EQ(t["template"].get<std::string>(), text) << builtin;
        found = true;
      }
    }
    EXPECT_TRUE(found) << tested;
  }
  EXPECT_EQ(builtin_chat_template_names().size(), 6u);
  EXPECT_EQ(builtin_chat_template("nope"), nullptr);
  EXPECT_THROW(chat_template_resolve("nope"), Error);
  EXPECT_EQ(chat_template_resolve("zephyr").source, builtin_chat_template("zephyr"));
}

// A broken or runaway template says which template it is: the file it came from, or the
// built-in's name.
TEST_F(MistralChat, TemplateErrorsNameTheTemplatesOrigin) {
  const std::string config = (dir_ / "tokenizer_config.json").string();
  nlohmann::json j = read_json(config);
  j["chat_template"] = "{{ messages[0]['content'] }} {{ 1 + }}";
  write_file_atomic(config, j.dump());
  auto broken = tokenizer_load(dir_.string());
  const std::vector<ChatMessage> chat = {{"user", "hi"}};
  EXPECT_TRUE(test::throws_error([&] { apply_chat_template(*broken, chat); },
                                 {"chat template " + config, "line 1, column 37"}));
  j["chat_template"] = "{{ 'a' * 10000000000 }}";
  write_file_atomic(config, j.dump());
  auto runaway = tokenizer_load(dir_.string());
  EXPECT_TRUE(test::throws_error([&] { apply_chat_template(*runaway, chat); },
                                 {"chat template " + config, "more than 16 MiB"}));
  ChatOptions o;
  o.template_override = chat_template_resolve("zephyr");
  o.template_override.source += "{% for %}";
  EXPECT_TRUE(test::throws_error([&] { apply_chat_template(*tokenizer_, chat, o); },
                                 {"chat template built-in template zephyr"}));
  j["chat_template"] = 5;
  write_file_atomic(config, j.dump());
  EXPECT_TRUE(test::throws_error([&] { tokenizer_load(dir_.string()); },
                                 {config, "\"chat_template\" must be a string"}));
}

}  // namespace
}  // namespace llmtune::text
