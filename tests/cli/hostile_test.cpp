// What a hostile but realistic user tries, as regressions of the probe that found it: outputs
// over inputs, listings that would write, nonsense numbers, unknown verbs. Each is refused with
// the option, file or key named, exit code 2 (or CLI11's for a malformed command line), and
// nothing changed on disk.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "cli/run_cli.h"
#include "core/files.h"
#include "io/hf_checkpoint.h"
#include "support/compare.h"
#include "support/scratch.h"
#include "support/tiny_llama.h"

namespace llmtune {
namespace {

namespace fs = std::filesystem;
using test::CliResult;
using test::run_llmtune;

// A run that failed cleanly: a non-zero code, every expected part in its output, no internal
// error or crash.
void expect_refused(const CliResult& r, const std::vector<std::string>& parts) {
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_LT(r.code, 128) << "killed by a signal: " << r.output;
  EXPECT_NE(r.code, 3) << r.output;
  EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
  for (const std::string& p : parts)
    EXPECT_NE(r.output.find(p), std::string::npos) << "lacks \"" << p << "\": " << r.output;
}

TEST(CliHostile, PrepareNeverOverwritesItsOwnSource) {
  test::ScratchDir dir;
  const std::string source = dir.file("train.jsonl");
  write_file_atomic(source, test::easy_rows(40));
  expect_refused(run_llmtune("data prepare --source " + source + " --out " + dir.path()),
                 {"would overwrite the source " + source});
  // The same file through another spelling of the directory, and through a hard link.
  expect_refused(run_llmtune("data prepare --source " + source + " --out " + dir.path() + "/./"),
                 {"would overwrite the source"});
  fs::create_directories(dir.file("out"));
  fs::create_hard_link(source, dir.file("out/valid.jsonl"));
  expect_refused(run_llmtune("data prepare --source " + source + " --out " + dir.file("out")),
                 {"would overwrite the source"});
  EXPECT_EQ(read_file(source), test::easy_rows(40));
  expect_refused(run_llmtune("data prepare --source " + source + " --out " + source),
                 {"--out " + source + " is a file"});
  expect_refused(run_llmtune("data prepare --source " + source + " --out /proc/llmtune-out"),
                 {"cannot create the output directory /proc/llmtune-out"});
}

TEST(CliHostile, ListingsNeverCreateOrChangeAStore) {
  test::ScratchDir dir;
  for (const std::string verb : {"experiment list", "experiment describe 1", "checkpoint list 1"}) {
    expect_refused(run_llmtune(verb + " --runs " + dir.file("typo")),
                   {"no experiment store at " + dir.file("typo/llmtune.db")});
    EXPECT_FALSE(fs::exists(dir.file("typo"))) << verb;
  }
  fs::create_directories(dir.file("runs"));
  write_file_atomic(dir.file("runs/llmtune.db"), "");
  expect_refused(run_llmtune("experiment list --runs " + dir.file("runs")), {"is empty"});
  EXPECT_EQ(fs::file_size(dir.file("runs/llmtune.db")), 0u);
  EXPECT_EQ(test::ScratchDir::listing_of(dir.file("runs")), std::vector<std::string>{"llmtune.db"});
}

TEST(CliHostile, UnknownVerbsAreNamed) {
  expect_refused(run_llmtune("frobnicate"), {"unknown verb 'frobnicate' for 'llmtune'", "data"});
  expect_refused(run_llmtune("data prepar"),
                 {"unknown verb 'prepar' for 'llmtune data'", "did you mean 'prepare'?"});
  expect_refused(run_llmtune("experiment lsit"), {"unknown verb 'lsit'", "'list'"});
}

TEST(CliHostile, GenerationSettingsOutOfRangeAreRefused) {
  test::ScratchDir dir;
  model::LlamaModel m(test::tiny_llama(64, 0.02), {});
  m.init_weights(1);
  io::model_save(m, dir.path());
  const std::string model = "generate --model " + dir.path() + " --prompt-ids 1,2,3 ";
  expect_refused(run_llmtune(model + "--temperature nan"), {"--temperature", "finite number"});
  expect_refused(run_llmtune(model + "--temperature -1"), {"--temperature"});
  expect_refused(run_llmtune(model + "--temperature inf"), {"--temperature"});
  expect_refused(run_llmtune(model + "--top-p nan"), {"--top-p"});
  expect_refused(run_llmtune(model + "--top-p 1.5"), {"--top-p"});
  expect_refused(run_llmtune(model + "--top-k -3"), {"--top-k", "integer >= 0"});
  expect_refused(run_llmtune(model + "--seed -1"), {"--seed", "integer >= 0"});
  expect_refused(run_llmtune(model + "--max-new-tokens 0"), {"--max-new-tokens"});
  for (const char* ids : {"1,,3", "1,2,", ",1", "1,-2", "1,x", "99999999999"}) {
    expect_refused(run_llmtune("generate --model " + dir.path() + " --prompt-ids '" + ids + "'"),
                   {"--prompt-ids"});
  }
  // A vanishing temperature is greedy decoding, not NaN: the output equals temperature 0.
  const CliResult tiny = run_llmtune(model + "--temperature 1e-300 --max-new-tokens 6");
  const CliResult greedy = run_llmtune(model + "--max-new-tokens 6");
  ASSERT_EQ(tiny.code, 0) << tiny.output;
  const auto ids = [](const std::string& out) {
    const size_t at = out.find("generated ids:");
    return at == std::string::npos ? out : out.substr(at, out.find('\n', at) - at);
  };
  EXPECT_EQ(ids(tiny.output), ids(greedy.output));
}

TEST(CliHostile, EvalNamesMissingDatabases) {
  test::ScratchDir dir;
  const std::string preds = dir.file("preds.jsonl");
  write_file_atomic(
      preds, R"({"prediction": "SELECT 1", "reference": "SELECT 1", "db_path": "gone.sqlite"})"
             "\n");
  const CliResult r = run_llmtune("eval --predictions " + preds);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: database " + dir.file("gone.sqlite") + " is missing: 1"),
            std::string::npos)
      << r.output;
  expect_refused(run_llmtune("eval --predictions " + preds + " --timeout nan"), {"--timeout"});
  expect_refused(run_llmtune("eval --predictions /dev/zero"), {"/dev/zero", "not a regular file"});
}

TEST(CliHostile, OptionsThatDoNothingAreRefused) {
  test::ScratchDir dir;
  const std::string llama2 = test::shared_dir() + "/fixtures/llama2-tokenizer";
  if (fs::exists(llama2)) {
    expect_refused(run_llmtune("tokenize --tokenizer " + llama2 + " --add-generation-prompt hi"),
                   {"apply to --chat"});
    expect_refused(run_llmtune("tokenize --tokenizer " + llama2 + " --chat-template chatml hi"),
                   {"apply to --chat"});
    expect_refused(run_llmtune("tokenize --tokenizer " + llama2 + " --skip-special hi"),
                   {"applies to --decode"});
  }
  model::LlamaModel m(test::tiny_llama(64, 0.02), {});
  m.init_weights(1);
  io::model_save(m, dir.file("model"));
  expect_refused(run_llmtune("generate --model " + dir.file("model") + " --prompt-ids 1 --stop ''"),
                 {"--stop \"\""});
  // An adapter directory given as the model: say what it is and how to use it.
  fs::create_directories(dir.file("adapter"));
  write_file_atomic(dir.file("adapter/adapter_config.json"),
                    R"({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16,
                            "target_modules": ["q_proj", "v_proj"],
                            "base_model_name_or_path": "mistralai/Mistral-7B-v0.1"})");
  expect_refused(run_llmtune("generate --model " + dir.file("adapter") + " --prompt-ids 1"),
                 {"is a LoRA adapter, not a model", "mistralai/Mistral-7B-v0.1", "--adapter"});
  // A source that cannot be read leaves no output directory behind.
  expect_refused(run_llmtune("data prepare --source " + dir.file("missing.jsonl") + " --out " +
                             dir.file("out")),
                 {"missing.jsonl"});
  EXPECT_FALSE(fs::exists(dir.file("out")));
  // The demo checks its config before minutes of data and pretraining.
  const CliResult demo = run_llmtune("demo --quick --out " + dir.file("demo") + " --config " +
                                     dir.file("nowhere.yaml"));
  expect_refused(demo, {"nowhere.yaml"});
  EXPECT_EQ(demo.output.find("1/5"), std::string::npos) << demo.output;
}

// Files from strangers that would run for ever or take gigabytes stop at once with the limit
// named and a non-zero exit: a "billion laughs" experiment YAML, chat templates that build huge
// strings or loop, a tokenizer regex that backtracks catastrophically, a model index naming a
// shard outside its directory.
TEST(CliHostile, HostileFilesStopWithTheirLimitNamed) {
  test::ScratchDir dir;
  std::string bomb = "name: bomb\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ", *a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  write_file_atomic(dir.file("bomb.yaml"), bomb);
  expect_refused(
      run_llmtune("experiment create " + dir.file("bomb.yaml") + " --runs " + dir.file("runs")),
      {"bomb.yaml:", "more than 100000 values"});
  expect_refused(run_llmtune("train " + dir.file("bomb.yaml") + " --runs " + dir.file("runs")),
                 {"bomb.yaml:", "more than 100000 values"});

  const std::string llama2 = test::shared_dir() + "/fixtures/llama2-tokenizer";
  if (fs::exists(llama2)) {
    write_file_atomic(dir.file("chat.json"), R"([{"role": "user", "content": "hi"}])");
    const auto with = [&](const std::string& name, const std::function<void(nlohmann::json&)>& edit,
                          const std::string& file) {
      const std::string tok = dir.file(name);
      fs::create_directories(tok);
      for (const auto& e : fs::directory_iterator(llama2))
        fs::copy_file(e.path(), tok + "/" + e.path().filename().string());
      nlohmann::json j = read_json(tok + "/" + file);
      edit(j);
      write_file_atomic(tok + "/" + file, j.dump());
      return tok;
    };
    for (const char* t :
         {"{{ 'a' * 1000000000 }}", "{{ '%0999999999d' % 1 }}", "{{ 'x' | center(2000000000) }}",
          "{% macro r(n) %}{{ r(n) }}{% endmacro %}{{ r(0) }}",
          "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
          "{% endfor %}"}) {
      const std::string tok = with(
          "tok", [&](nlohmann::json& j) { j["chat_template"] = t; }, "tokenizer_config.json");
      expect_refused(
          run_llmtune("tokenize --tokenizer " + tok + " --chat " + dir.file("chat.json")),
          {"tokenizer_config.json"});
      fs::remove_all(tok);
    }
    const std::string tok = with(
        "regex",
        [](nlohmann::json& j) {
          j["normalizer"] = nullptr;
          j["pre_tokenizer"] = {{"type", "Split"},
                                {"pattern", {{"Regex", "(a|aa)+$"}}},
                                {"behavior", "Isolated"},
                                {"invert", false}};
        },
        "tokenizer.json");
    expect_refused(run_llmtune("tokenize --backend tokenizer.json --tokenizer " + tok + " " +
                               std::string(80, 'a') + "b"),
                   {"tokenizer.json", "regular expression (a|aa)+$ failed", "backtracking"});
  }

  model::LlamaModel m(test::tiny_llama(64, 0.02), {});
  m.init_weights(1);
  io::SaveOptions save;
  save.max_shard_bytes = 20000;
  io::model_save(m, dir.file("model"), save);
  const std::string index = dir.file("model/model.safetensors.index.json");
  nlohmann::json j = read_json(index);
  j["weight_map"]["model.norm.weight"] = "../../etc/passwd";
  write_file_atomic(index, j.dump());
  expect_refused(run_llmtune("generate --model " + dir.file("model") + " --prompt-ids 1"),
                 {index, "weight_map[\"model.norm.weight\"]", "../../etc/passwd"});
}

TEST(CliHostile, EvalLimitAppliesToAPredictionsFile) {
  test::ScratchDir dir;
  const std::string preds = dir.file("preds.jsonl");
  std::string lines;
  for (int i = 0; i < 3; ++i)
    lines += R"({"prediction": "SELECT 1", "reference": "SELECT 1"})"
             "\n";
  write_file_atomic(preds, lines);
  const CliResult r = run_llmtune("eval --predictions " + preds + " --limit 1");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"count\": 1,"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace llmtune
