// llmtune demo [--out runs/demo] [--quick]
//     The reference workflow in minutes on a CPU: a synthetic text-to-SQL set (easy/medium/hard,
//     with SQLite databases), a SentencePiece tokenizer trained on it, a tiny Llama base model
//     pretrained on its text, then full and LoRA finetuning on each difficulty (one grid
//     experiment, configs/demo.yaml), and BLEU / exact match / execution accuracy of every model
//     on its difficulty's test split, against the untrained and the base model.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/common.h"
#include "cli/experiment_run.h"
#include "cli/verbs.h"
#include "config/experiment.h"
#include "core/error.h"
#include "data/format.h"
#include "data/split.h"
#include "data/synthetic.h"
#include "demo_config.h"
#include "eval/runner.h"
#include "io/files.h"
#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"
#include "text/chat.h"
#include "text/sentencepiece.h"
#include "text/tokenizer.h"
#include "track/store.h"
#include "train/trainer.h"
#include "train/trial.h"

namespace llmtune::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct DemoArgs {
  std::string out = "runs/demo";
  std::string config;  // "": the built-in configs/demo.yaml
  bool quick = false;
  int64_t vocab = 1000;
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void say(const std::string& s) {
  std::printf("\n== %s\n", s.c_str());
  std::fflush(stdout);
}

// Synthetic records split 80/10/10 into out/data/{train,valid,test}.jsonl (all difficulties).
void make_data(const DemoArgs& a, const std::string& dir) {
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
void make_tokenizer(const DemoArgs& a, const std::string& data_dir, const std::string& dir) {
  std::vector<std::string> lines = {data::kSystemPrompt};
  for (const data::Record& r : data::read_records(io::path_join(data_dir, "train.jsonl"))) {
    lines.push_back(data::user_prompt(r));
    lines.push_back(r.response);
  }
  fs::create_directories(dir);
  text::SentencePieceTrainOptions o;
  o.vocab_size = static_cast<int>(a.vocab);
  text::sentencepiece_train(lines, o, io::path_join(dir, "tokenizer.model"));
  const json config = {{"tokenizer_class", "LlamaTokenizer"},
                       {"bos_token", "<s>"},
                       {"eos_token", "</s>"},
                       {"unk_token", "<unk>"},
                       {"add_bos_token", true},
                       {"add_eos_token", false},
                       {"model_max_length", 2048},
                       {"chat_template", text::builtin_chat_template("mistral")}};
  io::write_file_atomic(io::path_join(dir, "tokenizer_config.json"), config.dump(2) + "\n");
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
void make_models(const DemoArgs& a, const std::string& data_dir, const std::string& tok_dir,
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
      *tok, data::read_records(io::path_join(data_dir, "train.jsonl")), fo, nullptr);
  for (data::Sample& s : samples) s.labels = s.input_ids;
  train::TrainerOptions o;
  o.max_steps = a.quick ? 100 : 300;
  o.batch_size = 8;
  o.adamw.lr = 3e-3;
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
  hooks.on_step = [&](int64_t step, double loss, double, double tps) {
    last_loss = loss;
    std::fprintf(stderr,
                 "\rpretraining the base model: step %lld/%lld, loss %.3f, %.0f tokens/s   ",
                 static_cast<long long>(step), static_cast<long long>(o.max_steps), loss, tps);
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
      static_cast<long long>(m.parameters().size()), static_cast<long long>(r.steps), r.seconds,
      last_loss);
}

struct Scored {
  std::string subset, model;
  eval::GroupScores scores;
  double train_seconds = 0;
  int64_t steps = 0;
};

// A model's scores on one difficulty's test split.
eval::GroupScores score_model(model::LlamaModel& m, const text::Tokenizer& tok,
                              const train::DatasetSplits& s, bool quick) {
  eval::EvalOptions o;
  o.batch_size = 8;
  o.sampling.max_new_tokens = quick ? 64 : 128;
  o.db_root = s.db_root;
  o.exec.timeout_seconds = 2.0;
  return eval::evaluate(m, tok, s.test, o, nullptr).groups.at("all");
}

void demo(const DemoArgs& a) {
  const double start = now();
  const std::string out = fs::absolute(a.out).string();
  const std::string data_dir = io::path_join(out, "data"),
                    tok_dir = io::path_join(out, "tokenizer");
  const std::string untrained = io::path_join(out, "models/untrained"),
                    base = io::path_join(out, "models/base");
  fs::create_directories(out);
  // The experiment config is read and checked before minutes of data and pretraining.
  std::string config = a.config;
  if (config.empty()) {
    config = io::path_join(out, "demo.yaml");
    io::write_file_atomic(config, kDemoConfig);
  }
  const std::vector<std::string> sets0 = {"hyperparameters.model=" + base,
                                          "hyperparameters.dataset=" + data_dir};
  config::experiment_load(config, sets0);
  say("1/5 synthetic text-to-SQL data");
  make_data(a, data_dir);
  say("2/5 a SentencePiece tokenizer");
  make_tokenizer(a, data_dir, tok_dir);
  say("3/5 a tiny Llama base model");
  make_models(a, data_dir, tok_dir, untrained, base);

  say("4/5 finetuning: full and LoRA on each difficulty (" + config + ")");
  std::vector<std::string> sets = sets0;
  if (a.quick) {
    sets.push_back("hyperparameters.training_args.max_steps=50");
    sets.push_back("hyperparameters.training_args.eval_steps=25");
    sets.push_back("hyperparameters.training_args.save_steps=25");
  }
  const std::string runs = io::path_join(out, "runs");
  const int64_t exp = run_experiment(config, sets, runs, false);

  say("5/5 evaluation on each difficulty's test split");
  const auto tok = text::tokenizer_load(tok_dir);
  std::map<std::string, train::DatasetSplits> tests;  // by difficulty, read once
  for (const char* subset : {"easy", "medium", "hard"}) {
    tests[subset] = train::load_dataset(data_dir, subset, "");
  }
  std::vector<Scored> rows;
  for (const std::string subset : {"easy", "medium", "hard"}) {
    for (const auto& [name, dir] :
         {std::pair<std::string, std::string>{"untrained", untrained}, {"base", base}}) {
      auto m = io::model_load(dir, {});
      rows.push_back({subset, name, score_model(*m, *tok, tests.at(subset), a.quick), 0, 0});
    }
  }
  const json desc = describe_experiment_json(runs, exp);
  for (const json& t : desc["trials"]) {
    const std::string subset = t["hyperparameters"]["dataset_subset"];
    const bool lora = t["hyperparameters"]["lora"];
    std::unique_ptr<model::LlamaModel> m;
    std::string last;  // the final model: the checkpoint of the highest step
    int64_t max_step = -1;
    for (const json& c : t["checkpoints"]) {
      if (c["step"].get<int64_t>() > max_step) {
        max_step = c["step"];
        last = c["path"];
      }
    }
    if (last.empty()) throw Error(str("trial ", t["id"].get<int64_t>(), " left no checkpoint"));
    if (lora) {
      m = io::model_load(base, {});
      io::adapter_load(*m, last);
      m->merge_lora();
    } else {
      m = io::model_load(last, {});
    }
    Scored s{subset, lora ? "LoRA" : "full", score_model(*m, *tok, tests.at(subset), a.quick), 0,
             t["steps_completed"].get<int64_t>()};
    s.train_seconds = t["final_training"].value("train_runtime", 0.0);
    rows.push_back(s);
  }

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
  io::write_file_atomic(io::path_join(out, "demo_summary.json"), summary.dump(2) + "\n");
  std::printf("\nexperiment store: %s (llmtune experiment describe %lld --runs %s)\n",
              store_path(runs).c_str(), static_cast<long long>(exp), runs.c_str());
  std::printf("TensorBoard:      tensorboard --logdir %s\n", runs.c_str());
  std::printf("best checkpoints: llmtune checkpoint list %lld --runs %s\n",
              static_cast<long long>(exp), runs.c_str());
  std::printf("summary:          %s\ndone in %.0f s\n",
              io::path_join(out, "demo_summary.json").c_str(), now() - start);
}

}  // namespace

void add_demo(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  CLI::App* d = app.add_subcommand("demo", "The whole workflow on a built-in synthetic dataset");
  d->footer(
      "Examples:\n"
      "  llmtune demo                    (what `make demo` runs)\n"
      "  llmtune demo --quick --out /tmp/demo");
  d->add_option("--out", a->out, "Where everything goes")->capture_default_str();
  d->add_option("--config", a->config,
                "The finetuning experiment (default: the built-in configs/demo.yaml)");
  d->add_option("--vocab", a->vocab, "Tokenizer vocabulary size")
      ->capture_default_str()
      ->check(CLI::Range(100, 1000000));
  d->add_flag("--quick", a->quick, "A shorter run (fewer data and steps), as CI uses");
  d->callback([a] { demo(*a); });
}

}  // namespace llmtune::cli
