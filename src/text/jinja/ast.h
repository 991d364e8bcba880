// The syntax tree the parser builds and the renderer walks: expressions and statements as
// jinja2.nodes has them, reduced to the subset chat templates use.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/lexer.h"
#include "text/jinja/value.h"

namespace llmtune::text::jinja {

// A filter (`x|trim`) or test (`x is defined`) implementation; resolved when parsing, so an
// unknown name is a syntax error as in jinja2.
using FilterFn = Value (*)(Renderer& r, const Value& input, CallArgs& args);
using TestFn = bool (*)(Renderer& r, const Value& input, CallArgs& args);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  Const,     // value
  Name,      // name
  List,      // items
  Tuple,     // items
  Dict,      // items: key, value, key, value, ...
  GetAttr,   // items[0].name
  GetItem,   // items[0][items[1]]; items[1] may be a Slice
  Slice,     // items[0]:items[1]:items[2] inside a subscript, each bound may be null
  Call,      // items[0](items[1..], kwargs)
  Filter,    // items[0]|name(items[1..], kwargs); items[0] null in {% filter %} / {% set %} blocks
  Test,      // items[0] is name(items[1..], kwargs)
  Neg,       // -items[0]
  Pos,       // +items[0]
  Not,       // not items[0]
  Binary,    // items[0] name items[1], name one of + - * / // % **
  Concat,    // items[0] ~ items[1] ~ ...
  Compare,   // items[0] ops[0] items[1] ops[1] items[2] ... (chained as in Python)
  And,       // items[0] and items[1]
  Or,        // items[0] or items[1]
  CondExpr,  // items[1] if items[0] else items[2]; items[2] may be null
};

struct Expr {
  ExprKind kind;
  Location loc;
  Value value;
  std::string name;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  FilterFn filter = nullptr;
  TestFn test = nullptr;
};

// What `set` and `for` assign to: a name, `ns.attr`, or a (nested) tuple of targets.
struct Target {
  std::string name;
  std::string attr;  // non-empty: namespace attribute assignment
  std::vector<Target> items;
  bool is_tuple = false;
  Location loc;
};

struct Node;
using Body = std::vector<Node>;

enum class NodeKind {
  Text,         // text
  Output,       // {{ expr }}
  If,           // branches: (condition, body) ...; else_body
  For,          // for target in expr [if condition]: body; else_body
  Set,          // set target = expr
  SetBlock,     // set target [| filters] %}body{% endset; expr is the filter chain or null
  Break,        //
  Continue,     //
  Macro,        // macro name(params) %}body{% endmacro
  CallBlock,    // call[(params)] expr %}body{% endcall
  FilterBlock,  // filter expr %}body{% endfilter
  With,         // with targets = values %}body{% endwith
};

struct Node {
  Node(NodeKind k, Location l) : kind(k), loc(l) {}
  NodeKind kind;
  Location loc;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;
  Target target;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  // Macro and call-block parameters (name, default or null); With assignments.
  std::vector<std::pair<std::string, ExprPtr>> params;
  // Macro: whether the body names varargs, kwargs and caller (jinja2 accepts extra
  // arguments and a call block only then).
  bool uses_varargs = false, uses_kwargs = false, uses_caller = false;
};

// Parses a normalized template source into its statement list.
Body parse_template(const std::string& source, const Options& options);

// Fails, as jinja2's compiler does, for unknown filter and test names outside `if` statements
// and inline if-expressions (name_check.cpp).
void check_names(const Body& body);

// " (jinja2 has it; ...)" for jinja2 builtins this interpreter lacks, else "".
std::string unsupported_note(const std::string& what, const std::string& name);

// Filter and test tables (builtins.cpp); null for unknown names.
FilterFn find_filter(const std::string& name);
TestFn find_test(const std::string& name);

}  // namespace llmtune::text::jinja
