// Random schemas from the vocabulary, their rows, and the SQLite files that hold them.
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "data/synthetic_internal.h"

namespace llmtune::data::synthetic {

uint32_t Rng::next32() {
  if ((index_ & 3) == 0) block_ = stream_.block(index_ >> 2);
  return block_[index_++ & 3];
}

int64_t Rng::below(int64_t n) {
  LLMTUNE_CHECK(n >= 1, "Rng::below needs n >= 1, got ", n);
  const uint64_t hi = next32(), lo = next32();
  return static_cast<int64_t>(((hi << 32) | lo) % static_cast<uint64_t>(n));
}

int64_t Rng::range(int64_t lo, int64_t hi) {
  return lo + below(hi - lo + 1);
}

double Rng::unit() {
  const uint64_t hi = next32(), lo = next32();
  return static_cast<double>(((hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

namespace {

// Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::string civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp + (mp < 10 ? 3 : -9);
  const int64_t y = yoe + era * 400 + (m <= 2);
  const auto digits = [](int64_t v, size_t width) {
    std::string s = std::to_string(v);
    return std::string(width > s.size() ? width - s.size() : 0, '0') + s;
  };
  return digits(y, 4) + "-" + digits(m, 2) + "-" + digits(d, 2);
}

const std::vector<std::string> kFirstNames = {
    "James",   "Mary",      "John",    "Patricia", "Robert",  "Jennifer", "Michael", "Linda",
    "William", "Elizabeth", "David",   "Barbara",  "Richard", "Susan",    "Joseph",  "Jessica",
    "Thomas",  "Sarah",     "Charles", "Karen",    "Daniel",  "Nancy",    "Matthew", "Lisa",
    "Anthony", "Emily",     "Mark",    "Sandra",   "Paul",    "Ashley",   "Steven",  "Maria",
    "Andrew",  "Donna",     "Kevin",   "Michelle", "Brian",   "Carol",    "George",  "Amanda"};
const std::vector<std::string> kLastNames = {
    "Smith",     "Johnson",  "Williams",  "Brown",   "Jones",    "Garcia",   "Miller",   "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez",   "Gonzalez", "Wilson",   "Anderson", "Thomas",
    "Taylor",    "Moore",    "Jackson",   "Martin",  "Lee",      "Perez",    "Thompson", "White",
    "Harris",    "Sanchez",  "Clark",     "Ramirez", "Lewis",    "Robinson", "Walker",   "Young",
    "Allen",     "King",     "Wright",    "Scott",   "Torres",   "Nguyen",   "Hill",     "Flores"};

std::string column_type(Gen gen) {
  switch (gen) {
    case Gen::kInt:
    case Gen::kForeignKey:
      return "INTEGER";
    case Gen::kReal:
      return "REAL";
    case Gen::kDate:
      return "DATE";
    default:
      return "TEXT";
  }
}

// Index into a pool of n values, skewed toward the front half the time so that groups differ
// in size (GROUP BY ... ORDER BY COUNT(*) and HAVING then have something to find).
int64_t skewed_index(int64_t n, Rng& rng) {
  const int64_t a = rng.below(n);
  return rng.chance(0.5) ? std::min(a, rng.below(n)) : a;
}

Value value_generate(const ColumnSpec& spec, int64_t parent_rows, Rng& rng) {
  Value v;
  const auto n = [](const std::vector<std::string>& p) { return static_cast<int64_t>(p.size()); };
  switch (spec.gen) {
    case Gen::kPool:
      v.text = spec.pool[static_cast<size_t>(skewed_index(n(spec.pool), rng))];
      break;
    case Gen::kPerson:
      v.text = rng.pick(kFirstNames);  // one draw per statement: operands of + are unsequenced
      v.text += " " + rng.pick(kLastNames);
      break;
    case Gen::kCombo:
      v.text = rng.pick(spec.pool);
      v.text += " " + rng.pick(spec.pool2) + spec.affix;
      break;
    case Gen::kCode:
      v.text = spec.affix + std::to_string(rng.range(spec.lo, spec.hi));
      break;
    case Gen::kInt:
      v.num = spec.lo + spec.step * rng.range(0, (spec.hi - spec.lo) / spec.step);
      break;
    case Gen::kReal:
      v.num = rng.range(spec.lo, spec.hi);
      break;
    case Gen::kDate:
      v.text = civil_from_days(
          rng.range(days_from_civil(spec.lo, 1, 1), days_from_civil(spec.hi, 12, 31)));
      break;
    case Gen::kForeignKey:
      v.num = rng.range(1, parent_rows);
      break;
  }
  return v;
}

// 2-7 tables of the domain, grown from a random one along foreign keys (either direction) so
// that joins exist; indices into domain.tables, ascending (parents first). Larger schemas are
// drawn more often: only they give the long prompts of the hard subset.
std::vector<int> tables_choose(const Domain& domain, Rng& rng) {
  const int n = static_cast<int>(domain.tables.size());
  constexpr int kWeights[] = {1, 2, 2, 3, 5, 7};  // of 2, 3, ..., 7 tables
  int64_t w = rng.below(20);
  int want = 2;
  while (w >= kWeights[want - 2]) w -= kWeights[want++ - 2];
  want = std::min(want, n);
  std::map<std::string, int> index;
  for (int i = 0; i < n; ++i) index[domain.tables[i].name] = i;
  std::vector<std::vector<bool>> linked(n, std::vector<bool>(n, false));
  for (int i = 0; i < n; ++i) {
    for (const ColumnSpec& c : domain.tables[i].columns) {
      if (c.gen != Gen::kForeignKey) continue;
      const int p = index.at(c.affix);
      linked[i][p] = linked[p][i] = true;
    }
  }
  std::vector<int> chosen = {static_cast<int>(rng.below(n))};
  while (static_cast<int>(chosen.size()) < want) {
    std::vector<int> near, rest;
    for (int i = 0; i < n; ++i) {
      if (std::find(chosen.begin(), chosen.end(), i) != chosen.end()) continue;
      bool adjacent = false;
      for (int c : chosen) adjacent = adjacent || linked[i][c];
      (adjacent ? near : rest).push_back(i);
    }
    chosen.push_back(rng.pick(near.empty() ? rest : near));
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

// The table's columns: the id, the label and the foreign keys to chosen parents always, then
// optional ones up to a random width of 3-12 columns (wide ones more often), the table's own
// before the admin columns; in vocabulary order. Each plain column is NOT NULL with probability
// `not_null`.
Table table_generate(const TableSpec& spec, const std::map<std::string, int>& chosen,
                     double not_null, Rng& rng) {
  Table t;
  t.spec = &spec;
  t.name = spec.name;
  // Candidates: the spec's columns (0..n-1), then the admin columns it lacks (n..).
  std::vector<const ColumnSpec*> all;
  for (const ColumnSpec& c : spec.columns) all.push_back(&c);
  for (const ColumnSpec& c : admin_columns()) {
    bool clash = false;
    for (const ColumnSpec& own : spec.columns) clash = clash || own.name == c.name;
    if (!clash) all.push_back(&c);
  }
  std::vector<int> mandatory, own, admin;
  for (int i = 0; i < static_cast<int>(all.size()); ++i) {
    const ColumnSpec& c = *all[i];
    if (c.gen == Gen::kForeignKey) {
      if (chosen.count(c.affix)) mandatory.push_back(i);
    } else if (c.name == spec.label) {
      mandatory.push_back(i);
    } else {
      (i < std::ssize(spec.columns) ? own : admin).push_back(i);
    }
  }
  rng.shuffle(own);
  rng.shuffle(admin);
  own.insert(own.end(), admin.begin(), admin.end());
  const int64_t w1 = rng.range(3, 12), w2 = rng.range(3, 12);
  const int64_t width = std::max(w1, w2) - 1;
  const int64_t extra = std::min(std::max<int64_t>(width - std::ssize(mandatory), 1),
                                 static_cast<int64_t>(own.size()));
  std::vector<int> keep = mandatory;
  keep.insert(keep.end(), own.begin(), own.begin() + extra);
  std::sort(keep.begin(), keep.end());

  t.columns.push_back({nullptr, "id", "INTEGER", -1});
  t.create_sql = "CREATE TABLE " + t.name + " (id INTEGER PRIMARY KEY";
  for (int i : keep) {
    const ColumnSpec& c = *all[i];
    Column col{&c, c.name, column_type(c.gen), -1};
    t.create_sql += ", " + col.name + " " + col.type;
    if (c.gen == Gen::kForeignKey) {
      col.parent = chosen.at(c.affix);
      t.create_sql += " REFERENCES " + c.affix + "(id)";
    }
    if (c.name == spec.label) t.label = static_cast<int>(t.columns.size());
    if (c.gen != Gen::kForeignKey && rng.chance(not_null)) t.create_sql += " NOT NULL";
    t.columns.push_back(col);
  }
  t.create_sql += ")";
  return t;
}

}  // namespace

Database database_generate(const Domain& domain, const std::string& name, Rng& rng) {
  Database db;
  db.name = name;
  std::map<std::string, int> chosen;
  for (int i : tables_choose(domain, rng)) {
    chosen[domain.tables[i].name] = static_cast<int>(db.tables.size());
    db.tables.emplace_back().spec = &domain.tables[i];
  }
  constexpr double kNotNull[] = {0.2, 0.6, 1.0};  // a style per schema
  const double not_null = kNotNull[rng.below(3)];
  for (Table& t : db.tables) t = table_generate(*t.spec, chosen, not_null, rng);
  for (Table& t : db.tables) {
    const int64_t rows = rng.range(15, 80);
    t.rows.resize(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<Value>& row = t.rows[static_cast<size_t>(r)];
      row.push_back(Value{r + 1, {}});
      for (size_t c = 1; c < t.columns.size(); ++c) {
        const Column& col = t.columns[c];
        const int64_t parent_rows =
            col.parent >= 0 ? static_cast<int64_t>(db.tables[col.parent].rows.size()) : 0;
        row.push_back(value_generate(*col.spec, parent_rows, rng));
      }
    }
  }
  return db;
}

std::string plain_value(const Column& column, const Value& value) {
  if (column.spec == nullptr || column.spec->gen == Gen::kInt ||
      column.spec->gen == Gen::kForeignKey) {
    return std::to_string(value.num);
  }
  if (column.spec->gen == Gen::kReal) {
    int64_t scale = 1;
    for (int i = 0; i < column.spec->decimals; ++i) scale *= 10;
    std::string frac = std::to_string(value.num % scale);
    frac.insert(0, static_cast<size_t>(column.spec->decimals) - frac.size(), '0');
    return std::to_string(value.num / scale) + (frac.empty() ? "" : "." + frac);
  }
  return value.text;
}

std::string sql_literal(const Column& column, const Value& value) {
  if (column.type == "INTEGER" || column.type == "REAL") return plain_value(column, value);
  std::string out = "'";
  for (char ch : value.text) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

namespace {

class Connection {
 public:
  explicit Connection(const std::string& path) : path_(path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      fail("cannot create the database");
    }
  }
  ~Connection() { sqlite3_close(db_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  sqlite3* get() { return db_; }
  void exec(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      fail("cannot run \"" + sql.substr(0, 80) + "\"");
    }
  }
  [[noreturn]] void fail(const std::string& what) {
    throw Error(str("synthetic data: ", what, " in ", path_, ": ",
                    db_ ? sqlite3_errmsg(db_) : "out of memory",
                    "; check that the output directory is writable and has free space"));
  }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

void table_insert(Connection& conn, const Table& t) {
  std::string sql = "INSERT INTO " + t.name + " VALUES (";
  for (size_t c = 0; c < t.columns.size(); ++c) sql += c ? ", ?" : "?";
  sql += ")";
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(conn.get(), sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    conn.fail("cannot prepare \"" + sql + "\"");
  }
  for (const std::vector<Value>& row : t.rows) {
    sqlite3_reset(stmt);
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const Column& col = t.columns[c];
      const int slot = static_cast<int>(c) + 1;
      if (col.type == "INTEGER") {
        sqlite3_bind_int64(stmt, slot, row[c].num);
      } else {
        // Reals go in as their literal text, which the column's REAL affinity converts with
        // the same parser that reads the literal in a query, so equal-looking values compare
        // equal.
        const std::string text = col.type == "REAL" ? plain_value(col, row[c]) : row[c].text;
        sqlite3_bind_text(stmt, slot, text.c_str(), static_cast<int>(text.size()),
                          SQLITE_TRANSIENT);
      }
    }
    if (sqlite3_step(stmt) != SQLITE_DONE) {
      sqlite3_finalize(stmt);
      conn.fail("cannot insert into " + t.name);
    }
  }
  sqlite3_finalize(stmt);
}

}  // namespace

void database_write(const Database& db, const std::string& path) {
  namespace fs = std::filesystem;
  const std::string tmp = path + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  try {
    Connection conn(tmp);
    conn.exec("PRAGMA journal_mode=OFF");
    conn.exec("BEGIN");
    for (const Table& t : db.tables) conn.exec(t.create_sql);
    for (const Table& t : db.tables) table_insert(conn, t);
    conn.exec("COMMIT");
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(tmp, ec);
    throw Error(str("synthetic data: cannot rename ", tmp, " to ", path, ": ", why,
                    "; check that the output directory is writable"));
  }
}

}  // namespace llmtune::data::synthetic
