// jinja2's builtin tests (jinja2/tests.py) and the globals Transformers' environment has.
#include <ctime>
#include <map>

#include "text/jinja/ast.h"
#include "text/jinja/ops.h"
#include "text/jinja/pystr.h"
#include "text/jinja/renderer.h"

namespace llmtune::text::jinja {
namespace {

using K = Value::Kind;

Value one_arg(const char* name, CallArgs& a) {
  return bind_args(name, a, {{"other", std::nullopt}})[0];
}

bool test_defined(Renderer&, const Value& v, CallArgs& a) {
  bind_args("defined", a, {});
  return !v.is_undefined();
}
bool test_undefined(Renderer&, const Value& v, CallArgs& a) {
  bind_args("undefined", a, {});
  return v.is_undefined();
}
bool test_none(Renderer&, const Value& v, CallArgs& a) {
  bind_args("none", a, {});
  return v.is_none();
}
bool test_boolean(Renderer&, const Value& v, CallArgs& a) {
  bind_args("boolean", a, {});
  return v.is_bool();
}
bool test_false(Renderer&, const Value& v, CallArgs& a) {
  bind_args("false", a, {});
  return v.is_bool() && !v.as_bool();
}
bool test_true(Renderer&, const Value& v, CallArgs& a) {
  bind_args("true", a, {});
  return v.is_bool() && v.as_bool();
}
bool test_integer(Renderer&, const Value& v, CallArgs& a) {
  bind_args("integer", a, {});
  return v.is_int();
}
bool test_float(Renderer&, const Value& v, CallArgs& a) {
  bind_args("float", a, {});
  return v.is_float();
}
bool test_number(Renderer&, const Value& v, CallArgs& a) {
  bind_args("number", a, {});
  return v.is_number();
}
bool test_string(Renderer&, const Value& v, CallArgs& a) {
  bind_args("string", a, {});
  return v.is_string();
}
bool test_mapping(Renderer&, const Value& v, CallArgs& a) {
  bind_args("mapping", a, {});
  return v.is_dict();
}
bool test_iterable(Renderer&, const Value& v, CallArgs& a) {
  bind_args("iterable", a, {});
  auto k = v.kind();
  return k == K::Undefined || k == K::String || k == K::List || k == K::Tuple || k == K::Dict ||
         k == K::Loop || k == K::Iterator;
}
bool test_sequence(Renderer&, const Value& v, CallArgs& a) {
  bind_args("sequence", a, {});
  auto k = v.kind();
  const ViewInfo* view = v.view_info();  // dict views have no __getitem__; range has
  if (view) return std::string_view(view->type_name) == "range";
  return k == K::Undefined || k == K::String || k == K::List || k == K::Tuple || k == K::Dict;
}
bool test_callable(Renderer&, const Value& v, CallArgs& a) {
  bind_args("callable", a, {});
  return v.kind() == K::Function || v.is_undefined() || v.kind() == K::Loop;
}
bool test_sameas(Renderer&, const Value& v, CallArgs& a) {
  Value o = one_arg("sameas", a);
  if (v.is_none() || o.is_none()) return v.is_none() && o.is_none();
  if (v.is_bool() || o.is_bool()) return v.is_bool() && o.is_bool() && v.as_bool() == o.as_bool();
  if (v.is_int() && o.is_int())  // CPython caches the small ints
    return v.as_int() == o.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
  return false;
}
bool test_escaped(Renderer&, const Value& v, CallArgs& a) {
  bind_args("escaped", a, {});
  return v.is_markup();
}
bool test_in(Renderer&, const Value& v, CallArgs& a) {
  return contains(one_arg("in", a), v);
}
bool test_lower(Renderer& r, const Value& v, CallArgs& a) {
  bind_args("lower", a, {});
  CallArgs none;
  return truthy(r.call(*find_method(Value(py_str(v)), "islower"), none));
}
bool test_upper(Renderer& r, const Value& v, CallArgs& a) {
  bind_args("upper", a, {});
  CallArgs none;
  return truthy(r.call(*find_method(Value(py_str(v)), "isupper"), none));
}
bool test_even(Renderer&, const Value& v, CallArgs& a) {
  bind_args("even", a, {});
  return py_equal(binary_op("%", v, Value(2)), Value(0));
}
bool test_odd(Renderer&, const Value& v, CallArgs& a) {
  bind_args("odd", a, {});
  return py_equal(binary_op("%", v, Value(2)), Value(1));
}
bool test_divisibleby(Renderer&, const Value& v, CallArgs& a) {
  Value n = bind_args("divisibleby", a, {{"num", std::nullopt}})[0];
  return py_equal(binary_op("%", v, n), Value(0));
}
bool test_eq(Renderer&, const Value& v, CallArgs& a) {
  return compare("==", v, one_arg("eq", a));
}
bool test_ne(Renderer&, const Value& v, CallArgs& a) {
  return compare("!=", v, one_arg("ne", a));
}
bool test_lt(Renderer&, const Value& v, CallArgs& a) {
  return compare("<", v, one_arg("lt", a));
}
bool test_le(Renderer&, const Value& v, CallArgs& a) {
  return compare("<=", v, one_arg("le", a));
}
bool test_gt(Renderer&, const Value& v, CallArgs& a) {
  return compare(">", v, one_arg("gt", a));
}
bool test_ge(Renderer&, const Value& v, CallArgs& a) {
  return compare(">=", v, one_arg("ge", a));
}
bool test_filter(Renderer&, const Value& v, CallArgs& a) {
  bind_args("filter", a, {});
  return v.is_string() && find_filter(v.as_string()) != nullptr;
}
bool test_test(Renderer&, const Value& v, CallArgs& a) {
  bind_args("test", a, {});
  return v.is_string() && find_test(v.as_string()) != nullptr;
}

const std::map<std::string, TestFn>& tests() {
  static const std::map<std::string, TestFn> m = {
      {"defined", test_defined},
      {"undefined", test_undefined},
      {"none", test_none},
      {"boolean", test_boolean},
      {"false", test_false},
      {"true", test_true},
      {"integer", test_integer},
      {"float", test_float},
      {"number", test_number},
      {"string", test_string},
      {"mapping", test_mapping},
      {"iterable", test_iterable},
      {"sequence", test_sequence},
      {"callable", test_callable},
      {"sameas", test_sameas},
      {"escaped", test_escaped},
      {"in", test_in},
      {"lower", test_lower},
      {"upper", test_upper},
      {"even", test_even},
      {"odd", test_odd},
      {"divisibleby", test_divisibleby},
      {"eq", test_eq},
      {"equalto", test_eq},
      {"==", test_eq},
      {"ne", test_ne},
      {"!=", test_ne},
      {"lt", test_lt},
      {"lessthan", test_lt},
      {"<", test_lt},
      {"le", test_le},
      {"<=", test_le},
      {"gt", test_gt},
      {"greaterthan", test_gt},
      {">", test_gt},
      {"ge", test_ge},
      {">=", test_ge},
      {"filter", test_filter},
      {"test", test_test},
  };
  return m;
}

// ---- globals ----

Value global_raise_exception(Renderer&, CallArgs& a) {
  Value message = bind_args("raise_exception", a, {{"message", std::nullopt}})[0];
  throw TemplateRaised(py_str(message));
}

Value global_strftime_now(Renderer&, CallArgs& a) {
  Value format = bind_args("strftime_now", a, {{"format", std::nullopt}})[0];
  if (!format.is_string()) fail("strftime() argument 1 must be str");
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  const std::string& f = format.as_string();
  if (f.empty()) return Value("");
  for (size_t size = 256; size <= (1u << 20); size *= 4) {
    std::string buf(size, '\0');
    size_t n = std::strftime(buf.data(), buf.size(), f.c_str(), &local);
    if (n > 0) return Value(buf.substr(0, n));
  }
  return Value("");
}

Value global_range(Renderer&, CallArgs& a) {
  if (!a.keyword.empty()) fail("range() takes no keyword arguments");
  if (a.positional.empty() || a.positional.size() > 3)
    fail("range expected at least 1 argument, got " + std::to_string(a.positional.size()));
  int64_t start = 0, stop, step = 1;
  if (a.positional.size() == 1) {
    stop = to_index(a.positional[0], "range");
  } else {
    start = to_index(a.positional[0], "range");
    stop = to_index(a.positional[1], "range");
    if (a.positional.size() == 3) step = to_index(a.positional[2], "range");
  }
  if (step == 0) fail("range() arg 3 must not be zero");
  int64_t n = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                       : (start > stop ? (start - stop - step - 1) / -step : 0);
  if (n > 100000) fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  ValueList items;
  for (int64_t i = 0; i < n; ++i) items.emplace_back(start + i * step);
  std::string repr = "range(" + std::to_string(start) + ", " + std::to_string(stop) +
                     (step == 1 ? "" : ", " + std::to_string(step)) + ")";
  return Value::view(std::move(items), std::make_shared<const ViewInfo>(ViewInfo{"range", repr}));
}

// dict(mapping_or_pairs, **kwargs), as dict() and namespace() take it.
std::shared_ptr<Dict> dict_from_args(const char* name, CallArgs& a) {
  if (a.positional.size() > 1)
    fail(std::string(name) + " expected at most 1 argument, got " +
         std::to_string(a.positional.size()));
  auto d = std::make_shared<Dict>();
  if (!a.positional.empty()) {
    const Value& src = a.positional[0];
    if (src.is_dict()) {
      d->items = src.as_dict().items;
    } else {
      for (const auto& pair : iterate(src)) {
        ValueList kv = iterate(pair);
        if (kv.size() != 2) fail("dictionary update sequence element has the wrong length");
        d->set(kv[0], kv[1]);
      }
    }
  }
  for (auto& [k, v] : a.keyword) d->set(Value(k), v);
  return d;
}

Value global_dict(Renderer&, CallArgs& a) {
  return Value(std::shared_ptr<const Dict>(dict_from_args("dict", a)));
}

Value global_namespace(Renderer& r, CallArgs& a) {
  auto ns = std::make_shared<Namespace>();
  ns->attrs = std::move(*dict_from_args("Namespace", a));
  r.adopt(ns);
  return Value(std::move(ns));
}

}  // namespace

TestFn find_test(const std::string& name) {
  auto it = tests().find(name);
  return it == tests().end() ? nullptr : it->second;
}

const Value* find_global(const std::string& name) {
  static const std::map<std::string, Value> globals = {
      {"raise_exception", make_function("raise_exception", global_raise_exception)},
      {"strftime_now", make_function("strftime_now", global_strftime_now)},
      {"range", make_function("range", global_range)},
      {"dict", make_function("dict", global_dict)},
      {"namespace", make_function("namespace", global_namespace)},
  };
  auto it = globals.find(name);
  return it == globals.end() ? nullptr : &it->second;
}

}  // namespace llmtune::text::jinja
