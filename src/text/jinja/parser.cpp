// A recursive-descent parser that follows jinja2/parser.py function by function, so operator
// precedence and its quirks (-2**2 == 4, filters binding tighter than unary minus's operand
// but looser than its result) come out the same.
#include <algorithm>
#include <set>

#include "text/jinja/ast.h"

namespace llmtune::text::jinja {
namespace {

using EndRules = std::vector<std::string>;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Body parse() {
    Body body = subparse(nullptr);
    if (cur().type != TokenType::Eof) fail("unexpected " + describe_token(cur()));
    return body;
  }

 private:
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::vector<EndRules> end_stack_;
  std::vector<std::pair<std::string, Location>> tag_stack_;
  int loop_depth_ = 0;
  std::vector<std::set<std::string>> macro_names_;  // names each open macro body reads
  int depth_ = 0;

  // Bounds the recursion of deeply nested statements and expressions, so that they fail as
  // a TemplateError instead of overflowing the stack (jinja2 hits Python's recursion limit).
  static constexpr int kMaxDepth = 300;
  struct Nesting {
    Parser& p;
    explicit Nesting(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxDepth)
        p.fail(str("statements or expressions nested deeper than ", kMaxDepth));
    }
    ~Nesting() { --p.depth_; }
  };
  // A left-associative chain (a + b + c, x | f | g, a.b.c) nests each link inside the next, so
  // each link counts as one level of nesting too: evaluating and freeing the tree recurse.
  struct Chain {
    Parser& p;
    int links = 0;
    explicit Chain(Parser& parser) : p(parser) {}
    void link() {
      ++links;
      if (++p.depth_ > kMaxDepth)
        p.fail(str("an expression chains or nests more than ", kMaxDepth, " operations"));
    }
    ~Chain() { p.depth_ -= links; }
  };

  const Token& cur() const { return tokens_[pos_]; }
  const Token& look() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  static bool is_op(const Token& t, const char* op) {
    return t.type == TokenType::Operator && t.value == op;
  }
  static bool is_name(const Token& t, const char* name) {
    return t.type == TokenType::Name && t.value == name;
  }
  bool skip_op(const char* op) {
    if (!is_op(cur(), op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(cur(), name)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(const std::string& message) { fail(message, cur().loc); }
  [[noreturn]] void fail(const std::string& message, Location loc) {
    throw_template_error(message, loc);
  }
  const Token& expect(TokenType type, const char* what) {
    if (cur().type != type) fail(str("expected ", what, ", got ", describe_token(cur())));
    return next();
  }
  const Token& expect_op(const char* op) {
    if (!is_op(cur(), op)) fail(str("expected '", op, "', got ", describe_token(cur())));
    return next();
  }
  const Token& expect_name(const char* name) {
    if (!is_name(cur(), name)) fail(str("expected '", name, "', got ", describe_token(cur())));
    return next();
  }
  bool matches_any(const EndRules& rules) const {
    return cur().type == TokenType::Name &&
           std::find(rules.begin(), rules.end(), cur().value) != rules.end();
  }

  static ExprPtr make(ExprKind kind, Location loc) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->loc = loc;
    return e;
  }

  // ---- statements ----

  Body subparse(const EndRules* end_rules) {
    Body body;
    if (end_rules) end_stack_.push_back(*end_rules);
    while (cur().type != TokenType::Eof) {
      const Token& t = cur();
      if (t.type == TokenType::Data) {
        Node n{NodeKind::Text, t.loc};
        n.text = t.value;
        body.push_back(std::move(n));
        next();
      } else if (t.type == TokenType::VariableBegin) {
        next();
        Node n{NodeKind::Output, cur().loc};
        n.expr = parse_tuple(false, true, nullptr, false);
        expect(TokenType::VariableEnd, "end of print statement");
        body.push_back(std::move(n));
      } else if (t.type == TokenType::BlockBegin) {
        next();
        if (end_rules && matches_any(*end_rules)) {
          end_stack_.pop_back();
          return body;
        }
        parse_statement(body);
        expect(TokenType::BlockEnd, "end of statement block");
      } else {
        fail("unexpected " + describe_token(t));
      }
    }
    if (end_rules) end_stack_.pop_back();
    return body;
  }

  [[noreturn]] void fail_unknown_tag(const std::string* name, Location loc) {
    std::set<std::string> expected;
    for (const auto& rules : end_stack_) expected.insert(rules.begin(), rules.end());
    std::string message =
        name ? "Encountered unknown tag '" + *name + "'." : "Unexpected end of template.";
    if (!end_stack_.empty()) {
      std::string looking;
      for (const auto& r : end_stack_.back())
        looking += (looking.empty() ? "'" : " or '") + r + "'";
      if (name && expected.count(*name)) {
        message +=
            " You probably made a nesting mistake. Jinja is expecting this tag, but "
            "currently looking for " +
            looking + ".";
      } else {
        message += " Jinja was looking for the following tags: " + looking + ".";
      }
    }
    if (!tag_stack_.empty()) {
      message +=
          " The innermost block that needs to be closed is '" + tag_stack_.back().first + "'.";
      if (!name) loc = tag_stack_.back().second;
    }
    fail(message, loc);
  }

  Body parse_statements(const EndRules& end_rules, bool drop_needle) {
    skip_op(":");
    expect(TokenType::BlockEnd, "end of statement block");
    Body body = subparse(&end_rules);
    if (cur().type == TokenType::Eof) {
      end_stack_.push_back(end_rules);
      fail_unknown_tag(nullptr, cur().loc);
    }
    if (drop_needle) next();
    return body;
  }

  void parse_statement(Body& out) {
    Nesting nesting(*this);
    const Token& t = cur();
    if (t.type != TokenType::Name) fail("tag name expected");
    static const std::set<std::string> kUnsupported = {
        "block", "extends", "include", "import", "from", "autoescape", "do", "generation"};
    if (kUnsupported.count(t.value))
      fail("the '" + t.value + "' tag is not supported by this interpreter");
    static const std::set<std::string> kKnown = {"for",  "if",     "set",   "with",  "macro",
                                                 "call", "filter", "print", "break", "continue"};
    if (!kKnown.count(t.value)) fail_unknown_tag(&t.value, t.loc);
    std::string tag = t.value;
    tag_stack_.emplace_back(tag, t.loc);
    if (tag == "for") out.push_back(parse_for());
    if (tag == "if") out.push_back(parse_if());
    if (tag == "set") out.push_back(parse_set());
    if (tag == "with") out.push_back(parse_with());
    if (tag == "macro") out.push_back(parse_macro());
    if (tag == "call") out.push_back(parse_call_block());
    if (tag == "filter") out.push_back(parse_filter_block());
    if (tag == "print") parse_print(out);
    if (tag == "break" || tag == "continue") {
      Node n{tag == "break" ? NodeKind::Break : NodeKind::Continue, next().loc};
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a for loop", n.loc);
      out.push_back(std::move(n));
    }
    tag_stack_.pop_back();
  }

  Node parse_for() {
    Node n{NodeKind::For, expect_name("for").loc};
    n.target = parse_assign_target(true, false, {"in"}, false);
    expect_name("in");
    n.expr = parse_tuple(false, false, &kRecursive, false);
    if (skip_name("if")) n.condition = parse_expression(true);
    if (is_name(cur(), "recursive")) fail("recursive for loops are not supported");
    ++loop_depth_;
    n.body = parse_statements({"endfor", "else"}, false);
    --loop_depth_;
    if (next().value != "endfor") n.else_body = parse_statements({"endfor"}, true);
    return n;
  }
  inline static const EndRules kRecursive = {"recursive"};

  Node parse_if() {
    Node n{NodeKind::If, expect_name("if").loc};
    while (true) {
      ExprPtr test = parse_tuple(false, false, nullptr, false);
      Body body = parse_statements({"elif", "else", "endif"}, false);
      n.branches.emplace_back(std::move(test), std::move(body));
      const Token& t = next();
      if (t.value == "elif") continue;
      if (t.value == "else") n.else_body = parse_statements({"endif"}, true);
      break;
    }
    return n;
  }

  Node parse_set() {
    Node n{NodeKind::Set, next().loc};
    n.target = parse_assign_target(true, false, {}, true);
    if (skip_op("=")) {
      n.expr = parse_tuple(false, true, nullptr, false);
      return n;
    }
    n.kind = NodeKind::SetBlock;
    if (is_op(cur(), "|")) n.expr = parse_filter(nullptr, false);
    n.body = parse_statements({"endset"}, true);
    return n;
  }

  Node parse_with() {
    Node n{NodeKind::With, next().loc};
    while (cur().type != TokenType::BlockEnd) {
      if (!n.params.empty()) expect_op(",");
      const Token& name = expect(TokenType::Name, "a name");
      expect_op("=");
      n.params.emplace_back(name.value, parse_expression(true));
    }
    n.body = parse_statements({"endwith"}, true);
    return n;
  }

  void parse_signature(Node& n) {
    expect_op("(");
    while (!is_op(cur(), ")")) {
      if (!n.params.empty()) expect_op(",");
      const Token& name = expect(TokenType::Name, "a parameter name");
      ExprPtr def;
      if (skip_op("=")) {
        def = parse_expression(true);
      } else if (!n.params.empty() && n.params.back().second) {
        fail("non-default argument follows default argument");
      }
      n.params.emplace_back(name.value, std::move(def));
    }
    expect_op(")");
  }

  Node parse_macro() {
    Node n{NodeKind::Macro, next().loc};
    n.text = expect(TokenType::Name, "a macro name").value;
    parse_signature(n);
    int saved = loop_depth_;
    loop_depth_ = 0;
    macro_names_.emplace_back();
    n.body = parse_statements({"endmacro"}, true);
    n.uses_varargs = macro_names_.back().count("varargs") > 0;
    n.uses_kwargs = macro_names_.back().count("kwargs") > 0;
    n.uses_caller = macro_names_.back().count("caller") > 0;
    macro_names_.pop_back();
    loop_depth_ = saved;
    return n;
  }

  Node parse_call_block() {
    Node n{NodeKind::CallBlock, next().loc};
    if (is_op(cur(), "(")) parse_signature(n);
    n.expr = parse_expression(true);
    if (n.expr->kind != ExprKind::Call) fail("expected call", n.loc);
    int saved = loop_depth_;
    loop_depth_ = 0;
    n.body = parse_statements({"endcall"}, true);
    loop_depth_ = saved;
    return n;
  }

  Node parse_filter_block() {
    Node n{NodeKind::FilterBlock, next().loc};
    n.expr = parse_filter(nullptr, true);
    n.body = parse_statements({"endfilter"}, true);
    return n;
  }

  void parse_print(Body& out) {
    next();
    bool first = true;
    while (cur().type != TokenType::BlockEnd) {
      if (!first) expect_op(",");
      first = false;
      Node n{NodeKind::Output, cur().loc};
      n.expr = parse_expression(true);
      out.push_back(std::move(n));
    }
  }

  Target to_target(const Expr& e) {
    Target t;
    t.loc = e.loc;
    if (e.kind == ExprKind::Name) {
      t.name = e.name;
    } else if (e.kind == ExprKind::Tuple) {
      t.is_tuple = true;
      for (const auto& item : e.items) t.items.push_back(to_target(*item));
    } else {
      fail("can't assign to this expression", e.loc);
    }
    return t;
  }

  Target parse_assign_target(bool with_tuple, bool name_only, const EndRules& extra_end,
                             bool with_namespace) {
    if (with_namespace && cur().type == TokenType::Name && is_op(look(), ".")) {
      Target t;
      const Token& name = next();
      t.name = name.value;
      t.loc = name.loc;
      next();
      t.attr = expect(TokenType::Name, "an attribute name").value;
      return t;
    }
    if (name_only) {
      const Token& name = expect(TokenType::Name, "a name");
      Target t;
      t.name = name.value;
      t.loc = name.loc;
      return t;
    }
    ExprPtr e = with_tuple ? parse_tuple(true, true, &extra_end, false) : parse_primary();
    return to_target(*e);
  }

  // ---- expressions ----

  bool is_tuple_end(const EndRules* extra) const {
    const Token& t = cur();
    if (t.type == TokenType::VariableEnd || t.type == TokenType::BlockEnd || is_op(t, ")"))
      return true;
    return extra && matches_any(*extra);
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, const EndRules* extra,
                      bool explicit_parentheses) {
    Location loc = cur().loc;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(extra)) break;
      args.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
      if (!is_op(cur(), ",")) break;
      is_tuple = true;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parentheses) fail("Expected an expression, got " + describe_token(cur()));
    }
    ExprPtr e = make(ExprKind::Tuple, loc);
    e->items = std::move(args);
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    Nesting nesting(*this);
    ExprPtr expr = parse_or();
    Chain chain(*this);
    while (is_name(cur(), "if")) {
      chain.link();
      Location loc = next().loc;
      ExprPtr e = make(ExprKind::CondExpr, loc);
      e->items.push_back(parse_or());
      e->items.push_back(std::move(expr));
      e->items.push_back(skip_name("else") ? parse_condexpr() : nullptr);
      expr = std::move(e);
    }
    return expr;
  }

  ExprPtr binary(ExprKind kind, Location loc, ExprPtr left, ExprPtr right, std::string op = "") {
    ExprPtr e = make(kind, loc);
    e->name = std::move(op);
    e->items.push_back(std::move(left));
    e->items.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    Chain chain(*this);
    while (is_name(cur(), "or")) {
      chain.link();
      Location loc = next().loc;
      left = binary(ExprKind::Or, loc, std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    Chain chain(*this);
    while (is_name(cur(), "and")) {
      chain.link();
      Location loc = next().loc;
      left = binary(ExprKind::And, loc, std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    Nesting nesting(*this);
    if (is_name(cur(), "not")) {
      ExprPtr e = make(ExprKind::Not, next().loc);
      e->items.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr expr = parse_math1();
    ExprPtr cmp;
    while (true) {
      const Token& t = cur();
      std::string op;
      Location loc = t.loc;
      if (t.type == TokenType::Operator && (t.value == "==" || t.value == "!=" || t.value == "<" ||
                                            t.value == "<=" || t.value == ">" || t.value == ">=")) {
        op = next().value;
      } else if (is_name(t, "in")) {
        next();
        op = "in";
      } else if (is_name(t, "not") && is_name(look(), "in")) {
        next();
        next();
        op = "notin";
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(ExprKind::Compare, loc);
        cmp->items.push_back(std::move(expr));
      }
      cmp->ops.push_back(op);
      cmp->items.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(expr);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    Chain chain(*this);
    while (is_op(cur(), "+") || is_op(cur(), "-")) {
      chain.link();
      const Token& t = next();
      left = binary(ExprKind::Binary, t.loc, std::move(left), parse_concat(), t.value);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr first = parse_math2();
    if (!is_op(cur(), "~")) return first;
    ExprPtr e = make(ExprKind::Concat, cur().loc);
    e->items.push_back(std::move(first));
    while (skip_op("~")) e->items.push_back(parse_math2());
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    Chain chain(*this);
    while (is_op(cur(), "*") || is_op(cur(), "/") || is_op(cur(), "//") || is_op(cur(), "%")) {
      chain.link();
      const Token& t = next();
      left = binary(ExprKind::Binary, t.loc, std::move(left), parse_pow(), t.value);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    Chain chain(*this);
    while (is_op(cur(), "**")) {
      chain.link();
      const Token& t = next();
      left = binary(ExprKind::Binary, t.loc, std::move(left), parse_unary(true), "**");
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    Nesting nesting(*this);
    ExprPtr node;
    if (is_op(cur(), "-") || is_op(cur(), "+")) {
      const Token& t = next();
      node = make(t.value == "-" ? ExprKind::Neg : ExprKind::Pos, t.loc);
      node->items.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    if (t.type == TokenType::Name) {
      next();
      ExprPtr e = make(ExprKind::Const, t.loc);
      if (t.value == "true" || t.value == "True") {
        e->value = Value(true);
      } else if (t.value == "false" || t.value == "False") {
        e->value = Value(false);
      } else if (t.value == "none" || t.value == "None") {
        e->value = Value::none();
      } else {
        e->kind = ExprKind::Name;
        e->name = t.value;
        for (auto& names : macro_names_) names.insert(t.value);
      }
      return e;
    }
    if (t.type == TokenType::String) {
      ExprPtr e = make(ExprKind::Const, t.loc);
      std::string s;
      while (cur().type == TokenType::String) s += next().value;
      e->value = Value(std::move(s));
      return e;
    }
    if (t.type == TokenType::Integer || t.type == TokenType::Float) {
      next();
      ExprPtr e = make(ExprKind::Const, t.loc);
      e->value = t.type == TokenType::Integer ? Value(t.int_value) : Value(t.float_value);
      return e;
    }
    if (is_op(t, "(")) {
      next();
      ExprPtr e = parse_tuple(false, true, nullptr, true);
      expect_op(")");
      return e;
    }
    if (is_op(t, "[")) return parse_list();
    if (is_op(t, "{")) return parse_dict();
    fail("unexpected " + describe_token(t));
  }

  ExprPtr parse_list() {
    ExprPtr e = make(ExprKind::List, expect_op("[").loc);
    while (!is_op(cur(), "]")) {
      if (!e->items.empty()) expect_op(",");
      if (is_op(cur(), "]")) break;
      e->items.push_back(parse_expression(true));
    }
    expect_op("]");
    return e;
  }

  ExprPtr parse_dict() {
    ExprPtr e = make(ExprKind::Dict, expect_op("{").loc);
    while (!is_op(cur(), "}")) {
      if (!e->items.empty()) expect_op(",");
      if (is_op(cur(), "}")) break;
      e->items.push_back(parse_expression(true));
      expect_op(":");
      e->items.push_back(parse_expression(true));
    }
    expect_op("}");
    return e;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    Chain chain(*this);
    while (true) {
      chain.link();
      if (is_op(cur(), ".") || is_op(cur(), "[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op(cur(), "(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    Chain chain(*this);
    while (true) {
      chain.link();
      if (is_op(cur(), "|")) {
        node = parse_filter(std::move(node), false);
      } else if (is_name(cur(), "is")) {
        node = parse_test(std::move(node));
      } else if (is_op(cur(), "(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& t = next();
    if (t.value == ".") {
      const Token& attr = next();
      if (attr.type == TokenType::Name) {
        ExprPtr e = make(ExprKind::GetAttr, attr.loc);
        e->name = attr.value;
        e->items.push_back(std::move(node));
        return e;
      }
      if (attr.type != TokenType::Integer) fail("expected name or number", attr.loc);
      ExprPtr e = make(ExprKind::GetItem, t.loc);
      ExprPtr index = make(ExprKind::Const, attr.loc);
      index->value = Value(attr.int_value);
      e->items.push_back(std::move(node));
      e->items.push_back(std::move(index));
      return e;
    }
    ExprPtr e = make(ExprKind::GetItem, t.loc);
    std::vector<ExprPtr> args;
    while (!is_op(cur(), "]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    e->items.push_back(std::move(node));
    if (args.size() == 1) {
      e->items.push_back(std::move(args[0]));
    } else {
      ExprPtr tuple = make(ExprKind::Tuple, t.loc);
      tuple->items = std::move(args);
      for (const auto& item : tuple->items)
        if (item->kind == ExprKind::Slice) fail("multi-dimensional slices are not supported");
      e->items.push_back(std::move(tuple));
    }
    return e;
  }

  ExprPtr parse_subscribed() {
    Location loc = cur().loc;
    std::vector<ExprPtr> args;
    if (skip_op(":")) {
      args.push_back(nullptr);
    } else {
      ExprPtr node = parse_expression(true);
      if (!skip_op(":")) return node;
      args.push_back(std::move(node));
    }
    auto bound_end = [&] { return is_op(cur(), "]") || is_op(cur(), ","); };
    if (is_op(cur(), ":")) {
      args.push_back(nullptr);
    } else {
      args.push_back(bound_end() ? nullptr : parse_expression(true));
    }
    if (skip_op(":")) {
      args.push_back(bound_end() ? nullptr : parse_expression(true));
    } else {
      args.push_back(nullptr);
    }
    ExprPtr e = make(ExprKind::Slice, loc);
    e->items = std::move(args);
    return e;
  }

  void parse_call_args(Expr& e) {
    Location loc = expect_op("(").loc;
    bool require_comma = false;
    while (!is_op(cur(), ")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(cur(), ")")) break;
      }
      if (is_op(cur(), "*") || is_op(cur(), "**"))
        fail("*args and **kwargs in calls are not supported");
      if (cur().type == TokenType::Name && is_op(look(), "=")) {
        std::string key = next().value;
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail("invalid syntax for function call expression", loc);
        e.items.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr node) {
    ExprPtr e = make(ExprKind::Call, node->loc);
    e->items.push_back(std::move(node));
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string name = expect(TokenType::Name, "a name").value;
    while (skip_op(".")) name += "." + expect(TokenType::Name, "a name").value;
    return name;
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    Chain chain(*this);
    while (is_op(cur(), "|") || start_inline) {
      chain.link();
      if (!start_inline) next();
      start_inline = false;
      Location loc = cur().loc;
      ExprPtr e = make(ExprKind::Filter, loc);
      e->name = dotted_name();
      e->filter = find_filter(e->name);
      e->items.push_back(std::move(node));
      if (is_op(cur(), "(")) parse_call_args(*e);
      node = std::move(e);
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    Location is_loc = next().loc;
    bool negated = skip_name("not");
    Location loc = cur().loc;
    ExprPtr e = make(ExprKind::Test, loc);
    e->name = dotted_name();
    e->test = find_test(e->name);
    e->items.push_back(std::move(node));
    const Token& t = cur();
    bool arg_start = t.type == TokenType::Name || t.type == TokenType::String ||
                     t.type == TokenType::Integer || t.type == TokenType::Float || is_op(t, "[") ||
                     is_op(t, "{");
    if (is_op(t, "(")) {
      parse_call_args(*e);
    } else if (arg_start && !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and")) {
      if (is_name(t, "is")) fail("You cannot chain multiple tests with is");
      e->items.push_back(parse_postfix(parse_primary()));
    }
    if (!negated) return e;
    ExprPtr n = make(ExprKind::Not, is_loc);
    n->items.push_back(std::move(e));
    return n;
  }
};

}  // namespace

Body parse_template(const std::string& source, const Options& options) {
  Body body = Parser(tokenize(source, options)).parse();
  check_names(body);
  return body;
}

}  // namespace llmtune::text::jinja
