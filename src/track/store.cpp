#include "track/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string_view>
#include <system_error>
#include <tuple>

#include "core/error.h"

namespace llmtune::track {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// PRAGMA user_version of the schema below. Version 1 lacked trials.rung and
// trials.searcher_state, versions 1 and 2 experiments.archived and experiments.request: a writer
// adds them (migrate_schema); a reader of an older store reads them as 0 and "".
constexpr int kSchemaVersion = 3;
constexpr int kApplicationId = 0x4C4C5452;  // PRAGMA application_id: "LLTR"
constexpr int kBusyTimeoutMs = 10000;       // how long a writer waits for another's lock

// The busy timeout: kBusyTimeoutMs, or LLMTUNE_STORE_BUSY_MS (tests; slow network disks).
int busy_timeout_ms() {
  const char* env = std::getenv("LLMTUNE_STORE_BUSY_MS");
  const int ms = env != nullptr ? std::atoi(env) : 0;
  return ms > 0 ? ms : kBusyTimeoutMs;
}

constexpr const char* kSchema = R"sql(
CREATE TABLE experiments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  state TEXT NOT NULL,
  config TEXT NOT NULL,
  searcher_metric TEXT NOT NULL,
  smaller_is_better INTEGER NOT NULL,
  start_time REAL NOT NULL,
  end_time REAL NOT NULL DEFAULT 0,
  archived INTEGER NOT NULL DEFAULT 0,
  request TEXT NOT NULL DEFAULT '');
CREATE TABLE trials (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  state TEXT NOT NULL,
  hyperparameters TEXT NOT NULL,
  restarts INTEGER NOT NULL DEFAULT 0,
  steps_completed INTEGER NOT NULL DEFAULT 0,
  start_time REAL NOT NULL,
  end_time REAL NOT NULL DEFAULT 0,
  directory TEXT NOT NULL,
  rung INTEGER NOT NULL DEFAULT 0,
  searcher_state TEXT NOT NULL DEFAULT '');
CREATE INDEX trials_experiment ON trials(experiment_id);
CREATE TABLE metrics (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  "group" TEXT NOT NULL,
  step INTEGER NOT NULL,
  time REAL NOT NULL,
  metrics TEXT NOT NULL);
CREATE INDEX metrics_trial ON metrics(trial_id, "group", step);
CREATE TABLE checkpoints (
  uuid TEXT PRIMARY KEY,
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  step INTEGER NOT NULL,
  state TEXT NOT NULL,
  path TEXT NOT NULL,
  time REAL NOT NULL,
  metrics TEXT NOT NULL);
CREATE INDEX checkpoints_trial ON checkpoints(trial_id);
)sql";

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

[[noreturn]] void fail(sqlite3* db, const std::string& path, std::string_view doing) {
  const int code = sqlite3_extended_errcode(db);
  std::string hint;
  if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
    hint = str("; another process held the store locked for over ", busy_timeout_ms(),
               " ms (LLMTUNE_STORE_BUSY_MS): retry once it finishes, or find the process that "
               "keeps it open (fuser ",
               path, ") and stop it");
  }
  throw Error(str(path, ": ", doing, ": ", sqlite3_errmsg(db), hint));
}

// One prepared statement: parameters bound in order, columns read by index.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, std::string_view sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
        SQLITE_OK) {
      fail(db_, path_, str("preparing \"", sql.substr(0, 60), "\""));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int64_t v) { return check(sqlite3_bind_int64(stmt_, ++bound_, v)); }
  Statement& bind(double v) { return check(sqlite3_bind_double(stmt_, ++bound_, v)); }
  Statement& bind(std::string_view v) {
    return check(
        sqlite3_bind_text(stmt_, ++bound_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  // True while a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, path_, str("running \"", std::string_view(sqlite3_sql(stmt_)).substr(0, 60), "\""));
  }
  void run() {
    while (step()) {
    }
  }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, col));
  }
  json json_at(int col, std::string_view what) const {
    json j = json::parse(text(col), nullptr, false);
    if (j.is_discarded()) throw Error(str(path_, ": ", what, " is not valid JSON"));
    return j;
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) fail(db_, path_, "binding a parameter");
    return *this;
  }
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* stmt_ = nullptr;
  int bound_ = 0;
};

void exec(sqlite3* db, const std::string& path, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    fail(db, path, str("running \"", std::string_view(sql).substr(0, 60), "\""));
  }
}

int64_t pragma_int(sqlite3* db, const std::string& path, const char* sql) {
  Statement s(db, path, sql);
  return s.step() ? s.int64(0) : 0;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool is_run_state(const std::string& s) {
  return s == "ACTIVE" || s == "PAUSED" || s == "COMPLETED" || s == "ERROR" || s == "CANCELED";
}

// Sets the state of row `id` of `table` (experiments or trials; `noun` names one in errors).
// end_time is set when it leaves ACTIVE (once) and cleared when it becomes ACTIVE again.
void set_run_state(sqlite3* db, const std::string& path, const char* table, const char* noun,
                   int64_t id, const std::string& state) {
  if (!is_run_state(state)) {
    throw Error(
        str(noun, " state '", state, "' is not one of ACTIVE, PAUSED, COMPLETED, ERROR, CANCELED"));
  }
  Statement s(db, path,
              str("UPDATE ", table,
                  " SET state = ?1, end_time = CASE WHEN ?1 = 'ACTIVE' THEN 0 "
                  "WHEN end_time = 0 OR state = 'ACTIVE' THEN ?2 ELSE end_time END WHERE id = ?3"));
  s.bind(state).bind(now_seconds()).bind(id).run();
  if (sqlite3_changes(db) == 0) throw Error(str("no ", noun, " ", id, " in ", path));
}

// Brings a version-1 store to the current version, in one transaction (another writer may have
// done it meanwhile).
void migrate_schema(sqlite3* db, const std::string& path) {
  exec(db, path, "BEGIN IMMEDIATE");
  try {
    const int64_t version = pragma_int(db, path, "PRAGMA user_version");
    if (version == 1) {
      exec(db, path,
           "ALTER TABLE trials ADD COLUMN rung INTEGER NOT NULL DEFAULT 0; "
           "ALTER TABLE trials ADD COLUMN searcher_state TEXT NOT NULL DEFAULT ''");
    }
    if (version >= 1 && version <= 2) {
      exec(db, path,
           "ALTER TABLE experiments ADD COLUMN archived INTEGER NOT NULL DEFAULT 0; "
           "ALTER TABLE experiments ADD COLUMN request TEXT NOT NULL DEFAULT ''");
    }
    exec(db, path, str("PRAGMA user_version = ", kSchemaVersion).c_str());
    exec(db, path, "COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

// Creates the schema in an empty database, or checks that an existing one is ours, migrating an
// older version when writing. Anything else (another application's database, a newer llmtune's)
// is refused before it is modified. Returns the schema version now in the file.
int ensure_schema(sqlite3* db, const std::string& path, bool create) {
  const auto inspect = [&] {
    Statement s(db, path, "SELECT count(*) FROM sqlite_master");
    s.step();
    return std::array<int64_t, 3>{s.int64(0), pragma_int(db, path, "PRAGMA user_version"),
                                  pragma_int(db, path, "PRAGMA application_id")};
  };
  std::array<int64_t, 3> found;
  try {
    found = inspect();
  } catch (const Error& e) {
    throw Error(str(path, " is not an llmtune experiment store (", e.what(),
                    "); give the path of a store, or of a file to create"));
  }
  if (found[0] == 0 && found[1] == 0 && found[2] == 0 && !create) {
    throw Error(str(path,
                    " is empty, not an llmtune experiment store; give --runs the directory "
                    "where `llmtune experiment create` recorded experiments"));
  }
  if (found[0] == 0 && found[1] == 0 && found[2] == 0) {
    exec(db, path, "BEGIN IMMEDIATE");
    try {
      found = inspect();  // another process may have created it meanwhile
      if (found[0] == 0 && found[1] == 0 && found[2] == 0) {
        exec(db, path, kSchema);
        exec(db, path, str("PRAGMA application_id = ", kApplicationId).c_str());
        exec(db, path, str("PRAGMA user_version = ", kSchemaVersion).c_str());
        found = {1, kSchemaVersion, kApplicationId};
      }
      exec(db, path, "COMMIT");
    } catch (...) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  if (found[2] != kApplicationId) {
    throw Error(str(path, " is a SQLite database but not an llmtune experiment store (", found[0],
                    " schema objects, application_id ", found[2],
                    "); give the path of a store, or of a file to create"));
  }
  if (found[1] < 1 || found[1] > kSchemaVersion) {
    throw Error(str(path, " has experiment-store schema version ", found[1],
                    "; this llmtune reads ", "versions 1 to ", kSchemaVersion,
                    found[1] > kSchemaVersion ? ": use the llmtune that wrote it" : ""));
  }
  if (found[1] < kSchemaVersion && create) {
    migrate_schema(db, path);
    return kSchemaVersion;
  }
  return static_cast<int>(found[1]);
}

// A store before version 3 has no archived or request: they read as 0 and ''.
std::string experiment_columns(int version) {
  return str(
      "id, name, description, state, config, searcher_metric, smaller_is_better, start_time, "
      "end_time, ",
      version >= 3 ? "archived, request" : "0, ''");
}

ExperimentRow experiment_from(const Statement& s) {
  ExperimentRow r;
  r.id = s.int64(0);
  r.name = s.text(1);
  r.description = s.text(2);
  r.state = s.text(3);
  r.config = s.json_at(4, str("experiment ", r.id, "'s config"));
  r.searcher_metric = s.text(5);
  r.smaller_is_better = s.int64(6) != 0;
  r.start_time = s.real(7);
  r.end_time = s.real(8);
  r.archived = s.int64(9) != 0;
  r.request = s.text(10);
  return r;
}

// A version-1 store has no rung or searcher_state: they read as 0 and ''.
std::string trial_columns(int version) {
  return str(
      "id, experiment_id, state, hyperparameters, restarts, steps_completed, start_time, "
      "end_time, directory, ",
      version >= 2 ? "rung, searcher_state" : "0, ''");
}

TrialRow trial_from(const Statement& s) {
  TrialRow r;
  r.id = s.int64(0);
  r.experiment_id = s.int64(1);
  r.state = s.text(2);
  r.hyperparameters = s.json_at(3, str("trial ", r.id, "'s hyperparameters"));
  r.restarts = s.int64(4);
  r.steps_completed = s.int64(5);
  r.start_time = s.real(6);
  r.end_time = s.real(7);
  r.directory = s.text(8);
  r.rung = s.int64(9);
  r.searcher_state = s.text(10);
  return r;
}

constexpr const char* kMetricColumns = "id, trial_id, \"group\", step, time, metrics";

MetricRow metric_from(const Statement& s) {
  MetricRow r;
  r.id = s.int64(0);
  r.trial_id = s.int64(1);
  r.group = s.text(2);
  r.step = s.int64(3);
  r.time = s.real(4);
  r.metrics = s.json_at(5, str("trial ", r.trial_id, "'s metrics at step ", r.step));
  return r;
}

// The value of `name` in a checkpoint's metrics, when it is there and a number.
std::optional<double> metric_value(const json& metrics, const std::string& name) {
  if (!metrics.is_object()) return std::nullopt;
  const auto it = metrics.find(name);
  if (it == metrics.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (std::isnan(v)) return std::nullopt;
  return v;
}

}  // namespace

std::string random_uuid() {
  static thread_local std::random_device device;
  std::array<uint8_t, 16> b;
  for (size_t i = 0; i < b.size(); i += 4) {
    const uint32_t r = device();
    for (size_t k = 0; k < 4; ++k) b[i + k] = static_cast<uint8_t>(r >> (8 * k));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0f];
  }
  return out;
}

Store::Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

Store::~Store() {
  sqlite3_close_v2(db_);
}

std::string store_path(const std::string& runs) {
  return (std::filesystem::path(runs) / "llmtune.db").string();
}

nlohmann::json row_json(const ExperimentRow& e) {
  return {{"id", e.id},
          {"name", e.name},
          {"description", e.description},
          {"state", e.state},
          {"searcher_metric", e.searcher_metric},
          {"smaller_is_better", e.smaller_is_better},
          {"start_time", e.start_time},
          {"end_time", e.end_time},
          {"archived", e.archived}};
}

nlohmann::json row_json(const TrialRow& t) {
  return {{"id", t.id},
          {"experiment_id", t.experiment_id},
          {"state", t.state},
          {"hyperparameters", t.hyperparameters},
          {"steps_completed", t.steps_completed},
          {"restarts", t.restarts},
          {"rung", t.rung},
          {"searcher_state", t.searcher_state},
          {"start_time", t.start_time},
          {"end_time", t.end_time},
          {"directory", t.directory}};
}

nlohmann::json best_metric(const std::vector<MetricRow>& rows, const std::string& metric,
                           bool smaller_is_better) {
  nlohmann::json best = nullptr;
  for (const MetricRow& m : rows) {
    if (m.group != "validation" || !m.metrics.is_object()) continue;
    const auto it = m.metrics.find(metric);
    if (it == m.metrics.end() || !it->is_number()) continue;
    const double v = it->get<double>();
    const double b = best.is_null() ? 0 : best["value"].get<double>();
    if (best.is_null() || (smaller_is_better ? v < b : v > b)) {
      best = {{"value", v}, {"step", m.step}, {"trial_id", m.trial_id}};
    }
  }
  return best;
}

std::unique_ptr<Store> Store::open(const std::string& path, Access access) {
  const bool write = access == Access::kReadWrite;
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw Error(
        str(path, " is a directory; the experiment store is a file (e.g. ", path, "/llmtune.db)"));
  }
  if (!write && !fs::exists(path, ec)) {
    throw Error(str("no experiment store at ", path,
                    "; give --runs the directory where `llmtune "
                    "experiment create` recorded experiments (default: runs)"));
  }
  if (write && !parent.empty()) fs::create_directories(parent, ec);
  if (ec) {
    throw Error(str("cannot create ", parent.string(), " for the experiment store ", path, ": ",
                    ec.message()));
  }
  sqlite3* db = nullptr;
  const int flags = write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    throw Error(str("cannot open the experiment store ", path, ": ", why));
  }
  std::unique_ptr<Store> store(new Store(db, path));  // closes the handle if a check throws
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms());
  store->version_ = ensure_schema(db, store->path_, write);
  if (!write) return store;
  // WAL lets `experiment describe` read while a run writes. With WAL, synchronous=NORMAL still
  // never corrupts the store or tears a transaction; a power loss may drop the last few.
  exec(db, store->path_, "PRAGMA journal_mode = WAL");
  exec(db, store->path_, "PRAGMA synchronous = NORMAL");
  exec(db, store->path_, "PRAGMA foreign_keys = ON");
  return store;
}

int64_t Store::create_experiment(const std::string& name, const std::string& description,
                                 const nlohmann::json& config, const std::string& searcher_metric,
                                 bool smaller_is_better) {
  Statement s(db_, path_,
              "INSERT INTO experiments (name, description, state, config, searcher_metric, "
              "smaller_is_better, start_time) VALUES (?, ?, 'ACTIVE', ?, ?, ?, ?)");
  s.bind(name).bind(description).bind(dump(config)).bind(searcher_metric);
  s.bind(int64_t{smaller_is_better ? 1 : 0}).bind(now_seconds()).run();
  return sqlite3_last_insert_rowid(db_);
}

void Store::set_experiment_state(int64_t id, const std::string& state) {
  set_run_state(db_, path_, "experiments", "experiment", id, state);
}

void Store::set_experiment_archived(int64_t id, bool archived) {
  Statement s(db_, path_, "UPDATE experiments SET archived = ? WHERE id = ?");
  s.bind(int64_t{archived ? 1 : 0}).bind(id).run();
  if (sqlite3_changes(db_) == 0) throw Error(str("no experiment ", id, " in ", path_));
}

void Store::set_experiment_request(int64_t id, const std::string& request) {
  Statement s(db_, path_, "UPDATE experiments SET request = ? WHERE id = ?");
  s.bind(request).bind(id).run();
  if (sqlite3_changes(db_) == 0) throw Error(str("no experiment ", id, " in ", path_));
}

std::vector<ExperimentRow> Store::experiments() {
  Statement s(db_, path_,
              str("SELECT ", experiment_columns(version_), " FROM experiments ORDER BY id"));
  std::vector<ExperimentRow> out;
  while (s.step()) out.push_back(experiment_from(s));
  return out;
}

ExperimentRow Store::experiment(int64_t id) {
  std::optional<ExperimentRow> e = find_experiment(id);
  if (!e) {
    throw Error(str("no experiment ", id, " in ", path_, " (`llmtune experiment list` shows ",
                    "the experiments)"));
  }
  return std::move(*e);
}

int64_t Store::create_trial(int64_t experiment_id, const nlohmann::json& hyperparameters,
                            const std::string& directory) {
  experiment(experiment_id);  // a clear error for an unknown id, rather than a foreign-key one
  Statement s(db_, path_,
              "INSERT INTO trials (experiment_id, state, hyperparameters, start_time, directory) "
              "VALUES (?, 'ACTIVE', ?, ?, ?)");
  s.bind(experiment_id).bind(dump(hyperparameters)).bind(now_seconds()).bind(directory).run();
  return sqlite3_last_insert_rowid(db_);
}

void Store::set_trial_state(int64_t id, const std::string& state) {
  set_run_state(db_, path_, "trials", "trial", id, state);
}

void Store::set_trial_progress(int64_t id, int64_t steps_completed) {
  Statement s(db_, path_, "UPDATE trials SET steps_completed = ? WHERE id = ?");
  s.bind(steps_completed).bind(id).run();
  if (sqlite3_changes(db_) == 0) throw Error(str("no trial ", id, " in ", path_));
}

void Store::add_trial_restart(int64_t id) {
  Statement s(db_, path_, "UPDATE trials SET restarts = restarts + 1 WHERE id = ?");
  s.bind(id).run();
  if (sqlite3_changes(db_) == 0) throw Error(str("no trial ", id, " in ", path_));
}

std::vector<TrialRow> Store::trials(int64_t experiment_id) {
  experiment(experiment_id);
  Statement s(
      db_, path_,
      str("SELECT ", trial_columns(version_), " FROM trials WHERE experiment_id = ? ORDER BY id"));
  s.bind(experiment_id);
  std::vector<TrialRow> out;
  while (s.step()) out.push_back(trial_from(s));
  return out;
}

TrialRow Store::trial(int64_t id) {
  std::optional<TrialRow> t = find_trial(id);
  if (!t) {
    throw Error(str("no trial ", id, " in ", path_, " (`llmtune experiment describe ID` ",
                    "shows an experiment's trials)"));
  }
  return std::move(*t);
}

void Store::set_trial_searcher(int64_t id, int64_t rung, const std::string& searcher_state) {
  Statement s(db_, path_, "UPDATE trials SET rung = ?, searcher_state = ? WHERE id = ?");
  s.bind(rung).bind(searcher_state).bind(id).run();
  if (sqlite3_changes(db_) == 0) throw Error(str("no trial ", id, " in ", path_));
}

void Store::set_trial_directory(int64_t id, const std::string& directory) {
  Statement s(db_, path_, "UPDATE trials SET directory = ? WHERE id = ?");
  s.bind(directory).bind(id).run();
  if (sqlite3_changes(db_) == 0) throw Error(str("no trial ", id, " in ", path_));
}

std::optional<ExperimentRow> Store::find_experiment(int64_t id) {
  Statement s(db_, path_,
              str("SELECT ", experiment_columns(version_), " FROM experiments WHERE id = ?"));
  if (!s.bind(id).step()) return std::nullopt;
  return experiment_from(s);
}

std::optional<TrialRow> Store::find_trial(int64_t id) {
  Statement s(db_, path_, str("SELECT ", trial_columns(version_), " FROM trials WHERE id = ?"));
  if (!s.bind(id).step()) return std::nullopt;
  return trial_from(s);
}

void Store::add_metrics(int64_t trial_id, const std::string& group, int64_t step,
                        const nlohmann::json& metrics) {
  LLMTUNE_CHECK(metrics.is_object(), "metrics must be a JSON object, got ", dump(metrics));
  trial(trial_id);
  Statement s(db_, path_,
              "INSERT INTO metrics (trial_id, \"group\", step, time, metrics) VALUES (?, ?, ?, ?, "
              "?)");
  s.bind(trial_id).bind(group).bind(step).bind(now_seconds()).bind(dump(metrics)).run();
}

std::vector<MetricRow> Store::metrics(int64_t trial_id, const std::string& group) {
  trial(trial_id);
  Statement s(db_, path_,
              str("SELECT ", kMetricColumns,
                  " FROM metrics WHERE trial_id = ?1 AND (?2 = '' OR \"group\" = ?2) ORDER BY "
                  "step, id"));
  s.bind(trial_id).bind(group);
  std::vector<MetricRow> out;
  while (s.step()) out.push_back(metric_from(s));
  return out;
}

std::vector<MetricRow> Store::metrics_since(int64_t experiment_id, int64_t trial_id,
                                            int64_t after_id, int64_t limit) {
  Statement s(db_, path_,
              str("SELECT ", kMetricColumns,
                  " FROM metrics WHERE trial_id IN (SELECT id FROM trials WHERE experiment_id = "
                  "?1 AND (?2 = 0 OR id = ?2)) AND id > ?3 ORDER BY id LIMIT ?4"));
  s.bind(experiment_id).bind(trial_id).bind(after_id).bind(limit);
  std::vector<MetricRow> out;
  while (s.step()) out.push_back(metric_from(s));
  return out;
}

std::string Store::add_checkpoint(const CheckpointRow& checkpoint) {
  trial(checkpoint.trial_id);
  const std::string uuid = checkpoint.uuid.empty() ? random_uuid() : checkpoint.uuid;
  Statement exists(db_, path_, "SELECT 1 FROM checkpoints WHERE uuid = ?");
  if (exists.bind(uuid).step()) {
    throw Error(str("checkpoint ", uuid, " is already in ", path_));
  }
  Statement twin(db_, path_,
                 "SELECT uuid FROM checkpoints WHERE trial_id = ? AND step = ? AND "
                 "state = 'COMPLETED'");
  if (twin.bind(checkpoint.trial_id).bind(checkpoint.step).step()) {
    throw Error(str("trial ", checkpoint.trial_id, " already has checkpoint ", twin.text(0),
                    " at step ", checkpoint.step, " in ", path_));
  }
  const json metrics = checkpoint.metrics.is_null() ? json::object() : checkpoint.metrics;
  Statement s(db_, path_,
              "INSERT INTO checkpoints (uuid, trial_id, step, state, path, time, metrics) VALUES "
              "(?, ?, ?, 'COMPLETED', ?, ?, ?)");
  s.bind(uuid).bind(checkpoint.trial_id).bind(checkpoint.step).bind(checkpoint.path);
  s.bind(checkpoint.time != 0 ? checkpoint.time : now_seconds()).bind(dump(metrics)).run();
  return uuid;
}

void Store::set_checkpoint_state(const std::string& uuid, const std::string& state) {
  if (state != "COMPLETED" && state != "DELETED") {
    throw Error(str("checkpoint state '", state, "' is not one of COMPLETED, DELETED"));
  }
  Statement s(db_, path_, "UPDATE checkpoints SET state = ? WHERE uuid = ?");
  s.bind(state).bind(uuid).run();
  if (sqlite3_changes(db_) == 0) throw Error(str("no checkpoint ", uuid, " in ", path_));
}

std::vector<CheckpointRow> Store::checkpoints(int64_t experiment_id, const std::string& sort_by,
                                              bool all) {
  const ExperimentRow e = experiment(experiment_id);
  Statement s(db_, path_,
              "SELECT c.uuid, c.trial_id, c.step, c.state, c.path, c.time, c.metrics FROM "
              "checkpoints c JOIN trials t ON c.trial_id = t.id WHERE t.experiment_id = ? AND "
              "(? OR c.state = 'COMPLETED')");
  s.bind(experiment_id).bind(int64_t{all ? 1 : 0});
  std::vector<CheckpointRow> out;
  while (s.step()) {
    CheckpointRow r;
    r.uuid = s.text(0);
    r.trial_id = s.int64(1);
    r.step = s.int64(2);
    r.state = s.text(3);
    r.path = s.text(4);
    r.time = s.real(5);
    r.metrics = s.json_at(6, str("checkpoint ", r.uuid, "'s metrics"));
    out.push_back(std::move(r));
  }
  const auto by_step = [](const CheckpointRow& a, const CheckpointRow& b) {
    return std::tie(a.step, a.uuid) < std::tie(b.step, b.uuid);
  };
  if (sort_by == "step") {
    std::sort(out.begin(), out.end(), by_step);
  } else if (sort_by == "time") {
    std::sort(out.begin(), out.end(), [&](const CheckpointRow& a, const CheckpointRow& b) {
      return a.time != b.time ? a.time < b.time : by_step(a, b);
    });
  } else if (sort_by == "uuid") {
    std::sort(out.begin(), out.end(),
              [](const CheckpointRow& a, const CheckpointRow& b) { return a.uuid < b.uuid; });
  } else if (sort_by == "trial_id") {
    std::sort(out.begin(), out.end(), [&](const CheckpointRow& a, const CheckpointRow& b) {
      return a.trial_id != b.trial_id ? a.trial_id < b.trial_id : by_step(a, b);
    });
  } else {
    const std::string& metric = sort_by.empty() ? e.searcher_metric : sort_by;
    const double sign = e.smaller_is_better ? 1 : -1;
    std::sort(out.begin(), out.end(), [&](const CheckpointRow& a, const CheckpointRow& b) {
      const std::optional<double> va = metric_value(a.metrics, metric);
      const std::optional<double> vb = metric_value(b.metrics, metric);
      if (va.has_value() != vb.has_value()) return va.has_value();
      if (va && *va != *vb) return sign * *va < sign * *vb;
      return by_step(a, b);
    });
  }
  return out;
}

}  // namespace llmtune::track
