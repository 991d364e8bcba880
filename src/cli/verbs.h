// The verbs of the llmtune program; each file registers one with the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace llmtune::cli {

// `llmtune tokenize`: ids and pieces of a text, the text of ids, a rendered chat.
void add_tokenize(CLI::App& app);
// `llmtune data prepare|stats`: datasets into splits; token lengths, padding, truncation.
void add_data(CLI::App& app);
// `llmtune generate`: the SQL a model writes for one question.
void add_generate(CLI::App& app);
// `llmtune eval`: BLEU, exact match and execution accuracy of a model or a predictions file.
void add_eval(CLI::App& app);
// `llmtune experiment create|list|describe`, `llmtune checkpoint list`.
void add_experiment(CLI::App& app);
// `llmtune experiment pause|activate|kill|archive|unarchive|wait` (add_experiment adds them).
void add_experiment_lifecycle(CLI::App& experiment);
// `llmtune trial logs`.
void add_trial(CLI::App& app);
// `llmtune train`: one trial in this process.
void add_train(CLI::App& app);
// `llmtune export`: a checkpoint as a Hugging Face directory (LoRA merged) and/or a GGUF file.
void add_export(CLI::App& app);
// `llmtune demo`: the whole workflow on the built-in synthetic dataset.
void add_demo(CLI::App& app);
// `llmtune serve`: the dashboard over the experiment store.
void add_serve(CLI::App& app);

}  // namespace llmtune::cli
