#include "eval/sql_exec.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <mutex>
#include <string_view>
#include <system_error>

#include "core/error.h"

namespace llmtune::eval {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kProgressInstructions = 1000;  // VM instructions between clock checks (~10 us)
constexpr int kMaxValueBytes = 64 << 20;     // one string or blob, and the SQL text

// Caps SQLite's memory once per process (see kMaxSqliteHeapBytes), keeping a lower cap set
// by someone else.
void sqlite_heap_limit() {
  static std::once_flag once;
  std::call_once(once, [] {
    const sqlite3_int64 now = sqlite3_hard_heap_limit64(-1);
    if (now == 0 || now > kMaxSqliteHeapBytes) sqlite3_hard_heap_limit64(kMaxSqliteHeapBytes);
  });
}

// What the SQLite callbacks of one query see and report.
struct Guard {
  Clock::time_point deadline;
  bool timed_out = false;
  std::string refused;  // what the authorizer denied; non-empty means kWriteRefused
};

int on_progress(void* guard) {
  auto* g = static_cast<Guard*>(guard);
  if (Clock::now() < g->deadline) return 0;
  g->timed_out = true;
  return 1;
}

// PRAGMAs that only read the schema or the build; any other PRAGMA sets state or acts
// (writable_schema, optimize, wal_checkpoint, ...) and is refused.
bool pragma_reads_only(const char* name) {
  static const char* const kReadOnly[] = {
      "table_info",  "table_xinfo",      "table_list",     "index_list",     "index_info",
      "index_xinfo", "foreign_key_list", "database_list",  "collation_list", "function_list",
      "module_list", "pragma_list",      "compile_options"};
  for (const char* r : kReadOnly) {
    if (name != nullptr && sqlite3_stricmp(name, r) == 0) return true;
  }
  return false;
}

// Lets reads through and denies everything else at prepare time, remembering what it denied so
// that the caller can report kWriteRefused rather than a generic "not authorized".
int on_authorize(void* guard, int action, const char* arg1, const char* arg2, const char*,
                 const char*) {
  auto* g = static_cast<Guard*>(guard);
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_FUNCTION:  // arg2: the function's name
      if (arg2 == nullptr || sqlite3_stricmp(arg2, "load_extension") != 0) return SQLITE_OK;
      g->refused = "load_extension";
      return SQLITE_DENY;
    case SQLITE_PRAGMA:  // arg1: the pragma's name
      if (pragma_reads_only(arg1)) return SQLITE_OK;
      g->refused = str("PRAGMA ", arg1 ? arg1 : "");
      return SQLITE_DENY;
    case SQLITE_UPDATE:
      // Reading an eponymous virtual table (pragma_table_info(...), json_each(...)) asks for
      // UPDATE on the schema table's columns while it sets the table up; a real UPDATE of the
      // schema is still refused by the read-only statement check and the connection.
      if (arg1 != nullptr && (sqlite3_stricmp(arg1, "sqlite_master") == 0 ||
                              sqlite3_stricmp(arg1, "sqlite_schema") == 0)) {
        return SQLITE_OK;
      }
      g->refused = str("UPDATE ", arg1 ? arg1 : "");
      return SQLITE_DENY;
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      g->refused = "ATTACH/DETACH";
      return SQLITE_DENY;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      g->refused = "transaction control";
      return SQLITE_DENY;
    default:  // INSERT, UPDATE, DELETE, CREATE_*, DROP_*, ALTER_TABLE, REINDEX, ANALYZE, ...
      g->refused = str("a statement that writes (authorizer action ", action,
                       arg1 ? str(" on ", arg1) : std::string(), ")");
      return SQLITE_DENY;
  }
}

QueryResult query_failed(ExecOutcome error, std::string message) {
  QueryResult r;
  r.error = error;
  r.message = std::move(message);
  return r;
}

bool is_ascii_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// "file:///abs/path?mode=ro&immutable=1" with the path percent-encoded, so that '?', '#' and
// '%' in a name are taken literally.
std::string readonly_uri(const std::string& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  const std::string p = ec ? path : absolute.string();
  static const char kHex[] = "0123456789ABCDEF";
  std::string uri = p.starts_with('/') ? "file://" : "file:";  // "file://x" would name a host
  for (unsigned char ch : p) {
    if (is_ascii_alnum(ch) || (ch != 0 && std::strchr("/-._~", ch) != nullptr)) {
      uri += static_cast<char>(ch);
    } else {
      uri += '%';
      uri += kHex[ch >> 4];
      uri += kHex[ch & 15];
    }
  }
  return uri + "?mode=ro&immutable=1";
}

class Connection {
 public:
  ~Connection() { sqlite3_close_v2(db_); }
  sqlite3* get() const { return db_; }

  // Opens `path` read-only, immutable, with `guard`'s callbacks installed; returns "" or why not.
  std::string open(const std::string& path, Guard* guard) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      return str(
          fs::exists(path, ec) ? "database path is not a file: " : "database file not found: ",
          path, "; check the records' db field and the directory it is relative to");
    }
    if (fs::file_size(path + "-wal", ec) > 0 && !ec) {
      return str("database ", path, " has a non-empty ", path, "-wal file (changes not yet ",
                 "checkpointed); close its writers or run PRAGMA wal_checkpoint(TRUNCATE) on it");
    }
    const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;  // never SQLITE_OPEN_CREATE
    if (sqlite3_open_v2(readonly_uri(path).c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      return str("cannot open database ", path, ": ", db_ ? sqlite3_errmsg(db_) : "out of memory");
    }
    sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
    sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
    sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
    sqlite3_limit(db_, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db_, SQLITE_LIMIT_LENGTH, kMaxValueBytes);
    if (sqlite3_exec(db_, "PRAGMA query_only=1", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return str("cannot open database ", path, ": ", sqlite3_errmsg(db_));
    }
    sqlite3_set_authorizer(db_, &on_authorize, guard);
    sqlite3_progress_handler(db_, kProgressInstructions, &on_progress, guard);
    return "";
  }

 private:
  sqlite3* db_ = nullptr;
};

bool is_word_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return is_ascii_alnum(u) || c == '_' || c == '$' || u >= 0x80;
}

// The index of the first byte at or after `i` that is not whitespace or a comment (and, when
// `semicolons`, not ';').
size_t skip_blank(std::string_view s, size_t i, bool semicolons) {
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c)) || (semicolons && c == ';')) {
      ++i;
    } else if (s.compare(i, 2, "--") == 0) {
      i = s.find('\n', i);
      if (i == std::string_view::npos) return s.size();
    } else if (s.compare(i, 2, "/*") == 0) {
      i = s.find("*/", i + 2);
      if (i == std::string_view::npos) return s.size();
      i += 2;
    } else {
      break;
    }
  }
  return i;
}

// The index just past the quoted literal or name that opens at `i` ('...', "...", `...`, [...]);
// a doubled closing quote inside is an escape.
size_t skip_quoted(std::string_view s, size_t i) {
  const char close = s[i] == '[' ? ']' : s[i];
  for (size_t j = i + 1; j < s.size(); ++j) {
    if (s[j] != close) continue;
    if (close != ']' && j + 1 < s.size() && s[j + 1] == close) {
      ++j;
      continue;
    }
    return j + 1;
  }
  return s.size();
}

bool word_is(std::string_view s, size_t begin, size_t end, std::string_view word) {
  if (end - begin != word.size()) return false;
  for (size_t k = 0; k < word.size(); ++k) {
    if (std::toupper(static_cast<unsigned char>(s[begin + k])) != word[k]) return false;
  }
  return true;
}

// True when `sql` has ORDER BY outside parentheses, literals, quoted names and comments.
bool has_top_level_order_by(std::string_view sql) {
  int depth = 0;
  size_t i = 0;
  while ((i = skip_blank(sql, i, false)) < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"' || c == '`' || c == '[') {
      i = skip_quoted(sql, i);
    } else if (c == '(' || c == ')') {
      depth += c == '(' ? 1 : -1;
      ++i;
    } else if (is_word_char(c)) {
      const size_t begin = i;
      while (i < sql.size() && is_word_char(sql[i])) ++i;
      if (depth > 0 || !word_is(sql, begin, i, "ORDER")) continue;
      const size_t next = skip_blank(sql, i, false);
      size_t end = next;
      while (end < sql.size() && is_word_char(sql[end])) ++end;
      if (word_is(sql, next, end, "BY")) return true;
    } else {
      ++i;
    }
  }
  return false;
}

bool first_word_in(std::string_view sql, std::initializer_list<std::string_view> words) {
  size_t end = 0;
  while (end < sql.size() && is_word_char(sql[end])) ++end;
  for (std::string_view word : words) {
    if (word_is(sql, 0, end, word)) return true;
  }
  return false;
}

// A statement that reads and returns rows: SELECT, WITH ... SELECT, VALUES, a PRAGMA.
bool starts_like_query(std::string_view sql) {
  return first_word_in(sql, {"SELECT", "WITH", "VALUES", "PRAGMA"});
}

// Every other kind of SQLite statement: a failure to prepare one (UPDATE sqlite_master is
// refused by SQLite itself) is a refused write, not a syntax error.
bool starts_like_non_query(std::string_view sql) {
  return first_word_in(sql, {"ALTER", "ANALYZE", "ATTACH", "BEGIN", "COMMIT", "CREATE", "DELETE",
                             "DETACH", "DROP", "END", "EXPLAIN", "INSERT", "REINDEX", "RELEASE",
                             "REPLACE", "ROLLBACK", "SAVEPOINT", "UPDATE", "VACUUM"});
}

std::string render_real(double v) {
  // 2^63: the reals that convert to int64 exactly are in [-2^63, 2^63).
  constexpr double kTwo63 = 9223372036854775808.0;
  if (std::isfinite(v) && v == std::trunc(v) && v >= -kTwo63 && v < kTwo63) {
    return std::to_string(static_cast<int64_t>(v));  // -0.0 renders as 0 too
  }
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact round trip
  return std::string(buf, res.ptr);
}

std::string render_value(sqlite3_stmt* stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_NULL:
      return "NULL";
    case SQLITE_INTEGER:
      return std::to_string(sqlite3_column_int64(stmt, col));
    case SQLITE_FLOAT:
      return render_real(sqlite3_column_double(stmt, col));
    case SQLITE_BLOB: {
      const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, col));
      const int n = sqlite3_column_bytes(stmt, col);
      static const char kHex[] = "0123456789ABCDEF";
      std::string out = "X'";
      for (int k = 0; k < n; ++k) {
        out += kHex[bytes[k] >> 4];
        out += kHex[bytes[k] & 15];
      }
      return out + "'";
    }
    default: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      return text ? std::string(text, sqlite3_column_bytes(stmt, col)) : std::string();
    }
  }
}

// What render_value will make of a column, in bytes with a string's own size, before it is made:
// a row of 2000 columns of 64 MiB blobs must be refused, not rendered.
size_t rendered_bytes(sqlite3_stmt* stmt, int col) {
  const int type = sqlite3_column_type(stmt, col);
  size_t n = 32;  // NULL, an integer or a real
  if (type == SQLITE_BLOB) n = 3 + 2 * static_cast<size_t>(sqlite3_column_bytes(stmt, col));
  if (type == SQLITE_TEXT) n = static_cast<size_t>(sqlite3_column_bytes(stmt, col));
  return n + sizeof(std::string);
}

// Why a statement stopped with `rc`: the time limit, a write, SQLite's memory limit, or SQLite's
// own message.
QueryResult query_error(sqlite3* db, int rc, const Guard& guard, const ExecOptions& o) {
  if (guard.timed_out) {
    return query_failed(ExecOutcome::kTimeout, str("stopped after ", o.timeout_seconds,
                                                   " s (ExecOptions::timeout_seconds)"));
  }
  if ((rc & 0xff) == SQLITE_READONLY) {
    return query_failed(ExecOutcome::kWriteRefused, sqlite3_errmsg(db));
  }
  if ((rc & 0xff) == SQLITE_NOMEM) {
    return query_failed(ExecOutcome::kRuntimeError,
                        str("out of memory: the query needed more than SQLite's limit of ",
                            kMaxSqliteHeapBytes >> 20, " MiB (kMaxSqliteHeapBytes)"));
  }
  if ((rc & 0xff) == SQLITE_TOOBIG) {
    return query_failed(ExecOutcome::kRuntimeError,
                        str(sqlite3_errmsg(db), ": a string or blob over the limit of ",
                            kMaxValueBytes >> 20, " MiB"));
  }
  return query_failed(ExecOutcome::kRuntimeError, sqlite3_errmsg(db));
}

// Steps a prepared statement to the end, collecting rows within the guard's limits.
QueryResult query_collect(sqlite3* db, sqlite3_stmt* stmt, const Guard& guard,
                          const ExecOptions& o) {
  QueryResult r;
  r.columns = sqlite3_column_count(stmt);
  size_t bytes = 0;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (static_cast<int64_t>(r.rows.size()) >= o.max_rows) {
      return query_failed(ExecOutcome::kTooManyRows,
                          str("more than ", o.max_rows, " rows (ExecOptions::max_rows)"));
    }
    std::vector<std::string>& row = r.rows.emplace_back();
    row.reserve(r.columns);
    bytes += sizeof row;
    for (int c = 0; c < r.columns; ++c) {
      bytes += rendered_bytes(stmt, c);
      if (bytes > o.max_result_bytes) {
        return query_failed(ExecOutcome::kTooManyRows,
                            str("result larger than ", o.max_result_bytes, " bytes after ",
                                r.rows.size(), " rows (ExecOptions::max_result_bytes)"));
      }
      row.push_back(render_value(stmt, c));
    }
  }
  if (rc == SQLITE_DONE) {
    r.ok = true;
    return r;
  }
  return query_error(db, rc, guard, o);
}

}  // namespace

const char* exec_outcome_name(ExecOutcome o) {
  switch (o) {
    case ExecOutcome::kMatch:
      return "match";
    case ExecOutcome::kMismatch:
      return "mismatch";
    case ExecOutcome::kSyntaxError:
      return "syntax_error";
    case ExecOutcome::kRuntimeError:
      return "runtime_error";
    case ExecOutcome::kTimeout:
      return "timeout";
    case ExecOutcome::kTooManyRows:
      return "too_many_rows";
    case ExecOutcome::kWriteRefused:
      return "write_refused";
    case ExecOutcome::kGoldFailed:
      return "gold_failed";
  }
  return "unknown";
}

QueryResult run_query(const std::string& db_path, const std::string& sql, const ExecOptions& o) {
  if (!(o.timeout_seconds > 0) || !std::isfinite(o.timeout_seconds)) {
    throw Error(
        str("execution accuracy: timeout_seconds must be a positive number of seconds (got ",
            o.timeout_seconds, "); 5 is a usual limit"));
  }
  if (o.max_rows < 0) {
    throw Error(str("execution accuracy: max_rows must be >= 0 (got ", o.max_rows,
                    "); 100000 is a usual limit"));
  }
  if (o.max_result_bytes == 0) {
    throw Error("execution accuracy: max_result_bytes must be positive; 256 MiB is a usual limit");
  }
  sqlite_heap_limit();
  Guard guard;
  const auto limit = std::chrono::duration<double>(std::min(o.timeout_seconds, 1e7));
  guard.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(limit);

  Connection conn;
  if (std::string why = conn.open(db_path, &guard); !why.empty()) {
    return query_failed(ExecOutcome::kRuntimeError, why);
  }
  const size_t begin = skip_blank(sql, 0, true);
  if (begin == sql.size()) return query_failed(ExecOutcome::kSyntaxError, "empty query");
  if (sql.size() > kMaxValueBytes) {
    return query_failed(ExecOutcome::kSyntaxError,
                        str("query longer than ", kMaxValueBytes >> 20, " MiB"));
  }

  const std::string_view statement = std::string_view(sql).substr(begin);
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v2(conn.get(), sql.c_str() + begin,
                                    static_cast<int>(sql.size() - begin), &stmt, &tail);
  if (rc != SQLITE_OK || stmt == nullptr) {
    sqlite3_finalize(stmt);
    if (!guard.refused.empty()) {
      return query_failed(ExecOutcome::kWriteRefused,
                          str("refused ", guard.refused, ": only queries may run"));
    }
    if (rc == SQLITE_OK) return query_failed(ExecOutcome::kSyntaxError, "empty query");
    if (guard.timed_out) {
      return query_failed(ExecOutcome::kTimeout,
                          str("stopped while preparing after ", o.timeout_seconds, " s"));
    }
    if (starts_like_non_query(statement)) {
      return query_failed(ExecOutcome::kWriteRefused,
                          str("refused: only queries may run (", sqlite3_errmsg(conn.get()), ")"));
    }
    // SQLITE_ERROR is the query's fault (syntax, unknown names); anything else (not a
    // database, corrupt, I/O) is the database's.
    return query_failed(rc == SQLITE_ERROR ? ExecOutcome::kSyntaxError : ExecOutcome::kRuntimeError,
                        sqlite3_errmsg(conn.get()));
  }
  // The authorizer is not asked about VACUUM (INTO writes a new file even on a read-only
  // connection) or REINDEX, so two checks back it up: the statement must be read-only and
  // begin like a query.
  if (!sqlite3_stmt_readonly(stmt) || !starts_like_query(statement)) {
    sqlite3_finalize(stmt);
    return query_failed(ExecOutcome::kWriteRefused,
                        "refused: not a query (only SELECT, WITH, VALUES or a schema-reading "
                        "PRAGMA may run)");
  }
  const std::string_view rest(tail, sql.c_str() + sql.size() - tail);
  if (skip_blank(rest, 0, true) != rest.size()) {
    sqlite3_finalize(stmt);
    return query_failed(ExecOutcome::kSyntaxError, "more than one statement");
  }
  QueryResult result = query_collect(conn.get(), stmt, guard, o);
  sqlite3_finalize(stmt);
  return result;
}

ExecOutcome execution_match(const std::string& db_path, const std::string& prediction,
                            const std::string& gold, const ExecOptions& o) {
  QueryResult want = run_query(db_path, gold, o);
  if (!want.ok) return ExecOutcome::kGoldFailed;
  QueryResult got = run_query(db_path, prediction, o);
  if (!got.ok) return got.error;
  if (got.columns != want.columns || got.rows.size() != want.rows.size()) {
    return ExecOutcome::kMismatch;
  }
  if (!has_top_level_order_by(gold)) {
    std::sort(want.rows.begin(), want.rows.end());
    std::sort(got.rows.begin(), got.rows.end());
  }
  return got.rows == want.rows ? ExecOutcome::kMatch : ExecOutcome::kMismatch;
}

}  // namespace llmtune::eval
