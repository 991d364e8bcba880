// The verbs of the llmtune program; each file registers one with the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace llmtune::cli {

// `llmtune tokenize`: ids and pieces of a text, the text of ids, a rendered chat.
void add_tokenize(CLI::App& app);
// `llmtune data prepare|stats`: datasets into splits; token lengths, padding, truncation.
void add_data(CLI::App& app);

}  // namespace llmtune::cli
