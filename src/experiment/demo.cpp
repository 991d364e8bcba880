#include "experiment/demo.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "config/experiment.h"
#include "core/device.h"
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

// The demo's size: every lever of what it costs and what it can learn, chosen once from the
// machine (a GPU gets the larger setting) and --quick. The finetuning settings of the CPU run
// are configs/demo.yaml's; the other settings override them.
struct DemoScale {
  std::string name;
  data::SyntheticOptions data;    // the finetuning set; its test split is what is scored
  data::SyntheticOptions corpus;  // other databases: the base model's pretraining text
  int64_t vocab = 3000;
  model::ModelConfig model;  // vocab_size comes from the tokenizer
  int64_t pretrain_steps = 0, pretrain_batch = 8;
  double pretrain_lr = 3e-3;
  std::vector<std::string> overrides;  // --set values on top of the experiment config
};

model::ModelConfig tiny_llama(int64_t hidden, int64_t layers) {
  model::ModelConfig c;
  c.hidden_size = hidden;
  c.intermediate_size = hidden * 11 / 4;
  c.num_hidden_layers = layers;
  c.head_dim = 32;
  c.num_attention_heads = hidden / 32;
  c.num_key_value_heads = c.num_attention_heads / 2;
  c.max_position_embeddings = 2048;
  c.rms_norm_eps = 1e-5;
  c.initializer_range = 0.02;
  return c;
}

// Measured on 2 CPU cores (bench/RESULTS.md, "the demo's learning curve"): how fast finetuning
// learns depends most on how well the base was pretrained (a base pretrained to loss 0.35 gives
// a validation loss of 1.22 after 300 full-finetuning steps on easy, one at 1.29 gives 2.13 after
// 250), so a large share of the time goes to pretraining, which the six trials share. A 3000-
// piece vocabulary cuts the tokens per example by a third against 1000 pieces; grouping batches
// by length (configs/demo.yaml) cuts padding, 2.5 times faster steps; learning rate 5e-3 beat
// 1e-2; a model twice as wide learned no faster per step at 2.5 times the cost.
DemoScale demo_scale(const DemoOptions& a, bool gpu) {
  DemoScale s;
  // The pretraining databases come from another seed: the base has seen SQL and schemas of the
  // same domains, never the finetuning set's databases or questions (held-out questions that a
  // template happens to repeat are dropped besides).
  s.corpus.seed = 7;
  s.model = tiny_llama(128, 4);
  if (a.quick) {
    // CI: every stage, in a few minutes on 2 cores.
    s.name = "quick (CI)";
    s.data.databases = 16;
    s.data.questions_per_db = 50;
    s.corpus.databases = 20;
    s.corpus.questions_per_db = 50;
    s.vocab = 2000;
    s.pretrain_steps = 100;
    s.overrides = {"hyperparameters.training_args.max_steps=60",
                   "hyperparameters.training_args.eval_steps=30",
                   "hyperparameters.training_args.save_steps=30"};
  } else if (gpu) {
    // Not yet run on a GPU (this project's CUDA backend is unverified): a base four times as
    // wide and twice as deep, five times the data, and the steps the CPU measurements say
    // correct SQL needs (more than 1500 on easy at batch 8).
    s.name = "GPU";
    s.data.databases = 200;
    s.data.questions_per_db = 100;
    s.corpus.databases = 200;
    s.corpus.questions_per_db = 100;
    s.vocab = 8000;
    s.model = tiny_llama(512, 8);
    s.pretrain_steps = 4000;
    s.pretrain_batch = 32;
    s.pretrain_lr = 1e-3;
    s.overrides = {"hyperparameters.training_args.max_steps=4000",
                   "hyperparameters.training_args.per_device_train_batch_size=16",
                   "hyperparameters.training_args.learning_rate=5e-4",
                   "hyperparameters.training_args.eval_steps=500",
                   "hyperparameters.training_args.save_steps=500",
                   "searcher.max_concurrent_trials=1"};
  } else {
    // 2 CPU cores, at most 10 minutes in all. Measured on this project's 2-core machine: 5 min
    // 14 s (pretraining 81 s, the six 120-step trials two at a time about 2.5 minutes, the rest
    // evaluation); an earlier 2-core machine was 2.3 times slower per step. 80 finetuning
    // databases rather than 40: the same steps, a larger test split to score, and with
    // `--steps 1000` full finetuning on easy reached 7.5% execution accuracy against 3.8%
    // with 40 (less overfitting: 1883 easy training questions against 937).
    s.name = "CPU";
    s.data.databases = 80;
    s.data.questions_per_db = 100;
    s.corpus.databases = 40;
    s.corpus.questions_per_db = 100;
    s.pretrain_steps = 240;
  }
  if (a.vocab > 0 && a.vocab < 100)
    throw Error(str("--vocab ", a.vocab,
                    " is too small: give at least 100 pieces, or 0 for the setting's"));
  if (a.vocab > 0) s.vocab = a.vocab;
  if (a.steps > 0) {
    // After the setting's own overrides, so it wins; validation and checkpoints halfway and at
    // the end, as the CPU setting has them.
    const std::string args = "hyperparameters.training_args.";
    const int64_t half = std::max<int64_t>(1, a.steps / 2);
    s.overrides.push_back(str(args, "max_steps=", a.steps));
    s.overrides.push_back(str(args, "eval_steps=", half));
    s.overrides.push_back(str(args, "save_steps=", half));
  }
  return s;
}

// Synthetic records split 80/10/10 into out/data/{train,valid,test}.jsonl (all difficulties).
void make_data(const DemoScale& scale, const std::string& dir) {
  const data::SyntheticResult r = data::synthetic_generate(scale.data, dir);
  const data::Splits s = data::split_records(data::select_subset(r.records, "all"), 123);
  data::write_splits(dir, s);
  std::printf("%zu questions over %lld SQLite databases: train %zu, valid %zu, test %zu\n",
              r.records.size(), static_cast<long long>(scale.data.databases), s.train.size(),
              s.valid.size(), s.test.size());
}

// A Llama-style SentencePiece BPE model trained on the training split, with the Mistral chat
// template in its tokenizer_config.json.
void make_tokenizer(const DemoScale& scale, const std::string& data_dir, const std::string& dir) {
  std::vector<std::string> lines = {data::kSystemPrompt};
  for (const data::Record& r : data::read_records(path_join(data_dir, "train.jsonl"))) {
    lines.push_back(data::user_prompt(r));
    lines.push_back(r.response);
  }
  fs::create_directories(dir);
  text::SentencePieceTrainOptions o;
  o.vocab_size = static_cast<int>(scale.vocab);
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
              static_cast<long long>(scale.vocab), lines.size());
}

// Where the demo keeps what it makes.
struct DemoPaths {
  std::string out, data, tokenizer, untrained, base, runs, config;
};

// The questions of the valid and test splits: the pretraining text must not contain them.
std::set<std::string> held_out_questions(const std::string& data_dir) {
  std::set<std::string> held;
  for (const char* split : {"valid.jsonl", "test.jsonl"})
    for (const data::Record& r : data::read_records(path_join(data_dir, split)))
      held.insert(r.instruction);
  return held;
}

// The CREATE TABLE statements of a record's input, one per line.
void add_tables(const std::string& input, std::set<std::string>& tables) {
  size_t i = 0;
  while (i < input.size()) {
    size_t j = input.find(" CREATE TABLE ", i);
    if (j == std::string::npos) j = input.size();
    tables.insert(input.substr(i, j - i));
    i = j + 1;
  }
}

// The base model's pretraining text, like SQL files with comments: a database's schema, then
// questions as comments each followed by its query, in documents of at most 512 tokens (the
// schema repeated at the top of each). Every token is labelled: a plain causal LM.
std::vector<data::Sample> pretraining_corpus(const DemoScale& scale, const text::Tokenizer& tok,
                                             const std::string& dir,
                                             const std::set<std::string>& held_out) {
  constexpr int64_t kDocumentTokens = 512;
  const data::SyntheticResult r = data::synthetic_generate(scale.corpus, dir);
  std::map<std::string, std::vector<const data::Record*>> by_db;
  for (const data::Record& rec : r.records)
    if (!held_out.count(rec.instruction)) by_db[rec.db].push_back(&rec);
  std::vector<data::Sample> docs;
  auto add = [&](const std::string& text) {
    data::Sample s;
    s.input_ids = tok.encode(text);
    s.input_ids.push_back(tok.special_tokens().eos);
    if (static_cast<int64_t>(s.input_ids.size()) > kDocumentTokens)
      s.input_ids.resize(kDocumentTokens);
    s.labels = s.input_ids;
    docs.push_back(std::move(s));
  };
  int64_t tokens = 0;
  for (const auto& [db, records] : by_db) {
    std::set<std::string> tables;
    for (const data::Record* rec : records) add_tables(rec->input, tables);
    std::string schema;
    for (const std::string& t : tables) schema += t + ";\n";
    const int64_t schema_tokens = static_cast<int64_t>(tok.encode(schema).size());
    std::string doc = schema;
    int64_t n = schema_tokens;
    for (const data::Record* rec : records) {
      const std::string pair = "-- " + rec->instruction + "\n" + rec->response + ";\n";
      const auto k = static_cast<int64_t>(tok.encode(pair, {.add_special_tokens = false}).size());
      if (n + k + 1 > kDocumentTokens && n > schema_tokens) {
        add(doc);
        doc = schema;
        n = schema_tokens;
      }
      doc += pair;
      n += k;
    }
    if (n > schema_tokens) add(doc);
  }
  for (const data::Sample& d : docs) tokens += static_cast<int64_t>(d.input_ids.size());
  std::printf("pretraining text: %zu documents, %lld tokens, from %zu other databases\n",
              docs.size(), static_cast<long long>(tokens), by_db.size());
  return docs;
}

// The untrained model (random weights), and the base model: the same, pretrained as a plain
// causal LM on the pretraining text.
void make_models(const DemoScale& scale, const DemoPaths& p) {
  const auto tok = text::tokenizer_load(p.tokenizer);
  model::ModelOptions mo;
  mo.training = model::Training::kFull;
  model::ModelConfig config = scale.model;
  config.vocab_size = tok->vocab_size();
  model::LlamaModel m(config, mo);
  m.init_weights(1);
  io::model_save(m, p.untrained);
  std::vector<data::Sample> samples =
      pretraining_corpus(scale, *tok, path_join(p.out, "pretraining"), held_out_questions(p.data));
  train::TrainerOptions o;
  o.max_steps = scale.pretrain_steps;
  o.batch_size = scale.pretrain_batch;
  o.group_by_length = true;
  o.adamw.weight_decay = 0.01;
  o.schedule.type = "cosine";
  o.schedule.lr = scale.pretrain_lr;
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
  io::model_save(m, p.base);
  for (const std::string& dir : {p.untrained, p.base}) {
    for (const std::string& f : text::tokenizer_files(p.tokenizer)) {
      fs::copy_file(f, fs::path(dir) / fs::path(f).filename(),
                    fs::copy_options::overwrite_existing);
    }
  }
  std::printf(
      "tiny Llama (hidden %lld, %lld layers, %lld parameters): pretrained %lld steps in %.0f s, "
      "final loss %.3f\n",
      static_cast<long long>(config.hidden_size), static_cast<long long>(config.num_hidden_layers),
      static_cast<long long>(config.parameter_count()), static_cast<long long>(r.steps), r.seconds,
      last_loss);
}

struct Scored {
  std::string subset, model;
  eval::GroupScores scores;
  double train_seconds = 0;
  int64_t steps = 0;
};

// One difficulty: its splits, and how its test split is evaluated. Generation stops at EOS or
// after the longest training query of the subset and a margin: a model that never stops (the
// untrained one) costs no more than a right answer could need.
struct Subset {
  data::DatasetSplits splits;
  eval::EvalOptions options;
};

Subset subset_load(const DemoPaths& p, const text::Tokenizer& tok, const std::string& name) {
  Subset s{data::load_dataset(p.data, name, ""), {}};
  size_t longest = 0;
  for (const data::Record& r : s.splits.train)
    longest = std::max(longest, tok.encode(r.response, {.add_special_tokens = false}).size());
  s.options.batch_size = 8;
  s.options.sampling.max_new_tokens = static_cast<int64_t>(longest) + 16;
  s.options.db_root = s.splits.db_root;
  s.options.exec.timeout_seconds = 2.0;
  return s;
}

// A model's scores on one difficulty's test split.
eval::GroupScores score_model(model::LlamaModel& m, const text::Tokenizer& tok, const Subset& s) {
  return eval::evaluate(m, tok, s.splits.test, s.options, nullptr).groups.at("all");
}

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
std::vector<Scored> score_all(const DemoPaths& p, int64_t experiment) {
  const auto tok = text::tokenizer_load(p.tokenizer);
  std::map<std::string, Subset> tests;  // by difficulty, read once
  for (const char* subset : {"easy", "medium", "hard"})
    tests[subset] = subset_load(p, *tok, subset);
  std::vector<Scored> rows;
  for (const std::string subset : {"easy", "medium", "hard"}) {
    for (const auto& [name, dir] :
         {std::pair<std::string, std::string>{"untrained", p.untrained}, {"base", p.base}}) {
      auto m = io::model_load(dir, {});
      rows.push_back({subset, name, score_model(*m, *tok, tests.at(subset)), 0, 0});
    }
  }
  auto store = track::Store::open(track::store_path(p.runs), track::Store::Access::kReadOnly);
  for (const track::TrialRow& t : store->trials(experiment)) {
    const std::string subset = t.hyperparameters.at("dataset_subset");
    const bool lora = t.hyperparameters.at("lora");
    auto m = trial_final_model(*store, experiment, t, lora, p.base);
    Scored s{subset, lora ? "LoRA" : "full", score_model(*m, *tok, tests.at(subset)), 0,
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

// What the table shows about correct SQL, in a line under it: the finetuned model whose queries
// execute right most often, or that none did and what to do about it.
std::string finding(const std::vector<Scored>& rows) {
  const Scored* best = nullptr;
  for (const Scored& r : rows) {
    if (r.steps > 0 && (!best || r.scores.execution_accuracy > best->scores.execution_accuracy))
      best = &r;
  }
  if (!best) return "no finetuned model to compare";
  if (best->scores.execution_accuracy == 0) {
    return str("no finetuned model wrote a query that executes right after ", best->steps,
               " steps: correct SQL needs longer trials (llmtune demo --steps N; README, \"The "
               "demo\", measures N = 1000)");
  }
  char pct[16];
  std::snprintf(pct, sizeof pct, "%.1f%%", 100 * best->scores.execution_accuracy);
  return str("best execution accuracy: ", pct, ", ", best->model, " finetuning on ", best->subset,
             " after ", best->steps, " steps");
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
  const DemoScale scale = demo_scale(a, !device_resolve("auto").is_cpu());
  std::vector<std::string> sets = {"hyperparameters.model=" + p.base,
                                   "hyperparameters.dataset=" + p.data};
  sets.insert(sets.end(), scale.overrides.begin(), scale.overrides.end());
  config::experiment_load(p.config, sets);
  std::printf("setting: %s%s\n", scale.name.c_str(),
              scale.name == "GPU" ? " (a GPU is present: a larger base, more data and steps)" : "");
  say("1/5 synthetic text-to-SQL data");
  make_data(scale, p.data);
  say("2/5 a SentencePiece tokenizer");
  make_tokenizer(scale, p.data, p.tokenizer);
  say("3/5 a tiny Llama base model");
  make_models(scale, p);

  say("4/5 finetuning: full and LoRA on each difficulty (" + p.config + ")");
  const int64_t exp = run_experiment(p.config, sets, p.runs, false);

  say("5/5 evaluation on each difficulty's test split");
  const std::vector<Scored> rows = score_all(p, exp);
  const json summary = print_table(rows);
  std::printf("\n%s\n", finding(rows).c_str());
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
