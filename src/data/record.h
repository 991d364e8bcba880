// Text-to-SQL records and the files they come from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmtune::data {

// One example: a question, the table definitions it is about, and the SQL that answers it.
struct Record {
  std::string instruction;  // the question ("question" in sql-create-context)
  std::string input;        // CREATE TABLE statements ("context")
  std::string response;     // the SQL ("answer"; a "[SQL] ... [/SQL]" wrapper is removed)
  std::string db;           // SQLite file the SQL runs against, relative to the records file;
                            // "" when there is none
  int64_t line = 0;         // 1-based line (JSON Lines, CSV) or element index + 1 (JSON array)
};

enum class Format { kAuto, kJsonLines, kJsonArray, kCsv };

struct ReadOptions {
  Format format = Format::kAuto;  // kAuto: by extension (.jsonl, .json, .csv), then by content
  // Field names for instruction/input/response; empty: the reference names
  // (instruction/input/response), else the sql-create-context ones (question/context/answer),
  // whichever the first record has.
  std::string instruction_field, input_field, response_field;
};

// Reads every record of a JSON Lines, JSON array or CSV file. Throws llmtune::Error naming the
// file, the line (and for CSV the column) and the field: malformed JSON or CSV, a missing or
// non-string field, bytes that are not UTF-8, an empty file.
std::vector<Record> read_records(const std::string& path, const ReadOptions& options = {});

// Writes records as JSON Lines with the reference field names (and "db" when set), atomically.
void write_records(const std::string& path, const std::vector<Record>& records);

// Python's len(text.split()) over the three fields: whitespace-separated words.
int64_t word_count(const Record& r);

}  // namespace llmtune::data
