// Walks a parsed template: evaluates expressions with Python's semantics and executes
// statements with jinja2's scoping (a for loop's body gets a fresh scope per iteration, `if`
// gets none, macros see their parameters and the template's top level).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "text/jinja/ast.h"

namespace llmtune::text::jinja {

class Renderer {
 public:
  // `context`: the template's variables, a dict.
  explicit Renderer(Value context);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  void render(const Body& body, std::string& out);

  Value eval(const Expr& e);
  // Calls a callable value; Undefined fails with its message, other values are not callable.
  Value call(const Value& fn, CallArgs& args);
  // Filters and tests by name, for map('upper'), select('odd') and the like.
  Value call_filter(const std::string& name, const Value& input, CallArgs& args);
  bool call_test(const std::string& name, const Value& input, CallArgs& args);
  // namespace() made `ns` while rendering: its attributes are cleared when the renderer ends,
  // since a template may make one hold itself ({% set ns.self = ns %}), a cycle that reference
  // counting alone never frees.
  void adopt(const std::shared_ptr<Namespace>& ns) { namespaces_.push_back(ns); }

 private:
  enum class Flow { Normal, Break, Continue };
  struct Frame {
    std::unordered_map<std::string, Value> vars;
    int parent;  // the frame lookups continue in: the one below, or a macro's defining frame
  };
  class FrameGuard;

  Value context_;
  std::vector<Frame> frames_;
  int call_depth_ = 0;  // nested macro and caller() calls
  std::vector<std::weak_ptr<Namespace>> namespaces_;

  Flow exec(const Body& body, std::string& out);
  Flow exec_node(const Node& n, std::string& out);
  Flow exec_for(const Node& n, std::string& out);
  void exec_set(const Node& n, std::string& out);
  void exec_with(const Node& n, std::string& out);
  void define_macro(const Node& n);
  Value call_macro(const Node& n, CallArgs& args, const Value& caller);
  Value make_caller(const Node& call_block);

  Value eval_impl(const Expr& e);
  Value eval_subscript(const Expr& e);
  Value eval_call(const Expr& e);
  Value eval_filter(const Expr& e, const Value* block_input);
  CallArgs eval_args(const Expr& e, size_t first);

  Value lookup(const std::string& name) const;
  void assign(const Target& target, const Value& value);
  void set_var(const std::string& name, Value value);
};

// The globals Transformers' environment has: raise_exception, strftime_now, and jinja2's
// range, dict and namespace.
const Value* find_global(const std::string& name);

}  // namespace llmtune::text::jinja
