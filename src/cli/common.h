// What several verbs share: loading a model (with an adapter) and its tokenizer, reading ids.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "model/llama.h"
#include "text/tokenizer.h"

namespace llmtune::cli {

struct ModelArgs {
  std::string dir;
  std::string adapter;          // a PEFT adapter directory, optional
  bool merge = false;           // merge the adapter into the weights (same results, faster)
  std::string dtype = "f32";    // storage of the weights: f32 or bf16
  std::string tokenizer;        // default: the model directory
  std::string device = "auto";  // cpu, cuda, cuda:N, auto
};

void add_model_options(CLI::App* cmd, ModelArgs* args);
std::unique_ptr<model::LlamaModel> load_model(const ModelArgs& args);
// The tokenizer, or null when `optional` and the directory has none.
std::unique_ptr<text::Tokenizer> load_tokenizer(const ModelArgs& args, bool optional);

// Validators for numbers typed on the command line: unlike CLI11's PositiveNumber they refuse
// nan and inf, and say plainly what they want.
extern const CLI::Validator kFinitePositive;      // a real number > 0
extern const CLI::Validator kFiniteNonNegative;   // a real number >= 0
extern const CLI::Validator kPositiveInteger;     // 1, 2, ...
extern const CLI::Validator kNonNegativeInteger;  // 0, 1, ...

// Token ids written as "1,15043,3186", "1 15043 3186" or "[1, 15043, 3186]"; `option` names the
// flag in the error a malformed or empty list gets.
std::vector<int32_t> parse_token_ids(const std::string& text, const std::string& option);

}  // namespace llmtune::cli
