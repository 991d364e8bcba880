// Evaluation on a test split: generate the SQL for each question and score it with BLEU (both
// conventions), exact match and - where the example names a database - execution accuracy, per
// difficulty. Also scores predictions made by any system, read from a file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/record.h"
#include "eval/bleu.h"
#include "eval/sql_exec.h"
#include "model/generate.h"
#include "text/tokenizer.h"

namespace llmtune::eval {

// One scored example (a line of the predictions file).
struct Prediction {
  std::string prediction;
  std::vector<std::string> references;
  std::string db_path;     // "" when there is no database to run on
  std::string difficulty;  // easy, medium, hard or none
  std::string prompt;
  bool exact = false;
  std::string execution;  // an ExecOutcome name, or "" without a database
};

struct GroupScores {
  int64_t count = 0;
  BleuResult bleu;       // evaluate convention (0..1)
  BleuResult sacrebleu;  // sacreBLEU convention (0..100)
  double exact_match = 0;
  int64_t executed = 0;           // examples with a database
  double execution_accuracy = 0;  // matches / executed
  std::map<std::string, int64_t> outcomes;
};

struct EvalReport {
  std::map<std::string, GroupScores> groups;  // "all", then each difficulty present
  int64_t generated_tokens = 0;
  double seconds = 0;
  // What the scores cannot show: databases that are missing (their predictions count as
  // gold_failed), with the path and how many predictions named each.
  std::vector<std::string> warnings;
  nlohmann::ordered_json to_json() const;
  std::string table() const;
};

struct EvalOptions {
  int64_t batch_size = 8;
  model::SamplingOptions sampling;        // greedy by default; EOS is added to the stop ids
  std::vector<std::string> stop_strings;  // also end a prediction (the text is cut there)
  text::ChatTemplate chat_template;       // empty: the tokenizer's
  std::string system = "";                // "" = the reference system prompt
  ExecOptions exec;
  std::string db_root;  // record.db is relative to this directory
  // Called after each batch with (done, total, tokens/s), for a progress display.
  std::function<void(int64_t, int64_t, double)> progress;
};

// A StopCheck that ends a row once its decoded text contains one of `stops` (empty strings are
// ignored; none left: no check), and the cut that removes that stop and what follows it.
model::StopCheck stop_at_strings(const text::Tokenizer& tokenizer,
                                 const std::vector<std::string>& stops);
std::string cut_at_stops(std::string text, const std::vector<std::string>& stops);

// Generates and scores every record; fills `predictions` (in record order) when given.
EvalReport evaluate(model::LlamaModel& model, const text::Tokenizer& tokenizer,
                    const std::vector<data::Record>& records, const EvalOptions& options,
                    std::vector<Prediction>* predictions);

// Scores predictions (their exact and execution fields are filled in).
EvalReport score(std::vector<Prediction>& predictions, const ExecOptions& exec);

// Reads a predictions file: JSON Lines with "prediction", "reference" or "references", and
// optional "db_path" (relative to the file) and "difficulty". Errors name the file and line.
std::vector<Prediction> predictions_load(const std::string& path);
void predictions_save(const std::string& path, const std::vector<Prediction>& predictions);

}  // namespace llmtune::eval
