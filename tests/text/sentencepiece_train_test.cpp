// Training a SentencePiece model (the built-in demo's tokenizer) and reading it back, checked
// against python3-sentencepiece loading the same file.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "support/sql_text.h"
#include "text/sentencepiece.h"
#include "text/tokenizer.h"

namespace llmtune::text {
namespace {

namespace fs = std::filesystem;

std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(SentencePieceTrain, TrainsLoadsAndAgreesWithTheLibrary) {
  const fs::path dir = fs::temp_directory_path() / ("llmtune-spm-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::vector<std::string> lines = test::sql_text();
  for (const char* type : {"bpe", "unigram"}) {
    SCOPED_TRACE(type);
    SentencePieceTrainOptions o;
    o.vocab_size = 400;
    o.model_type = type;
    const std::string model = (dir / "tokenizer.model").string();
    sentencepiece_train(lines, o, model);
    const auto t = tokenizer_load(dir.string());
    if (std::string(type) == "bpe") {
      EXPECT_EQ(t->vocab_size(), 400);
    } else {  // unigram stops early on this little text (hard_vocab_limit is off)
      EXPECT_LE(t->vocab_size(), 400);
      EXPECT_GT(t->vocab_size(), 256 + 3);
    }
    EXPECT_EQ(t->special_tokens().unk, 0);
    EXPECT_EQ(t->special_tokens().bos, 1);
    EXPECT_EQ(t->special_tokens().eos, 2);
    const std::string probe =
        "SELECT budget_in_billions FROM farm WHERE id = 42 \xc3\xa9\xe2\x82\xac";
    EncodeOptions plain;
    plain.add_special_tokens = false;
    const std::vector<int32_t> ids = t->encode(probe, plain);
    EXPECT_EQ(t->decode(ids), probe);  // byte fallback covers the characters not trained on
    EXPECT_EQ(t->encode(probe).front(), 1);
    // The same file through python3-sentencepiece gives the same ids.
    const std::string py =
        run("/usr/bin/python3 -c \"import sentencepiece as s; "
            "print(s.SentencePieceProcessor(model_file='" +
            model +
            "').encode('SELECT budget_in_billions FROM farm WHERE id = 42 "
            "\\u00e9\\u20ac'))\"");
    std::string ours = "[";
    for (size_t i = 0; i < ids.size(); ++i) ours += (i ? ", " : "") + std::to_string(ids[i]);
    EXPECT_EQ(py, ours + "]\n");
  }
  fs::remove_all(dir);
  SentencePieceTrainOptions bad;
  bad.model_type = "char-level";
  EXPECT_THROW(sentencepiece_train(lines, bad, (dir / "x.model").string()), Error);
  EXPECT_THROW(sentencepiece_train({}, {}, (dir / "x.model").string()), Error);
}

}  // namespace
}  // namespace llmtune::text
