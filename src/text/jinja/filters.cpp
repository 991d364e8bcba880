// jinja2's builtin filters (jinja2/filters.py, 3.1) for values of this interpreter, with
// Transformers' tojson in place of jinja2's.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "text/jinja/ast.h"
#include "text/jinja/ops.h"
#include "text/jinja/pystr.h"
#include "text/jinja/renderer.h"

namespace llmtune::text::jinja {
namespace {

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0, like obj['a']['b'][0].
struct AttrGetter {
  std::vector<Value> parts;
  bool lower = false;
  std::optional<Value> default_value;

  AttrGetter(const Value& attribute, bool ignore_case, std::optional<Value> def = std::nullopt)
      : lower(ignore_case), default_value(std::move(def)) {
    if (attribute.is_none()) return;
    if (!attribute.is_string()) {
      parts.push_back(attribute);
      return;
    }
    for (const auto& p : py_split(attribute.as_string(), std::string("."), -1)) {
      bool digits = !p.empty() && p.find_first_not_of("0123456789") == std::string::npos;
      auto index = digits ? py_parse_int(p, 10) : std::nullopt;
      parts.push_back(index ? Value(*index) : Value(p));
    }
  }

  Value operator()(Value item) const {
    for (const auto& part : parts) {
      item = get_item(item, part);
      if (default_value && item.is_undefined()) item = *default_value;
    }
    if (lower && item.is_string()) return Value(py_lower(item.as_string()));
    return item;
  }
};

using Step = std::function<std::optional<Value>()>;

// A filter jinja2 writes as a Python generator: nothing runs, not even the argument checks,
// until the first item is pulled. `start` runs then and returns the function that yields each
// item.
Value generator(std::function<Step()> start) {
  auto step = std::make_shared<Step>();
  return Value::iterator("generator", [start = std::move(start), step]() -> std::optional<Value> {
    if (!*step) *step = start();
    return (*step)();
  });
}

// jinja2's soft_str: strings (Markup included) stay as they are, the rest become str().
Value soft_str(const Value& v) {
  return v.is_string() ? v : Value(py_str(v));
}

Step empty_step() {
  return [] { return std::optional<Value>(); };
}

Value filter_abs(Renderer&, const Value& v, CallArgs& a) {
  bind_args("abs", a, {});
  if (v.is_integral()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  if (v.is_float()) return Value(std::fabs(v.as_double()));
  if (v.is_undefined()) v.fail_undefined();
  fail(std::string("bad operand type for abs(): '") + v.type_name() + "'");
}

Value filter_attr(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("attr", a, {{"name", std::nullopt}});
  if (v.is_undefined()) v.fail_undefined();
  if (!p[0].is_string()) fail("attribute name must be string");
  const std::string& name = p[0].as_string();
  if (v.kind() == Value::Kind::Namespace) {
    if (const Value* found = v.as_namespace()->attrs.find(std::string_view(name))) return *found;
  } else if (auto m = find_method(v, name)) {
    return *m;
  }
  return Value::undefined(py_repr_string(v.object_type_repr()) + " has no attribute " +
                          py_repr_string(name));
}

Value filter_batch(Renderer&, const Value& v, CallArgs& a) {
  return generator([v, a]() mutable -> Step {
    auto p = bind_args("batch", a, {{"linecount", std::nullopt}, {"fill_with", Value::none()}});
    int64_t n = to_index(p[0], "linecount");
    auto batches = std::make_shared<ValueList>();
    ValueList tmp;
    for (const auto& item : iterate(v)) {
      if (int64_t(tmp.size()) == n) {
        batches->push_back(Value::list(std::move(tmp)));
        tmp.clear();
      }
      tmp.push_back(item);
    }
    if (!tmp.empty()) {
      if (!p[1].is_none())
        while (int64_t(tmp.size()) < n) tmp.push_back(p[1]);
      batches->push_back(Value::list(std::move(tmp)));
    }
    return pull_items(Value::list(std::move(*batches)));
  });
}

Value filter_capitalize(Renderer&, const Value& v, CallArgs& a) {
  bind_args("capitalize", a, {});
  return string_like(v, py_capitalize(py_str(v)));
}

Value filter_center(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("center", a, {{"width", Value(80)}});
  return string_like(v, py_center(py_str(v), to_index(p[0], "width"), U' ', 0));
}

Value filter_length(Renderer&, const Value& v, CallArgs& a) {
  bind_args("length", a, {});
  return Value(py_len(v));
}

Value filter_default(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("default", a, {{"default_value", Value("")}, {"boolean", Value(false)}});
  if (v.is_undefined() || (truthy(p[1]) && !truthy(v))) return p[0];
  return v;
}

Value filter_dictsort(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args(
      "dictsort", a,
      {{"case_sensitive", Value(false)}, {"by", Value("key")}, {"reverse", Value(false)}});
  if (!v.is_dict()) fail("dictsort expects a mapping");
  size_t pos = py_str(p[1]) == "key" ? 0 : py_str(p[1]) == "value" ? 1 : 2;
  if (pos == 2) fail("You can only sort by either \"key\" or \"value\"");
  bool lower = !truthy(p[0]);
  std::vector<std::pair<Value, Value>> items = v.as_dict().items;
  auto key = [&](const std::pair<Value, Value>& kv) {
    const Value& x = pos == 0 ? kv.first : kv.second;
    return lower && x.is_string() ? Value(py_lower(x.as_string())) : x;
  };
  bool rev = truthy(p[2]);
  std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) {
    return rev ? py_less(key(y), key(x)) : py_less(key(x), key(y));
  });
  ValueList out;
  for (auto& [k, val] : items) out.push_back(Value::tuple({k, val}));
  return Value::list(std::move(out));
}

Value filter_first(Renderer&, const Value& v, CallArgs& a) {
  bind_args("first", a, {});
  if (v.kind() == Value::Kind::Iterator) {
    if (auto item = iterator_next(v)) return *item;
  } else if (ValueList items = iterate(v); !items.empty()) {
    return items.front();
  }
  return Value::undefined("No first item, sequence was empty.");
}

Value filter_last(Renderer&, const Value& v, CallArgs& a) {
  bind_args("last", a, {});
  if (v.kind() == Value::Kind::Iterator)
    fail(std::string("'") + v.type_name() + "' object is not reversible");
  ValueList items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value filter_float(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("float", a, {{"default", Value(0.0)}});
  if (v.is_undefined()) v.fail_undefined();
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string()) {
    if (auto f = py_parse_float(v.as_string())) return Value(*f);
  }
  return p[0];
}

Value filter_int(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("int", a, {{"default", Value(0)}, {"base", Value(10)}});
  if (v.is_undefined()) v.fail_undefined();
  if (v.is_integral()) return Value(v.as_int());
  if (v.is_float()) {
    if (!std::isfinite(v.as_double())) fail("cannot convert float infinity or NaN to integer");
    return Value(int64_t(std::trunc(v.as_double())));
  }
  if (v.is_string()) {
    if (auto i = py_parse_int(v.as_string(), int(to_index(p[1], "base")))) return Value(*i);
    if (auto f = py_parse_float(v.as_string()); f && std::isfinite(*f))
      return Value(int64_t(std::trunc(*f)));
  }
  return p[0];
}

Value filter_format(Renderer&, const Value& v, CallArgs& a) {
  if (!a.positional.empty() && !a.keyword.empty())
    fail("can't handle positional and keyword arguments at the same time");
  if (!a.keyword.empty()) {
    std::vector<std::pair<Value, Value>> items;
    for (auto& [k, val] : a.keyword) items.emplace_back(Value(k), val);
    return percent_format(soft_str(v), make_dict(std::move(items)));
  }
  return percent_format(soft_str(v), Value::tuple(a.positional));
}

Value filter_indent(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("indent", a,
                     {{"width", Value(4)}, {"first", Value(false)}, {"blank", Value(false)}});
  const int64_t width = p[0].is_string() ? 0 : std::max<int64_t>(0, to_index(p[0], "width"));
  budget_bytes(static_cast<uint64_t>(width));
  std::string indention = p[0].is_string() ? p[0].as_string() : std::string(size_t(width), ' ');
  std::string s = py_str(v) + "\n";
  std::vector<std::string> lines = py_splitlines(s, false);
  std::string rv;
  if (truthy(p[2])) {
    for (size_t i = 0; i < lines.size(); ++i) {
      budget_growing(rv.size() + indention.size());
      rv += (i ? "\n" + indention : "") + lines[i];
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      budget_growing(rv.size() + indention.size());
      rv += "\n" + (lines[i].empty() ? lines[i] : indention + lines[i]);
    }
  }
  if (truthy(p[1])) rv = indention + rv;
  return string_like(v, std::move(rv));
}

Value filter_items(Renderer&, const Value& v, CallArgs& a) {
  bind_args("items", a, {});
  return generator([v]() -> Step {
    if (v.is_undefined()) return empty_step();
    if (!v.is_dict()) fail("Can only get item pairs from a mapping.");
    ValueList out;
    for (const auto& [k, val] : v.as_dict().items) out.push_back(Value::tuple({k, val}));
    return pull_items(Value::list(std::move(out)));
  });
}

Value filter_join(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("join", a, {{"d", Value("")}, {"attribute", Value::none()}});
  std::string sep = py_str(p[0]), out;
  AttrGetter getter(p[1], false);
  size_t i = 0;
  for (const auto& item : iterate(v)) {
    budget_growing(out.size());
    if (i++) out += sep;
    out += py_str(p[1].is_none() ? item : getter(item));
  }
  return Value(std::move(out));
}

Value filter_list(Renderer&, const Value& v, CallArgs& a) {
  bind_args("list", a, {});
  return Value::list(iterate(v));
}

Value filter_lower(Renderer&, const Value& v, CallArgs& a) {
  bind_args("lower", a, {});
  return string_like(v, py_lower(py_str(v)));
}

Value filter_upper(Renderer&, const Value& v, CallArgs& a) {
  bind_args("upper", a, {});
  return string_like(v, py_upper(py_str(v)));
}

// jinja2's prepare_map: map(attribute=..., default=...) or map('filter', args...).
std::function<Value(const Value&)> prepare_map(Renderer& r, const CallArgs& a) {
  if (a.positional.empty()) {
    std::optional<Value> attribute, def;
    for (const auto& [k, val] : a.keyword) {
      if (k == "attribute") {
        attribute = val;
      } else if (k == "default") {
        def = val;
      } else if (attribute) {
        fail("Unexpected keyword argument '" + k + "'");
      }
    }
    if (attribute) {
      for (const auto& [k, val] : a.keyword)
        if (k != "attribute" && k != "default") fail("Unexpected keyword argument '" + k + "'");
      AttrGetter getter(*attribute, false, def && !def->is_none() ? def : std::nullopt);
      return [getter](const Value& item) { return getter(item); };
    }
  }
  if (a.positional.empty()) fail("map requires a filter argument");
  std::string name = py_str(a.positional[0]);
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  Renderer* rp = &r;
  return [rp, name, rest](const Value& item) {
    CallArgs args = rest;
    return rp->call_filter(name, item, args);
  };
}

Value filter_map(Renderer& r, const Value& v, CallArgs& a) {
  Renderer* rp = &r;
  return generator([rp, v, a]() -> Step {
    if (!truthy(v)) return empty_step();
    auto fn = prepare_map(*rp, a);
    Step src = pull_items(v);
    return [src, fn]() -> std::optional<Value> {
      auto item = src();
      if (!item) return std::nullopt;
      return fn(*item);
    };
  });
}

Value min_max(const Value& v, CallArgs& a, bool want_max) {
  auto p = bind_args(want_max ? "max" : "min", a,
                     {{"case_sensitive", Value(false)}, {"attribute", Value::none()}});
  AttrGetter key(p[1], !truthy(p[0]));
  ValueList items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key = key(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = key(items[i]);
    if (want_max ? py_less(best_key, k) : py_less(k, best_key)) {
      best = i;
      best_key = k;
    }
  }
  return items[best];
}

Value filter_max(Renderer&, const Value& v, CallArgs& a) {
  return min_max(v, a, true);
}
Value filter_min(Renderer&, const Value& v, CallArgs& a) {
  return min_max(v, a, false);
}

// select / reject / selectattr / rejectattr.
Value select_impl(Renderer& r, const Value& v, CallArgs& a, bool lookup_attr, bool keep) {
  Renderer* rp = &r;
  return generator([rp, v, a, lookup_attr, keep]() -> Step {
    if (!truthy(v)) return empty_step();
    size_t off = 0;
    std::optional<AttrGetter> getter;
    if (lookup_attr) {
      if (a.positional.empty()) fail("Missing parameter for attribute name");
      getter.emplace(a.positional[0], false);
      off = 1;
    }
    std::optional<std::string> test;
    CallArgs rest;
    if (a.positional.size() > off) {
      test = py_str(a.positional[off]);
      rest.positional.assign(a.positional.begin() + long(off) + 1, a.positional.end());
      rest.keyword = a.keyword;
    }
    Step src = pull_items(v);
    return [rp, src, getter, test, rest, keep]() -> std::optional<Value> {
      while (auto item = src()) {
        Value x = getter ? (*getter)(*item) : *item;
        CallArgs args = rest;
        if ((test ? rp->call_test(*test, x, args) : truthy(x)) == keep) return item;
      }
      return std::nullopt;
    };
  });
}

Value filter_select(Renderer& r, const Value& v, CallArgs& a) {
  return select_impl(r, v, a, false, true);
}
Value filter_reject(Renderer& r, const Value& v, CallArgs& a) {
  return select_impl(r, v, a, false, false);
}
Value filter_selectattr(Renderer& r, const Value& v, CallArgs& a) {
  return select_impl(r, v, a, true, true);
}
Value filter_rejectattr(Renderer& r, const Value& v, CallArgs& a) {
  return select_impl(r, v, a, true, false);
}

Value filter_replace(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("replace", a,
                     {{"old", std::nullopt}, {"new", std::nullopt}, {"count", Value::none()}});
  int64_t count = p[2].is_none() ? -1 : to_index(p[2], "count");
  return Value(py_replace(py_str(v), py_str(p[0]), py_str(p[1]), count));
}

// Strings reverse; iterators become a reversed list; sequences give Python's reverse iterator.
Value filter_reverse(Renderer&, const Value& v, CallArgs& a) {
  bind_args("reverse", a, {});
  if (v.is_string()) {
    std::u32string u = utf8_decode(v.as_string());
    return string_like(v, utf8_encode(std::u32string(u.rbegin(), u.rend())));
  }
  ValueList items = iterate(v);
  ValueList reversed(items.rbegin(), items.rend());
  auto k = v.kind();
  if (k == Value::Kind::Iterator || k == Value::Kind::Loop) return Value::list(std::move(reversed));
  const char* type = k == Value::Kind::List && !v.view_info() ? "list_reverseiterator" : "reversed";
  Step src = pull_items(Value::list(std::move(reversed)));
  return Value::iterator(type, std::move(src));
}

Value filter_round(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("round", a, {{"precision", Value(0)}, {"method", Value("common")}});
  std::string method = py_str(p[1]);
  if (method != "common" && method != "ceil" && method != "floor")
    fail("method must be common, ceil or floor");
  int64_t precision = to_index(p[0], "precision");
  if (v.is_undefined()) v.fail_undefined();
  if (!v.is_number())
    fail(std::string("type ") + v.type_name() + " doesn't define __round__ method");
  if (method == "common") {
    if (v.is_integral()) {
      if (precision >= 0) return Value(v.as_int());
      return Value(int64_t(py_round(double(v.as_int()), precision)));
    }
    return Value(py_round(v.as_double(), precision));
  }
  double scale = std::pow(10.0, double(precision));
  double x = v.as_double() * scale;
  return Value((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value filter_safe(Renderer&, const Value& v, CallArgs& a) {
  bind_args("safe", a, {});
  return v.is_markup() ? v : Value::markup(py_str(v));
}

Value filter_escape(Renderer&, const Value& v, CallArgs& a) {
  bind_args("escape", a, {});
  return html_escape(v);
}

Value filter_forceescape(Renderer&, const Value& v, CallArgs& a) {
  bind_args("forceescape", a, {});
  return html_escape(Value(py_str(v)));
}

Value filter_sort(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args(
      "sort", a,
      {{"reverse", Value(false)}, {"case_sensitive", Value(false)}, {"attribute", Value::none()}});
  AttrGetter key(p[2], !truthy(p[1]));
  ValueList items = iterate(v);
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& item : items) keyed.emplace_back(key(item), item);
  bool rev = truthy(p[0]);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return rev ? py_less(y.first, x.first) : py_less(x.first, y.first);
  });
  ValueList out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return Value::list(std::move(out));
}

Value filter_string(Renderer&, const Value& v, CallArgs& a) {
  bind_args("string", a, {});
  return soft_str(v);
}

Value filter_sum(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("sum", a, {{"attribute", Value::none()}, {"start", Value(0)}});
  AttrGetter getter(p[0], false);
  Value total = p[1];
  if (total.is_string()) fail("sum() can't sum strings [use ''.join(seq) instead]");
  for (const auto& item : iterate(v)) total = binary_op("+", total, getter(item));
  return total;
}

Value filter_title(Renderer&, const Value& v, CallArgs& a) {
  bind_args("title", a, {});
  std::u32string u = utf8_decode(py_str(v));
  auto is_sep = [](char32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c);
  };
  std::string out;
  for (size_t i = 0; i < u.size();) {
    size_t j = i + 1;
    while (j < u.size() && is_sep(u[j]) == is_sep(u[i])) ++j;
    out += py_upper(utf8_encode(u.substr(i, 1)));
    out += py_lower(utf8_encode(u.substr(i + 1, j - i - 1)));
    i = j;
  }
  return Value(std::move(out));
}

// Transformers' tojson: json.dumps(x, ensure_ascii=False, indent=indent,
// separators=separators, sort_keys=sort_keys).
Value filter_tojson(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("tojson", a,
                     {{"ensure_ascii", Value(false)},
                      {"indent", Value::none()},
                      {"separators", Value::none()},
                      {"sort_keys", Value(false)}});
  JsonOptions o;
  o.ensure_ascii = truthy(p[0]);
  if (p[1].is_string()) {
    o.has_indent = true;
    o.indent = p[1].as_string();
  } else if (!p[1].is_none()) {
    o.has_indent = true;
    const int64_t width = std::max<int64_t>(0, to_index(p[1], "indent"));
    budget_bytes(static_cast<uint64_t>(width));
    o.indent = std::string(size_t(width), ' ');
  }
  if (o.has_indent) o.item_separator = ",";
  if (!p[2].is_none()) {
    ValueList seps = iterate(p[2]);
    if (seps.size() != 2 || !seps[0].is_string() || !seps[1].is_string())
      fail("separators must be a pair of strings");
    o.item_separator = seps[0].as_string();
    o.key_separator = seps[1].as_string();
  }
  o.sort_keys = truthy(p[3]);
  return Value(to_json(v, o));
}

Value filter_trim(Renderer&, const Value& v, CallArgs& a) {
  auto p = bind_args("trim", a, {{"chars", Value::none()}});
  std::optional<std::string> chars;
  if (!p[0].is_none()) chars = py_str(p[0]);
  return string_like(v, py_strip(py_str(v), chars, true, true));
}

Value filter_unique(Renderer&, const Value& v, CallArgs& a) {
  return generator([v, a]() mutable -> Step {
    auto p =
        bind_args("unique", a, {{"case_sensitive", Value(false)}, {"attribute", Value::none()}});
    AttrGetter key(p[1], !truthy(p[0]));
    auto seen = std::make_shared<ValueList>();
    Step src = pull_items(v);
    return [src, key, seen]() -> std::optional<Value> {
      while (auto item = src()) {
        Value k = key(*item);
        if (k.kind() == Value::Kind::List || k.kind() == Value::Kind::Dict)
          fail(std::string("unhashable type: '") + k.type_name() + "'");
        if (std::any_of(seen->begin(), seen->end(), [&](const Value& s) { return py_equal(s, k); }))
          continue;
        seen->push_back(k);
        return item;
      }
      return std::nullopt;
    };
  });
}

Value filter_wordcount(Renderer&, const Value& v, CallArgs& a) {
  bind_args("wordcount", a, {});
  int64_t n = 0;
  bool in_word = false;
  for (char32_t c : utf8_decode(py_str(v))) {
    bool word = c == '_' || (c < 0x80 ? std::isalnum(int(c)) != 0 : !py_isspace(c) && c > 0xbf);
    if (word && !in_word) ++n;
    in_word = word;
  }
  return Value(n);
}

const std::map<std::string, FilterFn>& filters() {
  static const std::map<std::string, FilterFn> m = {
      {"abs", filter_abs},
      {"attr", filter_attr},
      {"batch", filter_batch},
      {"capitalize", filter_capitalize},
      {"center", filter_center},
      {"count", filter_length},
      {"d", filter_default},
      {"default", filter_default},
      {"dictsort", filter_dictsort},
      {"e", filter_escape},
      {"escape", filter_escape},
      {"first", filter_first},
      {"float", filter_float},
      {"forceescape", filter_forceescape},
      {"format", filter_format},
      {"indent", filter_indent},
      {"int", filter_int},
      {"items", filter_items},
      {"join", filter_join},
      {"last", filter_last},
      {"length", filter_length},
      {"list", filter_list},
      {"lower", filter_lower},
      {"map", filter_map},
      {"max", filter_max},
      {"min", filter_min},
      {"reject", filter_reject},
      {"rejectattr", filter_rejectattr},
      {"replace", filter_replace},
      {"reverse", filter_reverse},
      {"round", filter_round},
      {"safe", filter_safe},
      {"select", filter_select},
      {"selectattr", filter_selectattr},
      {"sort", filter_sort},
      {"string", filter_string},
      {"sum", filter_sum},
      {"title", filter_title},
      {"tojson", filter_tojson},
      {"trim", filter_trim},
      {"unique", filter_unique},
      {"upper", filter_upper},
      {"wordcount", filter_wordcount},
  };
  return m;
}

}  // namespace

FilterFn find_filter(const std::string& name) {
  auto it = filters().find(name);
  return it == filters().end() ? nullptr : it->second;
}

}  // namespace llmtune::text::jinja
