#include "text/jinja/renderer.h"

#include "text/jinja/budget.h"
#include "text/jinja/ops.h"
#include "text/jinja/pystr.h"

namespace llmtune::text::jinja {

// Pushes a scope for the lifetime of the guard. `parent` is where lookups continue after it:
// the frame below for loops and `with`, the defining frame for macro calls.
class Renderer::FrameGuard {
 public:
  // A macro's frame (`call`) counts toward the recursion limit: jinja2 stops at Python's.
  FrameGuard(Renderer& r, int parent, bool call = false) : r_(r), call_(call) {
    if (call_ && ++r_.call_depth_ > kMaxCallDepth) {
      --r_.call_depth_;
      fail(str("maximum recursion depth exceeded (", kMaxCallDepth, " nested macro calls)"));
    }
    r_.frames_.push_back(Frame{{}, parent});
  }
  ~FrameGuard() {
    r_.frames_.pop_back();
    if (call_) --r_.call_depth_;
  }
  FrameGuard(const FrameGuard&) = delete;
  FrameGuard& operator=(const FrameGuard&) = delete;

 private:
  static constexpr int kMaxCallDepth = 200;
  Renderer& r_;
  bool call_;
};

Renderer::Renderer(Value context) : context_(std::move(context)) {
  frames_.push_back(Frame{{}, -1});
}

Renderer::~Renderer() {
  for (const std::weak_ptr<Namespace>& w : namespaces_) {
    if (const std::shared_ptr<Namespace> ns = w.lock()) ns->attrs.items.clear();
  }
}

void Renderer::render(const Body& body, std::string& out) {
  exec(body, out);
}

Renderer::Flow Renderer::exec(const Body& body, std::string& out) {
  for (const Node& n : body) {
    Flow f = exec_node(n, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Renderer::Flow Renderer::exec_node(const Node& n, std::string& out) {
  try {
    budget_step();
    switch (n.kind) {
      case NodeKind::Text:
        out += n.text;
        break;
      case NodeKind::Output:
        out += py_str(eval(*n.expr));
        break;
      case NodeKind::If:
        for (const auto& [cond, body] : n.branches)
          if (truthy(eval(*cond))) return exec(body, out);
        return exec(n.else_body, out);
      case NodeKind::For:
        return exec_for(n, out);
      case NodeKind::Set:
      case NodeKind::SetBlock:
        exec_set(n, out);
        break;
      case NodeKind::Break:
        return Flow::Break;
      case NodeKind::Continue:
        return Flow::Continue;
      case NodeKind::Macro:
        define_macro(n);
        break;
      case NodeKind::CallBlock: {
        const Expr& call = *n.expr;
        Value fn = eval(*call.items[0]);
        CallArgs args = eval_args(call, 1);
        args.keyword.emplace_back("caller", make_caller(n));
        out += py_str(this->call(fn, args));
        break;
      }
      case NodeKind::FilterBlock: {
        std::string body;
        exec(n.body, body);
        Value input(std::move(body));
        out += py_str(eval_filter(*n.expr, &input));
        break;
      }
      case NodeKind::With:
        exec_with(n, out);
        break;
    }
    if (out.size() > kMaxValueBytes)
      fail(str("the rendered text grew past ", kMaxValueBytes >> 20,
               " MiB, the limit of one render"));
  } catch (const Failure& f) {
    throw_template_error(f.message, n.loc);
  }
  return Flow::Normal;
}

Renderer::Flow Renderer::exec_for(const Node& n, std::string& out) {
  ValueList items;
  {
    Value iterable = eval(*n.expr);
    try {
      items = iterate(iterable);
    } catch (const Failure& f) {
      throw_template_error(f.message, n.expr->loc);
    }
  }
  if (n.condition) {
    ValueList kept;
    for (auto& item : items) {
      FrameGuard guard(*this, int(frames_.size()) - 1);
      assign(n.target, item);
      if (truthy(eval(*n.condition))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  auto loop = std::make_shared<LoopState>();
  loop->items = std::make_shared<const ValueList>(std::move(items));
  // jinja2 runs the else block unless some iteration reached the end of the body: an
  // iteration left by break or continue does not count.
  bool completed = false;
  for (size_t i = 0; i < loop->items->size(); ++i) {
    budget_step();  // an empty body still costs a step per iteration
    loop->index0 = i;
    FrameGuard guard(*this, int(frames_.size()) - 1);
    assign(n.target, (*loop->items)[i]);
    frames_.back().vars["loop"] = Value(loop);
    Flow flow = exec(n.body, out);
    if (flow == Flow::Normal) completed = true;
    if (flow == Flow::Break) break;
  }
  if (!completed) return exec(n.else_body, out);
  return Flow::Normal;
}

void Renderer::exec_set(const Node& n, std::string&) {
  Value value;
  if (n.kind == NodeKind::Set) {
    value = eval(*n.expr);
  } else {
    std::string body;
    exec(n.body, body);
    value = Value(std::move(body));
    if (n.expr) value = eval_filter(*n.expr, &value);
  }
  assign(n.target, value);
}

void Renderer::exec_with(const Node& n, std::string& out) {
  std::vector<Value> values;
  for (const auto& [name, expr] : n.params) values.push_back(eval(*expr));
  FrameGuard guard(*this, int(frames_.size()) - 1);
  for (size_t i = 0; i < n.params.size(); ++i) frames_.back().vars[n.params[i].first] = values[i];
  exec(n.body, out);
}

void Renderer::define_macro(const Node& n) {
  const Node* node = &n;
  int parent = int(frames_.size()) - 1;
  set_var(n.text, make_function(n.text, [node, parent](Renderer& r, CallArgs& args) {
            Value caller;
            for (auto it = args.keyword.begin(); it != args.keyword.end(); ++it) {
              if (it->first == "caller" && node->uses_caller) {
                caller = it->second;
                args.keyword.erase(it);
                break;
              }
            }
            FrameGuard guard(r, parent, true);
            return r.call_macro(*node, args, caller);
          }));
}

Value Renderer::make_caller(const Node& n) {
  const Node* node = &n;
  int parent = int(frames_.size()) - 1;
  return make_function("caller", [node, parent](Renderer& r, CallArgs& args) {
    FrameGuard guard(r, parent, true);
    auto& vars = r.frames_.back().vars;
    for (size_t i = 0; i < node->params.size(); ++i) {
      const auto& [name, def] = node->params[i];
      vars[name] = i < args.positional.size() ? args.positional[i]
                   : def                      ? r.eval(*def)
                                              : Value::undefined("'" + name + "' is undefined");
    }
    std::string body;
    r.exec(node->body, body);
    return Value(std::move(body));
  });
}

Value Renderer::call_macro(const Node& n, CallArgs& args, const Value& caller) {
  auto& vars = frames_.back().vars;
  if (args.positional.size() > n.params.size() && !n.uses_varargs)
    fail("macro '" + n.text + "' takes not more than " + std::to_string(n.params.size()) +
         " argument(s)");
  std::vector<bool> set(n.params.size(), false);
  for (size_t i = 0; i < args.positional.size() && i < n.params.size(); ++i) {
    vars[n.params[i].first] = args.positional[i];
    set[i] = true;
  }
  auto extra = std::make_shared<Dict>();
  for (auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < n.params.size() && n.params[i].first != key) ++i;
    if (i == n.params.size()) {
      if (!n.uses_kwargs) fail("macro '" + n.text + "' takes no keyword argument '" + key + "'");
      extra->set(Value(key), value);
      continue;
    }
    if (set[i]) fail("macro '" + n.text + "' got multiple values for argument '" + key + "'");
    vars[key] = value;
    set[i] = true;
  }
  for (size_t i = 0; i < n.params.size(); ++i) {
    if (set[i]) continue;
    const auto& [name, def] = n.params[i];
    vars[name] = def ? eval(*def) : Value::undefined("parameter '" + name + "' was not provided");
  }
  if (n.uses_varargs) {
    ValueList rest;
    for (size_t i = n.params.size(); i < args.positional.size(); ++i)
      rest.push_back(args.positional[i]);
    vars["varargs"] = Value::tuple(std::move(rest));
  }
  if (n.uses_kwargs) vars["kwargs"] = Value(std::shared_ptr<const Dict>(std::move(extra)));
  if (n.uses_caller) vars["caller"] = caller;
  std::string out;
  exec(n.body, out);
  return Value(std::move(out));
}

Value Renderer::lookup(const std::string& name) const {
  for (int i = int(frames_.size()) - 1; i >= 0; i = frames_[size_t(i)].parent) {
    const auto& vars = frames_[size_t(i)].vars;
    auto it = vars.find(name);
    if (it != vars.end()) return it->second;
  }
  if (const Value* v = context_.as_dict().find(std::string_view(name))) return *v;
  if (const Value* g = find_global(name)) return *g;
  return Value::undefined(py_repr_string(name) + " is undefined");
}

void Renderer::set_var(const std::string& name, Value value) {
  frames_.back().vars[name] = std::move(value);
}

void Renderer::assign(const Target& target, const Value& value) {
  if (!target.attr.empty()) {
    Value ns = lookup(target.name);
    if (ns.kind() != Value::Kind::Namespace)
      throw_template_error("cannot assign attribute on non-namespace object", target.loc);
    ns.as_namespace()->attrs.set(Value(target.attr), value);
    return;
  }
  if (!target.is_tuple) {
    set_var(target.name, value);
    return;
  }
  ValueList items;
  try {
    items = iterate(value);
  } catch (const Failure& f) {
    throw_template_error("cannot unpack non-iterable " + std::string(value.type_name()) + " object",
                         target.loc);
  }
  size_t want = target.items.size();
  if (items.size() < want)
    throw_template_error(
        str("not enough values to unpack (expected ", want, ", got ", items.size(), ")"),
        target.loc);
  if (items.size() > want)
    throw_template_error(str("too many values to unpack (expected ", want, ")"), target.loc);
  for (size_t i = 0; i < want; ++i) assign(target.items[i], items[i]);
}

Value Renderer::eval(const Expr& e) {
  try {
    budget_step();
    return eval_impl(e);
  } catch (const Failure& f) {
    throw_template_error(f.message, e.loc);
  }
}

CallArgs Renderer::eval_args(const Expr& e, size_t first) {
  CallArgs args;
  for (size_t i = first; i < e.items.size(); ++i) args.positional.push_back(eval(*e.items[i]));
  for (const auto& [name, expr] : e.kwargs) args.keyword.emplace_back(name, eval(*expr));
  return args;
}

Value Renderer::eval_impl(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Const:
      return e.value;
    case ExprKind::Name:
      return lookup(e.name);
    case ExprKind::List:
    case ExprKind::Tuple: {
      ValueList items;
      for (const auto& item : e.items) items.push_back(eval(*item));
      return e.kind == ExprKind::List ? Value::list(std::move(items))
                                      : Value::tuple(std::move(items));
    }
    case ExprKind::Dict: {
      std::vector<std::pair<Value, Value>> items;
      for (size_t i = 0; i + 1 < e.items.size(); i += 2)
        items.emplace_back(eval(*e.items[i]), eval(*e.items[i + 1]));
      return make_dict(std::move(items));
    }
    case ExprKind::GetAttr:
      return get_attribute(eval(*e.items[0]), e.name);
    case ExprKind::GetItem:
      return eval_subscript(e);
    case ExprKind::Slice:
      fail("a slice outside a subscript");
    case ExprKind::Call:
      return eval_call(e);
    case ExprKind::Filter:
      return eval_filter(e, nullptr);
    case ExprKind::Test: {
      if (!e.test) fail("No test named '" + e.name + "' found.");
      Value input = eval(*e.items[0]);
      CallArgs args = eval_args(e, 1);
      return Value(e.test(*this, input, args));
    }
    case ExprKind::Neg:
      return negate(eval(*e.items[0]));
    case ExprKind::Pos: {
      Value v = eval(*e.items[0]);
      if (v.is_undefined()) v.fail_undefined();
      if (!v.is_number())
        fail(std::string("bad operand type for unary +: '") + v.type_name() + "'");
      return v.is_bool() ? Value(v.as_int()) : v;
    }
    case ExprKind::Not:
      return Value(!truthy(eval(*e.items[0])));
    case ExprKind::Binary: {
      Value a = eval(*e.items[0]);
      Value b = eval(*e.items[1]);
      return binary_op(e.name, a, b);
    }
    case ExprKind::Concat: {
      std::string out;
      for (const auto& item : e.items) out += py_str(eval(*item));
      return Value(std::move(out));
    }
    case ExprKind::Compare: {
      Value left = eval(*e.items[0]);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.items[i + 1]);
        if (!compare(e.ops[i], left, right)) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::And: {
      Value left = eval(*e.items[0]);
      return truthy(left) ? eval(*e.items[1]) : left;
    }
    case ExprKind::Or: {
      Value left = eval(*e.items[0]);
      return truthy(left) ? left : eval(*e.items[1]);
    }
    case ExprKind::CondExpr:
      if (truthy(eval(*e.items[0]))) return eval(*e.items[1]);
      if (e.items[2]) return eval(*e.items[2]);
      return Value::undefined(str("the inline if-expression on line ", e.loc.line,
                                  " evaluated to false and no else section was defined."));
  }
  fail("unknown expression");
}

Value Renderer::eval_subscript(const Expr& e) {
  Value obj = eval(*e.items[0]);
  const Expr& index = *e.items[1];
  if (index.kind != ExprKind::Slice) return get_item(obj, eval(index));
  std::optional<int64_t> bounds[3];
  for (int i = 0; i < 3; ++i) {
    if (!index.items[size_t(i)]) continue;
    Value v = eval(*index.items[size_t(i)]);
    if (v.is_none()) continue;
    if (!v.is_integral())
      fail("slice indices must be integers or None or have an __index__ method");
    bounds[i] = v.as_int();
  }
  return get_slice(obj, bounds[0], bounds[1], bounds[2]);
}

Value Renderer::eval_call(const Expr& e) {
  Value fn = eval(*e.items[0]);
  CallArgs args = eval_args(e, 1);
  return call(fn, args);
}

Value Renderer::call(const Value& fn, CallArgs& args) {
  if (fn.kind() == Value::Kind::Function) return fn.as_function().call(*this, args);
  if (fn.is_undefined()) fn.fail_undefined();
  fail(std::string("'") + fn.type_name() + "' object is not callable");
}

Value Renderer::eval_filter(const Expr& e, const Value* block_input) {
  if (!e.filter)
    throw_template_error(
        "No filter named '" + e.name + "' found." + unsupported_note("filter", e.name), e.loc);
  Value input;
  const Expr* inner = e.items[0].get();
  if (!inner) {
    input = *block_input;
  } else if (block_input && inner->kind == ExprKind::Filter) {
    input = eval_filter(*inner, block_input);
  } else {
    input = eval(*inner);
  }
  CallArgs args = eval_args(e, 1);
  try {
    return e.filter(*this, input, args);
  } catch (const Failure& f) {
    throw_template_error(f.message, e.loc);
  }
}

Value Renderer::call_filter(const std::string& name, const Value& input, CallArgs& args) {
  FilterFn fn = find_filter(name);
  if (!fn) fail("No filter named '" + name + "'.");
  return fn(*this, input, args);
}

bool Renderer::call_test(const std::string& name, const Value& input, CallArgs& args) {
  TestFn fn = find_test(name);
  if (!fn) fail("No test named '" + name + "'.");
  return fn(*this, input, args);
}

}  // namespace llmtune::text::jinja
