// Values of the Jinja interpreter: Python's object model reduced to what chat templates touch
// (None, bool, int, float, str and markupsafe's Markup, list, tuple, dict, dict views, range,
// generators, jinja2's Undefined, Namespace and loop object, callables), with Python's str(),
// repr(), truthiness, equality and ordering.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "text/jinja/budget.h"

namespace llmtune::text::jinja {

// A runtime failure without a location yet; the renderer adds the line and column of the
// expression being evaluated and rethrows it as TemplateError.
struct Failure {
  std::string message;
};
[[noreturn]] void fail(std::string message);

class Value;
class Renderer;
using ValueList = std::vector<Value>;

// jinja2.runtime.Undefined: renders as "", is falsy and empty; most operations on it fail with
// `message` ("'x' is undefined", or the sandbox's refusal of an unsafe attribute).
struct UndefinedInfo {
  std::string message;
};

struct Dict;
struct Namespace;
struct Function;
struct LoopState;

// What a list-like Python object other than a list is: dict.keys() / values() / items() views
// and range(). They iterate like lists but print, index and serialize differently.
struct ViewInfo {
  const char* type_name;  // "dict_keys", "dict_values", "dict_items", "range"
  std::string repr;       // range's "range(0, 3)"; views print as type_name([...])
};

// Python's lazy iterators: the generators jinja2's map / select / unique / items / batch
// filters return, and reversed(). Pulled items are gone: a second pass sees what is left.
struct IteratorState {
  const char* type_name;                       // "generator", "list_reverseiterator", ...
  std::function<std::optional<Value>()> next;  // the next item, or nullopt at the end
  bool exhausted = false;
};

// markupsafe.Markup: a str that `safe` and `escape` make; `+`, `%` and its methods escape the
// plain strings they combine with it.
struct MarkupText {
  std::string text;
};

struct ListRef {
  std::shared_ptr<const ValueList> items;
  std::shared_ptr<const ViewInfo> view;  // null for a plain list
};
struct TupleRef {
  std::shared_ptr<const ValueList> items;
};

class Value {
 public:
  enum class Kind {
    Undefined,
    None,
    Bool,
    Int,
    Float,
    String,
    List,
    Tuple,
    Dict,
    Namespace,
    Function,
    Loop,
    Iterator,
  };

  Value() : data_(std::shared_ptr<const UndefinedInfo>()) {}
  static Value undefined(std::string message);
  static Value none() { return Value(std::monostate{}); }
  Value(bool b) : data_(b) {}
  Value(int64_t i) : data_(i) {}
  Value(int i) : data_(int64_t(i)) {}
  Value(double f) : data_(f) {}
  Value(std::string s) : data_((budget_bytes(s.size()), std::move(s))) {}
  Value(const char* s) : Value(std::string(s)) {}
  static Value list(ValueList items);
  static Value tuple(ValueList items);
  static Value view(ValueList items, std::shared_ptr<const ViewInfo> info);
  static Value markup(std::string text) { return Value(MarkupText{std::move(text)}); }
  static Value iterator(const char* type_name, std::function<std::optional<Value>()> next);
  Value(std::shared_ptr<const Dict> d) : data_(std::move(d)) {}
  Value(std::shared_ptr<Namespace> ns) : data_(std::move(ns)) {}
  Value(std::shared_ptr<const Function> f) : data_(std::move(f)) {}
  Value(std::shared_ptr<LoopState> loop) : data_(std::move(loop)) {}
  Value(std::shared_ptr<IteratorState> it) : data_(std::move(it)) {}

  Kind kind() const {
    size_t i = data_.index();
    return i == kMarkupIndex ? Kind::String : Kind(i);
  }
  bool is_markup() const { return data_.index() == kMarkupIndex; }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_string() const { return kind() == Kind::String; }
  bool is_int() const { return kind() == Kind::Int; }  // not bool
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_float() const { return kind() == Kind::Float; }
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  bool is_integral() const { return is_bool() || is_int(); }  // Python's isinstance(x, int)
  // A list or tuple proper (not a view): what + * and ordering and slicing apply to.
  bool is_sequence_like() const {
    return (kind() == Kind::List && !view_info()) || kind() == Kind::Tuple;
  }
  bool is_dict() const { return kind() == Kind::Dict; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const;    // bool or int
  double as_double() const;  // bool, int or float
  const std::string& as_string() const {
    if (is_markup()) return std::get<MarkupText>(data_).text;
    return std::get<std::string>(data_);
  }
  const ValueList& as_list() const;  // list or tuple
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(data_); }
  const std::shared_ptr<const Dict>& dict_ptr() const {
    return std::get<std::shared_ptr<const Dict>>(data_);
  }
  const std::shared_ptr<Namespace>& as_namespace() const {
    return std::get<std::shared_ptr<Namespace>>(data_);
  }
  const Function& as_function() const { return *std::get<std::shared_ptr<const Function>>(data_); }
  const std::shared_ptr<LoopState>& as_loop() const {
    return std::get<std::shared_ptr<LoopState>>(data_);
  }
  const std::shared_ptr<IteratorState>& as_iterator() const {
    return std::get<std::shared_ptr<IteratorState>>(data_);
  }
  const ViewInfo* view_info() const;  // a list's view kind, or null
  // The Undefined's failure message ("'x' is undefined"); fails with it for the caller.
  const UndefinedInfo& undefined_info() const;
  [[noreturn]] void fail_undefined() const;

  // Python type name as jinja2's messages print it: "str", "dict", "NoneType", ...
  const char* type_name() const;
  // jinja2.utils.object_type_repr: "None", "str object", "jinja2.utils.Namespace object".
  std::string object_type_repr() const;

 private:
  explicit Value(std::shared_ptr<const UndefinedInfo> info);
  explicit Value(std::monostate m) : data_(m) {}
  explicit Value(MarkupText m) : data_(std::move(m)) {}
  static constexpr size_t kMarkupIndex = size_t(Kind::Iterator) + 1;
  explicit Value(ListRef l) : data_(std::move(l)) {}
  explicit Value(TupleRef t) : data_(std::move(t)) {}
  std::variant<std::shared_ptr<const UndefinedInfo>, std::monostate, bool, int64_t, double,
               std::string, ListRef, TupleRef, std::shared_ptr<const Dict>,
               std::shared_ptr<Namespace>, std::shared_ptr<const Function>,
               std::shared_ptr<LoopState>, std::shared_ptr<IteratorState>, MarkupText>
      data_;
};

// A Python dict: insertion-ordered, keys compared with Python equality (1 == 1.0 == True).
struct Dict {
  std::vector<std::pair<Value, Value>> items;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(Value key, Value value);  // fails for unhashable keys (list, dict)
};

// jinja2.utils.Namespace: the one mutable object templates may assign attributes on.
struct Namespace {
  Dict attrs;
};

// Call arguments: positional, then keyword.
struct CallArgs {
  ValueList positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// A callable: a global (raise_exception, namespace, range), a bound method ('a'.split), a macro.
struct Function {
  std::string name;
  std::function<Value(Renderer&, CallArgs&)> call;
};

// The `loop` variable of a for loop.
struct LoopState {
  std::shared_ptr<const ValueList> items;
  size_t index0 = 0;
  bool has_changed_value = false;
  Value changed_value;
};

// Python semantics.
bool truthy(const Value& v);
bool py_equal(const Value& a, const Value& b);
// a < b, failing with Python's TypeError message for unorderable types.
bool py_less(const Value& a, const Value& b);
std::string py_str(const Value& v);   // str(v); Undefined gives ""
std::string py_repr(const Value& v);  // repr(v)
// The items a for loop visits: list/tuple items, dict keys, string characters, what an
// iterator has left (consuming it); Undefined is empty; others fail ("'int' object is not
// iterable").
ValueList iterate(const Value& v);
// Pulls one item from an iterator; nullopt once it is exhausted.
std::optional<Value> iterator_next(const Value& it);
// A pull function over v's items: an iterator's own, or v's items taken when first pulled.
std::function<std::optional<Value>()> pull_items(const Value& v);
// len(v), failing for values without a length.
int64_t py_len(const Value& v);

// Conversions from and to the JSON the caller passes and tojson writes.
Value from_json(const nlohmann::ordered_json& j);

struct JsonOptions {
  bool ensure_ascii = false;
  bool has_indent = false;
  std::string indent;  // indent unit when has_indent
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
// json.dumps(v, ...) as Python writes it.
std::string to_json(const Value& v, const JsonOptions& options);

// markupsafe.escape: & < > ' " as HTML entities; a Markup value is returned unchanged.
Value html_escape(const Value& v);
// A string result of an operation on `like`: Markup when `like` is Markup.
Value string_like(const Value& like, std::string text);

// Helpers to build values.
Value make_dict(std::vector<std::pair<Value, Value>> items);

// The bytes a list's items hold: their slots and the strings among them. A Value holds its
// string, so copying a list copies them (nested lists and dicts are shared); [s] * n must count
// n copies of s, not n slots.
uint64_t list_bytes(const ValueList& items);
Value make_function(std::string name, std::function<Value(Renderer&, CallArgs&)> call);

}  // namespace llmtune::text::jinja
