#include "text/jinja/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "text/jinja/pystr.h"

namespace llmtune::text::jinja {

void fail(std::string message) {
  throw Failure{std::move(message)};
}

Value Value::undefined(std::string message) {
  return Value(std::make_shared<const UndefinedInfo>(UndefinedInfo{std::move(message)}));
}

uint64_t list_bytes(const ValueList& items) {
  uint64_t bytes = items.size() * sizeof(Value);
  for (const Value& v : items)
    if (v.is_string()) bytes += v.as_string().size();
  return bytes;
}

Value Value::list(ValueList items) {
  budget_bytes(list_bytes(items));
  return Value(ListRef{std::make_shared<const ValueList>(std::move(items)), nullptr});
}

Value Value::tuple(ValueList items) {
  budget_bytes(list_bytes(items));
  return Value(TupleRef{std::make_shared<const ValueList>(std::move(items))});
}

Value Value::view(ValueList items, std::shared_ptr<const ViewInfo> info) {
  budget_bytes(list_bytes(items));
  return Value(ListRef{std::make_shared<const ValueList>(std::move(items)), std::move(info)});
}

Value Value::iterator(const char* type_name, std::function<std::optional<Value>()> next) {
  return Value(std::make_shared<IteratorState>(IteratorState{type_name, std::move(next)}));
}

const ViewInfo* Value::view_info() const {
  if (kind() != Kind::List) return nullptr;
  return std::get<ListRef>(data_).view.get();
}

Value::Value(std::shared_ptr<const UndefinedInfo> info) : data_(std::move(info)) {}

int64_t Value::as_int() const {
  if (is_bool()) return as_bool() ? 1 : 0;
  return std::get<int64_t>(data_);
}

double Value::as_double() const {
  if (is_float()) return std::get<double>(data_);
  return double(as_int());
}

const ValueList& Value::as_list() const {
  if (kind() == Kind::List) return *std::get<ListRef>(data_).items;
  return *std::get<TupleRef>(data_).items;
}

const UndefinedInfo& Value::undefined_info() const {
  static const UndefinedInfo kPlain{"undefined value"};
  const auto& p = std::get<std::shared_ptr<const UndefinedInfo>>(data_);
  return p ? *p : kPlain;
}

void Value::fail_undefined() const {
  fail(undefined_info().message);
}

const char* Value::type_name() const {
  switch (kind()) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return is_markup() ? "Markup" : "str";
    case Kind::List:
      return view_info() ? view_info()->type_name : "list";
    case Kind::Tuple:
      return "tuple";
    case Kind::Dict:
      return "dict";
    case Kind::Namespace:
      return "Namespace";
    case Kind::Function:
      return "builtin_function_or_method";
    case Kind::Loop:
      return "LoopContext";
    case Kind::Iterator:
      return as_iterator()->type_name;
  }
  return "object";
}

std::string Value::object_type_repr() const {
  switch (kind()) {
    case Kind::None:
      return "None";
    case Kind::Undefined:
      return "jinja2.runtime.Undefined object";
    case Kind::Namespace:
      return "jinja2.utils.Namespace object";
    case Kind::Loop:
      return "jinja2.runtime.LoopContext object";
    default:
      return std::string(type_name()) + " object";
  }
}

const Value* Dict::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : items)
    if (py_equal(k, key)) return &v;
  return nullptr;
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k.is_string() && k.as_string() == key) return &v;
  return nullptr;
}

void Dict::set(Value key, Value value) {
  auto kind = key.kind();
  if (kind == Value::Kind::List || kind == Value::Kind::Dict || kind == Value::Kind::Namespace)
    fail(std::string("unhashable type: '") + key.type_name() + "'");
  for (auto& [k, v] : items) {
    if (py_equal(k, key)) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

Value html_escape(const Value& v) {
  if (v.is_markup()) return v;
  std::string out;
  for (char c : py_str(v)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '"':
        out += "&#34;";
        break;
      default:
        out.push_back(c);
    }
  }
  return Value::markup(std::move(out));
}

Value string_like(const Value& like, std::string text) {
  return like.is_markup() ? Value::markup(std::move(text)) : Value(std::move(text));
}

Value make_dict(std::vector<std::pair<Value, Value>> items) {
  auto d = std::make_shared<Dict>();
  for (auto& [k, v] : items) d->set(std::move(k), std::move(v));
  return Value(std::shared_ptr<const Dict>(std::move(d)));
}

Value make_function(std::string name, std::function<Value(Renderer&, CallArgs&)> call) {
  return Value(std::make_shared<const Function>(Function{std::move(name), std::move(call)}));
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return false;
    case Value::Kind::Bool:
      return v.as_bool();
    case Value::Kind::Int:
      return v.as_int() != 0;
    case Value::Kind::Float:
      return v.as_double() != 0;
    case Value::Kind::String:
      return !v.as_string().empty();
    case Value::Kind::List:
    case Value::Kind::Tuple:
      return !v.as_list().empty();
    case Value::Kind::Dict:
      return !v.as_dict().items.empty();
    default:
      return true;
  }
}

bool py_equal(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::Undefined:
    case K::None:
      return true;
    case K::String:
      return a.as_string() == b.as_string();
    case K::List:
    case K::Tuple: {
      const auto &x = a.as_list(), &y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        budget_step();
        if (!py_equal(x[i], y[i])) return false;
      }
      return true;
    }
    case K::Dict: {
      const auto &x = a.as_dict(), &y = b.as_dict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        budget_step();
        const Value* o = y.find(k);
        if (!o || !py_equal(v, *o)) return false;
      }
      return true;
    }
    case K::Namespace:
      return a.as_namespace() == b.as_namespace();
    case K::Loop:
      return a.as_loop() == b.as_loop();
    case K::Iterator:
      return a.as_iterator() == b.as_iterator();
    case K::Function:
      return &a.as_function() == &b.as_function();
    default:
      return false;
  }
}

bool py_less(const Value& a, const Value& b) {
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.kind() == b.kind() && a.is_sequence_like()) {
    const auto &x = a.as_list(), &y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      budget_step();
      if (!py_equal(x[i], y[i])) return py_less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  fail(std::string("'<' not supported between instances of '") + a.type_name() + "' and '" +
       b.type_name() + "'");
}

namespace {

std::string repr_items(const ValueList& items, const char* open, const char* close,
                       bool one_tuple) {
  std::string out = open;
  for (size_t i = 0; i < items.size(); ++i) {
    budget_growing(out.size());
    if (i) out += ", ";
    out += py_repr(items[i]);
  }
  if (one_tuple && items.size() == 1) out += ",";
  return out + close;
}

std::string repr_dict(const Dict& d) {
  std::string out = "{";
  for (size_t i = 0; i < d.items.size(); ++i) {
    budget_growing(out.size());
    if (i) out += ", ";
    out += py_repr(d.items[i].first) + ": " + py_repr(d.items[i].second);
  }
  return out + "}";
}

// A namespace may hold itself; Python's repr prints the inner occurrence as {...}.
std::string repr_namespace(const Namespace& ns) {
  thread_local std::vector<const Namespace*> printing;
  if (std::find(printing.begin(), printing.end(), &ns) != printing.end())
    return "<Namespace {...}>";
  printing.push_back(&ns);
  struct Pop {
    ~Pop() { printing.pop_back(); }
  } pop;
  return "<Namespace " + repr_dict(ns.attrs) + ">";
}

}  // namespace

std::string py_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return "";
    case Value::Kind::String:
      return v.as_string();
    default:
      return py_repr(v);
  }
}

std::string py_repr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return "Undefined";
    case Value::Kind::None:
      return "None";
    case Value::Kind::Bool:
      return v.as_bool() ? "True" : "False";
    case Value::Kind::Int:
      return std::to_string(v.as_int());
    case Value::Kind::Float:
      return py_repr_float(v.as_double());
    case Value::Kind::String:
      if (v.is_markup()) return "Markup(" + py_repr_string(v.as_string()) + ")";
      return py_repr_string(v.as_string());
    case Value::Kind::List:
      if (const ViewInfo* view = v.view_info()) {
        if (!view->repr.empty()) return view->repr;
        return view->type_name + repr_items(v.as_list(), "([", "])", false);
      }
      return repr_items(v.as_list(), "[", "]", false);
    case Value::Kind::Tuple:
      return repr_items(v.as_list(), "(", ")", true);
    case Value::Kind::Dict:
      return repr_dict(v.as_dict());
    case Value::Kind::Namespace:
      return repr_namespace(*v.as_namespace());
    case Value::Kind::Function:
      return "<built-in function " + v.as_function().name + ">";
    case Value::Kind::Loop: {
      const auto& l = *v.as_loop();
      return "<LoopContext " + std::to_string(l.index0 + 1) + "/" +
             std::to_string(l.items->size()) + ">";
    }
    case Value::Kind::Iterator:  // Python adds the function name and an address
      return std::string("<") + v.type_name() + " object>";
  }
  return "";
}

std::optional<Value> iterator_next(const Value& it) {
  IteratorState& state = *it.as_iterator();
  if (state.exhausted) return std::nullopt;
  std::optional<Value> v = state.next();
  if (!v) state.exhausted = true;
  return v;
}

std::function<std::optional<Value>()> pull_items(const Value& v) {
  if (v.kind() == Value::Kind::Iterator) return [v] { return iterator_next(v); };
  auto items = std::make_shared<std::optional<ValueList>>();
  auto pos = std::make_shared<size_t>(0);
  return [v, items, pos]() -> std::optional<Value> {
    if (!*items) *items = iterate(v);
    if (*pos >= (*items)->size()) return std::nullopt;
    return (**items)[(*pos)++];
  };
}

ValueList iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return {};
    case Value::Kind::List:
    case Value::Kind::Tuple:
      return v.as_list();
    case Value::Kind::Dict: {
      ValueList keys;
      for (const auto& [k, _] : v.as_dict().items) keys.push_back(k);
      return keys;
    }
    case Value::Kind::String: {
      ValueList chars;
      const std::string& s = v.as_string();
      budget_bytes(s.size(), sizeof(Value));
      if (is_ascii(s)) {
        for (char c : s) chars.emplace_back(std::string(1, c));
      } else {
        for (char32_t c : utf8_decode(s)) {
          std::string one;
          utf8_append(one, c);
          chars.emplace_back(std::move(one));
        }
      }
      return chars;
    }
    case Value::Kind::Loop:
      return *v.as_loop()->items;
    case Value::Kind::Iterator: {
      ValueList rest;
      while (auto item = iterator_next(v)) rest.push_back(std::move(*item));
      return rest;
    }
    default:
      fail(std::string("'") + v.type_name() + "' object is not iterable");
  }
}

int64_t py_len(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return 0;
    case Value::Kind::String:
      return utf8_length(v.as_string());
    case Value::Kind::List:
    case Value::Kind::Tuple:
      return int64_t(v.as_list().size());
    case Value::Kind::Dict:
      return int64_t(v.as_dict().items.size());
    case Value::Kind::Loop:
      return int64_t(v.as_loop()->items->size());
    default:
      fail(std::string("object of type '") + v.type_name() + "' has no len()");
  }
}

Value from_json(const nlohmann::ordered_json& j) {
  using T = nlohmann::ordered_json::value_t;
  switch (j.type()) {
    case T::null:
      return Value::none();
    case T::boolean:
      return Value(j.get<bool>());
    case T::number_integer:
      return Value(j.get<int64_t>());
    case T::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > uint64_t(INT64_MAX)) fail("integer " + std::to_string(u) + " does not fit 64 bits");
      return Value(int64_t(u));
    }
    case T::number_float:
      return Value(j.get<double>());
    case T::string:
      return Value(j.get<std::string>());
    case T::array: {
      ValueList items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json(e));
      return Value::list(std::move(items));
    }
    case T::object: {
      auto d = std::make_shared<Dict>();
      d->items.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it)
        d->items.emplace_back(Value(it.key()), from_json(it.value()));
      return Value(std::shared_ptr<const Dict>(std::move(d)));
    }
    default:
      fail("unsupported JSON value in the template context");
  }
}

namespace {

void json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  char buf[16];
  auto escape_u = [&](unsigned c) {
    std::snprintf(buf, sizeof buf, "\\u%04x", c);
    out += buf;
  };
  for (char32_t c : utf8_decode(s)) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          escape_u(c);
        } else if (ensure_ascii && c >= 0x7f) {
          if (c >= 0x10000) {
            char32_t v = c - 0x10000;
            escape_u(0xd800 | (v >> 10));
            escape_u(0xdc00 | (v & 0x3ff));
          } else {
            escape_u(c);
          }
        } else {
          utf8_append(out, c);
        }
    }
  }
  out.push_back('"');
}

std::string json_float(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  return py_repr_float(x);
}

std::string json_key(const Value& k) {
  switch (k.kind()) {
    case Value::Kind::String:
      return k.as_string();
    case Value::Kind::Bool:
      return k.as_bool() ? "true" : "false";
    case Value::Kind::Int:
      return std::to_string(k.as_int());
    case Value::Kind::Float:
      return json_float(k.as_double());
    case Value::Kind::None:
      return "null";
    default:
      fail(std::string("keys must be str, int, float, bool or None, not ") + k.type_name());
  }
}

void dump(std::string& out, const Value& v, const JsonOptions& o, int level);

void newline_indent(std::string& out, const JsonOptions& o, int level) {
  out.push_back('\n');
  for (int i = 0; i < level; ++i) out += o.indent;
}

void dump_dict(std::string& out, const Dict& d, const JsonOptions& o, int level) {
  if (d.items.empty()) {
    out += "{}";
    return;
  }
  std::vector<std::pair<std::string, const Value*>> entries;
  for (const auto& [k, v] : d.items) entries.emplace_back(json_key(k), &v);
  if (o.sort_keys)
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  out.push_back('{');
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i) out += o.item_separator;
    if (o.has_indent) newline_indent(out, o, level + 1);
    json_string(out, entries[i].first, o.ensure_ascii);
    out += o.key_separator;
    dump(out, *entries[i].second, o, level + 1);
  }
  if (o.has_indent) newline_indent(out, o, level);
  out.push_back('}');
}

void dump(std::string& out, const Value& v, const JsonOptions& o, int level) {
  budget_growing(out.size() + o.indent.size() * static_cast<size_t>(level + 1));
  switch (v.kind()) {
    case Value::Kind::None:
      out += "null";
      return;
    case Value::Kind::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::Int:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::Float:
      out += json_float(v.as_double());
      return;
    case Value::Kind::String:
      json_string(out, v.as_string(), o.ensure_ascii);
      return;
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      if (v.view_info())
        fail(std::string("Object of type ") + v.type_name() + " is not JSON serializable");
      const auto& items = v.as_list();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += o.item_separator;
        if (o.has_indent) newline_indent(out, o, level + 1);
        dump(out, items[i], o, level + 1);
      }
      if (o.has_indent) newline_indent(out, o, level);
      out.push_back(']');
      return;
    }
    case Value::Kind::Dict:
      dump_dict(out, v.as_dict(), o, level);
      return;
    default:
      fail(std::string("Object of type ") + v.type_name() + " is not JSON serializable");
  }
}

}  // namespace

std::string to_json(const Value& v, const JsonOptions& options) {
  std::string out;
  dump(out, v, options, 0);
  return out;
}

}  // namespace llmtune::text::jinja
