#include "experiment/demo.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "config/experiment.h"
#include "core/error.h"
#include "core/files.h"
#include "data/dataset.h"
#include "data/format.h"
#include "data/split.h"
#include "data/synthetic.h"
#include "demo_config.h"
#include "eval/runner.h"
#include "experiment/runner.h"
#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"
#include "text/chat.h"
#include "text/sentencepiece.h"
#include "text/tokenizer.h"
#include "track/store.h"
#include "train/trainer.h"

namespace llmtune::experiment {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void say(const std::string& s) {
  std::printf("\n== %s\n", s.c_str());
  std::fflush(stdout);
}

// Synthetic records split 80/10/10 into out/data/{train,valid,test}.jsonl (all difficulties).
void make_data(const DemoOptions& a, const std::string& dir) {
  data::SyntheticOptions o;
  o.databases = a.quick ? 8 : 20;
  o.questions_per_db = a.quick ? 40 : 60;
  const data::SyntheticResult r = data::synthetic_generate(o, dir);
  const data::Splits s = data::split_records(data::select_subset(r.records, "all"), 123);
  data::write_splits(dir, s);
  std::printf("%zu questions over %lld SQLite databases: train %zu, valid %zu, test %zu\n",
              r.records.size(), static_cast<long long>(o.databases), s.train.size(), s.valid.size(),
              s.test.size());
}

// A Llama-style SentencePiece BPE model trained on the training split, with the Mistral chat
// template in its tokenizer_config.json.
void make_tokenizer(const DemoOptions& a, const std::string& data_dir, const std::string& dir) {
  std::vector<std::string> lines = {data::kSystemPrompt};
  for (const data::Record& r : data::read_records(path_join(data_dir, "train.jsonl"))) {
    lines.push_back(data::user_prompt(r));
    lines.push_back(r.response);
  }
  fs::create_directories(dir);
  text::SentencePieceTrainOptions o;
  o.vocab_size = static_cast<int>(a.vocab);
  text::sentencepiece_train(lines, o, path_join(dir, "tokenizer.model"));
  const json config = {{"tokenizer_class", "LlamaTokenizer"},
                       {"bos_token", "<s>"},
                       {"eos_token", "</s>"},
                       {"unk_token", "<unk>"},
                       {"add_bos_token", true},
                       {"add_eos_token", false},
                       {"model_max_length", 2048},
                       {"chat_template", text::builtin_chat_template("mistral")}};
  write_file_atomic(path_join(dir, "tokenizer_config.json"), config.dump(2) + "\n");
  std::printf("SentencePiece BPE, %lld pieces, trained on %zu lines\n",
              static_cast<long long>(a.vocab), lines.size());
}

model::ModelConfig tiny_llama(int64_t vocab) {
  model::ModelConfig c;
  c.vocab_size = vocab;
  c.hidden_size = 128;
  c.intermediate_size = 352;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 32;
  c.max_position_embeddings = 2048;
  c.rms_norm_eps = 1e-5;
  c.initializer_range = 0.02;
  return c;
}

// The untrained model (random weights), and the base model: the same, pretrained as a plain
// causal LM on the training split's whole conversations (every token labelled).
void make_models(const DemoOptions& a, const std::string& data_dir, const std::string& tok_dir,
                 const std::string& untrained, const std::string& base) {
  const auto tok = text::tokenizer_load(tok_dir);
  model::ModelOptions mo;
  mo.training = model::Training::kFull;
  model::LlamaModel m(tiny_llama(tok->vocab_size()), mo);
  m.init_weights(1);
  io::model_save(m, untrained);
  data::FormatOptions fo;
  fo.max_length = 512;
  std::vector<data::Sample> samples = data::format_records(
      *tok, data::read_records(path_join(data_dir, "train.jsonl")), fo, nullptr);
  for (data::Sample& s : samples) s.labels = s.input_ids;
  train::TrainerOptions o;
  o.max_steps = a.quick ? 100 : 300;
  o.batch_size = 8;
  o.adamw.weight_decay = 0.01;
  o.schedule.type = "cosine";
  o.schedule.lr = 3e-3;
  o.schedule.warmup_steps = 10;
  o.schedule.total_steps = o.max_steps;
  o.pad_id = tok->special_tokens().pad;
  o.logging_steps = 0;
  o.save_final = false;
  double last_loss = 0;
  train::TrainerHooks hooks;
  hooks.on_metrics = [&](const std::string& group, int64_t step, const json& m) {
    if (group != "step") return;
    last_loss = m["loss"].get<double>();
    std::fprintf(stderr,
                 "\rpretraining the base model: step %lld/%lld, loss %.3f, %.0f tokens/s   ",
                 static_cast<long long>(step), static_cast<long long>(o.max_steps), last_loss,
                 m["tokens_per_second"].get<double>());
  };
  train::Trainer trainer(m, std::move(samples), o, hooks);
  const train::TrainResult r = trainer.train();
  std::fprintf(stderr, "\n");
  io::model_save(m, base);
  for (const std::string& dir : {untrained, base}) {
    for (const std::string& f : text::tokenizer_files(tok_dir)) {
      fs::copy_file(f, fs::path(dir) / fs::path(f).filename(),
                    fs::copy_options::overwrite_existing);
    }
  }
  std::printf(
      "tiny Llama (hidden 128, 4 layers, %lld parameters): pretrained %lld steps in %.0f s, "
      "final loss %.3f\n",
      static_cast<long long>(m.config().parameter_count()), static_cast<long long>(r.steps),
      r.seconds, last_loss);
}

struct Scored {
  std::string subset, model;
  eval::GroupScores scores;
  double train_seconds = 0;
  int64_t steps = 0;
};

// A model's scores on one difficulty's test split.
eval::GroupScores score_model(model::LlamaModel& m, const text::Tokenizer& tok,
                              const data::DatasetSplits& s, bool quick) {
  eval::EvalOptions o;
  o.batch_size = 8;
  o.sampling.max_new_tokens = quick ? 64 : 128;
  o.db_root = s.db_root;
  o.exec.timeout_seconds = 2.0;
  return eval::evaluate(m, tok, s.test, o, nullptr).groups.at("all");
}

// Where the demo keeps what it makes.
struct DemoPaths {
  std::string out, data, tokenizer, untrained, base, runs, config;
};

// The finetuned model of a trial: its last checkpoint (merged into the base for LoRA).
std::unique_ptr<model::LlamaModel> trial_final_model(track::Store& store, int64_t experiment,
                                                     const track::TrialRow& t, bool lora,
                                                     const std::string& base) {
  std::string last;
  int64_t max_step = -1;
  for (const track::CheckpointRow& c : store.checkpoints(experiment, "step")) {
    if (c.trial_id == t.id && c.step > max_step) {
      max_step = c.step;
      last = c.path;
    }
  }
  if (last.empty()) throw Error(str("trial ", t.id, " left no checkpoint"));
  if (!lora) return io::model_load(last, {});
  auto m = io::model_load(base, {});
  io::adapter_load(*m, last);
  m->merge_lora();
  return m;
}

// Every model of the demo scored on its difficulty's test split: untrained, base, and each
// trial's finetuned model with its training time.
std::vector<Scored> score_all(const DemoPaths& p, int64_t experiment, bool quick) {
  const auto tok = text::tokenizer_load(p.tokenizer);
  std::map<std::string, data::DatasetSplits> tests;  // by difficulty, read once
  for (const char* subset : {"easy", "medium", "hard"})
    tests[subset] = data::load_dataset(p.data, subset, "");
  std::vector<Scored> rows;
  for (const std::string subset : {"easy", "medium", "hard"}) {
    for (const auto& [name, dir] :
         {std::pair<std::string, std::string>{"untrained", p.untrained}, {"base", p.base}}) {
      auto m = io::model_load(dir, {});
      rows.push_back({subset, name, score_model(*m, *tok, tests.at(subset), quick), 0, 0});
    }
  }
  auto store = track::Store::open(track::store_path(p.runs), track::Store::Access::kReadOnly);
  for (const track::TrialRow& t : store->trials(experiment)) {
    const std::string subset = t.hyperparameters.at("dataset_subset");
    const bool lora = t.hyperparameters.at("lora");
    auto m = trial_final_model(*store, experiment, t, lora, p.base);
    Scored s{subset, lora ? "LoRA" : "full", score_model(*m, *tok, tests.at(subset), quick), 0,
             t.steps_completed};
    for (const track::MetricRow& r : store->metrics(t.id, "training"))
      s.train_seconds = r.metrics.value("train_runtime", s.train_seconds);
    rows.push_back(s);
  }
  return rows;
}

// The comparison table on stdout; its rows as JSON.
json print_table(const std::vector<Scored>& rows) {
  std::printf("\n%-7s %-10s %8s %10s %8s %10s %10s %8s\n", "subset", "model", "BLEU", "sacreBLEU",
              "exact", "execution", "train (s)", "s/step");
  json summary = json::array();
  for (const std::string subset : {"easy", "medium", "hard"}) {
    for (const char* name : {"untrained", "base", "LoRA", "full"}) {
      for (const Scored& r : rows) {
        if (r.subset != subset || r.model != name) continue;
        const std::string t = r.steps ? str(static_cast<int64_t>(r.train_seconds)) : "-";
        char per_step[32] = "-";
        if (r.steps) std::snprintf(per_step, sizeof per_step, "%.2f", r.train_seconds / r.steps);
        std::printf("%-7s %-10s %8.4f %10.2f %7.1f%% %9.1f%% %10s %8s\n", subset.c_str(), name,
                    r.scores.bleu.bleu, r.scores.sacrebleu.bleu, 100 * r.scores.exact_match,
                    100 * r.scores.execution_accuracy, t.c_str(), per_step);
        summary.push_back({{"subset", subset},
                           {"model", name},
                           {"bleu", r.scores.bleu.bleu},
                           {"sacrebleu", r.scores.sacrebleu.bleu},
                           {"exact_match", r.scores.exact_match},
                           {"execution_accuracy", r.scores.execution_accuracy},
                           {"train_seconds", r.train_seconds},
                           {"steps", r.steps}});
      }
    }
  }
  return summary;
}

// The command that exports the best checkpoint (by the searcher metric) for serving: a Hugging
// Face directory (a LoRA merged into its base) and an f16 GGUF file under out/export.
std::string export_command(const DemoPaths& p, int64_t experiment) {
  auto store = track::Store::open(track::store_path(p.runs), track::Store::Access::kReadOnly);
  const std::vector<track::CheckpointRow> best = store->checkpoints(experiment, "");
  if (best.empty()) return "(no checkpoint)";
  const std::string& ckpt = best.front().path;
  const bool lora = fs::exists(fs::path(ckpt) / "adapter_config.json");
  return str("llmtune export ", ckpt, lora ? " --merge" : "", " --out ",
             path_join(p.out, "export/best-hf"), " --gguf ", path_join(p.out, "export/best.gguf"));
}

}  // namespace

std::string demo_run(const DemoOptions& a) {
  const double start = now();
  DemoPaths p;
  p.out = fs::absolute(a.out).string();
  p.data = path_join(p.out, "data");
  p.tokenizer = path_join(p.out, "tokenizer");
  p.untrained = path_join(p.out, "models/untrained");
  p.base = path_join(p.out, "models/base");
  p.runs = path_join(p.out, "runs");
  fs::create_directories(p.out);
  // The experiment config is read and checked before minutes of data and pretraining.
  p.config = a.config;
  if (p.config.empty()) {
    p.config = path_join(p.out, "demo.yaml");
    write_file_atomic(p.config, kDemoConfig);
  }
  std::vector<std::string> sets = {"hyperparameters.model=" + p.base,
                                   "hyperparameters.dataset=" + p.data};
  config::experiment_load(p.config, sets);
  say("1/5 synthetic text-to-SQL data");
  make_data(a, p.data);
  say("2/5 a SentencePiece tokenizer");
  make_tokenizer(a, p.data, p.tokenizer);
  say("3/5 a tiny Llama base model");
  make_models(a, p.data, p.tokenizer, p.untrained, p.base);

  say("4/5 finetuning: full and LoRA on each difficulty (" + p.config + ")");
  if (a.quick) {
    sets.push_back("hyperparameters.training_args.max_steps=50");
    sets.push_back("hyperparameters.training_args.eval_steps=25");
    sets.push_back("hyperparameters.training_args.save_steps=25");
  }
  const int64_t exp = run_experiment(p.config, sets, p.runs, false);

  say("5/5 evaluation on each difficulty's test split");
  const json summary = print_table(score_all(p, exp, a.quick));
  write_file_atomic(path_join(p.out, "demo_summary.json"), summary.dump(2) + "\n");
  std::printf("\nexperiment store: %s (llmtune experiment describe %lld --runs %s)\n",
              track::store_path(p.runs).c_str(), static_cast<long long>(exp), p.runs.c_str());
  std::printf("TensorBoard:      tensorboard --logdir %s\n", p.runs.c_str());
  std::printf("best checkpoints: llmtune checkpoint list %lld --runs %s\n",
              static_cast<long long>(exp), p.runs.c_str());
  std::printf("export the best:  %s\n", export_command(p, exp).c_str());
  std::printf("summary:          %s\ndone in %.0f s\n",
              path_join(p.out, "demo_summary.json").c_str(), now() - start);
  std::printf("\ndashboard: llmtune serve --runs %s   (then open http://127.0.0.1:8080/)\n",
              p.runs.c_str());
  std::fflush(stdout);
  return p.runs;
}

}  // namespace llmtune::experiment
