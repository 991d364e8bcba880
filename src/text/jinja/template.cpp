// The public face of the interpreter (text/jinja.h): parse once, render many times.
#include "text/jinja.h"

#include "text/jinja/ast.h"
#include "text/jinja/renderer.h"

namespace llmtune::text::jinja {

struct Template::Impl {
  std::string source;  // normalized; the parsed nodes' text refers to nothing else
  Body body;
};

Template::Template(std::string_view source, const Options& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->source = normalize_source(source);
  impl_->body = parse_template(impl_->source, options);
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const nlohmann::ordered_json& context) const {
  if (!context.is_object())
    throw Error("chat template context must be a JSON object, got " +
                std::string(context.type_name()));
  RenderBudget budget;
  Value variables;
  try {
    variables = from_json(context);
  } catch (const Failure& f) {
    throw Error("chat template context: " + f.message);
  }
  Renderer renderer(std::move(variables));
  std::string out;
  renderer.render(impl_->body, out);
  return out;
}

}  // namespace llmtune::text::jinja
