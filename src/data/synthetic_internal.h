// Internals of the synthetic text-to-SQL generator (synthetic.h): the random source, the schema
// vocabulary, generated databases and the question templates. Only synthetic*.cpp include this.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/philox.h"

namespace llmtune::data::synthetic {

// Integers and choices derived from PhiloxStream::bits alone (no <random> distributions, whose
// results differ between standard libraries), so every machine draws the same values. Draw at
// most once per expression: operands of + and function arguments are evaluated in an order
// the compiler picks, which would make the output depend on the compiler.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) : stream_(seed, stream) {}
  uint32_t next32();
  int64_t below(int64_t n);               // uniform in [0, n), n >= 1
  int64_t range(int64_t lo, int64_t hi);  // uniform in [lo, hi]
  double unit();                          // uniform in [0, 1), 53 bits
  bool chance(double p) { return unit() < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(below(static_cast<int64_t>(v.size())))];
  }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(below(i))]);
  }

 private:
  PhiloxStream stream_;
  uint64_t index_ = 0;
  PhiloxCounter block_{};
};

// How a column's values are made.
enum class Gen {
  kPool,        // one of `pool` (categorical: filters, GROUP BY)
  kPerson,      // "First Last"
  kCombo,       // one of `pool` + " " + one of `pool2` + `affix`
  kCode,        // `affix` + an integer in [lo, hi]
  kInt,         // lo, lo + step, ..., hi
  kReal,        // [lo, hi] in units of 10^-decimals
  kDate,        // 'YYYY-MM-DD' in the years [lo, hi]
  kForeignKey,  // the id of a row of table `affix`
};

struct ColumnSpec {
  std::string name;
  Gen gen = Gen::kPool;
  std::vector<std::string> pool, pool2;
  std::string affix;
  int64_t lo = 0, hi = 0, step = 1;
  int decimals = 0;
  bool admin = false;  // a bookkeeping column (admin_columns()): rarely asked about
};

struct TableSpec {
  std::string name, singular;
  std::string label;                // the column that names a row ("" for link tables)
  std::vector<ColumnSpec> columns;  // without the id
};

struct Domain {
  std::string name;
  std::vector<TableSpec> tables;  // parents before the tables that reference them
};

// The schema vocabulary: every domain with its tables and candidate columns.
const std::vector<Domain>& domains();

// Bookkeeping columns (created_date, version, notes...) that widen a table past its own
// candidates, after them; a table skips those whose name it already has.
const std::vector<ColumnSpec>& admin_columns();

// A cell: integers, foreign keys and reals (scaled by 10^decimals) in `num`; text and dates in
// `text`. Comparing two values of one column by num, then text, orders them as SQLite does.
struct Value {
  int64_t num = 0;
  std::string text;
};

struct Column {
  const ColumnSpec* spec = nullptr;  // nullptr for the id
  std::string name, type;            // type: INTEGER, REAL, TEXT or DATE
  int parent = -1;                   // referenced table (index in the database) of a foreign key
};

struct Table {
  const TableSpec* spec = nullptr;
  std::string name, create_sql;          // create_sql: exactly as executed, no trailing semicolon
  std::vector<Column> columns;           // columns[0] is the id
  int label = -1;                        // column index of spec->label, -1 when absent
  std::vector<std::vector<Value>> rows;  // (rows, columns); row r has id r + 1
};

struct Database {
  std::string name;
  std::vector<Table> tables;  // parents first
};

// A schema of 2-7 connected tables from one domain, filled with 15-80 rows each.
Database database_generate(const Domain& domain, const std::string& name, Rng& rng);

// Writes the database as SQLite to `path` (via `path`.tmp and a rename). Throws llmtune::Error.
void database_write(const Database& db, const std::string& path);

// The value as an SQL literal: 42, 3.5, 'Boston', '2021-04-09'.
std::string sql_literal(const Column& column, const Value& value);

// The value as written in a question: 42, 3.5, Boston, 2021-04-09.
std::string plain_value(const Column& column, const Value& value);

enum class Family { kEasy, kMedium, kHard };

// A question with its gold SQL and the tables (indices into the database) the SQL reads.
struct Draft {
  std::string question, sql;
  std::vector<int> tables;
};

// A question from a random template of `family` that fits the database, or nullopt when none
// fits after a few tries.
std::optional<Draft> question_generate(const Database& db, Family family, Rng& rng);

}  // namespace llmtune::data::synthetic
