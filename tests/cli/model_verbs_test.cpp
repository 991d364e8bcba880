// `llmtune generate` and `llmtune eval` as a user runs them, on a tiny random model saved as a
// Hugging Face directory (with and without a PEFT adapter) and on synthetic SQLite databases.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/run_cli.h"
#include "core/files.h"
#include "core/philox.h"
#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"
#include "model/generate.h"
#include "support/compare.h"
#include "support/scratch.h"
#include "support/tiny_llama.h"

namespace llmtune {
namespace {

namespace fs = std::filesystem;
using test::run_llmtune;

std::string mistral() {
  return test::shared_dir() + "/fixtures/mistral-tokenizer";
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The ids after "generated ids: " in the program's output.
std::vector<int32_t> printed_ids(const std::string& output) {
  const size_t at = output.find("generated ids: ");
  if (at == std::string::npos) return {};
  std::string line = output.substr(at + 15, output.find('\n', at) - at - 15);
  std::vector<int32_t> ids;
  std::stringstream in(line);
  for (std::string w; std::getline(in, w, ',');) ids.push_back(std::stoi(w));
  return ids;
}

model::ModelConfig tiny_config() {
  return test::tiny_llama(32000, 0.3);  // the Mistral tokenizer's vocabulary
}

// A tiny model saved in scratch/model, its LoRA adapter (non-zero B) in scratch/adapter.
class CliModel : public ::testing::Test {
 protected:
  void SetUp() override {
    model::ModelOptions o;
    o.training = model::Training::kLora;
    model::LlamaModel m(tiny_config(), o);
    m.init_weights(11);
    io::model_save(m, model_dir());
    model::LoraConfig l;
    l.r = 4;
    l.alpha = 8;
    l.target_modules = {"q_proj", "v_proj"};
    m.add_lora(l, 3);
    test::lora_b_randomize(m, 5, 0.5f);
    io::adapter_save(m, adapter_dir());
  }
  std::string model_dir() const { return (dir_.root() / "model").string(); }
  std::string adapter_dir() const { return (dir_.root() / "adapter").string(); }
  std::string path(const std::string& name) const { return (dir_.root() / name).string(); }

  // Greedy tokens after `prompt` from the saved model (with the adapter when asked), in-process.
  std::vector<int32_t> expected(const std::vector<int32_t>& prompt, int64_t n, bool adapter) {
    auto m = io::model_load(model_dir(), {});
    if (adapter) io::adapter_load(*m, adapter_dir());
    model::SamplingOptions s;
    s.max_new_tokens = n;
    return model::generate(*m, {prompt}, s)[0].tokens;
  }

  test::ScratchDir dir_;
};

// --prompt-ids needs no tokenizer (the model directory has none) and prints the ids the library
// generates, with the adapter attached or merged.
TEST_F(CliModel, GenerateFromRawIds) {
  const std::vector<int32_t> prompt = {1, 415, 2936, 9060, 285, 1142};
  const std::string ids = "1,415,2936,9060,285,1142";
  test::CliResult r = run_llmtune("generate --model " + model_dir() + " --prompt-ids " + ids +
                                  " --max-new-tokens 7");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("prompt ids: " + ids), std::string::npos) << r.output;
  const std::vector<int32_t> base = expected(prompt, 7, false);
  EXPECT_EQ(printed_ids(r.output), base) << r.output;
  const std::vector<int32_t> adapted = expected(prompt, 7, true);
  r = run_llmtune("generate --model " + model_dir() + " --adapter " + adapter_dir() +
                  " --prompt-ids '[1, 415, 2936, 9060, 285, 1142]' --max-new-tokens 7");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(printed_ids(r.output), adapted) << r.output;
  r = run_llmtune("generate --model " + model_dir() + " --adapter " + adapter_dir() +
                  " --merge --prompt-ids " + ids + " --max-new-tokens 7");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(printed_ids(r.output), adapted) << r.output;
  EXPECT_NE(base, adapted) << "the adapter should change a random model's greedy output";
}

// --dataset --index prints the rendered prompt, the generated SQL and the correct answer.
TEST_F(CliModel, GenerateForADatasetRecord) {
  if (!fs::exists(mistral())) GTEST_SKIP() << "fixture " << mistral() << " absent";
  write_file_atomic(
      path("rows.jsonl"),
      R"x({"instruction": "How many heads are there?", "input": "CREATE TABLE head (age INTEGER)", "response": "SELECT COUNT(*) FROM head"})x"
      "\n");
  const test::CliResult r =
      run_llmtune("generate --model " + model_dir() + " --tokenizer " + mistral() +
                  " --chat-template mistral --dataset " + path("rows.jsonl") +
                  " --index 0 --max-new-tokens 5 --print-ids");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Prompt:\n<s>[INST]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("How many heads are there?"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Generated SQL:\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Correct answer:\nSELECT COUNT(*) FROM head\n"), std::string::npos)
      << r.output;
  EXPECT_EQ(printed_ids(r.output).size(), 5u) << r.output;
}

// A model evaluation writes its predictions and report; scoring that predictions file again
// (without the model) gives the same numbers.
TEST_F(CliModel, EvalWithAModelThenRescoreItsPredictions) {
  if (!fs::exists(mistral())) GTEST_SKIP() << "fixture " << mistral() << " absent";
  test::CliResult r = run_llmtune("data prepare --source synthetic --out " + path("data") +
                                  " --databases 2 --questions-per-db 12");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_llmtune("eval --model " + model_dir() + " --tokenizer " + mistral() +
                  " --chat-template mistral --dataset " + path("data") +
                  " --split train --limit 3 --batch-size 2 --max-new-tokens 6 --out " +
                  path("preds.jsonl") + " --json " + path("report.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("tokens/s"), std::string::npos) << r.output;  // the progress bar
  const nlohmann::json report = nlohmann::json::parse(read(path("report.json")));
  EXPECT_EQ(report["all"]["count"], 3) << report.dump(2);
  EXPECT_EQ(report["all"]["executed"], 3) << report.dump(2);
  const std::string preds = read(path("preds.jsonl"));
  EXPECT_EQ(std::count(preds.begin(), preds.end(), '\n'), 3) << preds;
  r = run_llmtune("eval --predictions " + path("preds.jsonl") + " --json " + path("again.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json again = nlohmann::json::parse(read(path("again.json")));
  for (const char* key :
       {"bleu", "sacrebleu", "exact_match", "execution_accuracy", "execution_outcomes"}) {
    EXPECT_EQ(again["all"][key], report["all"][key]) << key;
  }
}

// Gold, two writes, a runaway query and a syntax error: each scored and reported in its
// category, and the database file stays byte-identical.
TEST_F(CliModel, EvalPredictionsReportsEachFailureAndLeavesTheDatabase) {
  test::CliResult r = run_llmtune("data prepare --source synthetic --out " + path("data") +
                                  " --databases 1 --questions-per-db 6");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string first_line =
      read(path("data/train.jsonl")).substr(0, read(path("data/train.jsonl")).find('\n'));
  const nlohmann::json rec = nlohmann::json::parse(first_line);
  const std::string db = (fs::path(path("data")) / rec["db"].get<std::string>()).string();
  const std::string gold = rec["response"];
  const std::string before = read(db);
  ASSERT_FALSE(before.empty());
  const std::string schema = rec["input"];  // "CREATE TABLE name (id INTEGER ..."
  const std::string table = schema.substr(13, schema.find(' ', 13) - 13);
  std::string lines;
  for (const std::string& pred :
       {gold, "DROP TABLE " + table, "UPDATE " + table + " SET id = id + 1",
        std::string(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"),
        std::string("SELEC nothing FROM")}) {
    lines +=
        nlohmann::json{{"prediction", pred}, {"reference", gold}, {"db_path", db}}.dump() + "\n";
  }
  write_file_atomic(path("preds.jsonl"), lines);
  r = run_llmtune("eval --predictions " + path("preds.jsonl") + " --timeout 0.5 --json " +
                  path("report.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json report = nlohmann::json::parse(read(path("report.json")));
  const nlohmann::json& outcomes = report["all"]["execution_outcomes"];
  EXPECT_EQ(outcomes.value("match", 0), 1) << outcomes.dump();
  EXPECT_EQ(outcomes.value("write_refused", 0), 2) << outcomes.dump();
  EXPECT_EQ(outcomes.value("syntax_error", 0), 1) << outcomes.dump();
  EXPECT_EQ(outcomes.value("timeout", 0), 1) << outcomes.dump();
  EXPECT_DOUBLE_EQ(report["all"]["execution_accuracy"].get<double>(), 0.2);
  EXPECT_NE(r.output.find("write_refused"), std::string::npos) << r.output;  // in the table
  EXPECT_EQ(read(db), before);
}

TEST_F(CliModel, BadInputsExitTwoWithTheReason) {
  struct Case {
    std::string args, expect;
  };
  const std::string m = "generate --model " + model_dir();
  const std::vector<Case> cases = {
      {m, "give exactly one of"},
      {m + " --prompt-ids 1,x", "\"x\" is not a token id"},
      {m + " --prompt-ids 1,99999", "99999"},
      {m + " --prompt 'How many?'", "tokenizer"},
      {"generate --model " + path("nowhere") + " --prompt-ids 1", path("nowhere")},
      {m + " --adapter " + path("nowhere") + " --prompt-ids 1", path("nowhere")},
      {m + " --merge --prompt-ids 1", "--merge needs an --adapter"},
      {m + " --dtype f8 --prompt-ids 1", "--dtype"},
      {"eval --predictions " + path("missing.jsonl"), path("missing.jsonl")},
      {"eval --predictions " + path("missing.jsonl") + " --model " + model_dir(), "on its own"},
      {"eval --model " + model_dir(), "give --model and --dataset"},
  };
  for (const Case& c : cases) {
    const test::CliResult r = run_llmtune(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
  }
  write_file_atomic(path("bad.jsonl"), "{\"prediction\": \"SELECT 1\"}\n");
  const test::CliResult r = run_llmtune("eval --predictions " + path("bad.jsonl"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.jsonl:1"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace llmtune
