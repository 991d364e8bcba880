// The synthetic text-to-SQL set: every gold query runs on its own SQLite file and returns rows,
// the schema text in `input` is valid SQLite and holds what the query needs, the output is the
// same byte for byte for a seed, all template families occur, the word-count subsets are about
// even at the default options, and bad options fail with a clear llmtune::Error.
#include "data/synthetic.h"
#include "support/scratch.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/record.h"

namespace llmtune::data {
namespace {

namespace fs = std::filesystem;

SyntheticOptions small_options(uint64_t seed = 123) {
  SyntheticOptions o;
  o.seed = seed;
  o.databases = 8;
  o.questions_per_db = 50;
  return o;
}

class Sqlite {
 public:
  Sqlite(const std::string& path, int flags) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, flags, nullptr), SQLITE_OK) << path;
  }
  ~Sqlite() { sqlite3_close(db_); }
  Sqlite(const Sqlite&) = delete;
  Sqlite& operator=(const Sqlite&) = delete;

  // Runs one statement; returns the rows as text ("" for NULL), or sets *error.
  std::vector<std::vector<std::string>> query(const std::string& sql, std::string* error) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      *error = sqlite3_errmsg(db_);
      return rows;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const unsigned char* text = sqlite3_column_text(stmt, c);
        row.push_back(text ? reinterpret_cast<const char*>(text) : "");
      }
      rows.push_back(row);
    }
    if (rc != SQLITE_DONE) *error = sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    return rows;
  }
  int64_t count(const std::string& sql) {
    std::string error;
    const auto rows = query(sql, &error);
    EXPECT_EQ(error, "") << sql;
    return rows.empty() ? -1 : std::stoll(rows[0][0]);
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// "CREATE TABLE a (...) CREATE TABLE b (...)" -> its statements.
std::vector<std::string> statements_split(const std::string& input) {
  std::vector<std::string> out;
  const std::string head = "CREATE TABLE ";
  size_t at = input.find(head);
  EXPECT_EQ(at, 0u) << input;
  while (at != std::string::npos) {
    const size_t next = input.find(" " + head, at + 1);
    out.push_back(input.substr(at, next == std::string::npos ? std::string::npos : next - at));
    at = next == std::string::npos ? next : next + 1;
  }
  return out;
}

// One generated set shared by the tests that only read it.
class Synthetic : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir;
    result_ = new SyntheticResult(synthetic_generate(small_options(), dir_->str()));
  }
  static void TearDownTestSuite() {
    delete result_;
    delete dir_;
  }
  static test::ScratchDir* dir_;
  static SyntheticResult* result_;
};
test::ScratchDir* Synthetic::dir_ = nullptr;
SyntheticResult* Synthetic::result_ = nullptr;

TEST_F(Synthetic, EveryGoldQueryReturnsRowsOnItsDatabase) {
  const SyntheticResult& r = *result_;
  ASSERT_GT(r.records.size(), 350u);
  EXPECT_EQ(r.attempted, 400);
  EXPECT_EQ(r.attempted - r.rejected, static_cast<int64_t>(r.records.size()));
  std::map<std::string, std::unique_ptr<Sqlite>> open;
  for (size_t i = 0; i < r.records.size(); ++i) {
    const Record& rec = r.records[i];
    EXPECT_EQ(rec.line, static_cast<int64_t>(i) + 1);
    ASSERT_TRUE(rec.db.starts_with("databases/") && rec.db.ends_with(".sqlite")) << rec.db;
    auto& db = open[rec.db];
    if (!db) db = std::make_unique<Sqlite>((dir_->root() / rec.db).string(), SQLITE_OPEN_READONLY);
    std::string error;
    const auto rows = db->query(rec.response, &error);
    EXPECT_EQ(error, "") << rec.response;
    EXPECT_GE(rows.size(), 1u) << rec.instruction << "\n" << rec.response;
  }
  EXPECT_EQ(open.size(), 8u);
}

TEST_F(Synthetic, DatabasesHaveLinkedTablesOfFifteenToEightyRows) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_->root() / "databases")) {
    ++files;
    ASSERT_EQ(entry.path().extension(), ".sqlite") << entry.path();  // no temporaries left
    Sqlite db(entry.path().string(), SQLITE_OPEN_READONLY);
    std::string error;
    const auto tables = db.query("SELECT name FROM sqlite_master WHERE type = 'table'", &error);
    EXPECT_GE(tables.size(), 2u);
    EXPECT_LE(tables.size(), 7u);
    for (const auto& t : tables) {
      const int64_t rows = db.count("SELECT COUNT(*) FROM " + t[0]);
      EXPECT_GE(rows, 15) << t[0];
      EXPECT_LE(rows, 80) << t[0];
      const int64_t columns = db.count("SELECT COUNT(*) FROM pragma_table_info('" + t[0] + "')");
      EXPECT_GE(columns, 3) << t[0];
      EXPECT_LE(columns, 12) << t[0];
    }
    EXPECT_TRUE(db.query("PRAGMA foreign_key_check", &error).empty()) << entry.path();
    EXPECT_EQ(error, "");
  }
  EXPECT_EQ(files, 8);
}

// Each input runs in an empty in-memory database, and the gold query compiles against it: the
// input holds every table and column the query reads.
TEST_F(Synthetic, InputIsValidSchemaForTheQuery) {
  for (const Record& rec : result_->records) {
    Sqlite db(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY);
    for (const std::string& stmt : statements_split(rec.input)) {
      EXPECT_FALSE(stmt.ends_with(";") || stmt.ends_with(" ")) << stmt;
      std::string error;
      db.query(stmt, &error);
      EXPECT_EQ(error, "") << stmt;
    }
    std::string error;
    db.query(rec.response, &error);
    EXPECT_EQ(error, "") << rec.response << "\n" << rec.input;
  }
}

TEST_F(Synthetic, AllTemplateFamiliesOccur) {
  std::map<std::string, int> seen;
  const std::vector<std::string> markers = {
      " WHERE ",    " = ",         " > ",          " < ",
      " <> ",       " BETWEEN ",   " LIKE ",       " IN ('",
      " AND ",      " OR ",        "COUNT(*)",     "AVG(",
      "MIN(",       "MAX(",        "SUM(",         "DISTINCT ",
      " ORDER BY ", " LIMIT ",     " JOIN ",
      "T3.",  // three tables
      " GROUP BY ", " HAVING ",    " IN (SELECT ", " > (SELECT AVG(",
      " EXCEPT ",   " INTERSECT ", " UNION "};
  std::set<std::pair<std::string, std::string>> pairs;
  for (const Record& rec : result_->records) {
    for (const std::string& m : markers) seen[m] += rec.response.find(m) != std::string::npos;
    EXPECT_TRUE(pairs.insert({rec.db + rec.instruction, rec.response}).second)
        << "repeated: " << rec.instruction;
    EXPECT_FALSE(rec.instruction.empty());
    EXPECT_TRUE(rec.response.starts_with("SELECT ")) << rec.response;
  }
  for (const std::string& m : markers) EXPECT_GT(seen[m], 0) << "no response uses " << m;
}

TEST(SyntheticOutput, SameSeedSameBytesOtherSeedDiffers) {
  test::ScratchDir a, b, c;
  const SyntheticResult ra = synthetic_generate(small_options(7), a.str());
  const SyntheticResult rb = synthetic_generate(small_options(7), b.str());
  const SyntheticResult rc = synthetic_generate(small_options(8), c.str());
  ASSERT_EQ(ra.records.size(), rb.records.size());
  EXPECT_EQ(ra.attempted, rb.attempted);
  EXPECT_EQ(ra.rejected, rb.rejected);
  for (size_t i = 0; i < ra.records.size(); ++i) {
    EXPECT_EQ(ra.records[i].instruction, rb.records[i].instruction);
    EXPECT_EQ(ra.records[i].input, rb.records[i].input);
    EXPECT_EQ(ra.records[i].response, rb.records[i].response);
    EXPECT_EQ(ra.records[i].db, rb.records[i].db);
    EXPECT_EQ(ra.records[i].line, rb.records[i].line);
  }
  int files = 0;
  for (const auto& entry : fs::directory_iterator(a.root() / "databases")) {
    ++files;
    const fs::path twin = b.root() / "databases" / entry.path().filename();
    ASSERT_TRUE(fs::exists(twin)) << twin;
    EXPECT_TRUE(file_bytes(entry.path()) == file_bytes(twin)) << entry.path().filename();
  }
  EXPECT_EQ(files, 8);

  int same = 0;
  for (size_t i = 0; i < std::min(ra.records.size(), rc.records.size()); ++i) {
    same += ra.records[i].instruction == rc.records[i].instruction &&
            ra.records[i].response == rc.records[i].response;
  }
  EXPECT_LT(same, 10);
}

// Running again over an existing output replaces the files with the same bytes.
TEST(SyntheticOutput, RerunReplacesFilesInPlace) {
  test::ScratchDir dir;
  synthetic_generate(small_options(), dir.str());
  std::map<std::string, std::string> first;
  for (const auto& e : fs::directory_iterator(dir.root() / "databases")) {
    first[e.path().filename().string()] = file_bytes(e.path());
  }
  synthetic_generate(small_options(), dir.str());
  std::map<std::string, std::string> second;
  for (const auto& e : fs::directory_iterator(dir.root() / "databases")) {
    second[e.path().filename().string()] = file_bytes(e.path());
  }
  EXPECT_TRUE(first == second);
}

// At the default options about a third of the records falls in each subset of the reference
// (easy 10-100, medium 101-200, hard 201-800 words), and none outside 10-800.
TEST(SyntheticOutput, DefaultOptionsSpreadOverTheDifficultySubsets) {
  test::ScratchDir dir;
  const SyntheticResult r = synthetic_generate(SyntheticOptions{}, dir.str());
  ASSERT_GT(r.records.size(), 1000u);
  int64_t easy = 0, medium = 0, hard = 0;
  for (const Record& rec : r.records) {
    const int64_t n = word_count(rec);
    ASSERT_GE(n, 10) << rec.instruction;
    ASSERT_LE(n, 800) << rec.instruction;
    (n <= 100 ? easy : n <= 200 ? medium : hard) += 1;
  }
  const double total = static_cast<double>(r.records.size());
  for (const int64_t count : {easy, medium, hard}) {
    EXPECT_GT(count / total, 0.25) << easy << " / " << medium << " / " << hard;
    EXPECT_LT(count / total, 0.42) << easy << " / " << medium << " / " << hard;
  }
  EXPECT_LT(r.rejected, r.attempted / 10);
}

void expect_error(const SyntheticOptions& o, const std::string& dir, const std::string& needle) {
  try {
    synthetic_generate(o, dir);
    ADD_FAILURE() << "no error; expected one mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SyntheticOutput, BadOptionsThrowClearErrors) {
  test::ScratchDir dir;
  SyntheticOptions o = small_options();
  o.databases = 0;
  expect_error(o, dir.str(), "databases must be from 1 to 10000 (got 0)");
  o.databases = 1000000;  // a typo that would fill the disk
  expect_error(o, dir.str(), "databases must be from 1 to 10000 (got 1000000)");
  o = small_options();
  o.questions_per_db = -3;
  expect_error(o, dir.str(), "questions_per_db must be from 1 to 10000 (got -3)");
  o = small_options();
  o.medium = -0.1;
  expect_error(o, dir.str(), "medium share must be a number >= 0");
  o = small_options();
  o.hard = std::nan("");
  expect_error(o, dir.str(), "hard share");
  o = small_options();
  o.easy = o.medium = o.hard = 0;
  expect_error(o, dir.str(), "all 0");
  expect_error(small_options(), "", "output directory is empty");

  // A directory that cannot exist: its parent is a regular file (root ignores permissions).
  const fs::path file = dir.root() / "plain_file";
  std::ofstream(file) << "x";
  expect_error(small_options(), (file / "out").string(), "cannot create directory");
  expect_error(small_options(), (file / "out").string(), "writable");
}

}  // namespace
}  // namespace llmtune::data
