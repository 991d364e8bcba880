// The Jinja lexer: splits a template into text and the tokens inside {{ }}, {% %} tags, applying
// whitespace control ({%- -%}, {%+ +%}) and trim_blocks / lstrip_blocks exactly as jinja2's
// regular-expression lexer does. Comments are dropped; {% raw %} bodies come out as text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/jinja.h"

namespace llmtune::text::jinja {

// 1-based line and column (in code points) in the template source.
struct Location {
  int line = 0;
  int column = 0;
};

// Throws TemplateError whose message starts with "line L, column C: ".
[[noreturn]] void throw_template_error(const std::string& message, Location loc);

enum class TokenType {
  Data,
  VariableBegin,
  VariableEnd,
  BlockBegin,
  BlockEnd,
  Name,
  String,
  Integer,
  Float,
  Operator,
  Eof,
};

struct Token {
  TokenType type = TokenType::Eof;
  std::string value;  // text, name, decoded string or operator spelling
  int64_t int_value = 0;
  double float_value = 0;
  Location loc;
};

// jinja2 reads templates with universal newlines and drops one trailing newline
// (keep_trailing_newline=False); tokenize expects the source in that form.
std::string normalize_source(std::string_view source);

std::vector<Token> tokenize(const std::string& source, const Options& options);

// "string", "name 'x'", "'%}'" — how error messages name a token.
std::string describe_token(const Token& token);

}  // namespace llmtune::text::jinja
