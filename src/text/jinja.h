// A Jinja2 interpreter for the subset that chat templates in tokenizer_config.json use,
// rendering exactly what Transformers' environment renders: jinja2's
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
// with the globals raise_exception(message) and strftime_now(format), and Transformers' tojson
// filter (json.dumps with ensure_ascii=False; indent, separators and sort_keys arguments).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/error.h"

namespace llmtune::text::jinja {

// The template uses something this interpreter does not implement, or is malformed. The
// message names the template's line and column and the construct.
class TemplateError : public Error {
 public:
  TemplateError(const std::string& message, int line, int column)
      : Error(message), line_(line), column_(column) {}
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  int line_, column_;
};

// The template called raise_exception(message): it rejects the input (a conversation whose
// roles it does not accept, for instance). what() is the template's own message.
class TemplateRaised : public Error {
 public:
  explicit TemplateRaised(const std::string& message) : Error(message) {}
};

struct Options {
  bool trim_blocks = true;    // drop the first newline after a block tag
  bool lstrip_blocks = true;  // strip spaces and tabs before a block tag at the start of a line
};

class Template {
 public:
  // Parses `source`; throws TemplateError (with line and column) for syntax the subset lacks.
  explicit Template(std::string_view source, const Options& options = {});
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders with `context` as the template's variables (an object; ordered, so dicts keep the
  // insertion order Python would). Throws TemplateRaised from raise_exception and TemplateError
  // for runtime errors (an undefined method, a type error), with the line and column.
  std::string render(const nlohmann::ordered_json& context) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmtune::text::jinja
