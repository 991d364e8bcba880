// The evaluation runner: scoring (per difficulty, both BLEU conventions, exact match, execution
// accuracy), predictions files, generation-based evaluation and the teacher-forced metrics.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "data/synthetic.h"
#include "eval/runner.h"
#include "eval/teacher_forced.h"
#include "support/compare.h"
#include "support/scratch.h"

namespace llmtune::eval {
namespace {

namespace fs = std::filesystem;

TEST(Score, GoldScoresPerfectlyAndWrongAnswersCount) {
  test::ScratchDir dir;
  data::SyntheticOptions o;
  o.databases = 2;
  o.questions_per_db = 10;
  const data::SyntheticResult syn = data::synthetic_generate(o, dir.root().string());
  std::vector<Prediction> gold, wrong;
  for (const data::Record& r : syn.records) {
    Prediction p;
    p.prediction = r.response;
    p.references = {r.response};
    p.db_path = (dir.root() / r.db).string();
    p.difficulty = "easy";
    gold.push_back(p);
    p.prediction = "SELECT 1 FROM no_such_table";
    wrong.push_back(p);
  }
  const EvalReport g = score(gold, {});
  const GroupScores& all = g.groups.at("all");
  EXPECT_EQ(all.count, static_cast<int64_t>(syn.records.size()));
  EXPECT_DOUBLE_EQ(all.bleu.bleu, 1.0);
  EXPECT_DOUBLE_EQ(all.sacrebleu.bleu, 100.0);
  EXPECT_DOUBLE_EQ(all.exact_match, 1.0);
  EXPECT_DOUBLE_EQ(all.execution_accuracy, 1.0);
  EXPECT_EQ(all.outcomes.at("match"), all.count);
  EXPECT_TRUE(g.groups.count("easy"));
  const EvalReport w = score(wrong, {});
  EXPECT_DOUBLE_EQ(w.groups.at("all").execution_accuracy, 0.0);
  EXPECT_EQ(w.groups.at("all").outcomes.at("syntax_error"), all.count);
  EXPECT_DOUBLE_EQ(w.groups.at("all").exact_match, 0.0);
  EXPECT_NE(g.table().find("100.0%"), std::string::npos) << g.table();
  EXPECT_EQ(g.to_json()["all"]["execution_accuracy"].get<double>(), 1.0);
}

// Stop strings end a row once its decoded text holds one; the prediction is cut before it.
TEST(StopStrings, CheckAndCut) {
  const std::string tok_dir = test::shared_dir() + "/fixtures/mistral-tokenizer";
  if (!fs::exists(tok_dir)) GTEST_SKIP() << tok_dir << " absent";
  const auto tok = text::tokenizer_load(tok_dir);
  text::EncodeOptions e;
  e.add_special_tokens = false;
  const std::vector<int32_t> ids = tok->encode("SELECT 1; -- done", e);
  const std::vector<int32_t> head = tok->encode("SELECT 1", e);
  const model::StopCheck stop = stop_at_strings(*tok, {"xyz", ";"});
  ASSERT_TRUE(stop);
  EXPECT_TRUE(stop(0, ids));
  EXPECT_FALSE(stop(0, head));
  EXPECT_FALSE(stop_at_strings(*tok, {}));
  EXPECT_FALSE(stop_at_strings(*tok, {""}));  // an empty stop would end every row at once
  EXPECT_EQ(cut_at_stops("SELECT 1; -- done", {"--", ";"}), "SELECT 1");
  EXPECT_EQ(cut_at_stops("SELECT 1", {"", ";"}), "SELECT 1");
}

TEST(Predictions, FileRoundTripAndErrors) {
  test::ScratchDir dir;
  const std::string file = (dir.root() / "p.jsonl").string();
  write_file_atomic(file, R"({"prediction": "select a from t", "reference": "SELECT a FROM t"})"
                          "\n"
                          R"({"prediction": "x", "references": ["y", "x"], "db_path": "db.sqlite"})"
                          "\n");
  std::vector<Prediction> p = predictions_load(file);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1].references.size(), 2u);
  EXPECT_EQ(p[1].db_path, (dir.root() / "db.sqlite").string());  // relative to the file
  EXPECT_EQ(p[0].db_path, "");
  p[1].db_path.clear();
  const EvalReport r = score(p, {});
  EXPECT_DOUBLE_EQ(r.groups.at("all").exact_match, 1.0);  // case-insensitive; any reference
  predictions_save(file, p);
  EXPECT_EQ(predictions_load(file)[0].prediction, "select a from t");
  for (auto [text, expect] : std::vector<std::pair<std::string, std::string>>{
           {"{\"reference\": \"x\"}\n", ":1: needs a string field \"prediction\""},
           {"{\"prediction\": \"x\"}\n", ":1: needs \"reference\""},
           {"\n{bad\n", ":2: invalid JSON"},
           {"", "no predictions"}}) {
    write_file_atomic(file, text);
    try {
      predictions_load(file);
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
    }
  }
}

// A database that is missing or not a file cannot score any prediction: the report says so
// with the path and the count instead of a silent 0% execution accuracy.
TEST(Score, MissingDatabasesAreNamedWithTheirCount) {
  test::ScratchDir dir;
  std::vector<Prediction> p(3);
  for (Prediction& x : p) {
    x.prediction = "SELECT 1";
    x.references = {"SELECT 1"};
  }
  p[0].db_path = p[1].db_path = dir.file("nowhere.sqlite");
  p[2].db_path = dir.path();
  const EvalReport r = score(p, {});
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_NE(r.warnings[0].find(dir.path() + " is not a file: 1 prediction(s)"), std::string::npos)
      << r.warnings[0];
  EXPECT_NE(r.warnings[1].find(dir.file("nowhere.sqlite") + " is missing: 2 prediction(s)"),
            std::string::npos)
      << r.warnings[1];
  EXPECT_NE(r.table().find("warning: database " + dir.file("nowhere.sqlite")), std::string::npos);
  EXPECT_EQ(r.to_json()["warnings"].size(), 2u);
  EXPECT_EQ(r.groups.at("all").outcomes.at("gold_failed"), 3);
}

model::ModelConfig tiny() {
  model::ModelConfig c;
  c.vocab_size = 32000;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 16;
  c.initializer_range = 0.5;
  return c;
}

TEST(TeacherForced, AccuracyIsArgmaxAgainstTheLabels) {
  const std::string tok_dir = test::shared_dir() + "/fixtures/mistral-tokenizer";
  if (!fs::exists(tok_dir)) GTEST_SKIP() << tok_dir << " absent";
  const auto tok = text::tokenizer_load(tok_dir);
  model::LlamaModel m(tiny(), {});
  m.init_weights(4);
  data::Record r;
  r.instruction = "How many heads?";
  r.input = "CREATE TABLE head (age INTEGER)";
  r.response = "SELECT COUNT(*) FROM head";
  data::FormatOptions f;
  f.chat_template = text::chat_template_resolve("mistral");
  data::Record r2 = r;
  r2.response = "SELECT age FROM head";
  const std::vector<data::Sample> samples = data::format_records(*tok, {r, r2, r}, f, nullptr);
  const TeacherForced t = teacher_forced(m, *tok, samples, 2);
  // Independently: full logits of each sample alone; argmax and cross-entropy per labelled
  // position. The loss is the mean over batches ({0, 1}, {2}) of each batch's token mean,
  // weighted by the batch's rows, as Transformers' evaluation loop averages.
  int64_t correct = 0, total = 0;
  std::vector<double> nll_sum(3, 0.0);
  std::vector<int64_t> count(3, 0);
  for (size_t k = 0; k < samples.size(); ++k) {
    const data::Sample& s = samples[k];
    model::Batch b;
    b.batch = 1;
    b.seq = static_cast<int64_t>(s.input_ids.size());
    b.input_ids = s.input_ids;
    const std::vector<float> logits = m.logits(b).to_f32();
    for (int64_t i = 0; i + 1 < b.seq; ++i) {
      const int32_t label = s.labels[i + 1];
      if (label == -100) continue;
      const float* row = logits.data() + i * 32000;
      const int64_t best = std::max_element(row, row + 32000) - row;
      correct += best == label;
      ++total;
      double mx = *std::max_element(row, row + 32000), z = 0;
      for (int v = 0; v < 32000; ++v) z += std::exp(row[v] - mx);
      nll_sum[k] += mx + std::log(z) - row[label];
      ++count[k];
    }
  }
  EXPECT_EQ(t.tokens, total);
  EXPECT_DOUBLE_EQ(t.token_accuracy, static_cast<double>(correct) / total);
  const double batch0 = (nll_sum[0] + nll_sum[1]) / static_cast<double>(count[0] + count[1]);
  const double batch1 = nll_sum[2] / static_cast<double>(count[2]);
  EXPECT_NEAR(t.loss, (2 * batch0 + batch1) / 3, 1e-4 * t.loss);
  EXPECT_GE(t.bleu.bleu, 0.0);
  EXPECT_LE(t.bleu.bleu, 1.0);
  EXPECT_THROW(teacher_forced(m, *tok, {}, 2), Error);
}

TEST(Evaluate, GeneratesScoresAndReportsProgress) {
  const std::string tok_dir = test::shared_dir() + "/fixtures/mistral-tokenizer";
  if (!fs::exists(tok_dir)) GTEST_SKIP() << tok_dir << " absent";
  test::ScratchDir dir;
  data::SyntheticOptions so;
  so.databases = 1;
  so.questions_per_db = 4;
  const data::SyntheticResult syn = data::synthetic_generate(so, dir.root().string());
  const auto tok = text::tokenizer_load(tok_dir);
  model::LlamaModel m(tiny(), {});
  m.init_weights(5);
  EvalOptions o;
  o.batch_size = 3;
  o.sampling.max_new_tokens = 4;
  o.chat_template = text::chat_template_resolve("mistral");
  o.db_root = dir.root().string();
  int64_t calls = 0, last = 0;
  o.progress = [&](int64_t done, int64_t total, double) {
    ++calls;
    last = done;
    EXPECT_EQ(total, static_cast<int64_t>(syn.records.size()));
  };
  std::vector<Prediction> preds;
  const EvalReport r = evaluate(m, *tok, syn.records, o, &preds);
  ASSERT_EQ(preds.size(), syn.records.size());
  EXPECT_EQ(last, static_cast<int64_t>(syn.records.size()));
  EXPECT_EQ(calls, (last + 2) / 3);
  EXPECT_EQ(r.groups.at("all").executed, static_cast<int64_t>(syn.records.size()));
  EXPECT_GT(r.generated_tokens, 0);
  EXPECT_NE(preds[0].prompt.find("[/INST]"), std::string::npos);
  // A random model writes no working SQL: every execution is wrong, and reported as such.
  EXPECT_DOUBLE_EQ(r.groups.at("all").execution_accuracy, 0.0);
}

}  // namespace
}  // namespace llmtune::eval
