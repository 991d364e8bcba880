// Hard templates: HAVING, three-table joins, IN / NOT IN subqueries, comparisons with a scalar
// subquery, EXCEPT / INTERSECT / UNION, several conditions, join + GROUP BY + ORDER BY LIMIT.
#include "data/synthetic_templates.h"

namespace llmtune::data::synthetic {

namespace {

std::string plural_of(const Table& t) {
  return words(t.name);
}

// How many rows of the child point at each parent row, indexed by parent row.
std::vector<int64_t> key_counts(const Ctx& x, const Edge& e) {
  std::vector<int64_t> counts(x.table(e.parent).rows.size(), 0);
  for (const auto& row : x.table(e.child).rows)
    ++counts[static_cast<size_t>(row[e.column].num - 1)];
  return counts;
}

// A threshold that the k-th largest count (k = 1..3) still reaches.
int64_t count_threshold(Ctx& x, std::vector<int64_t> counts) {
  std::sort(counts.rbegin(), counts.rend());
  const int64_t k = x.rng.range(1, std::min<int64_t>(3, std::ssize(counts)));
  return counts[static_cast<size_t>(k - 1)];
}

// "Which job title values have at least 5 employees?"
std::optional<Draft> having_count(Ctx& x) {
  const int t = x.table_with(Role::kCategory);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const int k = x.column_pick(T, Role::kCategory);
  std::vector<int64_t> counts;
  for (const auto& [value, n] : x.group_counts(T, k)) counts.push_back(n);
  const int64_t n = count_threshold(x, counts);
  const std::string col = T.columns[k].name;
  const bool more = n > 1 && x.rng.chance(0.5);
  const std::string amount =
      more ? "more than " + std::to_string(n - 1) : "at least " + std::to_string(n);
  return Draft{x.rng.chance(0.5)
                   ? "Which " + words(col) + " values have " + amount + " " + plural_of(T) + "?"
                   : "List the " + words(col) + " values that appear in " + amount + " " +
                         plural_of(T) + ".",
               "SELECT " + col + " FROM " + T.name + " GROUP BY " + col + " HAVING COUNT(*) " +
                   (more ? "> " + std::to_string(n - 1) : ">= " + std::to_string(n)),
               {t}};
}

// "Which position values have an average salary above 90000?"
std::optional<Draft> having_average(Ctx& x) {
  const int t = x.table_with(Role::kCategory);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const int n = x.column_pick(T, Role::kNumber);
  if (n < 0) return std::nullopt;
  const int k = x.column_pick(T, Role::kCategory);
  std::map<std::string, std::pair<int64_t, int64_t>> sums;  // value -> (sum, count)
  for (const auto& row : T.rows) {
    auto& [sum, count] = sums[row[k].text];
    sum += row[n].num;
    count += 1;
  }
  std::vector<Value> below;  // values under the highest group average: v * count < sum
  for (const Value& v : x.values_sorted(T, n)) {
    bool under = false;
    for (const auto& [value, sc] : sums) under = under || v.num * sc.second < sc.first;
    if (under) below.push_back(v);
  }
  if (below.empty()) return std::nullopt;
  const Value& v =
      below[static_cast<size_t>(x.rng.range(std::ssize(below) / 2, std::ssize(below) - 1))];
  const std::string col = T.columns[k].name, num = T.columns[n].name;
  const std::string lit = plain_value(T.columns[n], v);
  return Draft{"Which " + words(col) + " values have an average " + words(num) + " above " + lit +
                   " among their " + plural_of(T) + "?",
               "SELECT " + col + " FROM " + T.name + " GROUP BY " + col + " HAVING AVG(" + num +
                   ") > " + lit,
               {t}};
}

// "List the name of the departments that have at least 4 employees."
std::optional<Draft> join_having(Ctx& x) {
  const std::optional<Edge> e = x.edge_pick();
  if (!e) return std::nullopt;
  const Table &C = x.table(e->child), &P = x.table(e->parent);
  const int64_t n = count_threshold(x, key_counts(x, *e));
  const std::vector<int> show = x.show_pick(P);
  const bool plain = x.role(*e) == P.spec->singular;
  const std::string link = plain ? "that have at least " + std::to_string(n) + " " + plural_of(C)
                                 : "that are the " + x.role(*e) + " of at least " +
                                       std::to_string(n) + " " + plural_of(C);
  return Draft{"List the " + x.show_text(P, show) + " of the " + plural_of(P) + " " + link + ".",
               "SELECT " + x.show_sql(P, show, "T2.") + " FROM " + x.join_sql(*e) +
                   " GROUP BY T1." + C.columns[e->column].name +
                   " HAVING COUNT(*) >= " + std::to_string(n),
               {e->child, e->parent}};
}

// Three tables: X with keys to A and B ("students that have an enrollment whose course's title
// is ..."), or a chain X -> P -> G ("employees whose department's office's city is ...").
std::optional<Draft> join_three(Ctx& x) {
  const std::vector<Edge> edges = x.edges();
  std::vector<std::pair<Edge, Edge>> paths;
  for (const Edge& a : edges) {
    for (const Edge& b : edges) {
      if ((a.child == b.child && a.column != b.column) || b.child == a.parent)
        paths.push_back({a, b});
    }
  }
  if (paths.empty()) return std::nullopt;
  const auto& [a, b] = x.rng.pick(paths);
  const size_t r = x.row_pick(x.table(a.child));
  const auto key = [&](const Edge& e) { return x.table(e.child).columns[e.column].name; };
  if (a.child == b.child) {  // X = a.child joins A = a.parent and B = b.parent
    const Table &A = x.table(a.parent), &X = x.table(a.child), &B = x.table(b.parent);
    const std::vector<int> show = x.show_pick(A);
    const Cond c = x.cond_any(B, x.parent_row(b, r), "T3.", x.role(b) + "'s ");
    return Draft{"List the " + x.show_text(A, show) + " of the " + plural_of(A) + " " +
                     x.link_phrase(a) + " whose " + c.text + ".",
                 "SELECT " + x.show_sql(A, show, "T1.") + " FROM " + A.name + " AS T1 JOIN " +
                     X.name + " AS T2 ON T1.id = T2." + key(a) + " JOIN " + B.name +
                     " AS T3 ON T2." + key(b) + " = T3.id WHERE " + c.sql,
                 {a.parent, a.child, b.parent}};
  }
  const Table &X = x.table(a.child), &P = x.table(a.parent), &G = x.table(b.parent);
  const std::vector<int> show = x.show_pick(X);
  const Cond c = x.cond_any(G, x.parent_row(b, x.parent_row(a, r)), "T3.",
                            x.role(a) + "'s " + x.role(b) + "'s ");
  return Draft{
      "List the " + x.show_text(X, show) + " of " + plural_of(X) + " whose " + c.text + ".",
      "SELECT " + x.show_sql(X, show, "T1.") + " FROM " + X.name + " AS T1 JOIN " + P.name +
          " AS T2 ON T1." + key(a) + " = T2.id JOIN " + G.name + " AS T3 ON T2." + key(b) +
          " = T3.id WHERE " + c.sql,
      {a.child, a.parent, b.parent}};
}

// "List the name of the departments that have an employee whose salary is over 90000." with
// IN (SELECT ...), or "... that have no employees." with NOT IN.
std::optional<Draft> in_subquery(Ctx& x) {
  const std::optional<Edge> e = x.edge_pick();
  if (!e) return std::nullopt;
  const Table &C = x.table(e->child), &P = x.table(e->parent);
  const std::vector<int> show = x.show_pick(P);
  const std::string key = C.columns[e->column].name;
  const std::string head = "SELECT " + x.show_sql(P, show, "") + " FROM " + P.name + " WHERE id ";
  const std::vector<int64_t> counts = key_counts(x, *e);
  if (x.rng.chance(0.3) && std::count(counts.begin(), counts.end(), 0) > 0) {
    const bool plain = x.role(*e) == P.spec->singular;
    const std::string link = plain
                                 ? "that have no " + plural_of(C)
                                 : "that are not the " + x.role(*e) + " of any " + C.spec->singular;
    return Draft{"List the " + x.show_text(P, show) + " of the " + plural_of(P) + " " + link + ".",
                 head + "NOT IN (SELECT " + key + " FROM " + C.name + ")",
                 {e->child, e->parent}};
  }
  const Cond c = x.cond_any(C, x.row_pick(C), "", "");
  return Draft{"List the " + x.show_text(P, show) + " of the " + plural_of(P) + " " +
                   x.link_phrase(*e) + " whose " + c.text + ".",
               head + "IN (SELECT " + key + " FROM " + C.name + " WHERE " + c.sql + ")",
               {e->child, e->parent}};
}

// "List the name of players whose salary is above the average salary of all players." or
// "... greater than the lowest salary of players whose position is Forward."
std::optional<Draft> scalar_subquery(Ctx& x) {
  const int t = x.table_with(Role::kNumber);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const int n = x.column_pick(T, Role::kNumber);
  const std::vector<int> show = x.show_pick(T, n);
  const std::string num = T.columns[n].name, tp = plural_of(T);
  const std::string head =
      "SELECT " + x.show_sql(T, show, "") + " FROM " + T.name + " WHERE " + num;
  const std::string q = "List the " + x.show_text(T, show) + " of " + tp + " whose " + words(num);
  if (x.rng.chance(0.5)) {
    const bool above = x.rng.chance(0.6);
    return Draft{q + " is " + (above ? "above" : "below") + " the average " + words(num) +
                     " of all " + tp + ".",
                 head + (above ? " > " : " < ") + "(SELECT AVG(" + num + ") FROM " + T.name + ")",
                 {t}};
  }
  std::vector<int> used = {n};
  const Cond c = x.cond_any(T, x.row_pick(T), "", "", &used);
  return Draft{
      q + " is greater than the lowest " + words(num) + " of the " + tp + " whose " + c.text + ".",
      head + " > (SELECT MIN(" + num + ") FROM " + T.name + " WHERE " + c.sql + ")",
      {t}};
}

// EXCEPT / INTERSECT over a category: "Which city values have customers whose age is over 60
// but no customers whose segment is Corporate?"
std::optional<Draft> set_category(Ctx& x) {
  const int t = x.table_with(Role::kCategory);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const int k = x.column_pick(T, Role::kCategory);
  std::vector<int> used = {k};
  const size_t r1 = x.row_pick(T);
  size_t r2 = x.row_pick(T);
  const bool intersect = x.rng.chance(0.5);
  if (intersect) {  // a second row with the same category value, so both sides share it
    std::vector<size_t> same;
    for (size_t i = 0; i < T.rows.size(); ++i) {
      if (i != r1 && T.rows[i][k].text == T.rows[r1][k].text) same.push_back(i);
    }
    if (!same.empty()) r2 = x.rng.pick(same);
  }
  const Cond a = x.cond_any(T, r1, "", "", &used);
  const Cond b = x.cond_any(T, r2, "", "", &used);
  if (used.size() < 3) return std::nullopt;
  const std::string col = T.columns[k].name, tp = plural_of(T);
  const std::string side = "SELECT " + col + " FROM " + T.name + " WHERE ";
  if (intersect) {
    return Draft{"Which " + words(col) + " values have both " + tp + " whose " + a.text + " and " +
                     tp + " whose " + b.text + "?",
                 side + a.sql + " INTERSECT " + side + b.sql,
                 {t}};
  }
  return Draft{"Which " + words(col) + " values have " + tp + " whose " + a.text + " but no " + tp +
                   " whose " + b.text + "?",
               side + a.sql + " EXCEPT " + side + b.sql,
               {t}};
}

// "List the name of books whose genre is Poetry or whose pages is over 900." with UNION.
std::optional<Draft> set_union(Ctx& x) {
  const int t = x.table_with(Role::kFilter);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const std::vector<int> show = x.show_pick(T);
  std::vector<int> used;
  const Cond a = x.cond_any(T, x.row_pick(T), "", "", &used);
  const Cond b = x.cond_any(T, x.row_pick(T), "", "", &used);
  if (used.size() < 2) return std::nullopt;
  const std::string side = "SELECT " + x.show_sql(T, show, "") + " FROM " + T.name + " WHERE ";
  return Draft{"List the " + x.show_text(T, show) + " of " + plural_of(T) + " whose " + a.text +
                   " or whose " + b.text + ".",
               side + a.sql + " UNION " + side + b.sql,
               {t}};
}

// "List the name of employees whose city is Boston, age is over 30 and salary is below 90000."
std::optional<Draft> many_conditions(Ctx& x) {
  const int t = x.table_with(Role::kFilter);
  if (t < 0) return std::nullopt;
  const Table& T = x.table(t);
  const std::vector<int> show = x.show_pick(T);
  const size_t r = x.row_pick(T);
  std::vector<int> used;
  std::vector<Cond> conds;
  const int64_t want = x.rng.range(3, 4);
  for (int64_t i = 0; i < want; ++i) conds.push_back(x.cond_any(T, r, "", "", &used));
  if (std::ssize(used) < want) return std::nullopt;
  std::vector<std::string> texts;
  std::string sql = "SELECT " + x.show_sql(T, show, "") + " FROM " + T.name + " WHERE ";
  for (size_t i = 0; i < conds.size(); ++i) {
    texts.push_back(conds[i].text);
    sql += (i ? " AND " : "") + conds[i].sql;
  }
  return Draft{"List the " + x.show_text(T, show) + " of " + plural_of(T) + " whose " +
                   list_and(texts) + ".",
               sql,
               {t}};
}

// "What is the name of the department with the most employees?" (or the highest average ...)
std::optional<Draft> join_top(Ctx& x) {
  const std::optional<Edge> e = x.edge_pick();
  if (!e) return std::nullopt;
  const Table &C = x.table(e->child), &P = x.table(e->parent);
  const std::vector<int> show = x.show_pick(P);
  const std::string head = "SELECT " + x.show_sql(P, show, "T2.") + " FROM " + x.join_sql(*e) +
                           " GROUP BY T1." + C.columns[e->column].name + " ORDER BY ";
  const int n = x.column_pick(C, Role::kNumber);
  if (n >= 0 && x.rng.chance(0.5)) {
    const std::string num = C.columns[n].name;
    return Draft{"What is the " + x.show_text(P, show) + " of the " + x.role(*e) + " whose " +
                     plural_of(C) + " have the highest average " + words(num) + "?",
                 head + "AVG(T1." + num + ") DESC LIMIT 1",
                 {e->child, e->parent}};
  }
  return Draft{"What is the " + x.show_text(P, show) + " of the " + x.role(*e) + " with the " +
                   "most " + plural_of(C) + "?",
               head + "COUNT(*) DESC LIMIT 1",
               {e->child, e->parent}};
}

// "List the name of employees whose department's city is Boston and whose salary is above the
// average salary of all employees."
std::optional<Draft> join_scalar_subquery(Ctx& x) {
  const std::optional<Edge> e = x.edge_pick();
  if (!e) return std::nullopt;
  const Table &C = x.table(e->child), &P = x.table(e->parent);
  const int n = x.column_pick(C, Role::kNumber);
  if (n < 0) return std::nullopt;
  int64_t sum = 0;
  for (const auto& row : C.rows) sum += row[n].num;
  std::vector<size_t> above;
  for (size_t i = 0; i < C.rows.size(); ++i) {
    if (C.rows[i][n].num * std::ssize(C.rows) > sum) above.push_back(i);
  }
  if (above.empty()) return std::nullopt;
  const std::vector<int> show = x.show_pick(C, n);
  const Cond c = x.cond_any(P, x.parent_row(*e, x.rng.pick(above)), "T2.", x.role(*e) + "'s ");
  const std::string num = C.columns[n].name;
  return Draft{"List the " + x.show_text(C, show) + " of " + plural_of(C) + " whose " + c.text +
                   " and whose " + words(num) + " is above the average " + words(num) + " of all " +
                   plural_of(C) + ".",
               "SELECT " + x.show_sql(C, show, "T1.") + " FROM " + x.join_sql(*e) + " WHERE " +
                   c.sql + " AND T1." + num + " > (SELECT AVG(" + num + ") FROM " + C.name + ")",
               {e->child, e->parent}};
}

// "List the name of the departments that have employees but none whose city is Boston."
std::optional<Draft> join_except(Ctx& x) {
  const std::optional<Edge> e = x.edge_pick();
  if (!e) return std::nullopt;
  const Table &C = x.table(e->child), &P = x.table(e->parent);
  const std::vector<int> show = x.show_pick(P);
  const Cond c = x.cond_any(C, x.row_pick(C), "T1.", "");
  const std::string side = "SELECT " + x.show_sql(P, show, "T2.") + " FROM " + x.join_sql(*e);
  const bool plain = x.role(*e) == P.spec->singular;
  const std::string link = plain ? "that have " + plural_of(C)
                                 : "that are the " + x.role(*e) + " of some " + plural_of(C);
  return Draft{"List the " + x.show_text(P, show) + " of the " + plural_of(P) + " " + link +
                   " but none whose " + c.text + ".",
               side + " EXCEPT " + side + " WHERE " + c.sql,
               {e->child, e->parent}};
}

}  // namespace

const std::vector<Template>& templates_hard() {
  static const std::vector<Template> all = {
      {"having_count", 2, having_count},
      {"having_average", 1, having_average},
      {"join_having", 2, join_having},
      {"join_three", 4, join_three},
      {"in_subquery", 2, in_subquery},
      {"scalar_subquery", 2, scalar_subquery},
      {"set_category", 2, set_category},
      {"set_union", 1, set_union},
      {"many_conditions", 2, many_conditions},
      {"join_top", 2, join_top},
      {"join_scalar_subquery", 2, join_scalar_subquery},
      {"join_except", 1, join_except},
  };
  return all;
}

}  // namespace llmtune::data::synthetic
