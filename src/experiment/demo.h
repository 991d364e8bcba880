// The demo: the reference workflow in minutes on a CPU. A synthetic text-to-SQL set
// (easy/medium/hard, with SQLite databases), a SentencePiece tokenizer trained on it, a tiny
// Llama base model pretrained on its text, then full and LoRA finetuning on each difficulty
// (one grid experiment, configs/demo.yaml, run as any experiment is), and BLEU / exact match /
// execution accuracy of every model on its difficulty's test split, against the untrained and
// the base model.
#pragma once

#include <cstdint>
#include <string>

namespace llmtune::experiment {

struct DemoOptions {
  std::string out = "runs/demo";  // everything goes here
  std::string config;             // "": the built-in configs/demo.yaml
  bool quick = false;             // fewer data and steps, as CI runs it
  int64_t vocab = 0;              // the tokenizer's vocabulary; 0: the setting's
  int64_t steps = 0;              // finetuning steps of every trial; 0: the setting's
};

// Runs every stage, printing progress, the comparison table and the `llmtune serve` command
// that opens the dashboard on its experiments; the table is also written to
// OUT/demo_summary.json. Returns the runs directory of its experiments (OUT/runs). Throws
// llmtune::Error naming what failed.
std::string demo_run(const DemoOptions& options);

}  // namespace llmtune::experiment
