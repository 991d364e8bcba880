// Python operators and jinja2's sandboxed attribute / item access on Values, and Python-style
// argument binding for the builtins. Failures throw Failure (see value.h).
#pragma once

#include <optional>
#include <string>

#include "text/jinja/value.h"

namespace llmtune::text::jinja {

// a <op> b for op in + - * / // % **.
Value binary_op(const std::string& op, const Value& a, const Value& b);
Value negate(const Value& v);
// a <op> b for op in == != < <= > >= in notin.
bool compare(const std::string& op, const Value& a, const Value& b);
bool contains(const Value& container, const Value& item);  // Python's `item in container`

// jinja2's environment.getattr / getitem under ImmutableSandboxedEnvironment: `a.b` tries the
// attribute (a method, for str/dict/list), then the item; `a['b']` the other way round. Missing
// ones are Undefined; mutating methods (list.append, dict.update, ...) are an Undefined that
// fails with jinja2's SecurityError message when called.
Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
Value get_slice(const Value& obj, const std::optional<int64_t>& start,
                const std::optional<int64_t>& stop, const std::optional<int64_t>& step);

// The bound method `obj.name` for Python's str, dict, list and tuple methods, jinja2's loop
// object and Namespace; nullopt when the type has no such attribute.
std::optional<Value> find_method(const Value& obj, const std::string& name);

// Python-style argument binding: `params` in order, each with a default (nullopt: required).
struct Param {
  const char* name;
  std::optional<Value> default_value;
};
std::vector<Value> bind_args(const std::string& function, CallArgs& args,
                             std::initializer_list<Param> params);

// Python's printf-style `fmt % args` (args a tuple, a mapping or one value); a Markup format
// escapes what it inserts.
Value percent_format(const Value& fmt, const Value& args);

// Integer arguments (bool or int), failing with Python's message for other types.
int64_t to_index(const Value& v, const char* what);

}  // namespace llmtune::text::jinja
