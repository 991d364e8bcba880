// Execution accuracy: every synthetic gold query matches itself; rows compare as multisets unless
// the gold query has a top-level ORDER BY; values render canonically (NULL, integral reals as
// integers); every statement that is not a query is refused with its own outcome and leaves the
// database file byte-identical with no journal beside it; runaway queries stop at the time or
// row limit; a missing database is kGoldFailed and is not created.
#include "eval/sql_exec.h"
#include "support/scratch.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/synthetic.h"

namespace llmtune::eval {
namespace {

namespace fs = std::filesystem;
using Rows = std::vector<std::vector<std::string>>;

// Creates `path` with a table x(a, b, c) of five rows, one holding NULLs, closed when done.
void fixture_create(const fs::path& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
            SQLITE_OK);
  const char* sql =
      "CREATE TABLE x (a INTEGER, b TEXT, c REAL);"
      "INSERT INTO x VALUES (1, 'one', 1.5), (2, 'two', 2.0), (3, 'three', 0.1),"
      "  (4, 'four', NULL), (5, NULL, 5.0);"
      "CREATE TABLE y (a INTEGER PRIMARY KEY, d TEXT);"
      "INSERT INTO y VALUES (1, 'p'), (2, 'q');";
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  ASSERT_EQ(sqlite3_close(db), SQLITE_OK);
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::set<std::string> dir_listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

// The database file's bytes, modification time and directory, to check nothing changed.
struct Snapshot {
  std::string bytes;
  fs::file_time_type mtime;
  std::set<std::string> listing;
  explicit Snapshot(const fs::path& db)
      : bytes(file_bytes(db)),
        mtime(fs::last_write_time(db)),
        listing(dir_listing(db.parent_path())) {}
  bool operator==(const Snapshot&) const = default;
};

// One database in a directory of its own.
class SqlExec : public ::testing::Test {
 protected:
  void SetUp() override { fixture_create(db_); }
  std::string db() const { return db_.string(); }
  ExecOutcome match(const std::string& prediction, const std::string& gold,
                    const ExecOptions& o = {}) const {
    return execution_match(db(), prediction, gold, o);
  }
  Rows rows(const std::string& sql) const {
    const QueryResult r = run_query(db(), sql);
    EXPECT_TRUE(r.ok) << sql << ": " << r.message;
    return r.rows;
  }

  test::ScratchDir dir_;
  fs::path db_ = dir_.root() / "db.sqlite";
};

TEST(SqlExecSynthetic, EveryGoldQueryMatchesItself) {
  test::ScratchDir dir;
  data::SyntheticOptions options;
  options.seed = 7;
  options.databases = 4;
  options.questions_per_db = 30;
  const data::SyntheticResult set = data::synthetic_generate(options, dir.root().string());
  ASSERT_GT(set.records.size(), 80u);
  for (const data::Record& rec : set.records) {
    const std::string path = (dir.root() / rec.db).string();
    EXPECT_EQ(execution_match(path, rec.response, rec.response), ExecOutcome::kMatch)
        << rec.response << "\n"
        << run_query(path, rec.response).message;
  }
  for (const auto& entry : fs::directory_iterator(dir.root() / "databases")) {
    EXPECT_EQ(entry.path().extension(), ".sqlite") << entry.path();  // no journal left beside
  }
}

TEST(SqlExecNames, AreDistinctSnakeCase) {
  const ExecOutcome all[] = {ExecOutcome::kMatch,        ExecOutcome::kMismatch,
                             ExecOutcome::kSyntaxError,  ExecOutcome::kRuntimeError,
                             ExecOutcome::kTimeout,      ExecOutcome::kTooManyRows,
                             ExecOutcome::kWriteRefused, ExecOutcome::kGoldFailed};
  std::set<std::string> names;
  for (ExecOutcome o : all) names.insert(exec_outcome_name(o));
  EXPECT_EQ(names.size(), 8u);
  EXPECT_STREQ(exec_outcome_name(ExecOutcome::kWriteRefused), "write_refused");
  EXPECT_STREQ(exec_outcome_name(ExecOutcome::kGoldFailed), "gold_failed");
}

TEST_F(SqlExec, RendersValuesCanonically) {
  EXPECT_EQ(rows("SELECT NULL, 42, -7, 2.0, -0.0, 1.5, 0.1, 1e300, 'text', x'0AFF', ''"),
            (Rows{{"NULL", "42", "-7", "2", "0", "1.5", "0.1", "1e+300", "text", "X'0AFF'", ""}}));
  EXPECT_EQ(rows("SELECT 0.1 + 0.2"), (Rows{{"0.30000000000000004"}}));
  // 2^63 as a real is past int64 but integral: shortest exact form, equal to no integer.
  EXPECT_EQ(rows("SELECT 9223372036854775807, 9223372036854775808.0"),
            (Rows{{"9223372036854775807", "9223372036854775808"}}));
  const QueryResult empty = run_query(db(), "SELECT a, b FROM x WHERE 0");
  EXPECT_TRUE(empty.ok);
  EXPECT_TRUE(empty.rows.empty());
  EXPECT_EQ(empty.columns, 2);
}

TEST_F(SqlExec, UnorderedGoldComparesMultisets) {
  EXPECT_EQ(match("SELECT a FROM x ORDER BY a DESC", "SELECT a FROM x"), ExecOutcome::kMatch);
  EXPECT_EQ(match("SELECT b, a FROM x", "SELECT b AS name, a AS id FROM x"), ExecOutcome::kMatch);
  // Duplicates count: a multiset, not a set.
  EXPECT_EQ(match("SELECT 1 UNION ALL SELECT 1", "SELECT 1"), ExecOutcome::kMismatch);
  EXPECT_EQ(match("SELECT a FROM x WHERE a > 1", "SELECT a FROM x"), ExecOutcome::kMismatch);
  EXPECT_EQ(match("SELECT a FROM x WHERE 0", "SELECT a FROM x WHERE a > 9"), ExecOutcome::kMatch);
}

TEST_F(SqlExec, TopLevelOrderByComparesSequences) {
  EXPECT_EQ(match("SELECT a FROM x ORDER BY a DESC", "SELECT a FROM x ORDER BY a"),
            ExecOutcome::kMismatch);
  EXPECT_EQ(match("SELECT a FROM x ORDER BY a", "SELECT a FROM x ORDER BY a"), ExecOutcome::kMatch);
  EXPECT_EQ(match("SELECT a FROM x ORDER BY -a", "select a from x order\n  by a desc"),
            ExecOutcome::kMatch);
  EXPECT_EQ(match("SELECT a FROM x ORDER BY a DESC", "SELECT a FROM x ORDER/* c */BY a"),
            ExecOutcome::kMismatch);
  EXPECT_EQ(
      match("SELECT a FROM x ORDER BY a DESC", "SELECT a FROM x UNION SELECT a FROM y ORDER BY 1"),
      ExecOutcome::kMismatch);
  // ORDER BY that does not order the result: inside parentheses, literals, names, comments.
  const char* unordered[] = {
      "SELECT a FROM (SELECT a FROM x ORDER BY a)",
      "SELECT a FROM x WHERE b IS NULL OR b <> 'ORDER BY'",
      "SELECT a AS \"order by\" FROM x",
      "SELECT a AS [order by] FROM x",
      "SELECT a FROM x -- ORDER BY a",
      "SELECT a FROM x /* ORDER BY a */",
      "SELECT a AS reorder FROM x",
  };
  for (const char* gold : unordered) {
    EXPECT_EQ(match("SELECT a FROM x ORDER BY a DESC", gold), ExecOutcome::kMatch) << gold;
  }
  EXPECT_EQ(match("SELECT a, 6 - row_number() OVER (ORDER BY a DESC) FROM x ORDER BY a DESC",
                  "SELECT a, row_number() OVER (ORDER BY a) FROM x"),
            ExecOutcome::kMatch);
}

TEST_F(SqlExec, NullIsItsOwnValue) {
  EXPECT_EQ(match("SELECT b FROM x", "SELECT b FROM x"), ExecOutcome::kMatch);
  EXPECT_EQ(match("SELECT NULL", "SELECT NULL"), ExecOutcome::kMatch);
  EXPECT_EQ(match("SELECT 0", "SELECT NULL"), ExecOutcome::kMismatch);
  EXPECT_EQ(match("SELECT ''", "SELECT NULL"), ExecOutcome::kMismatch);
  EXPECT_EQ(match("SELECT coalesce(b, '') FROM x", "SELECT b FROM x"), ExecOutcome::kMismatch);
  EXPECT_EQ(match("SELECT avg(c) FROM x WHERE 0", "SELECT NULL"), ExecOutcome::kMatch);
}

TEST_F(SqlExec, IntegralRealsEqualIntegers) {
  EXPECT_EQ(match("SELECT 2", "SELECT 2.0"), ExecOutcome::kMatch);
  EXPECT_EQ(match("SELECT avg(a) FROM x", "SELECT 3"), ExecOutcome::kMatch);
  EXPECT_EQ(
      match("SELECT sum(a) / count(a) FROM x WHERE a < 3", "SELECT avg(a) FROM x WHERE a < 3"),
      ExecOutcome::kMismatch);  // integer division: 1 against 1.5
  EXPECT_EQ(match("SELECT 0.3", "SELECT 0.1 + 0.2"), ExecOutcome::kMismatch);
  EXPECT_EQ(match("SELECT c FROM x", "SELECT c FROM x"), ExecOutcome::kMatch);
}

TEST_F(SqlExec, ColumnCountMustMatch) {
  EXPECT_EQ(match("SELECT a, a FROM x", "SELECT a FROM x"), ExecOutcome::kMismatch);
  EXPECT_EQ(match("SELECT a FROM x", "SELECT a, b FROM x"), ExecOutcome::kMismatch);
  EXPECT_EQ(match("SELECT a, b FROM x WHERE 0", "SELECT a FROM x WHERE 0"), ExecOutcome::kMismatch);
  EXPECT_EQ(match("SELECT * FROM x", "SELECT a, b, c FROM x"), ExecOutcome::kMatch);
}

TEST_F(SqlExec, TrailingSemicolonsAndCommentsAreOneStatement) {
  EXPECT_EQ(match("SELECT a FROM x;", "SELECT a FROM x"), ExecOutcome::kMatch);
  EXPECT_EQ(match("  SELECT a FROM x ; -- done\n ; /* end */ ", "SELECT a FROM x"),
            ExecOutcome::kMatch);
  EXPECT_EQ(match("SELECT a FROM x WHERE b <> ';'", "SELECT a FROM x WHERE b IS NOT ';'"),
            ExecOutcome::kMismatch);  // a ';' in a literal is not a separator; NULL differs
  const QueryResult two = run_query(db(), "SELECT 1; SELECT 2");
  EXPECT_FALSE(two.ok);
  EXPECT_EQ(two.error, ExecOutcome::kSyntaxError);
  EXPECT_EQ(two.message, "more than one statement");
  EXPECT_EQ(run_query(db(), " ; -- nothing").error, ExecOutcome::kSyntaxError);
}

// Every statement that is not a read is scored wrong with its own outcome, and the file, its
// modification time and its directory (no -journal, -wal or -shm) stay as they were.
TEST_F(SqlExec, NonQueriesAreRefusedAndTheFileIsUntouched) {
  const std::string gold = "SELECT a FROM x";
  const fs::path vacuum_target = dir_.root() / "copy.sqlite";
  const std::pair<std::string, ExecOutcome> cases[] = {
      {"DROP TABLE x", ExecOutcome::kWriteRefused},
      {"UPDATE x SET a = a + 1", ExecOutcome::kWriteRefused},
      {"DELETE FROM x", ExecOutcome::kWriteRefused},
      {"INSERT INTO x VALUES (6, 'six', 6.0)", ExecOutcome::kWriteRefused},
      {"INSERT INTO x SELECT * FROM x RETURNING a", ExecOutcome::kWriteRefused},
      {"CREATE TABLE z (a INTEGER)", ExecOutcome::kWriteRefused},
      {"CREATE TEMP TABLE z AS SELECT a FROM x", ExecOutcome::kWriteRefused},
      {"CREATE INDEX xa ON x (a)", ExecOutcome::kWriteRefused},
      {"CREATE VIEW v AS SELECT a FROM x", ExecOutcome::kWriteRefused},
      {"ALTER TABLE x ADD COLUMN d TEXT", ExecOutcome::kWriteRefused},
      {"ATTACH DATABASE 'other' AS o", ExecOutcome::kWriteRefused},
      {"ATTACH DATABASE '" + db() + "' AS o", ExecOutcome::kWriteRefused},
      {"PRAGMA writable_schema=1", ExecOutcome::kWriteRefused},
      {"PRAGMA journal_mode=WAL", ExecOutcome::kWriteRefused},
      {"PRAGMA query_only=0", ExecOutcome::kWriteRefused},
      {"PRAGMA optimize", ExecOutcome::kWriteRefused},
      {"VACUUM", ExecOutcome::kWriteRefused},
      {"VACUUM INTO '" + vacuum_target.string() + "'", ExecOutcome::kWriteRefused},
      {"REINDEX", ExecOutcome::kWriteRefused},
      {"EXPLAIN DROP TABLE x", ExecOutcome::kWriteRefused},
      {"UPDATE sqlite_master SET sql = ''", ExecOutcome::kWriteRefused},
      {"WITH d AS (SELECT 1) DELETE FROM x", ExecOutcome::kWriteRefused},
      {"ANALYZE", ExecOutcome::kWriteRefused},
      {"BEGIN IMMEDIATE", ExecOutcome::kWriteRefused},
      {"SELECT load_extension('libc.so.6')", ExecOutcome::kWriteRefused},
      {"DROP TABLE x; SELECT a FROM x", ExecOutcome::kWriteRefused},
      {"SELECT a FROM x; DROP TABLE x", ExecOutcome::kSyntaxError},
      {"SELECT 1; DROP TABLE x", ExecOutcome::kSyntaxError},
      {"SELEC a FROM x", ExecOutcome::kSyntaxError},
      {"SELECT a FROM nowhere", ExecOutcome::kSyntaxError},
      {"SELECT no_such_function(a) FROM x", ExecOutcome::kSyntaxError},  // resolved at prepare
      {"SELECT abs(-9223372036854775807 - 1) FROM x", ExecOutcome::kRuntimeError},
      {"SELECT json('{not json') FROM x", ExecOutcome::kRuntimeError},
      {"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
       ExecOutcome::kTooManyRows},
  };
  const Snapshot before(db_);
  for (const auto& [prediction, outcome] : cases) {
    EXPECT_EQ(match(prediction, gold), outcome)
        << prediction << ": " << exec_outcome_name(match(prediction, gold)) << " ("
        << run_query(db(), prediction).message << ")";
    EXPECT_TRUE(Snapshot(db_) == before) << prediction << " changed " << db();
  }
  EXPECT_FALSE(fs::exists(vacuum_target));
  EXPECT_EQ(dir_listing(dir_.root()), std::set<std::string>{"db.sqlite"});
  EXPECT_EQ(match(gold, gold), ExecOutcome::kMatch);  // the table is still there
  // Reads of the schema are queries.
  EXPECT_EQ(rows("PRAGMA table_info(y)").size(), 2u);
  EXPECT_EQ(rows("SELECT name FROM pragma_table_info('x')"), (Rows{{"a"}, {"b"}, {"c"}}));
  EXPECT_EQ(rows("SELECT count(*) FROM sqlite_master"), (Rows{{"2"}}));
  EXPECT_EQ(rows("SELECT value FROM json_each('[7, 8]')"), (Rows{{"7"}, {"8"}}));
}

TEST_F(SqlExec, RunawayQueriesStopAtTheTimeLimit) {
  ExecOptions o;
  o.timeout_seconds = 0.2;
  o.max_rows = 1000000000;
  const std::string never_ends =
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
  const Snapshot before(db_);
  const auto start = std::chrono::steady_clock::now();
  const QueryResult r = run_query(db(), never_ends, o);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, ExecOutcome::kTimeout) << r.message;
  // A bound against hanging (ten times the limit), not a timing test.
  EXPECT_LT(seconds, 2.0);
  EXPECT_EQ(match(never_ends, "SELECT 1", o), ExecOutcome::kTimeout);
  EXPECT_EQ(match("SELECT 1", never_ends, o), ExecOutcome::kGoldFailed);
  EXPECT_EQ(match("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                  "SELECT x FROM c ORDER BY x DESC",
                  "SELECT 1", o),
            ExecOutcome::kTimeout);  // sorting an endless result never yields a row
  EXPECT_TRUE(Snapshot(db_) == before);
}

TEST_F(SqlExec, RowLimit) {
  ExecOptions o;
  o.max_rows = 5;
  EXPECT_EQ(match("SELECT a FROM x", "SELECT a FROM x", o), ExecOutcome::kMatch);
  EXPECT_EQ(match("SELECT a FROM x UNION ALL SELECT 6", "SELECT a FROM x", o),
            ExecOutcome::kTooManyRows);
  EXPECT_EQ(match("SELECT a FROM x", "SELECT x.a FROM x, y", o), ExecOutcome::kGoldFailed);
}

// A query a model wrote may build a huge result or huge values: each stops with its limit named,
// before the memory is taken (the values are checked before they are rendered, SQLite's own
// memory is capped), never with a crash.
TEST_F(SqlExec, HugeResultsAndValuesStopAtTheirLimits) {
  const auto fails = [&](const std::string& sql, ExecOutcome want, const std::string& says,
                         const ExecOptions& o = {}) {
    const QueryResult r = run_query(db(), sql, o);
    EXPECT_FALSE(r.ok) << sql;
    EXPECT_EQ(r.error, want) << sql << ": " << r.message;
    EXPECT_NE(r.message.find(says), std::string::npos) << sql << ": " << r.message;
  };
  // Many rows of many empty columns: 2000 x 90000 strings would be 5.8 GB of std::string alone.
  std::string wide =
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 90000) "
      "SELECT ''";
  for (int i = 1; i < 2000; ++i) wide += ", ''";
  ExecOptions small;
  small.max_result_bytes = size_t{1} << 20;
  fails(wide + " FROM c", ExecOutcome::kTooManyRows, "result larger than 1048576 bytes", small);
  fails("SELECT randomblob(1000000), randomblob(1000000)", ExecOutcome::kTooManyRows,
        "max_result_bytes", small);
  // One value past SQLITE_LIMIT_LENGTH.
  fails("SELECT zeroblob(1000000000)", ExecOutcome::kRuntimeError, "over the limit of 64 MiB");
  fails("SELECT randomblob(1000000000)", ExecOutcome::kRuntimeError, "64 MiB");
  // (printf('%.*c', 1000000000, 'x') is not here: SQLite 3.40 pads for ~10 s inside the one
  // call, where the time limit cannot reach, then returns NULL: slow, but no memory taken.)
  fails(
      "SELECT length(group_concat(printf('%.*c', 1000000, 'x'))) FROM "
      "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100) SELECT x FROM c)",
      ExecOutcome::kRuntimeError, "64 MiB");
  // Values each within the limit that SQLite holds at once: its memory limit stops them.
  std::string heavy = "SELECT length(printf('%.*c', 60000000, 'x'))";
  std::string many = "SELECT printf('%.*c', 60000000, 'x')";
  for (int i = 1; i < 12; ++i) many += ", printf('%.*c', 60000000, 'x')";
  fails(many, ExecOutcome::kRuntimeError, "512 MiB");
  EXPECT_EQ(rows(heavy), (Rows{{"60000000"}}));  // one big value is fine
}

TEST_F(SqlExec, FailingGoldCannotBeScored) {
  EXPECT_EQ(match("SELECT a FROM x", "SELECT a FROM nowhere"), ExecOutcome::kGoldFailed);
  EXPECT_EQ(match("SELECT a FROM x", "DELETE FROM x"), ExecOutcome::kGoldFailed);
  EXPECT_EQ(match("SELECT a FROM x", ""), ExecOutcome::kGoldFailed);
}

TEST(SqlExecFiles, MissingDatabaseIsGoldFailedAndNotCreated) {
  test::ScratchDir dir;
  const fs::path missing = dir.root() / "missing.sqlite";
  const QueryResult r = run_query(missing.string(), "SELECT 1");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, ExecOutcome::kRuntimeError);
  EXPECT_NE(r.message.find("not found"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find(missing.string()), std::string::npos) << r.message;
  EXPECT_EQ(execution_match(missing.string(), "SELECT 1", "SELECT 1"), ExecOutcome::kGoldFailed);
  EXPECT_TRUE(fs::is_empty(dir.root()));
  EXPECT_EQ(execution_match(dir.root().string(), "SELECT 1", "SELECT 1"),
            ExecOutcome::kGoldFailed);  // a directory is not a database
}

TEST(SqlExecFiles, FileThatIsNotADatabaseIsGoldFailed) {
  test::ScratchDir dir;
  const fs::path path = dir.root() / "notes.sqlite";
  std::ofstream(path) << "these are not the bytes of a SQLite database, but long enough to read\n";
  const QueryResult r = run_query(path.string(), "SELECT 1 FROM sqlite_master");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, ExecOutcome::kRuntimeError) << r.message;
  EXPECT_EQ(execution_match(path.string(), "SELECT 1", "SELECT count(*) FROM sqlite_master"),
            ExecOutcome::kGoldFailed);
}

// '?', '#', '%' and spaces in the path are part of the file name, not of the URI.
TEST(SqlExecFiles, PathsWithUriCharacters) {
  test::ScratchDir dir;
  const fs::path path = dir.root() / "a b?c#d%20e.sqlite";
  fixture_create(path);
  const QueryResult r = run_query(path.string(), "SELECT count(*) FROM x");
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.rows, (Rows{{"5"}}));
  EXPECT_EQ(dir_listing(dir.root()), std::set<std::string>{"a b?c#d%20e.sqlite"});
}

// Opened immutable, a database would not see changes still in its -wal file, so it is refused.
TEST_F(SqlExec, UncheckpointedWalIsRefused) {
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer,
                         "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
                         "INSERT INTO x VALUES (6, 'six', 6.0);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  const QueryResult r = run_query(db(), "SELECT count(*) FROM x");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("-wal"), std::string::npos) << r.message;
  sqlite3_close(writer);  // the last connection checkpoints and removes the -wal
  EXPECT_EQ(rows("SELECT count(*) FROM x"), (Rows{{"6"}}));
}

TEST(SqlExecOptions, BadLimitsThrow) {
  ExecOptions o;
  o.timeout_seconds = 0;
  EXPECT_THROW(run_query("unused.sqlite", "SELECT 1", o), Error);
  o.timeout_seconds = 1;
  o.max_rows = -1;
  EXPECT_THROW(run_query("unused.sqlite", "SELECT 1", o), Error);
  o.max_rows = 1;
  o.max_result_bytes = 0;
  EXPECT_THROW(run_query("unused.sqlite", "SELECT 1", o), Error);
}

}  // namespace
}  // namespace llmtune::eval
