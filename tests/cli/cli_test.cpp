// The llmtune program as a user runs it: `llmtune tokenize`.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/run_cli.h"
#include "core/files.h"
#include "support/compare.h"

namespace llmtune {
namespace {

namespace fs = std::filesystem;

using Result = test::CliResult;

Result llmtune(const std::string& args) {
  return test::run_llmtune(args);
}

std::string llama2() {
  return test::shared_dir() + "/fixtures/llama2-tokenizer";
}

TEST(CliTokenize, IdsAndPiecesOfText) {
  if (!fs::exists(llama2())) GTEST_SKIP() << "fixture " << llama2() << " absent";
  const Result r = llmtune("tokenize --tokenizer " + llama2() + " 'Hello world'");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("3 tokens"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("15043  \"\u2581Hello\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3186  \"\u2581world\""), std::string::npos) << r.output;
  const Result bare = llmtune("tokenize --no-special --tokenizer " + llama2() + " 'Hello world'");
  EXPECT_NE(bare.output.find("2 tokens"), std::string::npos) << bare.output;
}

TEST(CliTokenize, DecodeAndChat) {
  if (!fs::exists(llama2())) GTEST_SKIP() << "fixture " << llama2() << " absent";
  Result r = llmtune("tokenize --tokenizer " + llama2() + " --decode 1,15043,3186");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output, "\"<s> Hello world\"\n");
  r = llmtune("tokenize --tokenizer " + llama2() + " --skip-special --decode '[1, 15043, 3186]'");
  EXPECT_EQ(r.output, "\"Hello world\"\n");
  const fs::path chat =
      fs::temp_directory_path() / ("llmtune-cli-" + std::to_string(::getpid()) + ".json");
  write_file_atomic(chat.string(), R"([{"role": "user", "content": "Hi"}])");
  // --chat-template takes a Jinja file (or a built-in name), as every verb does.
  const std::string jinja = chat.string() + ".jinja";
  write_file_atomic(jinja,
                    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
                    "{% if add_generation_prompt %}<|assistant|>{% endif %}");
  r = llmtune("tokenize --tokenizer " + llama2() + " --chat " + chat.string() +
              " --add-generation-prompt --chat-template " + jinja);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"<|user|>Hi<|assistant|>\""), std::string::npos) << r.output;
  r = llmtune("tokenize --tokenizer " + llama2() + " --chat " + chat.string() +
              " --chat-template chatml");  // a built-in name, not the literal text "chatml"
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("<|im_start|>user\\nHi<|im_end|>"), std::string::npos) << r.output;
  fs::remove(chat);
  fs::remove(jinja);
}

TEST(CliTokenize, ErrorsExitNonZeroWithTheReason) {
  Result r = llmtune("tokenize --tokenizer /nonexistent/model hi");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("/nonexistent/model"), std::string::npos) << r.output;
  if (fs::exists(llama2())) {
    r = llmtune("tokenize --tokenizer " + llama2() + " --decode 1,x");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("\"x\" is not a token id"), std::string::npos) << r.output;
    r = llmtune("tokenize --tokenizer " + llama2() + " --decode 99999");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("outside the vocabulary"), std::string::npos) << r.output;
  }
  r = llmtune("tokenize");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--tokenizer"), std::string::npos) << r.output;
  r = llmtune("no-such-verb");
  EXPECT_NE(r.code, 0);
}

}  // namespace
}  // namespace llmtune

namespace llmtune {
namespace {

class CliData : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("llmtune-cli-data-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name, const std::string& content) {
    const std::string p = (dir_ / name).string();
    write_file_atomic(p, content);
    return p;
  }
  std::string out() const { return (dir_ / "out").string(); }
  fs::path dir_;
};

// Each bad input exits with code 2 and says what is wrong and where.
TEST_F(CliData, BadInputsExitTwoWithTheReason) {
  struct Case {
    std::string name, args, expect;
  };
  const std::string good = file("good.jsonl", test::easy_rows(40));
  const std::vector<Case> cases = {
      {"missing file",
       "data prepare --source " + (dir_ / "nope.jsonl").string() + " --out " + out(), "nope.jsonl"},
      {"malformed JSON",
       "data prepare --source " + file("bad.jsonl", test::easy_rows(2) + "{\"instruction\": \n") +
           " --out " + out(),
       "bad.jsonl:3"},
      {"missing field",
       "data prepare --source " +
           file("nofield.jsonl", "{\"instruction\": \"q\", \"input\": \"t\"}\n") + " --out " +
           out(),
       "response"},
      {"not UTF-8",
       "data prepare --source " +
           file("latin1.jsonl",
                "{\"instruction\": \"caf\xe9\", \"input\": \"t\", \"response\": \"s\"}\n") +
           " --out " + out(),
       "UTF-8"},
      {"empty file", "data prepare --source " + file("empty.jsonl", "") + " --out " + out(),
       "empty"},
      {"non-string field",
       "data prepare --source " +
           file("num.jsonl", "{\"instruction\": 5, \"input\": \"t\", \"response\": \"s\"}\n") +
           " --out " + out(),
       "instruction"},
      {"bad CSV row",
       "data prepare --source " + file("bad.csv", "instruction,input,response\na,b\n") + " --out " +
           out(),
       "bad.csv:2"},
      {"unknown subset", "data prepare --source " + good + " --subset trivial --out " + out(),
       "trivial"},
      {"empty subset", "data prepare --source " + good + " --subset hard --out " + out(),
       "subset \"hard\""},
      {"too few to split",
       "data prepare --source " + file("few.jsonl", test::easy_rows(3)) + " --out " + out(),
       "too few"},
      {"unknown format", "data prepare --source " + good + " --format xml --out " + out(), "xml"},
      {"no synthetic databases", "data prepare --source synthetic --databases 0 --out " + out(),
       "database"},
      {"stats without tokenizer",
       "data stats --data " + good + " --tokenizer " + (dir_ / "none").string(), "none"},
      {"unknown chat template",
       "data stats --data " + good + " --tokenizer " + test::shared_dir() +
           "/fixtures/mistral-tokenizer --chat-template klingon",
       "klingon"},
  };
  for (const Case& c : cases) {
    const Result r = llmtune(c.args);
    EXPECT_EQ(r.code, 2) << c.name << ": " << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.name << ": " << r.output;
    EXPECT_EQ(r.output.find("internal error"), std::string::npos) << c.name << ": " << r.output;
    EXPECT_FALSE(fs::exists(out() + "/manifest.json")) << c.name << " left a manifest";
  }
}

TEST_F(CliData, PrepareSplitsAndStatsReports) {
  const Result r = llmtune("data prepare --source " + file("rows.jsonl", test::easy_rows(40)) +
                           " --out " + out());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("train 32, valid 4, test 4"), std::string::npos) << r.output;
  for (const char* f : {"train.jsonl", "valid.jsonl", "test.jsonl", "manifest.json"}) {
    EXPECT_TRUE(fs::exists(out() + "/" + f)) << f;
  }
  const std::string mistral = test::shared_dir() + "/fixtures/mistral-tokenizer";
  if (!fs::exists(mistral)) return;
  const Result s = llmtune("data stats --data " + out() + " --tokenizer " + mistral +
                           " --chat-template mistral --max-length 48 --svg " + out() + "/len.svg");
  EXPECT_EQ(s.code, 0) << s.output;
  EXPECT_NE(s.output.find("32 records"), std::string::npos) << s.output;
  EXPECT_NE(s.output.find("padding:"), std::string::npos) << s.output;
  EXPECT_TRUE(fs::exists(out() + "/len.svg"));
}

}  // namespace
}  // namespace llmtune

namespace llmtune {
namespace {

// Every verb explains itself with examples.
TEST(CliHelp, EveryVerbHasExamples) {
  for (const char* verb :
       {"tokenize", "data prepare", "data stats", "generate", "eval", "experiment create",
        "experiment list", "experiment describe", "experiment pause", "experiment activate",
        "experiment kill", "experiment archive", "experiment unarchive", "experiment wait",
        "trial logs", "checkpoint list", "train", "demo"}) {
    const test::CliResult r = test::run_llmtune(std::string(verb) + " --help");
    EXPECT_EQ(r.code, 0) << verb << "\n" << r.output;
    EXPECT_NE(r.output.find("Example"), std::string::npos) << verb << "\n" << r.output;
  }
  const test::CliResult all = test::run_llmtune("--help");
  for (const char* verb :
       {"experiment", "checkpoint", "train", "trial", "demo", "eval", "generate"}) {
    EXPECT_NE(all.output.find(verb), std::string::npos) << verb;
  }
}

}  // namespace
}  // namespace llmtune
