// Checks filter and test names after parsing, where jinja2 3.x checks them: at compile time,
// except inside an `if` statement or an inline if-expression (a "soft frame"), where an unknown
// name fails only when evaluated.
#include <set>

#include "text/jinja/ast.h"

namespace llmtune::text::jinja {
namespace {

// Loop, macro, call, filter, with and set-block bodies are not soft, even inside an `if`.
class NameCheck {
 public:
  void body(const Body& nodes, bool soft) {
    for (const Node& n : nodes) node(n, soft);
  }

 private:
  void node(const Node& n, bool soft) {
    // Set-block and filter-block filters belong to the block's own frame; other expressions
    // (output, set, a loop's iterable, a call block's call, with values) to the enclosing one.
    bool own_frame = n.kind == NodeKind::SetBlock || n.kind == NodeKind::FilterBlock;
    if (n.expr) expr(*n.expr, soft && !own_frame);
    for (const auto& [cond, branch] : n.branches) {
      expr(*cond, true);
      body(branch, true);
    }
    if (n.condition) expr(*n.condition, false);
    for (const auto& [name, def] : n.params)
      if (def) expr(*def, soft && n.kind == NodeKind::With);
    body(n.body, false);
    body(n.else_body, n.kind == NodeKind::If);
  }

  void expr(const Expr& e, bool soft) {
    if (e.kind == ExprKind::CondExpr) soft = true;
    if (!soft && e.kind == ExprKind::Filter && !e.filter) unknown("filter", e);
    if (!soft && e.kind == ExprKind::Test && !e.test) unknown("test", e);
    for (const auto& item : e.items)
      if (item) expr(*item, soft);
    for (const auto& [name, value] : e.kwargs) expr(*value, soft);
  }

  [[noreturn]] static void unknown(const char* what, const Expr& e) {
    throw_template_error(str("No ", what, " named '", e.name, "'.", unsupported_note(what, e.name)),
                         e.loc);
  }
};

}  // namespace

std::string unsupported_note(const std::string& what, const std::string& name) {
  static const std::set<std::string> kJinjaFilters = {
      "filesizeformat", "groupby",   "pprint", "random",   "slice",  "striptags",
      "truncate",       "urlencode", "urlize", "wordwrap", "xmlattr"};
  if (what == "filter" && kJinjaFilters.count(name))
    return " (jinja2 has it; this interpreter does not implement it)";
  return "";
}

void check_names(const Body& body) {
  NameCheck().body(body, false);
}

}  // namespace llmtune::text::jinja
