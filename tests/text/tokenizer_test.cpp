// Tokenizers against their reference libraries: python3-sentencepiece's ids for the Llama 2 and
// Mistral models on a generated corpus (both through tokenizer.model and through our own
// tokenizer.json implementation), Transformers' legacy special-token handling, an independent
// byte-level BPE encoder (Llama 3 style), and the errors a user meets.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <tuple>

#include "core/error.h"
#include "core/files.h"
#include "support/compare.h"
#include "support/errors.h"
#include "text/sentencepiece.h"
#include "text/tokenizer.h"

namespace llmtune::text {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kRef = LLMTUNE_TEXT_REFERENCE_DIR;

std::string fixture(const std::string& name) {
  return test::shared_dir() + "/fixtures/" + name;
}

std::vector<json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

// Corpus lines (or special.jsonl lines) where the shared llama2 tokenizer.json cannot agree with
// its tokenizer.model: its vocab has "" where the model has U+2028 (id 31353).
std::vector<size_t> divergent(const std::string& key) {
  const json j = read_json(kRef + "/llama2_tokenizer_json_divergent.json");
  return j.at(key).get<std::vector<size_t>>();
}

bool contains(const std::vector<size_t>& v, size_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The reference ids of every corpus string, and what our tokenizer makes of them.
// Whether s holds 16 or more spaces or "▁" in a row: a run the whitespace pieces cover.
bool has_long_space_run(const std::string& s) {
  size_t run = 0;
  for (size_t i = 0; i < s.size();) {
    const bool space = s[i] == ' ' || s.compare(i, 3, "\u2581") == 0;
    run = space ? run + 1 : 0;
    if (run >= 16) return true;
    i += s[i] == ' ' || !space ? 1 : 3;
  }
  return false;
}

// Returns how many strings differed only where they hold a long run of spaces, when
// `space_runs_may_differ`.
size_t expect_corpus_matches(const Tokenizer& t, const std::string& expected_file,
                             const std::vector<size_t>& skip = {},
                             bool space_runs_may_differ = false) {
  const std::vector<json> corpus = read_jsonl(kRef + "/corpus.jsonl");
  const std::vector<json> expected = read_jsonl(expected_file);
  EXPECT_GE(corpus.size(), 2000u);
  if (corpus.size() != expected.size()) {
    ADD_FAILURE() << expected_file << " does not match the corpus";
    return 0;
  }
  EncodeOptions plain;  // sentencepiece's encode(): no BOS, special-token text is just text
  plain.add_special_tokens = false;
  plain.parse_special = false;
  size_t mismatches = 0, roundtrips = 0, space_runs = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    if (contains(skip, i)) continue;
    const std::string text = corpus[i]["text"];
    const std::vector<int32_t> want = expected[i]["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = t.encode(text, plain);
    if (got != want && space_runs_may_differ && has_long_space_run(text)) {
      ++space_runs;
      continue;
    }
    if (got != want && ++mismatches <= 5) {
      ADD_FAILURE() << t.kind() << " line " << i << " " << json(text).dump() << "\n  got  "
                    << json(got).dump() << "\n  want " << json(want).dump();
    }
    if (expected[i]["roundtrip"].get<bool>()) {
      EXPECT_EQ(t.decode(got), text) << "line " << i;
      ++roundtrips;
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << corpus.size() << " strings";
  EXPECT_GT(roundtrips, corpus.size() / 2);
  return space_runs;
}

class TextReference : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(fixture("llama2-tokenizer/tokenizer.model"))) {
      GTEST_SKIP() << "shared fixtures absent at " << test::shared_dir();
    }
    ASSERT_TRUE(fs::exists(kRef + "/corpus.jsonl"))
        << "reference files missing in " << kRef << "; ctest's text_reference writes them";
  }
};

TEST_F(TextReference, Llama2TokenizerJsonMatchesSentencePiece) {
  TokenizerOptions o;
  o.backend = "tokenizer.json";
  const auto t = tokenizer_load(fixture("llama2-tokenizer"), o);
  EXPECT_STREQ(t->kind(), "tokenizer.json");
  const std::vector<size_t> skip = divergent("corpus_lines");
  EXPECT_LE(skip.size(), 10u);
  expect_corpus_matches(*t, kRef + "/llama2.jsonl", skip);
}

TEST_F(TextReference, Llama2ModelFileMatchesSentencePiece) {
  TokenizerOptions o;
  o.backend = "sentencepiece";
  const auto t = tokenizer_load(fixture("llama2-tokenizer"), o);
  EXPECT_STREQ(t->kind(), "sentencepiece");
  expect_corpus_matches(*t, kRef + "/llama2.jsonl");
}

TEST_F(TextReference, MistralModelFileMatchesSentencePiece) {
  const auto t = tokenizer_load(fixture("mistral-tokenizer"));
  EXPECT_STREQ(t->kind(), "sentencepiece");
  expect_corpus_matches(*t, kRef + "/mistral.jsonl");
}

// tokenizer.model converted to tokenizer.json (the merges Transformers' converter derives) gives
// the same ids through our tokenizer.json path: Llama 2's, whose converted merges equal the
// shared tokenizer.json's, and Mistral's, which the fixtures only ship as tokenizer.model. The
// converter's order for merges of equal score (the whitespace pieces, all scored -1e9) follows
// Transformers; on Mistral's ids it splits runs of 16 or more spaces unlike SentencePiece (a
// difference of the reference stack's fast and slow tokenizers), and only those.
TEST_F(TextReference, ConvertedModelFilesMatchSentencePiece) {
  const fs::path dir =
      fs::temp_directory_path() / ("llmtune-convert-" + std::to_string(::getpid()));
  for (const char* name : {"mistral", "llama2"}) {
    SCOPED_TRACE(name);
    fs::create_directories(dir);
    const std::string model = fixture(std::string(name) + "-tokenizer/tokenizer.model");
    const json converted = sentencepiece_to_tokenizer_json(model);
    write_file_atomic((dir / "tokenizer.json").string(), converted.dump());
    TokenizerOptions o;
    o.backend = "tokenizer.json";
    const auto t = tokenizer_load(dir.string(), o);
    const size_t space_runs = expect_corpus_matches(*t, kRef + "/" + name + ".jsonl", {}, true);
    EXPECT_LE(space_runs, std::string(name) == "mistral" ? 10u : 0u);
    const std::vector<json> cases = read_jsonl(kRef + "/special.jsonl");
    EncodeOptions parse;
    parse.add_special_tokens = false;
    for (const json& c : cases) {
      EXPECT_EQ(t->encode(c["text"].get<std::string>(), parse),
                c["ids_" + std::string(name)].get<std::vector<int32_t>>())
          << c["text"].dump();
    }
    if (std::string(name) == "llama2") {
      const json shared = read_json(fixture("llama2-tokenizer/tokenizer.json"));
      EXPECT_EQ(converted["model"]["merges"], shared["model"]["merges"]);
    }
    fs::remove_all(dir);
  }
}

// Special tokens written in the text become their ids, and the text after one starts a new
// word (Transformers' legacy Llama behaviour): "Hello <s>." -> 1 15043 29871 1 869.
TEST_F(TextReference, SpecialTokensInTextAsTransformersParsesThem) {
  const std::vector<json> cases = read_jsonl(kRef + "/special.jsonl");
  ASSERT_FALSE(cases.empty());
  EncodeOptions parse;
  parse.add_special_tokens = false;
  for (const char* backend : {"tokenizer.json", "sentencepiece"}) {
    TokenizerOptions o;
    o.backend = backend;
    const auto llama = tokenizer_load(fixture("llama2-tokenizer"), o);
    const std::vector<size_t> skip =
        o.backend == "tokenizer.json" ? divergent("special_lines") : std::vector<size_t>{};
    for (size_t i = 0; i < cases.size(); ++i) {
      const json& c = cases[i];
      if (contains(skip, i)) continue;
      EXPECT_EQ(llama->encode(c["text"].get<std::string>(), parse),
                c["ids_llama2"].get<std::vector<int32_t>>())
          << backend << ": " << c["text"].dump();
    }
  }
  const auto mistral = tokenizer_load(fixture("mistral-tokenizer"));
  for (const json& c : cases) {
    EXPECT_EQ(mistral->encode(c["text"].get<std::string>(), parse),
              c["ids_mistral"].get<std::vector<int32_t>>())
        << c["text"].dump();
  }
  const auto llama = tokenizer_load(fixture("llama2-tokenizer"));
  EXPECT_EQ(llama->encode("Hello <s>."), (std::vector<int32_t>{1, 15043, 29871, 1, 869}));
}

// Llama 3 style byte-level BPE (regex pre-tokenizer, ignore_merges, <|begin_of_text|>) against an
// independent Python encoder, with both spellings of the merges.
TEST_F(TextReference, ByteLevelBpeMatchesIndependentEncoder) {
  const std::vector<json> corpus = read_jsonl(kRef + "/corpus.jsonl");
  const std::vector<json> expected = read_jsonl(kRef + "/bytelevel/expected.jsonl");
  ASSERT_EQ(corpus.size(), expected.size());
  const std::string dir = kRef + "/bytelevel";
  const std::string old_dir = kRef + "/bytelevel_old_merges";
  fs::create_directories(old_dir);
  fs::copy_file(dir + "/tokenizer_old_merges.json", old_dir + "/tokenizer.json",
                fs::copy_options::overwrite_existing);
  fs::copy_file(dir + "/tokenizer_config.json", old_dir + "/tokenizer_config.json",
                fs::copy_options::overwrite_existing);
  for (const std::string& d : {dir, old_dir}) {
    const auto t = tokenizer_load(d);
    size_t mismatches = 0;
    for (size_t i = 0; i < corpus.size(); ++i) {
      const std::string text = corpus[i]["text"];
      const std::vector<int32_t> got = t->encode(text);
      const std::vector<int32_t> want = expected[i]["ids"].get<std::vector<int32_t>>();
      if (got != want && ++mismatches <= 5) {
        ADD_FAILURE() << d << " line " << i << " " << json(text).dump() << "\n  got  "
                      << json(got).dump() << "\n  want " << json(want).dump();
      }
      EXPECT_EQ(t->decode(got), expected[i]["decoded"].get<std::string>()) << "line " << i;
      EXPECT_EQ(t->decode(got, true), expected[i]["decoded_skip"].get<std::string>())
          << "line " << i;
    }
    EXPECT_EQ(mismatches, 0u) << d;
  }
}

// ---- special tokens and configuration --------------------------------------------------------

TEST(Tokenizer, SpecialTokensAndPaddingPolicy) {
  if (!fs::exists(fixture("mistral-tokenizer/tokenizer.model"))) GTEST_SKIP() << "no fixtures";
  const auto mistral = tokenizer_load(fixture("mistral-tokenizer"));
  const SpecialTokens& s = mistral->special_tokens();
  EXPECT_EQ(s.bos, 1);
  EXPECT_EQ(s.eos, 2);
  EXPECT_EQ(s.unk, 0);
  EXPECT_EQ(s.pad, 0);  // no pad token: <unk>, never EOS
  EXPECT_EQ(s.pad_token, "<unk>");
  EXPECT_EQ(mistral->vocab_size(), 32000);
  EXPECT_EQ(mistral->token_to_id("\u2581"), 28705);  // INTEROP §4.3
  EXPECT_EQ(mistral->id_to_token(13), "<0x0A>");
  EXPECT_EQ(mistral->token_to_id("no-such-piece"), -1);
  EncodeOptions plain;
  plain.add_special_tokens = false;
  EXPECT_EQ(mistral->encode("[INST]", plain), (std::vector<int32_t>{733, 16289, 28793}));
  EXPECT_EQ(mistral->encode("[/INST]", plain), (std::vector<int32_t>{733, 28748, 16289, 28793}));
  EXPECT_EQ(mistral->encode("Hi"), (std::vector<int32_t>{1, mistral->encode("Hi", plain)[0]}));
  EXPECT_EQ(mistral->decode(std::vector<int32_t>{1, 22557, 2}, true), "Hello");
  EXPECT_EQ(mistral->decode(std::vector<int32_t>{1, 22557, 2}), "<s> Hello</s>");

  TokenizerOptions o;
  o.pad_token = "</s>";  // configurable, if a user insists
  EXPECT_EQ(tokenizer_load(fixture("mistral-tokenizer"), o)->special_tokens().pad, 2);
  o.pad_token = "<nope>";
  EXPECT_THROW(tokenizer_load(fixture("mistral-tokenizer"), o), Error);
  EXPECT_THROW(mistral->id_to_token(32000), Error);
  EXPECT_THROW(mistral->decode(std::vector<int32_t>{5, -1}), Error);
  EXPECT_THROW(mistral->encode(std::string("bad \xff utf-8")), Error);
}

class TokenizerDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("llmtune-tok-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A tokenizer.json with one component replaced.
  void write_tokenizer(const std::function<void(json&)>& edit) {
    json j = read_json(fixture("llama2-tokenizer/tokenizer.json"));
    edit(j);
    write_file_atomic((dir_ / "tokenizer.json").string(), j.dump());
  }
  std::string error_of(const TokenizerOptions& o = {}) {
    try {
      tokenizer_load(dir_.string(), o);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(TokenizerDir, UnknownComponentsAreNamed) {
  if (!fs::exists(fixture("llama2-tokenizer/tokenizer.json"))) GTEST_SKIP() << "no fixtures";
  write_tokenizer([](json& j) { j["normalizer"] = {{"type", "NFKC"}}; });
  EXPECT_NE(error_of().find("normalizer type \"NFKC\""), std::string::npos) << error_of();
  write_tokenizer([](json& j) { j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}}; });
  EXPECT_NE(error_of().find("pre_tokenizer type \"BertPreTokenizer\""), std::string::npos);
  write_tokenizer([](json& j) { j["decoder"] = {{"type", "WordPiece"}}; });
  EXPECT_NE(error_of().find("decoder type \"WordPiece\""), std::string::npos);
  write_tokenizer([](json& j) { j["model"]["type"] = "Unigram"; });
  EXPECT_NE(error_of().find("model type \"Unigram\""), std::string::npos);
  write_tokenizer([](json& j) { j["post_processor"] = {{"type", "BertProcessing"}}; });
  EXPECT_NE(error_of().find("post_processor type \"BertProcessing\""), std::string::npos);
  write_tokenizer([](json& j) { j["model"]["merges"][0] = "nonexistent-token x"; });
  EXPECT_NE(error_of().find("merge 0"), std::string::npos) << error_of();
  write_file_atomic((dir_ / "tokenizer.json").string(), "{\"model\": ");
  EXPECT_NE(error_of().find("tokenizer.json:1"), std::string::npos) << error_of();
  fs::remove(dir_ / "tokenizer.json");
  EXPECT_NE(error_of().find("no tokenizer.json or tokenizer.model"), std::string::npos);
  TokenizerOptions fast;
  fast.backend = "fast";
  EXPECT_NE(error_of(fast).find("backend"), std::string::npos);
  EXPECT_THROW(tokenizer_load("/nonexistent/model"), Error);
}

// Hostile or broken files: every error names the file and what is wrong in it.
TEST_F(TokenizerDir, MalformedValuesAndRegexesNameTheFile) {
  if (!fs::exists(fixture("llama2-tokenizer/tokenizer.json"))) GTEST_SKIP() << "no fixtures";
  const std::string file = (dir_ / "tokenizer.json").string();
  write_tokenizer([](json& j) {
    j["added_tokens"].push_back({{"id", 1000000000000}, {"content", "<big>"}, {"special", true}});
  });
  EXPECT_NE(error_of().find(file + ": added_tokens[3]: \"id\" must be an integer that fits 32"),
            std::string::npos)
      << error_of();
  write_tokenizer([](json& j) {  // an id past the vocabulary would size the embeddings by it
    j["added_tokens"].push_back({{"id", 40000}, {"content", "<far>"}, {"special", true}});
  });
  EXPECT_NE(error_of().find("id 40000 is outside the vocabulary"), std::string::npos) << error_of();
  write_tokenizer([](json& j) { j["added_tokens"][0]["content"] = 5; });
  EXPECT_NE(error_of().find("\"content\" must be a string"), std::string::npos) << error_of();
  write_tokenizer([](json& j) { j["decoder"]["decoders"][0]["content"] = 5; });
  EXPECT_NE(error_of().find(file + ": not a tokenizer.json"), std::string::npos) << error_of();
  write_tokenizer([](json& j) {
    j["pre_tokenizer"] = {{"type", "Split"},
                          {"pattern", {{"Regex", "(a"}}},
                          {"behavior", "Isolated"},
                          {"invert", false}};
  });
  EXPECT_NE(error_of().find(file + ": regular expression (a does not compile"), std::string::npos)
      << error_of();
  // A pattern that backtracks catastrophically is stopped by PCRE2's limits, naming the file.
  write_tokenizer([](json& j) {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "Split"},
                          {"pattern", {{"Regex", "(a|aa)+$"}}},
                          {"behavior", "Isolated"},
                          {"invert", false}};
  });
  const auto t = tokenizer_load(dir_.string());
  try {
    t->encode(std::string(80, 'a') + "b");
    ADD_FAILURE() << "a catastrophic pattern ran to the end";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file + ": regular expression (a|aa)+$ failed"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("the limits are 10000000 backtracking steps"),
              std::string::npos)
        << e.what();
  }
}

// Vocabularies and special tokens that a real file never has: each is named, not absorbed.
TEST_F(TokenizerDir, InconsistentVocabulariesAndRunawayComponentsAreRefused) {
  if (!fs::exists(fixture("llama2-tokenizer/tokenizer.json"))) GTEST_SKIP() << "no fixtures";
  const auto fails = [&](const std::function<void(json&)>& edit, const std::string& part) {
    write_tokenizer(edit);
    const std::string e = error_of();
    EXPECT_NE(e.find(part), std::string::npos) << part << " | " << e;
  };
  fails([](json& j) { j["model"]["vocab"]["\u2581the"] = 1.5; }, "is not an integer from 0 to");
  fails([](json& j) { j["model"]["vocab"]["\u2581the"] = 40000; }, "vocab id 40000");
  fails([](json& j) { j["model"]["vocab"]["\u2581the"] = 2147483648LL; }, "vocab id 2147483648");
  fails([](json& j) { j["model"]["vocab"]["\u2581the"] = 5; }, "vocab id 5 is given to both");
  fails(
      [](json& j) {
        j["added_tokens"].push_back({{"id", 1}, {"content", "<dup>"}});
      },
      "\"<dup>\" claims id 1, which the vocabulary gives to \"<s>\"");
  fails(
      [](json& j) {
        j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", ""}};
      },
      "Metaspace \"replacement\" must be one character");
  // Thirty doublings of every "a" would be 2^30 times the text: stopped at the first that
  // passes 16x.
  write_tokenizer([](json& j) {
    json steps = json::array();
    for (int i = 0; i < 30; ++i) {
      steps.push_back({{"type", "Replace"}, {"pattern", {{"String", "a"}}}, {"content", "aa"}});
    }
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", steps}};
  });
  const auto t = tokenizer_load(dir_.string());
  EXPECT_TRUE(
      test::throws_error([&] { t->encode("a banana"); }, {"tokenizer.json", "more than 16 times"}));
}

TEST_F(TokenizerDir, ConfigValuesOfTheWrongTypeAreNamed) {
  if (!fs::exists(fixture("llama2-tokenizer/tokenizer.json"))) GTEST_SKIP() << "no fixtures";
  fs::copy_file(fixture("llama2-tokenizer/tokenizer.json"), dir_ / "tokenizer.json");
  const json base = read_json(fixture("llama2-tokenizer/tokenizer_config.json"));
  for (const auto& [key, value, part] : std::vector<std::tuple<std::string, json, std::string>>{
           {"bos_token", 5, "\"bos_token\" must be a token string"},
           {"add_bos_token", "yes", "\"add_bos_token\" must be true or false"},
           {"legacy", 1, "\"legacy\" must be true or false"},
           {"tokenizer_class", 7, "\"tokenizer_class\" must be a string"},
           {"added_tokens_decoder", {{"abc", {{"content", "x"}}}}, "must be a token id"}}) {
    json config = base;
    config[key] = value;
    write_file_atomic((dir_ / "tokenizer_config.json").string(), config.dump());
    const std::string e = error_of();
    EXPECT_NE(e.find(part), std::string::npos) << key << ": " << e;
    EXPECT_NE(e.find("tokenizer_config.json"), std::string::npos) << e;
  }
}

TEST_F(TokenizerDir, ConfigSpecialTokensAndBosEosRules) {
  if (!fs::exists(fixture("llama2-tokenizer/tokenizer.json"))) GTEST_SKIP() << "no fixtures";
  fs::copy_file(fixture("llama2-tokenizer/tokenizer.json"), dir_ / "tokenizer.json");
  json config = read_json(fixture("llama2-tokenizer/tokenizer_config.json"));
  config["add_eos_token"] = true;
  config["pad_token"] = nullptr;
  config["eos_token"] = {{"content", "</s>"}, {"lstrip", false}};  // AddedToken form
  write_file_atomic((dir_ / "tokenizer_config.json").string(), config.dump());
  auto t = tokenizer_load(dir_.string());
  EXPECT_EQ(t->encode("Hello"), (std::vector<int32_t>{1, 15043, 2}));
  EXPECT_EQ(t->special_tokens().pad_token, "<unk>");
  config["add_bos_token"] = false;
  config["bos_token"] = "<nope>";
  write_file_atomic((dir_ / "tokenizer_config.json").string(), config.dump());
  EXPECT_NE(error_of().find("bos_token \"<nope>\""), std::string::npos) << error_of();
}

}  // namespace
}  // namespace llmtune::text

namespace llmtune::text {
namespace {

std::vector<std::string> pieces(const std::vector<Segment>& segments) {
  std::vector<std::string> out;
  for (const Segment& s : segments) {
    out.push_back(s.id >= 0 ? std::string(1, '#').append(std::to_string(s.id))
                            : std::string(s.text));
  }
  return out;
}

// Added-token matching as tokenizers' AddedVocabulary does it (added_vocabulary.rs tests).
TEST(AddedVocabulary, LeftmostLongestStripAndWordBoundaries) {
  AddedVocabulary v;
  v.add({10, "<s>", true});
  v.add({11, "<s>x", true});
  v.add({12, "[MASK]", true, /*lstrip=*/true, /*rstrip=*/true});
  v.add({13, "ab", false, false, false, /*single_word=*/true});
  v.add({14, "yes", false, false, false, false, /*normalized=*/true});
  EXPECT_EQ(pieces(v.split("a<s>xb<s>", 0, false, true)),
            (std::vector<std::string>{"a", "#11", "b", "#10"}));  // the longest match wins
  EXPECT_EQ(pieces(v.split("I  [MASK]  you", 0, false, true)),
            (std::vector<std::string>{"I", "#12", "you"}));  // lstrip/rstrip take the spaces
  EXPECT_EQ(pieces(v.split("ab cab ab.", 0, false, true)),
            (std::vector<std::string>{"#13", " cab ", "#13", "."}));  // single_word: not in "cab"
  EXPECT_EQ(pieces(v.split("yes<s>", 0, false, true)),
            (std::vector<std::string>{"yes", "#10"}));  // normalized tokens wait for normalization
  EXPECT_EQ(pieces(v.split("yes", 0, true, true)), (std::vector<std::string>{"#14"}));
  EXPECT_EQ(pieces(v.split("a<s>b", 0, false, false)),
            (std::vector<std::string>{"a<s>b"}));  // special tokens as plain text
  const std::vector<Segment> offsets = v.split("xx<s>yy", 5, false, true);
  EXPECT_EQ(offsets[2].offset, 10u);
  EXPECT_TRUE(v.is_special(10));
  EXPECT_FALSE(v.is_special(13));
  EXPECT_THROW(v.add({15, "", false}), Error);
}

}  // namespace
}  // namespace llmtune::text
