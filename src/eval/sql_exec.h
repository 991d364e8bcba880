// Execution accuracy: the generated and the gold SQL run on the example's SQLite database, which
// is opened read-only, with a time limit and a row limit per query; the prediction is right when
// the results are equal as multisets of rows (as sequences when the gold query has ORDER BY).
//
// The database file is never modified, created or locked: it is opened through the URI
// "file:PATH?mode=ro&immutable=1" (no journal, WAL or lock files, no CREATE flag), the connection
// runs with PRAGMA query_only=1, and an authorizer lets only reads through (SELECT, VALUES, WITH,
// schema-reading PRAGMAs such as table_info); every other statement is refused before it runs.
// Because it is opened immutable, a database must not be written while it is evaluated, and one
// with a non-empty -wal file beside it (changes not yet checkpointed) is refused as unreadable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmtune::eval {

// The memory SQLite itself may use (for a query's values, sorts and temporary tables) is capped
// process-wide at kMaxSqliteHeapBytes: run_query sets sqlite3_hard_heap_limit64 on its first call
// unless a lower limit is already set. A query past it fails with kRuntimeError, saying so.
constexpr int64_t kMaxSqliteHeapBytes = int64_t{512} << 20;

// Limits per query; run_query throws llmtune::Error when timeout_seconds is not a positive
// number, max_rows is negative or max_result_bytes is 0.
struct ExecOptions {
  double timeout_seconds = 5.0;  // per query, wall clock; a query past it is stopped (kTimeout)
  int64_t max_rows = 100000;     // a result with more rows is an error (kTooManyRows)
  // The same for a result whose rendered values (with a string's overhead each) exceed this,
  // checked before each value is made.
  size_t max_result_bytes = size_t{256} << 20;
};

// Why a prediction did not match.
enum class ExecOutcome {
  kMatch,
  kMismatch,      // ran, different result (or a different number of columns)
  kSyntaxError,   // did not prepare (syntax, unknown table, column or function), was empty, or
                  // held more than one statement
  kRuntimeError,  // failed while running (a value over 64 MiB, out of SQLite's memory limit), or
                  // the database could not be opened or read
  kTimeout,
  kTooManyRows,
  kWriteRefused,  // not a query: a write, DDL, ATTACH, a transaction, a PRAGMA that sets or acts,
                  // load_extension (refused before it runs; the file is opened read-only)
  kGoldFailed,    // the gold query itself failed (or the database is missing): the example
                  // cannot be scored
};

// Short snake_case name: "match", "mismatch", "syntax_error", "runtime_error", "timeout",
// "too_many_rows", "write_refused", "gold_failed".
const char* exec_outcome_name(ExecOutcome o);

// One query's result: rows of values rendered canonically, so that equal values give equal
// strings: NULL as "NULL"; integers in decimal; reals in the shortest form that reads back
// exactly, except that a real holding an integer renders as that integer (AVG's 2.0 equals
// COUNT's 2; 0.1 + 0.2 does not equal 0.3); text as is (so the text 'NULL' or '1' equals NULL
// or 1: values are compared as SQLite shows them, not by storage class); blobs as X'0A1B'.
struct QueryResult {
  bool ok = false;
  ExecOutcome error = ExecOutcome::kMatch;  // when !ok: what went wrong
  std::string message;                      // when !ok: SQLite's or our explanation
  std::vector<std::vector<std::string>> rows;
  int64_t columns = 0;  // result columns, known even when there are no rows
};

// Runs one statement read-only (a trailing ';' and comments are allowed). Never changes the
// file. A missing database file gives !ok, kRuntimeError, and a message naming the path; the
// file is not created. Safe to call from several threads at once (one connection per call).
QueryResult run_query(const std::string& db_path, const std::string& sql,
                      const ExecOptions& o = {});

// Compares prediction and gold on `db_path`: the gold query runs first (kGoldFailed when it
// fails in any way), then the prediction (its failure is its outcome). Column names do not
// matter; the column count does. Rows are compared in order only when the gold query has an
// ORDER BY at the top level (outside parentheses, string literals, quoted names and comments).
ExecOutcome execution_match(const std::string& db_path, const std::string& prediction,
                            const std::string& gold, const ExecOptions& o = {});

}  // namespace llmtune::eval
