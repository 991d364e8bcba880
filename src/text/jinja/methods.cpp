// The methods Python's str, dict, list and tuple expose to sandboxed templates, and the
// attributes of jinja2's loop object.
#include <map>

#include "text/jinja/ops.h"
#include "text/jinja/pystr.h"

namespace llmtune::text::jinja {
namespace {

using StrMethod = Value (*)(const std::string& s, CallArgs& args);

std::optional<std::string> opt_str(const Value& v, const char* what) {
  if (v.is_none()) return std::nullopt;
  if (!v.is_string()) fail(std::string(what) + " arg must be None or str, not " + v.type_name());
  return v.as_string();
}

const std::string& need_str(const Value& v, const char* what) {
  if (!v.is_string()) fail(std::string(what) + "() argument must be str, not " + v.type_name());
  return v.as_string();
}

Value strs_to_list(std::vector<std::string> parts) {
  ValueList items;
  items.reserve(parts.size());
  for (auto& p : parts) items.emplace_back(std::move(p));
  return Value::list(std::move(items));
}

Value strip_method(const std::string& s, CallArgs& a, const char* name, bool l, bool r) {
  auto v = bind_args(name, a, {{"chars", Value::none()}});
  return Value(py_strip(s, opt_str(v[0], name), l, r));
}

// s[start:end] by code points, for startswith/endswith/count/find's optional bounds.
std::string bounded(const std::string& s, const Value& start, const Value& end) {
  if (start.is_none() && end.is_none()) return s;
  std::optional<int64_t> b, e;
  if (!start.is_none()) b = to_index(start, "slice index");
  if (!end.is_none()) e = to_index(end, "slice index");
  return get_slice(Value(s), b, e, std::nullopt).as_string();
}

Value affix_method(const std::string& s, CallArgs& a, const char* name, bool prefix) {
  auto v = bind_args(name, a,
                     {{"affix", std::nullopt}, {"start", Value::none()}, {"end", Value::none()}});
  std::string text = bounded(s, v[1], v[2]);
  auto test = [&](const Value& x) {
    const std::string& p = need_str(x, name);
    if (p.size() > text.size()) return false;
    return prefix ? text.compare(0, p.size(), p) == 0
                  : text.compare(text.size() - p.size(), p.size(), p) == 0;
  };
  if (v[0].kind() == Value::Kind::Tuple) {
    for (const auto& x : v[0].as_list())
      if (test(x)) return Value(true);
    return Value(false);
  }
  return Value(test(v[0]));
}

Value find_method_impl(const std::string& s, CallArgs& a, const char* name, bool reverse,
                       bool raise) {
  auto v =
      bind_args(name, a, {{"sub", std::nullopt}, {"start", Value::none()}, {"end", Value::none()}});
  const std::string& sub = need_str(v[0], name);
  int64_t offset = 0;
  if (!v[1].is_none()) {
    offset = to_index(v[1], "slice index");
    int64_t len = utf8_length(s);
    if (offset < 0) offset = std::max<int64_t>(0, offset + len);
    offset = std::min(offset, len);
  }
  int64_t i = py_find(bounded(s, v[1], v[2]), sub, reverse);
  if (i < 0 && raise) fail("substring not found");
  return Value(i < 0 ? i : i + offset);
}

Value split_method(const std::string& s, CallArgs& a, const char* name, bool right) {
  auto v = bind_args(name, a, {{"sep", Value::none()}, {"maxsplit", Value(-1)}});
  auto sep = opt_str(v[0], name);
  if (sep && sep->empty()) fail("empty separator");
  int64_t maxsplit = to_index(v[1], "maxsplit");
  return strs_to_list(right ? py_rsplit(s, sep, maxsplit) : py_split(s, sep, maxsplit));
}

Value pad_method(const std::string& s, CallArgs& a, const char* name, int align) {
  auto v = bind_args(name, a, {{"width", std::nullopt}, {"fillchar", Value(" ")}});
  std::u32string fill = utf8_decode(need_str(v[1], name));
  if (fill.size() != 1) fail("The fill character must be exactly one character long");
  return Value(py_center(s, to_index(v[0], "width"), fill[0], align));
}

template <typename Pred>
Value char_test(const std::string& s, Pred pred) {
  std::u32string u = utf8_decode(s);
  if (u.empty()) return Value(false);
  for (char32_t c : u)
    if (!pred(c)) return Value(false);
  return Value(true);
}

bool is_alpha(char32_t c) {
  if (c < 0x80) return std::isalpha(int(c)) != 0;
  return py_iscased(c) || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3040 && c <= 0x30ff) ||
         (c >= 0xac00 && c <= 0xd7af) || (c >= 0x600 && c <= 0x6ff && c != 0x60c);
}
bool is_digit(char32_t c) {
  return c >= '0' && c <= '9';
}

Value case_test(const std::string& s, bool want_lower) {
  bool cased = false;
  for (char32_t c : utf8_decode(s)) {
    if (!py_iscased(c)) continue;
    cased = true;
    bool lower = py_upper_char(c) != c || c == 0xdf;
    if (lower != want_lower) return Value(false);
  }
  return Value(cased);
}

Value join_method(const std::string& s, CallArgs& a) {
  auto v = bind_args("join", a, {{"iterable", std::nullopt}});
  std::string out;
  size_t i = 0;
  for (const Value& item : iterate(v[0])) {
    if (!item.is_string())
      fail("sequence item " + std::to_string(i) + ": expected str instance, " + item.type_name() +
           " found");
    budget_growing(out.size() + s.size() + item.as_string().size());
    if (i++) out += s;
    out += item.as_string();
  }
  return Value(std::move(out));
}

Value partition_method(const std::string& s, CallArgs& a, bool right) {
  auto v = bind_args(right ? "rpartition" : "partition", a, {{"sep", std::nullopt}});
  const std::string& sep = need_str(v[0], "partition");
  if (sep.empty()) fail("empty separator");
  size_t f = right ? s.rfind(sep) : s.find(sep);
  if (f == std::string::npos)
    return right ? Value::tuple({Value(""), Value(""), Value(s)})
                 : Value::tuple({Value(s), Value(""), Value("")});
  return Value::tuple({Value(s.substr(0, f)), Value(sep), Value(s.substr(f + sep.size()))});
}

int64_t format_number(const std::string& digits) {
  auto v = py_parse_int(digits, 10);
  if (!v) fail("Too many decimal digits in format string");
  return *v;
}

// The value a str.format field names: {} / {0} / {name}, then .attr and [key] lookups.
Value format_field(const std::string& field, CallArgs& a, size_t& auto_index) {
  size_t end = field.find_first_of(".[");
  std::string head = field.substr(0, end);
  Value v;
  if (head.empty() || std::isdigit(static_cast<unsigned char>(head[0]))) {
    size_t idx = head.empty() ? auto_index++ : size_t(format_number(head));
    if (idx >= a.positional.size())
      fail("Replacement index " + std::to_string(idx) + " out of range for positional args tuple");
    v = a.positional[idx];
  } else {
    bool found = false;
    for (const auto& [k, kv] : a.keyword)
      if (k == head) v = kv, found = true;
    if (!found) fail("'" + head + "'");
  }
  while (end != std::string::npos && end < field.size()) {
    if (field[end] == '.') {
      size_t next = field.find_first_of(".[", end + 1);
      v = get_attribute(v, field.substr(end + 1, next - end - 1));
      end = next;
    } else {
      size_t rb = field.find(']', end);
      std::string key = field.substr(end + 1, rb - end - 1);
      bool numeric = !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
      v = get_item(v, numeric ? Value(format_number(key)) : Value(key));
      end = rb + 1;
    }
  }
  return v;
}

// str.format with auto/explicit positions, names, .attr / [key] lookups, !r / !s and an empty
// format spec (or a plain width). `escape`: the format string is Markup, which escapes fields.
Value format_impl(const std::string& s, CallArgs& a, bool escape) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if ((c == '{' || c == '}') && i + 1 < s.size() && s[i + 1] == c) {
      out.push_back(c);
      ++i;
      continue;
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    size_t close = s.find('}', i);
    if (close == std::string::npos) fail("Single '{' encountered in format string");
    std::string field = s.substr(i + 1, close - i - 1), spec, conv;
    i = close;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (size_t bang = field.find('!'); bang != std::string::npos) {
      conv = field.substr(bang + 1);
      field.resize(bang);
    }
    Value v = format_field(field, a, auto_index);
    std::string text = conv == "r" ? py_repr(v) : py_str(v);
    if (!spec.empty()) {
      if (spec.find_first_not_of("0123456789") != std::string::npos)
        fail("format spec '" + spec + "' is not supported");
      text = py_center(text, format_number(spec), U' ', v.is_number() ? 1 : -1);
    }
    if (escape && !(v.is_markup() && conv.empty())) text = html_escape(Value(text)).as_string();
    budget_growing(out.size() + text.size());
    out += text;
  }
  return Value(std::move(out));
}

Value format_method(const std::string& s, CallArgs& a) {
  return format_impl(s, a, false);
}

Value splitlines_method(const std::string& s, CallArgs& a) {
  auto v = bind_args("splitlines", a, {{"keepends", Value(false)}});
  return strs_to_list(py_splitlines(s, truthy(v[0])));
}

// upper(), lower(), ...: a method without arguments that maps the string.
template <const char* kName, std::string (*kMap)(std::string_view)>
Value map_method(const std::string& s, CallArgs& a) {
  bind_args(kName, a, {});
  return Value(kMap(s));
}
constexpr char kUpper[] = "upper", kLower[] = "lower", kCasefold[] = "casefold", kTitle[] = "title",
               kCapitalize[] = "capitalize";

Value replace_method(const std::string& s, CallArgs& a) {
  auto v =
      bind_args("replace", a, {{"old", std::nullopt}, {"new", std::nullopt}, {"count", Value(-1)}});
  return Value(
      py_replace(s, need_str(v[0], "replace"), need_str(v[1], "replace"), to_index(v[2], "count")));
}

Value count_method(const std::string& s, CallArgs& a) {
  auto v = bind_args("count", a,
                     {{"sub", std::nullopt}, {"start", Value::none()}, {"end", Value::none()}});
  return Value(py_count(bounded(s, v[1], v[2]), need_str(v[0], "count")));
}

Value zfill_method(const std::string& s, CallArgs& a) {
  auto v = bind_args("zfill", a, {{"width", std::nullopt}});
  int64_t pad = to_index(v[0], "width") - utf8_length(s);
  if (pad <= 0) return Value(s);
  budget_bytes(static_cast<uint64_t>(pad));
  size_t sign = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  std::string out = s;
  out.insert(sign, std::string(size_t(pad), '0'));
  return Value(out);
}

Value removeprefix_method(const std::string& s, CallArgs& a) {
  auto v = bind_args("removeprefix", a, {{"prefix", std::nullopt}});
  const std::string& p = need_str(v[0], "removeprefix");
  return Value(s.compare(0, p.size(), p) == 0 ? s.substr(p.size()) : s);
}

Value removesuffix_method(const std::string& s, CallArgs& a) {
  auto v = bind_args("removesuffix", a, {{"suffix", std::nullopt}});
  const std::string& p = need_str(v[0], "removesuffix");
  bool ends =
      !p.empty() && p.size() <= s.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
  return Value(ends ? s.substr(0, s.size() - p.size()) : s);
}

const std::map<std::string, StrMethod>& string_methods() {
  using A = CallArgs;
  using S = const std::string&;
  static const std::map<std::string, StrMethod> m = {
      {"strip", [](S s, A& a) { return strip_method(s, a, "strip", true, true); }},
      {"lstrip", [](S s, A& a) { return strip_method(s, a, "lstrip", true, false); }},
      {"rstrip", [](S s, A& a) { return strip_method(s, a, "rstrip", false, true); }},
      {"split", [](S s, A& a) { return split_method(s, a, "split", false); }},
      {"rsplit", [](S s, A& a) { return split_method(s, a, "rsplit", true); }},
      {"splitlines", splitlines_method},
      {"startswith", [](S s, A& a) { return affix_method(s, a, "startswith", true); }},
      {"endswith", [](S s, A& a) { return affix_method(s, a, "endswith", false); }},
      {"upper", map_method<kUpper, py_upper>},
      {"lower", map_method<kLower, py_lower>},
      {"casefold", map_method<kCasefold, py_lower>},
      {"title", map_method<kTitle, py_title>},
      {"capitalize", map_method<kCapitalize, py_capitalize>},
      {"replace", replace_method},
      {"count", count_method},
      {"find", [](S s, A& a) { return find_method_impl(s, a, "find", false, false); }},
      {"rfind", [](S s, A& a) { return find_method_impl(s, a, "rfind", true, false); }},
      {"index", [](S s, A& a) { return find_method_impl(s, a, "index", false, true); }},
      {"rindex", [](S s, A& a) { return find_method_impl(s, a, "rindex", true, true); }},
      {"join", join_method},
      {"format", format_method},
      {"center", [](S s, A& a) { return pad_method(s, a, "center", 0); }},
      {"ljust", [](S s, A& a) { return pad_method(s, a, "ljust", -1); }},
      {"rjust", [](S s, A& a) { return pad_method(s, a, "rjust", 1); }},
      {"zfill", zfill_method},
      {"removeprefix", removeprefix_method},
      {"removesuffix", removesuffix_method},
      {"partition", [](S s, A& a) { return partition_method(s, a, false); }},
      {"rpartition", [](S s, A& a) { return partition_method(s, a, true); }},
      {"isdigit", [](S s, A&) { return char_test(s, is_digit); }},
      {"isdecimal", [](S s, A&) { return char_test(s, is_digit); }},
      {"isnumeric", [](S s, A&) { return char_test(s, is_digit); }},
      {"isalpha", [](S s, A&) { return char_test(s, is_alpha); }},
      {"isalnum",
       [](S s, A&) { return char_test(s, [](char32_t c) { return is_alpha(c) || is_digit(c); }); }},
      {"isspace", [](S s, A&) { return char_test(s, py_isspace); }},
      {"islower", [](S s, A&) { return case_test(s, true); }},
      {"isupper", [](S s, A&) { return case_test(s, false); }},
  };
  return m;
}

Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined("access to attribute '" + name + "' of '" + obj.type_name() +
                          "' object is unsafe.");
}

Value bind_method(const Value& obj, const std::string& name, Value (*fn)(const Value&, CallArgs&)) {
  return make_function(name, [obj, fn](Renderer&, CallArgs& a) { return fn(obj, a); });
}

std::shared_ptr<const ViewInfo> dict_view(const char* type_name) {
  return std::make_shared<const ViewInfo>(ViewInfo{type_name, ""});
}

std::optional<Value> dict_method(const Value& obj, const std::string& name) {
  if (name == "items")
    return bind_method(obj, name, [](const Value& d, CallArgs& a) {
      bind_args("items", a, {});
      ValueList items;
      for (const auto& [k, v] : d.as_dict().items) items.push_back(Value::tuple({k, v}));
      return Value::view(std::move(items), dict_view("dict_items"));
    });
  if (name == "keys")
    return bind_method(obj, name, [](const Value& d, CallArgs& a) {
      bind_args("keys", a, {});
      return Value::view(iterate(d), dict_view("dict_keys"));
    });
  if (name == "values")
    return bind_method(obj, name, [](const Value& d, CallArgs& a) {
      bind_args("values", a, {});
      ValueList items;
      for (const auto& [k, v] : d.as_dict().items) items.push_back(v);
      return Value::view(std::move(items), dict_view("dict_values"));
    });
  if (name == "get")
    return bind_method(obj, name, [](const Value& d, CallArgs& a) {
      auto v = bind_args("get", a, {{"key", std::nullopt}, {"default", Value::none()}});
      if (v[0].kind() == Value::Kind::List || v[0].kind() == Value::Kind::Dict)
        fail(std::string("unhashable type: '") + v[0].type_name() + "'");
      const Value* found = d.as_dict().find(v[0]);
      return found ? *found : v[1];
    });
  if (name == "copy")
    return bind_method(obj, name, [](const Value& d, CallArgs& a) {
      bind_args("copy", a, {});
      return d;
    });
  if (name == "pop" || name == "popitem" || name == "setdefault" || name == "update" ||
      name == "clear")
    return unsafe(obj, name);
  return std::nullopt;
}

std::optional<Value> sequence_method(const Value& obj, const std::string& name) {
  const ViewInfo* view = obj.view_info();
  if (view && std::string_view(view->type_name) != "range") return std::nullopt;
  if (name == "index")
    return bind_method(obj, name, [](const Value& l, CallArgs& a) {
      auto v = bind_args("index", a, {{"value", std::nullopt}});
      const auto& items = l.as_list();
      for (size_t i = 0; i < items.size(); ++i)
        if (py_equal(items[i], v[0])) return Value(int64_t(i));
      fail(py_repr(v[0]) + " is not in " + l.type_name());
    });
  if (name == "count")
    return bind_method(obj, name, [](const Value& l, CallArgs& a) {
      auto v = bind_args("count", a, {{"value", std::nullopt}});
      int64_t n = 0;
      for (const auto& item : l.as_list()) n += py_equal(item, v[0]);
      return Value(n);
    });
  if (obj.kind() != Value::Kind::List || view) return std::nullopt;
  if (name == "copy")
    return bind_method(obj, name, [](const Value& l, CallArgs& a) {
      bind_args("copy", a, {});
      return l;
    });
  if (name == "append" || name == "extend" || name == "insert" || name == "pop" ||
      name == "remove" || name == "reverse" || name == "sort" || name == "clear")
    return unsafe(obj, name);
  return std::nullopt;
}

std::optional<Value> loop_attribute(const Value& obj, const std::string& name) {
  const LoopState& l = *obj.as_loop();
  int64_t i = int64_t(l.index0), n = int64_t(l.items->size());
  if (name == "index0") return Value(i);
  if (name == "index") return Value(i + 1);
  if (name == "revindex") return Value(n - i);
  if (name == "revindex0") return Value(n - i - 1);
  if (name == "first") return Value(i == 0);
  if (name == "last") return Value(i == n - 1);
  if (name == "length") return Value(n);
  if (name == "depth0") return Value(0);  // depth counts recursive loops, which are unsupported
  if (name == "depth") return Value(1);
  if (name == "previtem")
    return i > 0 ? (*l.items)[size_t(i - 1)] : Value::undefined("there is no previous item");
  if (name == "nextitem")
    return i + 1 < n ? (*l.items)[size_t(i + 1)] : Value::undefined("there is no next item");
  if (name == "cycle")
    return bind_method(obj, name, [](const Value& lv, CallArgs& a) {
      if (a.positional.empty()) fail("no items for cycling given");
      return a.positional[lv.as_loop()->index0 % a.positional.size()];
    });
  if (name == "changed")
    return bind_method(obj, name, [](const Value& lv, CallArgs& a) {
      LoopState& state = *lv.as_loop();
      Value current = Value::tuple(a.positional);
      if (state.has_changed_value && py_equal(state.changed_value, current)) return Value(false);
      state.has_changed_value = true;
      state.changed_value = current;
      return Value(true);
    });
  return std::nullopt;
}

// A Markup's methods, as markupsafe wraps them: string results are Markup, and the plain
// strings that replace, join, format and partition insert are escaped first.
Value markup_method(const std::string& s, const std::string& name, StrMethod fn) {
  return make_function(name, [s, name, fn](Renderer&, CallArgs& a) {
    if (name == "format") return Value::markup(format_impl(s, a, true).as_string());
    if (name == "join") {
      auto v = bind_args("join", a, {{"iterable", std::nullopt}});
      ValueList escaped;
      for (const auto& item : iterate(v[0]))
        escaped.push_back(Value(html_escape(item).as_string()));
      a = CallArgs{{Value::list(std::move(escaped))}, {}};
    } else if (name == "replace" || name == "partition" || name == "rpartition") {
      for (size_t i = 0; i < a.positional.size() && i < 2; ++i)
        if (a.positional[i].is_string()) a.positional[i] = html_escape(a.positional[i]);
      for (auto& [k, v] : a.keyword)
        if (v.is_string()) v = html_escape(v);
    }
    Value result = fn(s, a);
    if (result.is_string()) return Value::markup(result.as_string());
    if (result.kind() != Value::Kind::List && result.kind() != Value::Kind::Tuple) return result;
    ValueList items;
    for (const auto& item : result.as_list())
      items.push_back(item.is_string() ? Value::markup(item.as_string()) : item);
    return result.kind() == Value::Kind::List ? Value::list(std::move(items))
                                              : Value::tuple(std::move(items));
  });
}

}  // namespace

std::optional<Value> find_method(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::String: {
      const auto& m = string_methods();
      auto it = m.find(name);
      if (it == m.end()) return std::nullopt;
      StrMethod fn = it->second;
      std::string s = obj.as_string();
      if (obj.is_markup()) return markup_method(s, name, fn);
      return make_function(name, [s, fn](Renderer&, CallArgs& a) { return fn(s, a); });
    }
    case Value::Kind::Dict:
      return dict_method(obj, name);
    case Value::Kind::List:
    case Value::Kind::Tuple:
      return sequence_method(obj, name);
    case Value::Kind::Loop:
      return loop_attribute(obj, name);
    default:
      return std::nullopt;
  }
}

}  // namespace llmtune::text::jinja
