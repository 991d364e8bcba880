#include "text/jinja/ops.h"

#include <cmath>

#include "text/jinja/pystr.h"

namespace llmtune::text::jinja {
namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  fail("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() +
       "'");
}

[[noreturn]] void overflow() {
  fail("integer overflow: this interpreter's integers are 64-bit");
}

Value repeat(const Value& seq, int64_t n) {
  if (n > 0) {
    if (seq.is_string()) {
      budget_bytes(seq.as_string().size(), static_cast<uint64_t>(n));
    } else {
      budget_bytes(list_bytes(seq.as_list()), static_cast<uint64_t>(n));
    }
  }
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.as_string();
    return string_like(seq, std::move(out));
  }
  ValueList items;
  for (int64_t i = 0; i < n; ++i)
    items.insert(items.end(), seq.as_list().begin(), seq.as_list().end());
  return seq.kind() == Value::Kind::List ? Value::list(std::move(items))
                                         : Value::tuple(std::move(items));
}

Value add(const Value& a, const Value& b) {
  if (a.is_integral() && b.is_integral()) {
    int64_t r;
    if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) overflow();
    return Value(r);
  }
  if (a.is_number() && b.is_number()) return Value(a.as_double() + b.as_double());
  if (a.is_string() && b.is_string()) {
    if (a.is_markup() || b.is_markup())  // Markup escapes the plain side
      return Value::markup(html_escape(a).as_string() + html_escape(b).as_string());
    return Value(a.as_string() + b.as_string());
  }
  if (a.is_sequence_like() && a.kind() == b.kind()) {
    ValueList items = a.as_list();
    items.insert(items.end(), b.as_list().begin(), b.as_list().end());
    return a.kind() == Value::Kind::List ? Value::list(std::move(items))
                                         : Value::tuple(std::move(items));
  }
  if (a.is_string() || a.is_sequence_like())
    fail(std::string("can only concatenate ") + a.type_name() + " (not \"" + b.type_name() +
         "\") to " + a.type_name());
  unsupported("+", a, b);
}

Value multiply(const Value& a, const Value& b) {
  if (a.is_integral() && b.is_integral()) {
    int64_t r;
    if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) overflow();
    return Value(r);
  }
  if (a.is_number() && b.is_number()) return Value(a.as_double() * b.as_double());
  if ((a.is_string() || a.is_sequence_like()) && b.is_integral()) return repeat(a, b.as_int());
  if (a.is_integral() && (b.is_string() || b.is_sequence_like())) return repeat(b, a.as_int());
  if (a.is_string() || a.is_sequence_like())
    fail(std::string("can't multiply sequence by non-int of type '") + b.type_name() + "'");
  unsupported("*", a, b);
}

// Python's float divmod.
std::pair<double, double> float_divmod(double vx, double wx) {
  double mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  double floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, vx / wx);
  }
  return {floordiv, mod};
}

Value divide_floor(const Value& a, const Value& b, bool want_mod) {
  if (a.is_integral() && b.is_integral()) {
    int64_t x = a.as_int(), y = b.as_int();
    if (y == 0) fail("integer division or modulo by zero");
    if (x == INT64_MIN && y == -1) overflow();
    int64_t q = x / y, r = x % y;
    if (r != 0 && ((r < 0) != (y < 0))) {
      q -= 1;
      r += y;
    }
    return want_mod ? Value(r) : Value(q);
  }
  if (b.as_double() == 0) fail(want_mod ? "float modulo" : "float floor division by zero");
  auto [q, r] = float_divmod(a.as_double(), b.as_double());
  return want_mod ? Value(r) : Value(q);
}

Value power(const Value& a, const Value& b) {
  if (a.is_integral() && b.is_integral() && b.as_int() >= 0) {
    int64_t base = a.as_int(), exp = b.as_int(), result = 1;
    while (exp > 0) {
      if ((exp & 1) && __builtin_mul_overflow(result, base, &result)) overflow();
      exp >>= 1;
      if (exp && __builtin_mul_overflow(base, base, &base)) overflow();
    }
    return Value(result);
  }
  double x = a.as_double(), y = b.as_double();
  if (x == 0 && y < 0) fail("0.0 cannot be raised to a negative power");
  return Value(std::pow(x, y));
}

std::string format_percent(const std::string& fmt, const Value& args, bool escape);

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  if (op == "+") return add(a, b);
  if (op == "*") return multiply(a, b);
  if (op == "%" && a.is_string()) return percent_format(a, b);
  if (!a.is_number() || !b.is_number()) unsupported(op, a, b);
  if (op == "-") {
    if (a.is_integral() && b.is_integral()) {
      int64_t r;
      if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) overflow();
      return Value(r);
    }
    return Value(a.as_double() - b.as_double());
  }
  if (op == "/") {
    if (b.as_double() == 0) fail("division by zero");
    return Value(a.as_double() / b.as_double());
  }
  if (op == "//") return divide_floor(a, b, false);
  if (op == "%") return divide_floor(a, b, true);
  if (op == "**") return power(a, b);
  fail("unknown operator " + op);
}

Value negate(const Value& v) {
  if (v.is_undefined()) v.fail_undefined();
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) overflow();
    return Value(-v.as_int());
  }
  if (v.is_float()) return Value(-v.as_double());
  fail(std::string("bad operand type for unary -: '") + v.type_name() + "'");
}

namespace {

// Python's rich comparison for the ordering operators.
bool order(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  auto cmp = [&](auto x, auto y) {
    if (op == "<") return x < y;
    if (op == "<=") return x <= y;
    if (op == ">") return x > y;
    return x >= y;
  };
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return cmp(a.as_double(), b.as_double());
    return cmp(a.as_int(), b.as_int());
  }
  if (a.is_string() && b.is_string()) return cmp(a.as_string(), b.as_string());
  if (a.is_sequence_like() && a.kind() == b.kind()) {
    const auto &x = a.as_list(), &y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!py_equal(x[i], y[i])) return order(op, x[i], y[i]);
    return cmp(x.size(), y.size());
  }
  fail("'" + op + "' not supported between instances of '" + a.type_name() + "' and '" +
       b.type_name() + "'");
}

}  // namespace

bool compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return py_equal(a, b);
  if (op == "!=") return !py_equal(a, b);
  if (op == "in") return contains(b, a);
  if (op == "notin") return !contains(b, a);
  return order(op, a, b);
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined:
      return false;
    case Value::Kind::String:
      if (!item.is_string())
        fail(std::string("'in <string>' requires string as left operand, not ") + item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::List:
    case Value::Kind::Tuple:
      for (const auto& v : container.as_list())
        if (py_equal(v, item)) return true;
      return false;
    case Value::Kind::Dict:
      if (item.kind() == Value::Kind::List || item.kind() == Value::Kind::Dict)
        fail(std::string("unhashable type: '") + item.type_name() + "'");
      return container.as_dict().find(item) != nullptr;
    case Value::Kind::Loop:
      for (const auto& v : *container.as_loop()->items)
        if (py_equal(v, item)) return true;
      return false;
    case Value::Kind::Iterator:  // consumes up to the match, as Python does
      while (auto v = iterator_next(container))
        if (py_equal(*v, item)) return true;
      return false;
    default:
      fail(std::string("argument of type '") + container.type_name() + "' is not iterable");
  }
}

namespace {

// range() is the one view Python indexes and slices (a slice of a range prints as a list here).
bool is_range(const Value& v) {
  const ViewInfo* view = v.view_info();
  return view && std::string_view(view->type_name) == "range";
}

Value missing_attribute(const Value& obj, const Value& name) {
  std::string owner = py_repr_string(obj.object_type_repr());
  if (name.is_string())
    return Value::undefined(owner + " has no attribute " + py_repr_string(name.as_string()));
  return Value::undefined(owner + " has no element " + py_repr(name));
}

// getattr(obj, name) with the sandbox's checks; nullopt where Python raises AttributeError.
std::optional<Value> python_getattr(const Value& obj, const std::string& name) {
  if (obj.kind() == Value::Kind::Namespace) {
    if (const Value* v = obj.as_namespace()->attrs.find(std::string_view(name))) return *v;
    return std::nullopt;
  }
  return find_method(obj, name);
}

}  // namespace

Value get_attribute(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) obj.fail_undefined();
  if (auto v = python_getattr(obj, name)) return *v;
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(std::string_view(name))) return *v;
  }
  return missing_attribute(obj, Value(name));
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) obj.fail_undefined();
  switch (obj.kind()) {
    case Value::Kind::List:
    case Value::Kind::Tuple:
      if (key.is_integral() && (obj.is_sequence_like() || is_range(obj))) {
        const auto& items = obj.as_list();
        int64_t i = key.as_int(), n = int64_t(items.size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) return items[size_t(i)];
        return missing_attribute(obj, key);
      }
      break;
    case Value::Kind::String:
      if (key.is_integral()) {
        std::u32string u = utf8_decode(obj.as_string());
        int64_t i = key.as_int(), n = int64_t(u.size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) return string_like(obj, utf8_encode(u.substr(size_t(i), 1)));
        return missing_attribute(obj, key);
      }
      break;
    case Value::Kind::Dict:
      if (key.kind() != Value::Kind::List && key.kind() != Value::Kind::Dict) {
        if (const Value* v = obj.as_dict().find(key)) return *v;
      }
      break;
    default:
      break;
  }
  if (key.is_string()) {
    if (auto v = python_getattr(obj, key.as_string())) return *v;
  }
  return missing_attribute(obj, key);
}

Value get_slice(const Value& obj, const std::optional<int64_t>& start,
                const std::optional<int64_t>& stop, const std::optional<int64_t>& step) {
  if (obj.is_undefined()) obj.fail_undefined();
  int64_t st = step.value_or(1);
  if (st == 0) fail("slice step cannot be zero");
  bool is_str = obj.is_string();
  if (!is_str && !obj.is_sequence_like() && !is_range(obj)) {
    return Value::undefined(py_repr_string(obj.object_type_repr()) + " has no element slice(" +
                            (start ? std::to_string(*start) : "None") + ", " +
                            (stop ? std::to_string(*stop) : "None") + ", " +
                            (step ? std::to_string(*step) : "None") + ")");
  }
  std::u32string u;
  if (is_str) u = utf8_decode(obj.as_string());
  int64_t len = is_str ? int64_t(u.size()) : int64_t(obj.as_list().size());
  auto adjust = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t i = *v;
    if (i < 0) {
      i += len;
      if (i < 0) i = st < 0 ? -1 : 0;
    } else if (i >= len) {
      i = st < 0 ? len - 1 : len;
    }
    return i;
  };
  int64_t b = adjust(start, st < 0 ? len - 1 : 0), e = adjust(stop, st < 0 ? -1 : len);
  std::u32string out_str;
  ValueList out;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) {
    if (is_str) {
      out_str.push_back(u[size_t(i)]);
    } else {
      out.push_back(obj.as_list()[size_t(i)]);
    }
  }
  if (is_str) return string_like(obj, utf8_encode(out_str));
  return obj.kind() == Value::Kind::List ? Value::list(std::move(out))
                                         : Value::tuple(std::move(out));
}

std::vector<Value> bind_args(const std::string& function, CallArgs& args,
                             std::initializer_list<Param> params) {
  std::vector<Value> out(params.size());
  std::vector<bool> set(params.size(), false);
  if (args.positional.size() > params.size())
    fail(function + "() takes at most " + std::to_string(params.size()) + " arguments (" +
         std::to_string(args.positional.size()) + " given)");
  for (size_t i = 0; i < args.positional.size(); ++i) {
    out[i] = std::move(args.positional[i]);
    set[i] = true;
  }
  for (auto& [name, value] : args.keyword) {
    size_t i = 0;
    for (const Param& p : params) {
      if (name == p.name) break;
      ++i;
    }
    if (i == params.size()) fail(function + "() got an unexpected keyword argument '" + name + "'");
    if (set[i]) fail(function + "() got multiple values for argument '" + name + "'");
    out[i] = std::move(value);
    set[i] = true;
  }
  size_t i = 0;
  for (const Param& p : params) {
    if (!set[i]) {
      if (!p.default_value)
        fail(function + "() missing required argument '" + std::string(p.name) + "'");
      out[i] = *p.default_value;
    }
    ++i;
  }
  return out;
}

int64_t to_index(const Value& v, const char* what) {
  if (v.is_integral()) return v.as_int();
  fail(std::string("'") + v.type_name() + "' object cannot be interpreted as an integer (" + what +
       ")");
}

namespace {

// printf-style formatting (str % args) for the conversions templates use.
// `escape`: the format string is Markup, which escapes what %s and %r insert.
std::string format_one(char conv, const std::string& flags, int width, int precision,
                       const Value& v, bool escape) {
  std::string body;
  switch (conv) {
    case 's':
      body = escape ? html_escape(v).as_string() : py_str(v);
      break;
    case 'r':
      body = escape ? html_escape(Value(py_repr(v))).as_string() : py_repr(v);
      break;
    case 'd':
    case 'i':
    case 'x':
    case 'X':
    case 'o': {
      if (!v.is_number())
        fail(std::string("%") + conv + " format: a real number is required, not " + v.type_name());
      int64_t n = v.is_float() ? int64_t(std::trunc(v.as_double())) : v.as_int();
      char buf[64];
      const char* f = conv == 'x' ? "%llx" : conv == 'X' ? "%llX" : conv == 'o' ? "%llo" : "%lld";
      std::snprintf(buf, sizeof buf, f, (long long)(n < 0 && conv != 'd' && conv != 'i' ? -n : n));
      body = buf;
      if (n < 0 && conv != 'd' && conv != 'i') body = "-" + body;
      if (n >= 0 && flags.find('+') != std::string::npos) body = "+" + body;
      break;
    }
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      if (!v.is_number()) fail(std::string("must be real number, not ") + v.type_name());
      char buf[512], f[16];
      std::snprintf(f, sizeof f, "%%%s.%d%c", flags.find('+') != std::string::npos ? "+" : "",
                    precision < 0 ? 6 : precision, conv);
      std::snprintf(buf, sizeof buf, f, v.as_double());
      body = buf;
      precision = -1;
      break;
    }
    default:
      fail(std::string("unsupported format character '") + conv + "'");
  }
  if (precision >= 0 && (conv == 's' || conv == 'r')) {
    std::u32string u = utf8_decode(body);
    if (int64_t(u.size()) > precision) body = utf8_encode(u.substr(0, size_t(precision)));
  }
  int64_t pad = width - utf8_length(body);
  if (pad > 0) {
    bool left = flags.find('-') != std::string::npos;
    bool zero = flags.find('0') != std::string::npos && conv != 's' && conv != 'r' && !left;
    if (left) {
      body += std::string(size_t(pad), ' ');
    } else if (zero) {
      size_t sign = !body.empty() && (body[0] == '-' || body[0] == '+') ? 1 : 0;
      body.insert(sign, std::string(size_t(pad), '0'));
    } else {
      body.insert(0, std::string(size_t(pad), ' '));
    }
  }
  return body;
}

std::string format_percent(const std::string& fmt, const Value& args, bool escape) {
  ValueList positional;
  if (args.kind() == Value::Kind::Tuple) {
    positional = args.as_list();
  } else {
    positional.push_back(args);
  }
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (++i >= fmt.size()) fail("incomplete format");
    if (fmt[i] == '%') {
      out.push_back('%');
      continue;
    }
    const Value* source = nullptr;
    Value named;
    if (fmt[i] == '(') {
      size_t close = fmt.find(')', i);
      if (close == std::string::npos) fail("incomplete format key");
      if (!args.is_dict()) fail("format requires a mapping");
      const Value* v = args.as_dict().find(std::string_view(fmt).substr(i + 1, close - i - 1));
      if (!v) fail("'" + fmt.substr(i + 1, close - i - 1) + "'");
      named = *v;
      source = &named;
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::string("-+ #0").find(fmt[i]) != std::string::npos)
      flags.push_back(fmt[i++]);
    int width = 0, precision = -1;
    while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) {
      width = width * 10 + (fmt[i++] - '0');
      budget_bytes(static_cast<uint64_t>(width));  // before it overflows or pads
    }
    if (i < fmt.size() && fmt[i] == '.') {
      precision = 0;
      ++i;
      while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) {
        precision = precision * 10 + (fmt[i++] - '0');
        budget_bytes(static_cast<uint64_t>(precision));
      }
    }
    if (i >= fmt.size()) fail("incomplete format");
    if (!source) {
      if (next >= positional.size()) fail("not enough arguments for format string");
      source = &positional[next++];
    }
    out += format_one(fmt[i], flags, width, precision, *source, escape);
    budget_growing(out.size());
  }
  if (!args.is_dict() && next < positional.size())
    fail("not all arguments converted during string formatting");
  return out;
}

}  // namespace

Value percent_format(const Value& fmt, const Value& args) {
  return string_like(fmt, format_percent(fmt.as_string(), args, fmt.is_markup()));
}

}  // namespace llmtune::text::jinja
