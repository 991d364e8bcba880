// Easy templates: one table; filters (=, <>, <, >, BETWEEN, LIKE, IN), COUNT/AVG/MIN/MAX/SUM,
// DISTINCT, ORDER BY.
#include "data/synthetic_templates.h"

namespace llmtune::data::synthetic {

namespace {

std::string end_mark(const std::string& q) {
  return q.starts_with("What") || q.starts_with("How") || q.starts_with("Which") ? "?" : ".";
}

// "List the name and salary of employees whose city is Boston."
std::optional<Draft> select_where(Ctx& x) {
  const int t = x.table_with(Role::kFilter);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  std::vector<int> used;
  const Cond c = x.cond_any(T, x.row_pick(T), "", "", &used);
  const std::vector<int> show = x.show_pick(T, used.empty() ? -1 : used[0]);
  const std::string verb = x.pick_text({"What are the ", "List the ", "Show the "});
  const std::string det = x.pick_text({"the ", "all ", ""});
  const std::string q =
      verb + x.show_text(T, show) + " of " + det + words(T.name) + " whose " + c.text;
  return Draft{q + end_mark(q),
               "SELECT " + x.show_sql(T, show, "") + " FROM " + T.name + " WHERE " + c.sql,
               {t}};
}

// "How many employees are there whose age is greater than 56?"
std::optional<Draft> count_where(Ctx& x) {
  const int t = x.table_with(Role::kFilter);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const Cond c = x.cond_any(T, x.row_pick(T), "", "");
  const std::string tp = words(T.name);
  std::string q;
  switch (x.rng.below(3)) {
    case 0:
      q = "How many " + tp + " are there whose " + c.text;
      break;
    case 1:
      q = "Count the " + tp + " whose " + c.text;
      break;
    default:
      q = "What is the number of " + tp + " whose " + c.text;
  }
  return Draft{q + end_mark(q), "SELECT COUNT(*) FROM " + T.name + " WHERE " + c.sql, {t}};
}

// "What is the average salary of employees whose city is Boston?"
std::optional<Draft> aggregate(Ctx& x) {
  const int t = x.table_with(Role::kNumber);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const int n = x.column_pick(T, Role::kNumber);
  const std::string col = T.columns[n].name, tp = words(T.name);
  if (x.rng.chance(0.2)) {
    return Draft{"What are the maximum and minimum " + words(col) + " of all " + tp + "?",
                 "SELECT MAX(" + col + "), MIN(" + col + ") FROM " + T.name,
                 {t}};
  }
  const Agg& a = x.rng.pick(kAggs);
  std::string q = "What is the " + std::string(a.text) + " " + words(col) + " of ";
  std::string sql = "SELECT " + std::string(a.sql) + "(" + col + ") FROM " + T.name;
  if (x.rng.chance(0.5)) {
    const Cond c = x.cond_any(T, x.row_pick(T), "", "");
    q += tp + " whose " + c.text;
    sql += " WHERE " + c.sql;
  } else {
    q += "all " + tp;
  }
  return Draft{q + "?", sql, {t}};
}

// "What are the different city values of customers?" / COUNT(DISTINCT ...)
std::optional<Draft> distinct_values(Ctx& x) {
  const int t = x.table_with(Role::kCategory);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const int k = x.column_pick(T, Role::kCategory);
  const std::string col = T.columns[k].name, tp = words(T.name);
  if (x.rng.chance(0.35)) {
    return Draft{"How many different " + words(col) + " values do the " + tp + " have?",
                 "SELECT COUNT(DISTINCT " + col + ") FROM " + T.name,
                 {t}};
  }
  std::string q = x.pick_text({"List the distinct ", "What are the different "}) + words(col) +
                  " values of " + tp;
  std::string sql = "SELECT DISTINCT " + col + " FROM " + T.name;
  if (x.rng.chance(0.5)) {
    std::vector<int> used = {k};
    const Cond c = x.cond_any(T, x.row_pick(T), "", "", &used);
    q += " whose " + c.text;
    sql += " WHERE " + c.sql;
  }
  return Draft{q + end_mark(q), sql, {t}};
}

// "List the name of all players ordered by age in descending order."
std::optional<Draft> order_by(Ctx& x) {
  const int tn = x.table_with(Role::kNumber), td = x.table_with(Role::kDate);
  const bool by_date = tn < 0 || (td >= 0 && x.rng.chance(0.3));
  const int t = by_date ? td : tn;
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const int k = x.column_pick(T, by_date ? Role::kDate : Role::kNumber);
  const std::vector<int> show = x.show_pick(T, k);
  const bool desc = x.rng.chance(0.5);
  std::string q = "List the " + x.show_text(T, show) + " of all " + words(T.name) +
                  x.pick_text({" ordered by ", " sorted by "}) + words(T.columns[k].name);
  q += desc ? x.pick_text({" in descending order", " from highest to lowest"})
            : x.pick_text({"", " in ascending order"});
  std::string sql =
      "SELECT " + x.show_sql(T, show, "") + " FROM " + T.name + " ORDER BY " + T.columns[k].name;
  return Draft{q + ".", sql + (desc ? " DESC" : ""), {t}};
}

}  // namespace

const std::vector<Template>& templates_easy() {
  static const std::vector<Template> all = {
      {"select_where", 4, select_where}, {"count_where", 2, count_where},
      {"aggregate", 2, aggregate},       {"distinct_values", 1, distinct_values},
      {"order_by", 1, order_by},
  };
  return all;
}

}  // namespace llmtune::data::synthetic
