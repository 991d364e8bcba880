// Medium templates: two-table joins with filters, GROUP BY with aggregates, ORDER BY ... LIMIT,
// two conditions.
#include "data/synthetic_templates.h"

namespace llmtune::data::synthetic {

namespace {

// "List the name of employees whose department's budget is above 500000."
std::optional<Draft> join_where(Ctx& x) {
  const std::optional<Edge> e = x.edge_pick();
  if (!e) return std::nullopt;
  const Table &C = x.table(e->child), &P = x.table(e->parent);
  const size_t r = x.row_pick(C);
  const std::vector<int> show = x.show_pick(C);
  const Cond c = x.cond_any(P, x.parent_row(*e, r), "T2.", x.role(*e) + "'s ");
  const std::string verb = x.pick_text({"What are the ", "List the ", "Show the "});
  const std::string det = x.pick_text({"the ", ""});
  const std::string q =
      verb + x.show_text(C, show) + " of " + det + words(C.name) + " whose " + c.text;
  return Draft{
      q + (q[0] == 'W' ? "?" : "."),
      "SELECT " + x.show_sql(C, show, "T1.") + " FROM " + x.join_sql(*e) + " WHERE " + c.sql,
      {e->child, e->parent}};
}

// "Show the name of each employee and the name of its department."
std::optional<Draft> join_show(Ctx& x) {
  const std::optional<Edge> e = x.edge_pick();
  if (!e) return std::nullopt;
  const Table &C = x.table(e->child), &P = x.table(e->parent);
  const std::vector<int> a = x.show_pick(C), b = x.show_pick(P);
  std::string q = "Show the " + x.show_text(C, a) + " of each " + C.spec->singular + " and the " +
                  x.show_text(P, b) + " of its " + x.role(*e);
  std::string sql = "SELECT " + x.show_sql(C, a, "T1.") + ", " + x.show_sql(P, b, "T2.") +
                    " FROM " + x.join_sql(*e);
  if (x.rng.chance(0.6)) {
    const Cond c = x.cond_any(C, x.row_pick(C), "T1.", "");
    q += ", for the " + words(C.name) + " whose " + c.text;
    sql += " WHERE " + c.sql;
  }
  return Draft{q + ".", sql, {e->child, e->parent}};
}

// "How many employees are there for each city?"
std::optional<Draft> group_count(Ctx& x) {
  const int t = x.table_with(Role::kCategory);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const std::string k = T.columns[x.column_pick(T, Role::kCategory)].name, tp = words(T.name);
  std::string q;
  switch (x.rng.below(3)) {
    case 0:
      q = "How many " + tp + " are there for each " + words(k) + "?";
      break;
    case 1:
      q = "Show each " + words(k) + " and the number of " + tp + " with it.";
      break;
    default:
      q = "Count the " + tp + " for each " + words(k) + ".";
  }
  return Draft{q, "SELECT " + k + ", COUNT(*) FROM " + T.name + " GROUP BY " + k, {t}};
}

// "What is the average salary of employees for each job title?"
std::optional<Draft> group_aggregate(Ctx& x) {
  const int t = x.table_with(Role::kCategory);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const int n = x.column_pick(T, Role::kNumber);
  if (n < 0) return std::nullopt;
  const std::string k = T.columns[x.column_pick(T, Role::kCategory)].name;
  const std::string num = T.columns[n].name;
  const Agg& a = x.rng.pick(kAggs);
  return Draft{"What is the " + std::string(a.text) + " " + words(num) + " of " + words(T.name) +
                   " for each " + words(k) + "?",
               "SELECT " + k + ", " + a.sql + "(" + num + ") FROM " + T.name + " GROUP BY " + k,
               {t}};
}

// "What is the name of the player with the highest salary?" / "... of the 3 ... lowest ..."
std::optional<Draft> top_n(Ctx& x) {
  const int t = x.table_with(Role::kNumber);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const int n = x.column_pick(T, Role::kNumber);
  const std::vector<int> show = x.show_pick(T, n);
  const bool desc = x.rng.chance(0.6);
  const std::string num = T.columns[n].name;
  const std::string order = " ORDER BY " + num + (desc ? " DESC" : "");
  const std::string sql = "SELECT " + x.show_sql(T, show, "") + " FROM " + T.name + order;
  const std::string most = desc ? "highest " : "lowest ";
  if (x.rng.chance(0.5)) {
    return Draft{"What is the " + x.show_text(T, show) + " of the " + T.spec->singular +
                     " with the " + most + words(num) + "?",
                 sql + " LIMIT 1",
                 {t}};
  }
  const int64_t k = x.rng.range(2, 5);
  return Draft{"List the " + x.show_text(T, show) + " of the " + std::to_string(k) + " " +
                   words(T.name) + " with the " + most + words(num) + ".",
               sql + " LIMIT " + std::to_string(k),
               {t}};
}

// "How many employees does each department have? Show the name and the count."
std::optional<Draft> join_group_count(Ctx& x) {
  const std::optional<Edge> e = x.edge_pick();
  if (!e) return std::nullopt;
  const Table &C = x.table(e->child), &P = x.table(e->parent);
  const std::vector<int> show = x.show_pick(P);
  const std::string key = C.columns[e->column].name;
  const std::string q = x.rng.chance(0.5)
                            ? "How many " + words(C.name) + " does each " + x.role(*e) +
                                  " have? Show the " + x.show_text(P, show) + " and the count."
                            : "For each " + x.role(*e) + ", show its " + x.show_text(P, show) +
                                  " and the number of " + words(C.name) + ".";
  return Draft{q,
               "SELECT " + x.show_sql(P, show, "T2.") + ", COUNT(*) FROM " + x.join_sql(*e) +
                   " GROUP BY T1." + key,
               {e->child, e->parent}};
}

// "List the name of the departments that have an employee whose age is over 60."
std::optional<Draft> join_parent_distinct(Ctx& x) {
  const std::optional<Edge> e = x.edge_pick();
  if (!e) return std::nullopt;
  const Table &C = x.table(e->child), &P = x.table(e->parent);
  const std::vector<int> show = x.show_pick(P);
  const Cond c = x.cond_any(C, x.row_pick(C), "T1.", "");
  return Draft{"List the " + x.show_text(P, show) + " of the " + words(P.name) + " " +
                   x.link_phrase(*e) + " whose " + c.text + ".",
               "SELECT DISTINCT " + x.show_sql(P, show, "T2.") + " FROM " + x.join_sql(*e) +
                   " WHERE " + c.sql,
               {e->child, e->parent}};
}

// "What is the average salary of employees whose department's name is Sales?"
std::optional<Draft> join_aggregate(Ctx& x) {
  const std::optional<Edge> e = x.edge_pick();
  if (!e) return std::nullopt;
  const Table &C = x.table(e->child), &P = x.table(e->parent);
  const int n = x.column_pick(C, Role::kNumber);
  if (n < 0) return std::nullopt;
  const Cond c = x.cond_any(P, x.parent_row(*e, x.row_pick(C)), "T2.", x.role(*e) + "'s ");
  const Agg& a = x.rng.pick(kAggs);
  return Draft{"What is the " + std::string(a.text) + " " + words(C.columns[n].name) + " of " +
                   words(C.name) + " whose " + c.text + "?",
               "SELECT " + std::string(a.sql) + "(T1." + C.columns[n].name + ") FROM " +
                   x.join_sql(*e) + " WHERE " + c.sql,
               {e->child, e->parent}};
}

// "Which city has the most customers?"
std::optional<Draft> most_common(Ctx& x) {
  const int t = x.table_with(Role::kCategory);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const std::string k = T.columns[x.column_pick(T, Role::kCategory)].name, tp = words(T.name);
  const bool most = x.rng.chance(0.75);
  const std::string q =
      most && x.rng.chance(0.5)
          ? "What is the most common " + words(k) + " among " + tp + "?"
          : "Which " + words(k) + " has the " + (most ? "most " : "fewest ") + tp + "?";
  return Draft{q,
               "SELECT " + k + " FROM " + T.name + " GROUP BY " + k + " ORDER BY COUNT(*)" +
                   (most ? " DESC" : "") + " LIMIT 1",
               {t}};
}

// "List the name of employees whose city is Boston and age is over 40."
std::optional<Draft> two_conditions(Ctx& x) {
  const int t = x.table_with(Role::kFilter);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const std::vector<int> show = x.show_pick(T);
  const bool both = x.rng.chance(0.7);
  std::vector<int> used;
  const size_t r = x.row_pick(T);
  const Cond a = x.cond_any(T, r, "", "", &used);
  const Cond b = x.cond_any(T, both ? r : x.row_pick(T), "", "", &used);
  if (used.size() < 2) return std::nullopt;
  return Draft{"List the " + x.show_text(T, show) + " of " + words(T.name) + " whose " + a.text +
                   (both ? " and " : " or ") + b.text + ".",
               "SELECT " + x.show_sql(T, show, "") + " FROM " + T.name + " WHERE " + a.sql +
                   (both ? " AND " : " OR ") + b.sql,
               {t}};
}

// "Count the orders by the year of their order date."
std::optional<Draft> group_by_year(Ctx& x) {
  const int t = x.table_with(Role::kDate);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const std::string d = T.columns[x.column_pick(T, Role::kDate)].name;
  const std::string year = "strftime('%Y', " + d + ")";
  return Draft{x.rng.chance(0.5)
                   ? "Count the " + words(T.name) + " by the year of their " + words(d) + "."
                   : "For each year of " + words(d) + ", how many " + words(T.name) + " are there?",
               "SELECT " + year + ", COUNT(*) FROM " + T.name + " GROUP BY " + year,
               {t}};
}

}  // namespace

const std::vector<Template>& templates_medium() {
  static const std::vector<Template> all = {
      {"join_where", 4, join_where},
      {"join_show", 2, join_show},
      {"group_count", 2, group_count},
      {"group_aggregate", 2, group_aggregate},
      {"top_n", 2, top_n},
      {"join_group_count", 2, join_group_count},
      {"join_parent_distinct", 2, join_parent_distinct},
      {"join_aggregate", 2, join_aggregate},
      {"most_common", 1, most_common},
      {"two_conditions", 2, two_conditions},
      {"group_by_year", 1, group_by_year},
  };
  return all;
}

}  // namespace llmtune::data::synthetic
