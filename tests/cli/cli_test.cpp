// The llmtune program as a user runs it: `llmtune tokenize`.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "io/files.h"
#include "support/compare.h"

namespace llmtune {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code;
  std::string output;  // stdout and stderr
};

Result llmtune(const std::string& args) {
  Result r{-1, ""};
  FILE* p = popen((std::string(LLMTUNE_CLI) + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
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
  io::write_file_atomic(chat.string(), R"([{"role": "user", "content": "Hi"}])");
  r = llmtune(
      "tokenize --tokenizer " + llama2() + " --chat " + chat.string() +
      " --add-generation-prompt --chat-template \"{% for m in messages %}<|{{ m['role'] }}|>{{ "
      "m['content'] }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}\"");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"<|user|>Hi<|assistant|>\""), std::string::npos) << r.output;
  fs::remove(chat);
}

TEST(CliTokenize, ErrorsExitNonZeroWithTheReason) {
  Result r = llmtune("tokenize --tokenizer /nonexistent/model hi");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("/nonexistent/model"), std::string::npos) << r.output;
  if (fs::exists(llama2())) {
    r = llmtune("tokenize --tokenizer " + llama2() + " --decode 1,x");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("\"x\" is not a token id"), std::string::npos) << r.output;
    r = llmtune("tokenize --tokenizer " + llama2() + " --decode 99999");
    EXPECT_EQ(r.code, 1);
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
