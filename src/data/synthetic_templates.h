// The question-template kit of the synthetic generator: random picks from a generated database,
// conditions anchored on a row (so they match it), and phrasing. The templates themselves are in
// synthetic_templates_{easy,medium,hard}.cpp; question_generate (synthetic_templates.cpp) draws
// one. Only synthetic*.cpp include this.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/synthetic_internal.h"

namespace llmtune::data::synthetic {

enum class Role {
  kCategory,  // a text column with a few distinct values (not Yes/No): =, IN, GROUP BY
  kNumber,    // INTEGER or REAL, not a key
  kDate,
  kFilter,  // anything but the id and foreign keys
};

bool has_role(const Column& c, Role role);

std::string words(const std::string& name);                   // "hire_date" -> "hire date"
std::string article(const std::string& word);                 // "an employee", "a flight"
std::string list_and(const std::vector<std::string>& items);  // "a, b and c"

// A foreign key: rows of table `child` point through column `column` at rows of `parent`.
struct Edge {
  int child, column, parent;
};

// A WHERE condition and the same condition in words ("salary is greater than 50000").
struct Cond {
  std::string sql, text;
};

struct Agg {
  const char* sql;
  const char* text;
};
extern const std::vector<Agg> kAggs;  // AVG/average, MAX/highest, MIN/lowest, SUM/total

class Ctx {
 public:
  Ctx(const Database& db, Rng& rng) : db(db), rng(rng) {}
  const Database& db;
  Rng& rng;

  const Table& table(int t) const { return db.tables[static_cast<size_t>(t)]; }
  // A random table with a column of the role (-1 when none), and such a column (-1 when none).
  int table_with(Role role);
  int column_pick(const Table& t, Role role, int exclude = -1);
  // The columns of the role not in `exclude`: the table's own, and the admin columns only
  // now and then or when there is no other.
  std::vector<int> candidates(const Table& t, Role role, const std::vector<int>& exclude = {});
  // 1-3 columns to show, the label first most of the time; `exclude` only when nothing else.
  std::vector<int> show_pick(const Table& t, int exclude = -1);
  std::string show_sql(const Table& t, const std::vector<int>& cols, const std::string& alias);
  std::string show_text(const Table& t, const std::vector<int>& cols);
  size_t row_pick(const Table& t) { return static_cast<size_t>(rng.below(std::ssize(t.rows))); }

  std::vector<Edge> edges() const;
  std::optional<Edge> edge_pick();
  // The part the parent plays, from the key's name: "department", "origin airport".
  std::string role(const Edge& e) const;
  // "that have an employee" or "that are the origin airport of a flight".
  std::string link_phrase(const Edge& e) const;
  // "employees AS T1 JOIN departments AS T2 ON T1.department_id = T2.id"
  std::string join_sql(const Edge& e) const;
  size_t parent_row(const Edge& e, size_t child_row) const {
    return static_cast<size_t>(table(e.child).rows[child_row][e.column].num - 1);
  }

  std::vector<Value> values_sorted(const Table& t, int c) const;  // distinct, ascending
  std::map<std::string, int64_t> group_counts(const Table& t, int c) const;

  // A condition on column c (or on a random filterable column not in *used) that row `row`
  // satisfies; `alias` prefixes the SQL column ("T2."), `subject` the words ("department's ").
  Cond cond(const Table& t, int c, size_t row, const std::string& alias,
            const std::string& subject);
  Cond cond_any(const Table& t, size_t row, const std::string& alias, const std::string& subject,
                std::vector<int>* used = nullptr);

  std::string pick_text(std::initializer_list<const char*> options) {
    return *(options.begin() + rng.below(static_cast<int64_t>(options.size())));
  }
};

using Maker = std::optional<Draft> (*)(Ctx&);
struct Template {
  const char* name;
  int weight;  // relative frequency within the family
  Maker make;
};

const std::vector<Template>& templates_easy();
const std::vector<Template>& templates_medium();
const std::vector<Template>& templates_hard();

}  // namespace llmtune::data::synthetic
