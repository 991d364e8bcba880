// llmtune eval --model DIR [--adapter DIR] --dataset FILE|DIR [--split test]
//     generates the SQL for every example and reports BLEU (evaluate and sacreBLEU
//     conventions), exact match and execution accuracy per difficulty, as a table and JSON.
// llmtune eval --predictions FILE.jsonl
//     scores predictions from any system on the same metrics, without a model.
#include <cstdio>
#include <filesystem>

#include "cli/common.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "core/files.h"
#include "data/record.h"
#include "eval/runner.h"
#include "text/chat.h"

namespace llmtune::cli {

namespace {

namespace fs = std::filesystem;

struct EvalArgs {
  ModelArgs model;
  std::string dataset, split = "test", predictions, out, json, chat_template;
  std::vector<std::string> stops;
  int64_t batch_size = 8, limit = 0;
  int64_t max_new_tokens = 256;
  double timeout = 5.0;
  int64_t max_rows = 100000;
  bool quiet = false;
};

void progress_bar(int64_t done, int64_t total, double tps) {
  const int width = 30, filled = static_cast<int>(width * done / std::max<int64_t>(1, total));
  std::fprintf(stderr, "\r[%s%s] %lld/%lld examples, %.1f tokens/s",
               std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
               static_cast<long long>(done), static_cast<long long>(total), tps);
  if (done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

void run(const EvalArgs& a) {
  eval::EvalReport report;
  std::vector<eval::Prediction> preds;
  eval::ExecOptions exec;
  exec.timeout_seconds = a.timeout;
  exec.max_rows = a.max_rows;
  if (!a.predictions.empty()) {
    if (!a.dataset.empty() || !a.model.dir.empty()) {
      throw Error("--predictions scores a file on its own: leave out --model and --dataset");
    }
    preds = eval::predictions_load(a.predictions);
    if (a.limit > 0 && static_cast<int64_t>(preds.size()) > a.limit)
      preds.resize(static_cast<size_t>(a.limit));
    report = eval::score(preds, exec);
  } else {
    if (a.model.dir.empty() || a.dataset.empty()) {
      throw Error("give --model and --dataset (or --predictions FILE.jsonl)");
    }
    std::string file = a.dataset;
    if (fs::is_directory(file)) file = path_join(a.dataset, a.split + ".jsonl");
    std::vector<data::Record> records = data::read_records(file);
    if (a.limit > 0 && static_cast<int64_t>(records.size()) > a.limit)
      records.resize(static_cast<size_t>(a.limit));
    auto m = load_model(a.model);
    const auto tok = load_tokenizer(a.model, false);
    eval::EvalOptions o;
    o.batch_size = a.batch_size;
    o.sampling.max_new_tokens = a.max_new_tokens;
    o.stop_strings = a.stops;
    o.exec = exec;
    o.db_root = fs::path(file).parent_path().string();
    if (!a.chat_template.empty()) o.chat_template = text::chat_template_resolve(a.chat_template);
    if (!a.quiet) o.progress = progress_bar;
    report = eval::evaluate(*m, *tok, records, o, &preds);
  }
  std::printf("%s", report.table().c_str());
  if (!a.out.empty()) {
    eval::predictions_save(a.out, preds);
    std::printf("predictions: %s\n", a.out.c_str());
  }
  const std::string json = report.to_json().dump(2);
  if (!a.json.empty()) {
    write_file_atomic(a.json, json + "\n");
    std::printf("report: %s\n", a.json.c_str());
  } else {
    std::printf("%s\n", json.c_str());
  }
}

}  // namespace

void add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd =
      app.add_subcommand("eval", "Score a model (or a predictions file) on text-to-SQL");
  cmd->footer(
      "Examples:\n"
      "  llmtune eval --model CHECKPOINT_DIR --dataset runs/demo/data --split test --out "
      "preds.jsonl\n"
      "  llmtune eval --predictions preds.jsonl --json report.json");
  cmd->add_option("--model", a->model.dir, "Hugging Face model directory");
  cmd->add_option("--adapter", a->model.adapter, "PEFT LoRA adapter directory to apply");
  cmd->add_flag("--merge", a->model.merge, "Merge the adapter into the weights first");
  cmd->add_option("--dtype", a->model.dtype, "Weight storage: f32 or bf16")->capture_default_str();
  cmd->add_option("--tokenizer", a->model.tokenizer, "Tokenizer directory (default: the model's)");
  cmd->add_option("--device", a->model.device,
                  "cpu, cuda, cuda:N, or auto (a GPU when there is one)")
      ->capture_default_str();
  cmd->add_option("--dataset", a->dataset, "A records file or a prepared directory");
  cmd->add_option("--split", a->split, "With a directory: which split")->capture_default_str();
  cmd->add_option("--predictions", a->predictions, "Score this JSON Lines file instead of a model");
  cmd->add_option("--limit", a->limit, "Evaluate only the first N examples")
      ->check(kPositiveInteger);
  cmd->add_option("--batch-size", a->batch_size)->capture_default_str()->check(kPositiveInteger);
  cmd->add_option("--max-new-tokens", a->max_new_tokens)
      ->capture_default_str()
      ->check(kPositiveInteger);
  cmd->add_option("--stop", a->stops, "A string that ends a prediction (repeatable)");
  cmd->add_option("--chat-template", a->chat_template, "Built-in template name or Jinja file");
  cmd->add_option("--timeout", a->timeout, "Seconds per SQL query")
      ->capture_default_str()
      ->check(kFinitePositive);
  cmd->add_option("--max-rows", a->max_rows, "Rows a SQL result may have")
      ->capture_default_str()
      ->check(kPositiveInteger);
  cmd->add_option("--out", a->out, "Write the predictions here (JSON Lines)");
  cmd->add_option("--json", a->json, "Write the report here instead of printing it");
  cmd->add_flag("--quiet", a->quiet, "No progress bar");
  cmd->callback([a] { run(*a); });
}

}  // namespace llmtune::cli
