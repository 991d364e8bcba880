#include "data/synthetic.h"

#include <sqlite3.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "data/synthetic_internal.h"

namespace llmtune::data {

namespace {

using synthetic::Database;
using synthetic::Draft;
using synthetic::Family;
using synthetic::Rng;

constexpr uint64_t kSalt = 0x73796e74686574ull;  // "synthet": keeps these streams apart

// Python's len(s.split()) for ASCII text.
int64_t words_in(const std::string& s) {
  int64_t n = 0;
  bool in_word = false;
  for (char c : s) {
    const bool space = c == ' ' || (c >= '\t' && c <= '\r');
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

// The word-count subsets: easy 10-100, medium 101-200, hard 201-800 words.
constexpr int64_t kBucketLow[3] = {10, 101, 201}, kBucketHigh[3] = {100, 200, 800};

// The odds (percent) of the subset a question aims for, by family (rows: easy, medium, hard
// templates; columns: subsets). Distractor tables make up the words, so short templates also
// reach the longer subsets; hard templates always aim for the hard subset where the schema is
// big enough.
constexpr int64_t kBucketOdds[3][3] = {{55, 45, 0}, {0, 20, 80}, {0, 0, 100}};

// Chooses the subset a record aims for: the family's odds, limited to the subsets the
// database's tables can reach, and weighted by 1 / (records in the subset so far + 1)^2, so that
// the three end up about even at the default shares. Integer weights: the choice must not
// depend on how a compiler rounds or fuses floating-point operations.
int bucket_choose(Family family, int64_t base, int64_t all, const std::array<int64_t, 3>& counts,
                  Rng& rng) {
  const bool reach[3] = {base <= kBucketHigh[0], base <= kBucketHigh[1] && all >= kBucketLow[1],
                         all >= kBucketLow[2]};
  int64_t w[3], sum = 0;
  for (int b = 0; b < 3; ++b) {
    const int64_t n = std::min<int64_t>(counts[b], int64_t{1} << 26) + 1;
    w[b] = reach[b] ? kBucketOdds[static_cast<int>(family)][b] * ((int64_t{1} << 54) / (n * n)) : 0;
    sum += w[b];
  }
  if (sum == 0) return reach[1] && base > kBucketHigh[0] ? 1 : base > kBucketHigh[1] ? 2 : 0;
  int64_t u = rng.below(sum);
  int b = 0;
  while (u >= w[b]) u -= w[b++];
  return b;
}

// The CREATE TABLE statements of the tables the query reads, plus distractors (tables linked to
// those first, then any) until the record's words reach a target inside the chosen subset.
// Adds the subset the record lands in to `counts`.
std::string context_build(const Database& db, const Draft& draft, Family family,
                          std::array<int64_t, 3>& counts, Rng& rng) {
  std::vector<bool> in(db.tables.size(), false);
  int64_t total = words_in(draft.question) + words_in(draft.sql), all = total;
  for (size_t t = 0; t < db.tables.size(); ++t) all += words_in(db.tables[t].create_sql);
  for (int t : draft.tables) {
    in[static_cast<size_t>(t)] = true;
    total += words_in(db.tables[static_cast<size_t>(t)].create_sql);
  }
  const int bucket = bucket_choose(family, total, all, counts, rng);
  if (bucket > 0) {
    const int64_t hi = kBucketHigh[bucket];
    const int64_t target = rng.range(kBucketLow[bucket], bucket == 1 ? 185 : 330);
    std::vector<int> near, far;
    for (int t = 0; t < static_cast<int>(db.tables.size()); ++t) {
      if (in[static_cast<size_t>(t)]) continue;
      bool linked = false;
      for (int u : draft.tables) {
        for (const auto& c : db.tables[static_cast<size_t>(t)].columns) linked |= c.parent == u;
        for (const auto& c : db.tables[static_cast<size_t>(u)].columns) linked |= c.parent == t;
      }
      (linked ? near : far).push_back(t);
    }
    rng.shuffle(near);
    rng.shuffle(far);
    near.insert(near.end(), far.begin(), far.end());
    for (int t : near) {
      if (total >= target) break;
      const int64_t w = words_in(db.tables[static_cast<size_t>(t)].create_sql);
      if (total + w > hi) continue;
      in[static_cast<size_t>(t)] = true;
      total += w;
    }
  }
  ++counts[total <= kBucketHigh[0] ? 0 : total <= kBucketHigh[1] ? 1 : 2];
  std::string out;
  for (size_t t = 0; t < db.tables.size(); ++t) {
    if (in[t]) out += (out.empty() ? "" : " ") + db.tables[t].create_sql;
  }
  return out;
}

// Runs gold queries on a database opened read-only. The time limit counts virtual-machine
// steps, not seconds, so which queries pass does not depend on the machine's speed.
class QueryRunner {
 public:
  explicit QueryRunner(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw Error(str("synthetic data: cannot open ", path, " to check queries: ", why,
                      "; check that the output directory is readable"));
    }
    sqlite3_progress_handler(db_, kStepsPerCall, &QueryRunner::on_progress, this);
  }
  ~QueryRunner() { sqlite3_close(db_); }
  QueryRunner(const QueryRunner&) = delete;
  QueryRunner& operator=(const QueryRunner&) = delete;

  // True when the query compiles as one statement, finishes within the step budget and
  // returns a row with a non-NULL value (an AVG over no rows returns one all-NULL row).
  bool returns_rows(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    calls_ = 0;
    if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, &tail) !=
            SQLITE_OK ||
        stmt == nullptr || *tail != '\0') {
      sqlite3_finalize(stmt);
      return false;
    }
    bool value = false;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        value = value || sqlite3_column_type(stmt, c) != SQLITE_NULL;
      }
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE && value;
  }

 private:
  static constexpr int kStepsPerCall = 1000;
  static constexpr int64_t kMaxCalls = 50000;  // 5e7 steps, far above any template's need
  static int on_progress(void* self) {
    return ++static_cast<QueryRunner*>(self)->calls_ > kMaxCalls ? 1 : 0;
  }
  sqlite3* db_ = nullptr;
  int64_t calls_ = 0;
};

void options_check(const SyntheticOptions& o, const std::string& out_dir) {
  // The upper bounds keep a typo from filling the disk: 10,000 databases are about 300 MB and
  // far more variety than a synthetic set needs.
  if (o.databases < 1 || o.databases > 10000) {
    throw Error(str("synthetic data: databases must be from 1 to 10000 (got ", o.databases, ")"));
  }
  if (o.questions_per_db < 1 || o.questions_per_db > 10000) {
    throw Error(str("synthetic data: questions_per_db must be from 1 to 10000 (got ",
                    o.questions_per_db, ")"));
  }
  const std::pair<const char*, double> shares[] = {
      {"easy", o.easy}, {"medium", o.medium}, {"hard", o.hard}};
  for (const auto& [name, share] : shares) {
    if (!std::isfinite(share) || share < 0) {
      throw Error(str("synthetic data: the ", name, " share must be a number >= 0 (got ", share,
                      "); shares are relative weights such as easy 0.4, medium 0.35, hard 0.25"));
    }
  }
  if (o.easy + o.medium + o.hard <= 0) {
    throw Error(
        "synthetic data: the easy, medium and hard shares are all 0; give at least one a "
        "positive weight");
  }
  if (out_dir.empty()) {
    throw Error("synthetic data: the output directory is empty; give a directory to write to");
  }
}

std::string database_name(const std::string& domain, int64_t index, int64_t count) {
  std::string digits = std::to_string(index + 1);
  const size_t width = std::max<size_t>(2, std::to_string(count).size());
  return domain + "_" + std::string(width - std::min(width, digits.size()), '0') + digits;
}

}  // namespace

SyntheticResult synthetic_generate(const SyntheticOptions& options, const std::string& out_dir) {
  namespace fs = std::filesystem;
  options_check(options, out_dir);
  const fs::path dir = fs::path(out_dir) / "databases";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw Error(str("synthetic data: cannot create directory ", dir.string(), ": ",
                    ec ? ec.message() : "a file is in the way",
                    "; choose a writable output directory"));
  }

  const std::vector<synthetic::Domain>& domains = synthetic::domains();
  const int64_t n_domains = std::ssize(domains);
  const double share_sum = options.easy + options.medium + options.hard;
  SyntheticResult result;
  std::array<int64_t, 3> counts = {0, 0, 0};  // records per word-count subset so far
  std::vector<int64_t> order;
  for (int64_t i = 0; i < options.databases; ++i) {
    if (i % n_domains == 0) {  // every domain once per round, in a seeded order
      Rng rng(options.seed, philox_stream(kSalt, 0, static_cast<uint64_t>(i / n_domains)));
      order.resize(static_cast<size_t>(n_domains));
      for (int64_t d = 0; d < n_domains; ++d) order[static_cast<size_t>(d)] = d;
      rng.shuffle(order);
    }
    const synthetic::Domain& domain = domains[static_cast<size_t>(order[i % n_domains])];
    const std::string name = database_name(domain.name, i, options.databases);
    Rng schema_rng(options.seed, philox_stream(kSalt, 1, static_cast<uint64_t>(i)));
    const Database db = synthetic::database_generate(domain, name, schema_rng);
    const std::string file = (dir / (name + ".sqlite")).string();
    synthetic::database_write(db, file);

    QueryRunner runner(file);
    Rng rng(options.seed, philox_stream(kSalt, 2, static_cast<uint64_t>(i)));
    std::set<std::pair<std::string, std::string>> seen;
    for (int64_t q = 0; q < options.questions_per_db; ++q) {
      const double u = rng.unit() * share_sum;
      const Family family = u < options.easy                    ? Family::kEasy
                            : u < options.easy + options.medium ? Family::kMedium
                                                                : Family::kHard;
      std::optional<Draft> draft;
      for (int redraw = 0; redraw < 4; ++redraw) {  // a repeat is drawn again, not attempted
        draft = synthetic::question_generate(db, family, rng);
        if (!draft || seen.insert({draft->question, draft->sql}).second) break;
        draft.reset();
      }
      if (!draft) continue;
      ++result.attempted;
      if (!runner.returns_rows(draft->sql)) {
        ++result.rejected;
        continue;
      }
      Record r;
      r.instruction = draft->question;
      r.input = context_build(db, *draft, family, counts, rng);
      r.response = draft->sql;
      r.db = "databases/" + name + ".sqlite";
      r.line = std::ssize(result.records) + 1;
      result.records.push_back(std::move(r));
    }
  }
  return result;
}

}  // namespace llmtune::data
