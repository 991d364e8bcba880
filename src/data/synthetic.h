// The built-in text-to-SQL dataset: random relational schemas filled into SQLite databases, and
// questions with gold SQL from templates of growing difficulty. Every gold query is executed on
// its database and kept only if it runs and returns rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/record.h"

namespace llmtune::data {

struct SyntheticOptions {
  uint64_t seed = 123;
  int64_t databases = 20;         // schemas, one SQLite file each
  int64_t questions_per_db = 60;  // attempted per schema; failures are dropped, not retried
  // The share of questions drawn from each template family (easy: one-table filters,
  // aggregates; medium: joins, GROUP BY; hard: HAVING, ORDER BY/LIMIT, nested queries, several
  // joins). Word counts, not the family, decide the difficulty subset later.
  double easy = 0.4, medium = 0.35, hard = 0.25;
};

struct SyntheticResult {
  std::vector<Record> records;  // record.db is "databases/<name>.sqlite"
  int64_t attempted = 0;        // gold queries generated
  int64_t rejected = 0;         // ... that failed to execute or returned no rows
};

// Writes out_dir/databases/*.sqlite and returns the records (the caller writes them beside).
// Deterministic: the same options give the same databases and records, on every machine.
// A record's input holds the CREATE TABLE statements its SQL reads, plus distractor tables of
// the same schema chosen so that, at the default shares, about a third of the records falls in
// each word-count subset. Throws llmtune::Error for bad options or an unwritable out_dir.
SyntheticResult synthetic_generate(const SyntheticOptions& options, const std::string& out_dir);

}  // namespace llmtune::data
