// BLEU in both modes against tests/eval/bleu_reference.py (the published Python formulas, run
// through /usr/bin/python3) on hand-made cases, random text and 500 real SQL pairs; the 13a
// tokenizer against Python's regular expressions; and the values that evaluate and sacreBLEU
// publish in their documentation and tests.
#include "eval/bleu.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"

#ifndef LLMTUNE_SOURCE_DIR
#error "LLMTUNE_SOURCE_DIR (the repository root) must be defined to find bleu_reference.py"
#endif

namespace llmtune::eval {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr double kTolerance = 1e-9;
const std::string kReferenceScript =
    std::string(LLMTUNE_SOURCE_DIR) + "/tests/eval/bleu_reference.py";
const std::string kRealRows = std::string(LLMTUNE_SHARED_DIR) + "/data/sql-create-context-4k.jsonl";

struct Case {
  std::string name;
  BleuOptions options;
  std::vector<std::string> predictions;
  std::vector<std::vector<std::string>> references;
};

const char* mode_name(BleuMode mode) {
  return mode == BleuMode::kEvaluate ? "evaluate" : "sacrebleu";
}

std::string label(const Case& c) {
  return str(c.name, " [", mode_name(c.options.mode), c.options.smooth ? " smooth" : "",
             " max_order=", c.options.max_order, "]");
}

// The same corpus in every mode: evaluate, evaluate with smoothing, sacrebleu.
void add_all_modes(std::vector<Case>* cases, const std::string& name,
                   std::vector<std::string> predictions,
                   std::vector<std::vector<std::string>> references, int max_order = 4) {
  const BleuOptions modes[] = {{BleuMode::kEvaluate, max_order, false},
                               {BleuMode::kEvaluate, max_order, true},
                               {BleuMode::kSacrebleu, max_order, false}};
  for (const BleuOptions& o : modes) cases->push_back({name, o, predictions, references});
}

// Runs bleu_reference.py on the cases and strings; nothing when /usr/bin/python3 is absent.
// A failing script fails the test.
std::optional<json> run_reference(const std::vector<Case>& cases,
                                  const std::vector<std::string>& strings) {
  if (!fs::exists("/usr/bin/python3")) return std::nullopt;
  json input = {{"cases", json::array()}, {"tokenize", strings}};
  for (const Case& c : cases) {
    input["cases"].push_back({{"mode", mode_name(c.options.mode)},
                              {"max_order", c.options.max_order},
                              {"smooth", c.options.smooth},
                              {"predictions", c.predictions},
                              {"references", c.references}});
  }
  static int counter = 0;
  const fs::path path =
      fs::temp_directory_path() / str("llmtune_bleu_cases_", ::getpid(), "_", counter++, ".json");
  std::ofstream(path, std::ios::binary) << input.dump();
  const std::string command = "/usr/bin/python3 '" + kReferenceScript + "' '" + path.string() + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  if (pipe != nullptr) {
    char buf[65536];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  }
  const int status = pipe != nullptr ? ::pclose(pipe) : -1;
  fs::remove(path);
  EXPECT_EQ(status, 0) << command << " failed";
  if (status != 0) return json::object({{"cases", json::array()}, {"tokenize", json::array()}});
  return json::parse(out);
}

void expect_result(const BleuResult& got, const json& want, const std::string& where) {
  EXPECT_NEAR(got.bleu, want["bleu"].get<double>(), kTolerance) << where;
  EXPECT_NEAR(got.brevity_penalty, want["brevity_penalty"].get<double>(), kTolerance) << where;
  EXPECT_NEAR(got.length_ratio, want["length_ratio"].get<double>(), kTolerance) << where;
  EXPECT_EQ(got.translation_length, want["translation_length"].get<int64_t>()) << where;
  EXPECT_EQ(got.reference_length, want["reference_length"].get<int64_t>()) << where;
  const auto precisions = want["precisions"].get<std::vector<double>>();
  ASSERT_EQ(got.precisions.size(), precisions.size()) << where;
  for (size_t n = 0; n < precisions.size(); ++n) {
    EXPECT_NEAR(got.precisions[n], precisions[n], kTolerance) << where << " order " << n + 1;
  }
}

// Every case through corpus_bleu and the Python reference, every field compared.
void expect_cases_match_reference(const std::vector<Case>& cases) {
  const std::optional<json> want = run_reference(cases, {});
  if (!want) GTEST_SKIP() << "/usr/bin/python3 is not available";
  ASSERT_EQ((*want)["cases"].size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    expect_result(corpus_bleu(c.predictions, c.references, c.options), (*want)["cases"][i],
                  label(c));
  }
}

// --- the 13a tokenizer ------------------------------------------------------------------------

const std::vector<std::string> kTrickyStrings = {
    "",
    " \t\n ",
    "Hello, world. It's 3.14, isn't it?",
    "1,000.50 dollars, 1.000,5 euros; 12. 34 .5 5. ,5 5,",
    "a.. b,, ..c 1.. .1. a.1 1.a",
    "3-4 a-b x-1 -5 1-a 1--2 2010-2011",
    "COUNT(*) FROM t WHERE a>=1 AND b<>'x' OR c!=\"y\";",
    "born_state, head.name [x] {y} |z| ~w ^v `u` @t #s $r %q",
    "&quot;q&quot; &amp; &lt;tag&gt; &amp;lt; & &foo;",
    "no amp here: &quot without semicolon",
    "x<skipped>y <skip<skipped>ped> <SKIPPED>",
    "line one-\nline two\nthree -\nfour",
    "trailing hyphen-\n",
    "trailing hyphen -\n \t",
    "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e\u3002 \u00c5ngstr\u00f6m.",
    "nbsp\u00a0ideographic\u3000line\u2028para\u2029narrow\u202fthin\u2009end",
    "zero\u200bwidth joiner\u200d stays",
    "seps\x1c\x1d\x1e\x1f and \u0085next \v\f\r",
    "\u00e9.\u00e9,1.\u00e9 \u00e9.1 \u65e5,\u672c",
    "emoji \U0001F600. and \U0001F600,x",
};

// Random strings over pieces that exercise every 13a rule.
std::vector<std::string> random_strings(int count, uint32_t seed) {
  static const std::vector<std::string> pieces = {
      "a",  "b",   "Z",      "x1",     "0",      "1",      "9",      ".",    ",",      "-",
      "'",  "&",   "&amp;",  "&quot;", "&lt;",   "&gt;",   "amp;",   "<",    ">",      "<skipped>",
      "\n", "-\n", " ",      "  ",     "\t",     "(",      ")",      "_",    "=",      "*",
      "/",  "\\",  "\u00e9", "\u65e5", "\u00a0", "\u3000", "\u2028", "\x1c", "\u0085", "\u200b",
      "\r", "\f",  "\v",     "1.5",    "1,000",  "SELECT", "FROM",   "\"",
  };
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    std::string s;
    const uint32_t length = rng() % 24;
    for (uint32_t k = 0; k < length; ++k) s += pieces[rng() % pieces.size()];
    out.push_back(s);
  }
  return out;
}

TEST(Tokenize13a, MatchesPythonRegexes) {
  std::vector<std::string> strings = kTrickyStrings;
  for (const std::string& s : random_strings(3000, 13)) strings.push_back(s);
  const std::optional<json> want = run_reference({}, strings);
  if (!want) GTEST_SKIP() << "/usr/bin/python3 is not available";
  ASSERT_EQ((*want)["tokenize"].size(), strings.size());
  for (size_t i = 0; i < strings.size(); ++i) {
    EXPECT_EQ(tokenize_13a(strings[i]), (*want)["tokenize"][i].get<std::vector<std::string>>())
        << json(strings[i]).dump();
  }
}

TEST(Tokenize13a, KnownSplits) {
  using V = std::vector<std::string>;
  EXPECT_EQ(tokenize_13a("hello there!"), (V{"hello", "there", "!"}));
  EXPECT_EQ(tokenize_13a("COUNT(*)"), (V{"COUNT", "(", "*", ")"}));
  EXPECT_EQ(tokenize_13a("born_state"), (V{"born", "_", "state"}));
  EXPECT_EQ(tokenize_13a("It's 1,000.50, ok."), (V{"It's", "1,000.50", ",", "ok", "."}));
  EXPECT_EQ(tokenize_13a("3-4 a-b"), (V{"3", "-", "4", "a-b"}));
  EXPECT_EQ(tokenize_13a("a &amp;lt; b"), (V{"a", "<", "b"}));
  EXPECT_EQ(tokenize_13a("x<skipped>y"), (V{"xy"}));
  EXPECT_EQ(tokenize_13a("wrap-\nped line\nnext"), (V{"wrapped", "line", "next"}));
  EXPECT_EQ(tokenize_13a("a\u3000b\u200bc"), (V{"a", "b\u200bc"}));
  EXPECT_EQ(tokenize_13a("a\x85"
                         "b"),
            (V{"a\x85"
               "b"}));  // a stray byte is not U+0085
  EXPECT_TRUE(tokenize_13a("").empty());
}

// --- hand-made cases ----------------------------------------------------------------------------

std::vector<Case> hand_cases() {
  std::vector<Case> c;
  const std::string gold = "SELECT name, born_state, age FROM head ORDER BY age";
  add_all_modes(&c, "empty prediction", {""}, {{gold}});
  add_all_modes(&c, "empty reference", {gold}, {{""}});
  add_all_modes(&c, "both empty", {""}, {{""}});
  add_all_modes(&c, "all predictions empty", {"", ""}, {{gold}, {"SELECT 1"}});
  add_all_modes(&c, "empty prediction among others", {gold, ""}, {{gold}, {"SELECT 1"}});
  add_all_modes(&c, "no overlap", {"DELETE everything now please"}, {{gold}});
  add_all_modes(&c, "exact match", {gold}, {{gold}});
  add_all_modes(&c, "shorter", {"SELECT name, born_state FROM head"}, {{gold}});
  add_all_modes(&c, "longer", {gold + " DESC LIMIT 10"}, {{gold}});
  add_all_modes(&c, "one token", {"SELECT"}, {{gold}});
  add_all_modes(&c, "three tokens, no 4-grams", {"SELECT name FROM"}, {{"SELECT name FROM"}});
  add_all_modes(&c, "short and long segments",
                {"SELECT a", gold, "SELECT COUNT(*) FROM head WHERE age > 56"},
                {{"SELECT a"}, {gold}, {"SELECT COUNT(*) FROM head WHERE age > 56"}});
  add_all_modes(&c, "repeated tokens are clipped", {"the the the the the the the"},
                {{"the cat is on the mat", "there is a cat on the mat"}});
  // 5 prediction tokens; references of 3, 6 and 9 tokens: shortest 3, closest 6.
  add_all_modes(&c, "references of different lengths", {"SELECT a FROM t WHERE"},
                {{"SELECT a FROM", "SELECT a FROM t WHERE x", "SELECT a FROM t WHERE x = 1 ;"}});
  // 5 tokens against 4 and 6: a tie, which sacrebleu gives to the shorter.
  add_all_modes(&c, "closest-length tie", {"SELECT a FROM t WHERE"},
                {{"SELECT b FROM t WHERE y", "SELECT b FROM u"}});
  add_all_modes(&c, "varying reference counts", {gold, "SELECT 1", "SELECT a FROM b"},
                {{gold, "SELECT name FROM head"}, {"SELECT 1"}, {"SELECT a FROM c", "", "x"}});
  add_all_modes(&c, "punctuation 13a splits", {"SELECT COUNT(*) FROM t WHERE a>=1 AND b<>'x';"},
                {{"SELECT count(*) FROM t WHERE a >= 1 AND b <> \"x\""}});
  add_all_modes(&c, "numbers with periods and commas",
                {"price is 1,000.50 dollars, or 3.14. Then 2010-2011 a-b"},
                {{"price is 1,000.5 dollars , or 3.14 . Then 2010 - 2011 a - b"}});
  add_all_modes(&c, "unicode",
                {"SELECT nom FROM caf\u00e9 WHERE ville = 'Z\u00fcrich'\u3000AND \u65e5\u672c = 1"},
                {{"SELECT nom FROM caf\u00e9 WHERE ville = 'Zurich' AND \u65e5\u672c = 1"}});
  add_all_modes(&c, "html entities", {"a &amp; b &lt;c&gt; &quot;d&quot;"},
                {{"a & b < c > \" d \""}});
  // evaluate joins "-\n" everywhere; sacrebleu strips first, so a trailing one stays a "-".
  add_all_modes(&c, "trailing hyphen-newline", {"SELECT a FROM t WHERE x -\n"},
                {{"SELECT a FROM t WHERE x"}});
  add_all_modes(&c, "trailing whitespace", {"SELECT a FROM t \u3000\t\n"}, {{"SELECT a FROM t"}});
  for (int order : {1, 2, 3, 5, 6}) {
    add_all_modes(&c, "max order", {"SELECT name FROM head WHERE age > 56", "SELECT a b"},
                  {{"SELECT name FROM head WHERE age < 56"}, {"SELECT a"}}, order);
  }
  return c;
}

TEST(Bleu, HandCasesMatchPythonReference) {
  expect_cases_match_reference(hand_cases());
}

TEST(Bleu, RandomCorporaMatchPythonReference) {
  const std::vector<std::string> strings = random_strings(1200, 7);
  std::mt19937 rng(11);
  std::vector<Case> cases;
  size_t next = 0;
  for (int k = 0; k < 60; ++k) {
    std::vector<std::string> predictions;
    std::vector<std::vector<std::string>> references;
    const uint32_t segments = 1 + rng() % 5;
    for (uint32_t s = 0; s < segments; ++s) {
      predictions.push_back(strings[next++ % strings.size()]);
      references.emplace_back();
      const uint32_t refs = 1 + rng() % 3;
      for (uint32_t r = 0; r < refs; ++r) {
        references.back().push_back(strings[next++ % strings.size()]);
      }
    }
    add_all_modes(&cases, str("random corpus ", k), predictions, references, 1 + k % 4);
  }
  expect_cases_match_reference(cases);
}

// --- 500 real SQL pairs
// ---------------------------------------------------------------------------

std::vector<std::string> split_spaces(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string join_spaces(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

bool is_keyword(const std::string& w) {
  static const std::vector<std::string> keywords = {
      "SELECT", "FROM",   "WHERE", "AND",  "OR",       "ORDER",    "BY",
      "GROUP",  "HAVING", "LIMIT", "JOIN", "ON",       "AS",       "DESC",
      "ASC",    "NOT",    "IN",    "LIKE", "COUNT(*)", "DISTINCT", "INTERSECT"};
  return std::find(keywords.begin(), keywords.end(), w) != keywords.end();
}

// A deterministic perturbation of the gold SQL; `kind` picks which.
std::string perturb(const std::string& gold, int kind, std::mt19937* rng) {
  std::vector<std::string> w = split_spaces(gold);
  if (w.size() < 2) return gold + " x";
  auto pick = [&](size_t n) { return static_cast<size_t>((*rng)() % n); };
  switch (kind) {
    case 0:  // unchanged
      return gold;
    case 1: {  // dropped tokens
      w.erase(w.begin() + pick(w.size()));
      if (w.size() > 3) w.erase(w.begin() + pick(w.size()));
      return join_spaces(w);
    }
    case 2: {  // swapped columns (two non-keywords), else two neighbours
      std::vector<size_t> names;
      for (size_t i = 0; i < w.size(); ++i) {
        if (!is_keyword(w[i])) names.push_back(i);
      }
      if (names.size() >= 2) {
        const size_t a = pick(names.size()), b = (a + 1 + pick(names.size() - 1)) % names.size();
        std::swap(w[names[a]], w[names[b]]);
      } else {
        const size_t a = pick(w.size() - 1);
        std::swap(w[a], w[a + 1]);
      }
      return join_spaces(w);
    }
    case 3: {  // changed literal: a digit bumped, a quoted value edited, else a new condition
      for (std::string& t : w) {
        for (char& ch : t) {
          if (ch >= '0' && ch <= '9') {
            ch = static_cast<char>('0' + (ch - '0' + 1) % 10);
            return join_spaces(w);
          }
        }
        if (t.size() > 2 && (t[0] == '"' || t[0] == '\'')) {
          t.insert(1, "New ");
          return join_spaces(w);
        }
      }
      return gold + " AND id = 1";
    }
    case 4: {  // duplicated clause: from a WHERE/AND/ORDER/GROUP to the next keyword
      for (size_t i = 0; i < w.size(); ++i) {
        if (w[i] == "WHERE" || w[i] == "AND" || w[i] == "ORDER" || w[i] == "GROUP") {
          size_t end = i + 1;
          while (end < w.size() && !is_keyword(w[end])) ++end;
          std::vector<std::string> clause(w.begin() + i, w.begin() + end);
          if (clause[0] == "WHERE") clause[0] = "AND";
          w.insert(w.begin() + end, clause.begin(), clause.end());
          return join_spaces(w);
        }
      }
      w.insert(w.end(), w.end() - 2, w.end());
      return join_spaces(w);
    }
    case 5:  // a prefix: shorter than the reference
      w.resize(1 + pick(w.size() - 1));
      return join_spaces(w);
    case 6:  // lower case: 13a keeps case, so only the identifiers still match
      for (std::string& t : w) {
        for (char& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
      return join_spaces(w);
    default:  // longer: an extra clause and a semicolon
      return gold + " LIMIT 5;";
  }
}

// Another way to write the same SQL, as a second reference: single quotes for double ones.
std::string single_quoted(std::string sql) {
  for (char& ch : sql) {
    if (ch == '"') ch = '\'';
  }
  return sql;
}

TEST(Bleu, RealSqlPairsMatchPythonReference) {
  if (!fs::exists(kRealRows)) GTEST_SKIP() << kRealRows << " is absent";
  std::ifstream in(kRealRows);
  std::vector<std::string> golds;
  for (std::string line; golds.size() < 500 && std::getline(in, line);) {
    std::string answer = json::parse(line)["answer"].get<std::string>();
    const std::string open = "[SQL] ", close = " [/SQL]";
    if (answer.starts_with(open) && answer.ends_with(close)) {
      answer = answer.substr(open.size(), answer.size() - open.size() - close.size());
    }
    golds.push_back(answer);
  }
  ASSERT_EQ(golds.size(), 500u);

  std::mt19937 rng(2024);
  std::vector<std::string> predictions;
  std::vector<std::vector<std::string>> references;
  std::vector<Case> cases;
  for (size_t i = 0; i < golds.size(); ++i) {
    predictions.push_back(perturb(golds[i], static_cast<int>(i % 8), &rng));
    references.push_back({golds[i]});
    if (i % 3 == 0) references.back().push_back(single_quoted(perturb(golds[i], 1, &rng)));
    add_all_modes(&cases, str("real pair ", i, ": ", json(predictions.back()).dump()),
                  {predictions.back()}, {references.back()});
  }
  add_all_modes(&cases, "500 real pairs as one corpus", predictions, references);
  add_all_modes(&cases, "500 real pairs, 2-gram BLEU", predictions, references, 2);
  expect_cases_match_reference(cases);
}

// --- published values
// -----------------------------------------------------------------------------

// evaluate 0.4.1 metrics/bleu/bleu.py docstring and README.md.
TEST(Bleu, EvaluatePublishedExamples) {
  const std::vector<std::string> predictions = {"hello there general kenobi", "foo bar foobar"};
  BleuResult r = corpus_bleu(predictions,
                             {{"hello there general kenobi", "hello there !"}, {"foo bar foobar"}});
  EXPECT_EQ(r.bleu, 1.0);
  EXPECT_EQ(r.precisions, (std::vector<double>{1.0, 1.0, 1.0, 1.0}));
  EXPECT_EQ(r.brevity_penalty, 1.0);
  EXPECT_EQ(r.length_ratio, 1.1666666666666667);
  EXPECT_EQ(r.translation_length, 7);
  EXPECT_EQ(r.reference_length, 6);
  // The docstring's "hello there!" tokenizes the same.
  r = corpus_bleu(predictions,
                  {{"hello there general kenobi", "hello there!"}, {"foo bar foobar"}});
  EXPECT_EQ(r.bleu, 1.0);
  EXPECT_EQ(r.reference_length, 6);
  r = corpus_bleu(predictions, {{"hello there general kenobi"}, {"foo bar foobar"}});
  EXPECT_EQ(r.bleu, 1.0);
  EXPECT_EQ(r.length_ratio, 1.0);
  EXPECT_EQ(r.translation_length, 7);
  EXPECT_EQ(r.reference_length, 7);
}

// sacreBLEU README.md ("Using SacreBLEU from Python") and test/test_bleu.py.
TEST(Bleu, SacrebleuPublishedExamples) {
  const std::vector<std::string> sys = {"The dog bit the man.", "It wasn't surprising.",
                                        "The man had just bitten him."};
  // sacrebleu takes reference streams; these are the README's two streams, per segment.
  std::vector<std::vector<std::string>> refs = {
      {"The dog bit the man.", "The dog had bit the man."},
      {"It was not unexpected.", "No one was surprised."},
      {"The man bit him first.", "The man had bitten the dog."}};
  const BleuOptions sacre{BleuMode::kSacrebleu};
  auto fixed = [](double v, int digits) {
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(digits);
    out << v;
    return out.str();
  };
  auto prec_str = [&](const BleuResult& r) {
    std::string s;
    for (double p : r.precisions) s += (s.empty() ? "" : "/") + fixed(p, 1);
    return s;
  };

  // BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
  BleuResult r = corpus_bleu(sys, refs, sacre);
  EXPECT_NEAR(r.bleu, 48.530827, 1e-6);  // test_corpus_bleu's EPSILON is 1e-8 on 48.530827
  EXPECT_EQ(prec_str(r), "82.4/50.0/45.5/37.5");
  EXPECT_EQ(fixed(r.brevity_penalty, 3), "0.943");
  EXPECT_EQ(fixed(r.length_ratio, 3), "0.944");
  EXPECT_EQ(r.translation_length, 17);
  EXPECT_EQ(r.reference_length, 18);

  // test_max_ngram_order: 77.65, 60.50, 53.93, 48.53, 46.14, 43.28 for orders 1..6.
  const char* by_order[] = {"77.65", "60.50", "53.93", "48.53", "46.14", "43.28"};
  for (int order = 1; order <= 6; ++order) {
    EXPECT_EQ(fixed(corpus_bleu(sys, refs, {BleuMode::kSacrebleu, order}).bleu, 2),
              by_order[order - 1])
        << "max order " << order;
  }

  // Empty hypotheses are scored, not removed: 0.0.
  EXPECT_EQ(corpus_bleu({"", "", ""}, refs, sacre).bleu, 0.0);

  // "Variable Number of References": '' in place of the first reference.
  // BLEU = 29.44 82.4/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)
  refs[0][0] = "";
  r = corpus_bleu(sys, refs, sacre);
  EXPECT_EQ(fixed(r.bleu, 2), "29.44");
  EXPECT_EQ(prec_str(r), "82.4/42.9/27.3/12.5");
  EXPECT_EQ(fixed(r.brevity_penalty, 3), "0.889");
  EXPECT_EQ(fixed(r.length_ratio, 3), "0.895");
  EXPECT_EQ(r.translation_length, 17);
  EXPECT_EQ(r.reference_length, 19);
}

// --- where the two modes differ
// -------------------------------------------------------------------

TEST(Bleu, ModesDifferInScaleSmoothingAndReferenceLength) {
  const BleuOptions evaluate{BleuMode::kEvaluate}, sacre{BleuMode::kSacrebleu};
  // Exact match: 1 against 100.
  EXPECT_EQ(corpus_bleu({"SELECT a FROM t WHERE b"}, {{"SELECT a FROM t WHERE b"}}, evaluate).bleu,
            1.0);
  EXPECT_NEAR(corpus_bleu({"SELECT a FROM t WHERE b"}, {{"SELECT a FROM t WHERE b"}}, sacre).bleu,
              100.0, 1e-12);
  // No 4-gram match: evaluate gives 0, sacrebleu's exp smoothing does not.
  const BleuResult e = corpus_bleu({"SELECT a FROM t"}, {{"SELECT a FROM u"}}, evaluate);
  const BleuResult s = corpus_bleu({"SELECT a FROM t"}, {{"SELECT a FROM u"}}, sacre);
  EXPECT_EQ(e.bleu, 0.0);
  EXPECT_EQ(e.precisions[3], 0.0);
  EXPECT_GT(s.bleu, 0.0);
  EXPECT_DOUBLE_EQ(s.precisions[3], 100.0 / (2 * 1));  // the first order without a match: k = 1
  // Shortest against closest reference length: 5 tokens, references of 3 and 6.
  const std::vector<std::vector<std::string>> refs = {{"SELECT a FROM", "SELECT a FROM t WHERE x"}};
  EXPECT_EQ(corpus_bleu({"SELECT a FROM t WHERE"}, refs, evaluate).reference_length, 3);
  EXPECT_EQ(corpus_bleu({"SELECT a FROM t WHERE"}, refs, sacre).reference_length, 6);
  // A trailing "-\n": evaluate joins it away, sacrebleu strips the newline first.
  EXPECT_EQ(corpus_bleu({"a b -\n"}, {{"a b"}}, evaluate).translation_length, 2);
  EXPECT_EQ(corpus_bleu({"a b -\n"}, {{"a b"}}, sacre).translation_length, 3);
  // An empty prediction: ZeroDivisionError in evaluate 0.4.1, 0 here; sacrebleu's ratio is 0.
  const BleuResult empty = corpus_bleu({""}, {{"a b"}}, evaluate);
  EXPECT_EQ(empty.bleu, 0.0);
  EXPECT_EQ(empty.brevity_penalty, 0.0);
  EXPECT_EQ(empty.length_ratio, 0.0);
  // smooth is evaluate's option only.
  EXPECT_EQ(
      corpus_bleu({"SELECT a FROM t"}, {{"SELECT a FROM u"}}, {BleuMode::kSacrebleu, 4, true}).bleu,
      s.bleu);
}

TEST(Bleu, BadArgumentsThrowErrors) {
  auto throws = [](const std::function<void()>& fn, const std::string& part) {
    try {
      fn();
    } catch (const InternalError& e) {
      return ::testing::AssertionFailure() << "internal error: " << e.what();
    } catch (const Error& e) {
      if (std::string(e.what()).find(part) != std::string::npos) {
        return ::testing::AssertionSuccess();
      }
      return ::testing::AssertionFailure() << e.what() << " lacks " << part;
    }
    return ::testing::AssertionFailure() << "did not throw";
  };
  EXPECT_TRUE(throws([] { corpus_bleu({}, {}); }, "no predictions"));
  EXPECT_TRUE(throws([] { corpus_bleu({"a", "b"}, {{"a"}}); }, "2 predictions but 1"));
  EXPECT_TRUE(throws([] { corpus_bleu({"a", "b"}, {{"a"}, {}}); }, "prediction 1 has no"));
  EXPECT_TRUE(throws([] { corpus_bleu({"a"}, {{"a"}}, {BleuMode::kSacrebleu, 0}); }, "max_order"));
}

}  // namespace
}  // namespace llmtune::eval
