// The question-template kit (synthetic_templates.h) and question_generate, which draws a template
// of a family by weight and retries a few times when one does not fit the schema.
#include "data/synthetic_templates.h"

namespace llmtune::data::synthetic {

namespace {

bool value_less(const Value& a, const Value& b) {
  return a.num != b.num ? a.num < b.num : a.text < b.text;
}
bool value_equal(const Value& a, const Value& b) {
  return a.num == b.num && a.text == b.text;
}

bool is_yes_no(const ColumnSpec& c) {
  return c.pool.size() == 2 && c.pool[0] == "Yes" && c.pool[1] == "No";
}

}  // namespace

const std::vector<Agg> kAggs = {
    {"AVG", "average"}, {"MAX", "highest"}, {"MIN", "lowest"}, {"SUM", "total"}};

bool has_role(const Column& c, Role role) {
  if (c.spec == nullptr) return false;  // the id
  const Gen g = c.spec->gen;
  switch (role) {
    case Role::kCategory:
      return g == Gen::kPool && !is_yes_no(*c.spec);
    case Role::kNumber:
      return g == Gen::kInt || g == Gen::kReal;
    case Role::kDate:
      return g == Gen::kDate;
    case Role::kFilter:
      return g != Gen::kForeignKey;
  }
  return false;
}

std::string words(const std::string& name) {
  std::string s = name;
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

std::string article(const std::string& word) {
  const bool vowel = !word.empty() && std::string("aeiouAEIOU").find(word[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + word;
}

std::string list_and(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

int Ctx::table_with(Role role) {
  std::vector<int> fit;
  for (int t = 0; t < static_cast<int>(db.tables.size()); ++t) {
    for (const Column& c : table(t).columns) {
      if (has_role(c, role)) {
        fit.push_back(t);
        break;
      }
    }
  }
  return fit.empty() ? -1 : rng.pick(fit);
}

std::vector<int> Ctx::candidates(const Table& t, Role role, const std::vector<int>& exclude) {
  std::vector<int> own, admin;
  for (int c = 1; c < static_cast<int>(t.columns.size()); ++c) {
    const Column& col = t.columns[c];
    if (!has_role(col, role) || std::find(exclude.begin(), exclude.end(), c) != exclude.end()) {
      continue;
    }
    (col.spec->admin ? admin : own).push_back(c);
  }
  if (own.empty() || rng.chance(0.1)) own.insert(own.end(), admin.begin(), admin.end());
  return own;
}

int Ctx::column_pick(const Table& t, Role role, int exclude) {
  const std::vector<int> fit = candidates(t, role, {exclude});
  return fit.empty() ? -1 : rng.pick(fit);
}

std::vector<int> Ctx::show_pick(const Table& t, int exclude) {
  const double u = rng.unit();
  const size_t want = u < 0.6 ? 1 : u < 0.85 ? 2 : 3;
  std::vector<int> out;
  if (t.label >= 0 && t.label != exclude && rng.chance(0.75)) out.push_back(t.label);
  std::vector<int> rest = candidates(t, Role::kFilter, {exclude, t.label});
  rng.shuffle(rest);
  for (size_t i = 0; i < rest.size() && out.size() < want; ++i) out.push_back(rest[i]);
  if (out.empty()) {  // nothing but `exclude` to show: show it after all
    const std::vector<int> any = candidates(t, Role::kFilter);
    if (!any.empty()) out.push_back(rng.pick(any));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Ctx::show_sql(const Table& t, const std::vector<int>& cols, const std::string& alias) {
  std::string out;
  for (int c : cols) out += (out.empty() ? "" : ", ") + alias + t.columns[c].name;
  return out;
}

std::string Ctx::show_text(const Table& t, const std::vector<int>& cols) {
  std::vector<std::string> names;
  for (int c : cols) names.push_back(words(t.columns[c].name));
  return list_and(names);
}

std::vector<Edge> Ctx::edges() const {
  std::vector<Edge> out;
  for (int t = 0; t < static_cast<int>(db.tables.size()); ++t) {
    for (int c = 0; c < static_cast<int>(table(t).columns.size()); ++c) {
      if (table(t).columns[c].parent >= 0) out.push_back({t, c, table(t).columns[c].parent});
    }
  }
  return out;
}

std::optional<Edge> Ctx::edge_pick() {
  const std::vector<Edge> all = edges();
  if (all.empty()) return std::nullopt;
  return rng.pick(all);
}

std::string Ctx::role(const Edge& e) const {
  const std::string& name = table(e.child).columns[e.column].name;
  return words(name.substr(0, name.size() - 3));  // without "_id"
}

std::string Ctx::link_phrase(const Edge& e) const {
  const std::string child = table(e.child).spec->singular;
  if (role(e) == table(e.parent).spec->singular) return "that have " + article(child);
  return "that are the " + role(e) + " of " + article(child);
}

std::string Ctx::join_sql(const Edge& e) const {
  return table(e.child).name + " AS T1 JOIN " + table(e.parent).name + " AS T2 ON T1." +
         table(e.child).columns[e.column].name + " = T2.id";
}

std::vector<Value> Ctx::values_sorted(const Table& t, int c) const {
  std::vector<Value> v;
  for (const auto& row : t.rows) v.push_back(row[c]);
  std::sort(v.begin(), v.end(), value_less);
  v.erase(std::unique(v.begin(), v.end(), value_equal), v.end());
  return v;
}

std::map<std::string, int64_t> Ctx::group_counts(const Table& t, int c) const {
  std::map<std::string, int64_t> counts;
  for (const auto& row : t.rows) ++counts[plain_value(t.columns[c], row[c])];
  return counts;
}

Cond Ctx::cond_any(const Table& t, size_t row, const std::string& alias, const std::string& subject,
                   std::vector<int>* used) {
  const std::vector<int> fit = candidates(t, Role::kFilter, used ? *used : std::vector<int>{});
  if (fit.empty()) {
    return {alias + "id = " + std::to_string(row + 1),
            subject + "id is " + std::to_string(row + 1)};
  }
  const int c = rng.pick(fit);
  if (used) used->push_back(c);
  return cond(t, c, row, alias, subject);
}

namespace {

// Text: =, <>, IN for categories; =, LIKE 'prefix%' and LIKE '%part%' for names and codes.
Cond cond_text(Ctx& x, const Column& col, const Value& v, const std::vector<Value>& other,
               const std::string& lhs, const std::string& who) {
  const auto lit = [&](const Value& w) { return sql_literal(col, w); };
  const double u = x.rng.unit();
  if (col.spec->gen == Gen::kPool) {
    if (is_yes_no(*col.spec) || other.empty() || u < 0.65) {
      return Cond{lhs + " = " + lit(v), who + " is " + v.text};
    }
    if (u < 0.8) {
      const Value& w = x.rng.pick(other);
      return Cond{lhs + " <> " + lit(w), who + " is not " + w.text};
    }
    std::vector<Value> in = {v, x.rng.pick(other)};
    x.rng.shuffle(in);
    return Cond{lhs + " IN (" + lit(in[0]) + ", " + lit(in[1]) + ")",
                who + " is " + in[0].text + " or " + in[1].text};
  }
  if (u < 0.15 && v.text.size() >= 5) {
    const size_t at = static_cast<size_t>(x.rng.below(std::ssize(v.text) - 2));
    const std::string part = v.text.substr(at, 3);
    if (part.front() != ' ' && part.back() != ' ') {
      return Cond{lhs + " LIKE " + lit(Value{0, "%" + part + "%"}), who + " contains " + part};
    }
  }
  if (u < 0.35) {
    // A code's prefix is shared by every row: keep one or two of its digits.
    const size_t keep = col.spec->affix.size() * (col.spec->gen == Gen::kCode) +
                        static_cast<size_t>(x.rng.range(1, 3));
    const std::string prefix = v.text.substr(0, std::min(keep, v.text.size() - 1));
    if (!prefix.empty() && prefix.back() != ' ') {
      return Cond{lhs + " LIKE " + lit(Value{0, prefix + "%"}), who + " starts with " + prefix};
    }
  }
  return Cond{lhs + " = " + lit(v), who + " is " + v.text};
}

}  // namespace

Cond Ctx::cond(const Table& t, int c, size_t row, const std::string& alias,
               const std::string& subject) {
  const Column& col = t.columns[c];
  const Value& v = t.rows[row][c];
  const std::string lhs = alias + col.name, who = subject + words(col.name);
  std::vector<Value> below, above, other;
  for (const Value& w : values_sorted(t, c)) {
    if (value_less(w, v)) below.push_back(w);
    if (value_less(v, w)) above.push_back(w);
    if (!value_equal(w, v)) other.push_back(w);
  }
  if (col.type == "TEXT") return cond_text(*this, col, v, other, lhs, who);
  const auto lit = [&](const Value& w) { return sql_literal(col, w); };
  const auto txt = [&](const Value& w) { return plain_value(col, w); };
  const bool date = col.type == "DATE";
  const double u = rng.unit();
  if (u < 0.25 && !below.empty() && !above.empty()) {
    const Value& lo = rng.pick(below);
    const Value& hi = rng.pick(above);
    return {lhs + " BETWEEN " + lit(lo) + " AND " + lit(hi),
            who + " is between " + txt(lo) + " and " + txt(hi)};
  }
  if (u < 0.35 && col.type == "INTEGER") return {lhs + " = " + lit(v), who + " is " + txt(v)};
  if (u < 0.7 && !below.empty()) {
    const Value& w = rng.pick(below);
    const std::string op = date ? pick_text({"after", "later than"})
                                : pick_text({"greater than", "more than", "above", "over"});
    return {lhs + " > " + lit(w), who + " is " + op + " " + txt(w)};
  }
  if (!above.empty()) {
    const Value& w = rng.pick(above);
    const std::string op = date ? pick_text({"before", "earlier than"})
                                : pick_text({"less than", "below", "lower than", "under"});
    return {lhs + " < " + lit(w), who + " is " + op + " " + txt(w)};
  }
  return {lhs + " >= " + lit(v), who + " is " + (date ? "on or after " : "at least ") + txt(v)};
}

std::optional<Draft> question_generate(const Database& db, Family family, Rng& rng) {
  const std::vector<Template>& pool = family == Family::kEasy     ? templates_easy()
                                      : family == Family::kMedium ? templates_medium()
                                                                  : templates_hard();
  int total = 0;
  for (const Template& t : pool) total += t.weight;
  Ctx ctx(db, rng);
  for (int attempt = 0; attempt < 8; ++attempt) {
    int64_t w = rng.below(total);
    size_t i = 0;
    while (w >= pool[i].weight) w -= pool[i++].weight;
    std::optional<Draft> draft = pool[i].make(ctx);
    if (draft) {
      std::sort(draft->tables.begin(), draft->tables.end());
      draft->tables.erase(std::unique(draft->tables.begin(), draft->tables.end()),
                          draft->tables.end());
      return draft;
    }
  }
  return std::nullopt;
}

}  // namespace llmtune::data::synthetic
