#include "eval/sql_match.h"

#include <string_view>
#include <vector>

namespace llmtune::eval {

namespace {

bool is_sql_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_word_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_word_char(char c) {
  return is_word_start(c) || is_digit(c) || c == '$';
}

std::string upper_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// The quoted text starting at sql[*i] (a quote character `open`, closed by `close`, which is
// escaped by doubling it unless `close` is ']'), advancing *i past it. Returns the content with
// escapes undone, or nothing when the quote is never closed (then *i is at the end).
bool read_quoted(std::string_view sql, size_t* i, char close, std::string* content) {
  const bool doubling = close != ']';
  for (size_t k = *i + 1; k < sql.size(); ++k) {
    if (sql[k] != close) {
      content->push_back(sql[k]);
    } else if (doubling && k + 1 < sql.size() && sql[k + 1] == close) {
      content->push_back(close);
      ++k;
    } else {
      *i = k + 1;
      return true;
    }
  }
  *i = sql.size();
  return false;
}

std::string quote(std::string_view content, char q) {
  std::string out(1, q);
  for (char c : content) {
    out.push_back(c);
    if (c == q) out.push_back(q);
  }
  out.push_back(q);
  return out;
}

size_t number_end(std::string_view sql, size_t i) {
  if (sql[i] == '0' && i + 2 < sql.size() && (sql[i + 1] == 'x' || sql[i + 1] == 'X') &&
      is_hex_digit(sql[i + 2])) {
    i += 2;
    while (i < sql.size() && is_hex_digit(sql[i])) ++i;
    return i;
  }
  while (i < sql.size() && is_digit(sql[i])) ++i;
  if (i < sql.size() && sql[i] == '.') {
    ++i;
    while (i < sql.size() && is_digit(sql[i])) ++i;
  }
  if (i < sql.size() && (sql[i] == 'e' || sql[i] == 'E')) {
    size_t k = i + 1;
    if (k < sql.size() && (sql[k] == '+' || sql[k] == '-')) ++k;
    if (k < sql.size() && is_digit(sql[k])) {
      i = k;
      while (i < sql.size() && is_digit(sql[i])) ++i;
    }
  }
  return i;
}

std::vector<std::string> sql_tokens(std::string_view sql) {
  static constexpr std::string_view kTwoCharOperators[] = {
      "<=", ">=", "<>", "!=", "==", "||", "<<", ">>"};
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    const size_t start = i;
    if (is_sql_space(c)) {
      ++i;
    } else if (c == '\'' || c == '"' || c == '`' || c == '[') {
      const char close = c == '[' ? ']' : c;
      std::string content;
      if (!read_quoted(sql, &i, close, &content)) {
        tokens.emplace_back(sql.substr(start));
      } else if (c == '\'' || c == '"') {
        tokens.push_back(quote(content, '\''));
      } else {
        tokens.push_back(quote(upper_ascii(content), '`'));
      }
    } else if (is_digit(c) || (c == '.' && i + 1 < sql.size() && is_digit(sql[i + 1]))) {
      i = number_end(sql, i);
      tokens.push_back(upper_ascii(sql.substr(start, i - start)));
    } else if (is_word_start(c)) {
      while (i < sql.size() && is_word_char(sql[i])) ++i;
      tokens.push_back(upper_ascii(sql.substr(start, i - start)));
    } else {
      i += 1;
      for (std::string_view op : kTwoCharOperators) {
        if (sql.substr(start, 2) == op) i = start + 2;
      }
      tokens.emplace_back(sql.substr(start, i - start));
    }
  }
  return tokens;
}

}  // namespace

std::string normalize_sql(const std::string& sql) {
  std::vector<std::string> tokens = sql_tokens(sql);
  while (!tokens.empty() && tokens.back() == ";") tokens.pop_back();
  std::string out;
  for (const std::string& t : tokens) {
    if (!out.empty()) out.push_back(' ');
    out += t;
  }
  return out;
}

bool sql_exact_match(const std::string& prediction, const std::string& reference) {
  return normalize_sql(prediction) == normalize_sql(reference);
}

}  // namespace llmtune::eval
