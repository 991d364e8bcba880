#include "text/jinja/lexer.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include "text/jinja/pystr.h"

namespace llmtune::text::jinja {

void throw_template_error(const std::string& message, Location loc) {
  throw TemplateError(str("line ", loc.line, ", column ", loc.column, ": ", message), loc.line,
                      loc.column);
}

std::string normalize_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string describe_token(const Token& token) {
  switch (token.type) {
    case TokenType::Data:
      return "template data";
    case TokenType::VariableBegin:
      return "begin of print statement";
    case TokenType::VariableEnd:
      return "end of print statement";
    case TokenType::BlockBegin:
      return "begin of statement block";
    case TokenType::BlockEnd:
      return "end of statement block";
    case TokenType::Name:
      return "name '" + token.value + "'";
    case TokenType::String:
      return "string";
    case TokenType::Integer:
      return "integer";
    case TokenType::Float:
      return "float";
    case TokenType::Operator:
      return "'" + token.value + "'";
    case TokenType::Eof:
      return "end of template";
  }
  return "token";
}

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

// Python's "unicode-escape" decoding of a string literal's body, as jinja2 applies it.
std::string decode_string(std::string_view raw, Location loc) {
  std::string out;
  std::u32string u = utf8_decode(raw);
  auto hex = [&](size_t& i, int digits, const char* what) {
    char32_t v = 0;
    for (int k = 0; k < digits; ++k, ++i) {
      if (i >= u.size() || !std::isxdigit(int(u[i] < 0x80 ? u[i] : 0)))
        throw_template_error(str("truncated ", what, " escape"), loc);
      char c = char(u[i]);
      v = v * 16 + char32_t(is_digit(c) ? c - '0' : (std::tolower(c) - 'a' + 10));
    }
    return v;
  };
  for (size_t i = 0; i < u.size();) {
    char32_t c = u[i++];
    if (c != '\\' || i >= u.size()) {
      utf8_append(out, c);
      continue;
    }
    char32_t e = u[i++];
    switch (e) {
      case '\n':
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x':
        utf8_append(out, hex(i, 2, "\\xXX"));
        break;
      case 'u':
        utf8_append(out, hex(i, 4, "\\uXXXX"));
        break;
      case 'U': {
        char32_t v = hex(i, 8, "\\UXXXXXXXX");
        if (v > 0x10ffff) throw_template_error("illegal Unicode character", loc);
        utf8_append(out, v);
        break;
      }
      case 'N':
        throw_template_error("\\N{...} escapes are not supported", loc);
      default:
        if (e >= '0' && e <= '7') {
          char32_t v = e - '0';
          for (int k = 0; k < 2 && i < u.size() && u[i] >= '0' && u[i] <= '7'; ++k)
            v = v * 8 + (u[i++] - '0');
          utf8_append(out, v);
        } else if (e < 0x80) {
          out.push_back('\\');
          out.push_back(char(e));
        } else {
          // jinja2 first turns non-ASCII characters into \x.. / \u.. text.
          char buf[16];
          const char* fmt = e <= 0xff ? "\\x%02x" : e <= 0xffff ? "\\u%04x" : "\\U%08x";
          std::snprintf(buf, sizeof buf, fmt, unsigned(e));
          out += "\\";
          out += buf;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  Lexer(const std::string& src, const Options& options) : src_(src), options_(options) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src.size(); ++i)
      if (src[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    while (pos_ < src_.size()) lex_root();
    Token eof;
    eof.type = TokenType::Eof;
    eof.loc = location(src_.size());
    tokens_.push_back(eof);
    return std::move(tokens_);
  }

 private:
  const std::string& src_;
  Options options_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  size_t last_offset_ = 0;
  Location last_loc_;

  // Tokens come in source order, so the column is counted on from the previous token's.
  Location location(size_t offset) {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = size_t(it - line_starts_.begin());
    size_t start = line_starts_[line - 1];
    if (int(line) != last_loc_.line || offset < last_offset_) {
      last_offset_ = start;
      last_loc_ = {int(line), 1};
    }
    last_loc_.column +=
        int(utf8_length(std::string_view(src_).substr(last_offset_, offset - last_offset_)));
    last_offset_ = offset;
    return last_loc_;
  }

  bool at(size_t p, const char* s) const {
    size_t n = std::strlen(s);
    return p + n <= src_.size() && src_.compare(p, n, s) == 0;
  }

  // Length of the Python-\s character at p, or 0.
  size_t space_at(size_t p) const {
    if (p >= src_.size()) return 0;
    unsigned char c = src_[p];
    if (c < 0x80) return py_isspace(c) ? 1 : 0;
    size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    std::u32string u = utf8_decode(std::string_view(src_).substr(p, len));
    return u.size() == 1 && py_isspace(u[0]) ? len : 0;
  }
  size_t skip_space(size_t p) const {
    while (size_t n = space_at(p)) p += n;
    return p;
  }

  void push(TokenType type, std::string value, size_t offset) {
    Token t;
    t.type = type;
    t.value = std::move(value);
    t.loc = location(offset);
    tokens_.push_back(std::move(t));
  }

  // Whitespace control for the text before a tag: '-' strips all trailing whitespace; with
  // lstrip_blocks, a block or comment tag alone on its line takes the indentation with it.
  std::string_view strip_text(std::string_view text, char sign, bool is_variable) const {
    if (sign == '-') {
      size_t end = text.size();
      while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && (static_cast<unsigned char>(text[start]) >> 6) == 2) --start;
        std::u32string u = utf8_decode(text.substr(start, end - start));
        if (u.size() != 1 || !py_isspace(u[0])) break;
        end = start;
      }
      return text.substr(0, end);
    }
    if (sign == '+' || !options_.lstrip_blocks || is_variable) return text;
    size_t nl = text.rfind('\n');
    size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
    if (l_pos == 0 && !line_starting_) return text;
    std::string_view tail = text.substr(l_pos);
    if (tail.empty()) return text;
    for (char32_t c : utf8_decode(tail))
      if (!py_isspace(c)) return text;
    return text.substr(0, l_pos);
  }

  void emit_data(std::string_view text, size_t offset) {
    if (!text.empty()) push(TokenType::Data, std::string(text), offset);
  }

  void lex_root() {
    size_t tag = pos_;
    while ((tag = src_.find('{', tag)) != std::string::npos) {
      if (tag + 1 < src_.size() && std::strchr("{%#", src_[tag + 1])) break;
      ++tag;
    }
    if (tag == std::string::npos) {
      emit_data(std::string_view(src_).substr(pos_), pos_);
      pos_ = src_.size();
      return;
    }
    char kind = src_[tag + 1];
    size_t p = tag + 2;
    char sign = 0;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
    size_t raw_end = kind == '%' ? match_raw_begin(p) : 0;
    std::string_view text = std::string_view(src_).substr(pos_, tag - pos_);
    emit_data(strip_text(text, sign, kind == '{'), pos_);
    if (raw_end) {
      line_starting_ = src_[raw_end - 1] == '\n';
      lex_raw(raw_end, tag);
    } else if (kind == '#') {
      lex_comment(p, tag);
    } else {
      push(kind == '{' ? TokenType::VariableBegin : TokenType::BlockBegin, "", tag);
      pos_ = p;
      line_starting_ = false;
      lex_tag(kind == '%', tag);
    }
  }

  // `\s*raw\s*(?:-%}\s*|%})` at p: the end of the {% raw %} tag, or 0.
  size_t match_raw_begin(size_t p) const {
    p = skip_space(p);
    if (!at(p, "raw")) return 0;
    p = skip_space(p + 3);
    if (at(p, "-%}")) return skip_space(p + 3);
    if (at(p, "%}")) return p + 2;
    return 0;
  }

  // Block end at p: "+%}", "-%}" with following whitespace, or "%}" with trim_blocks' newline.
  size_t match_block_end(size_t p) const {
    if (at(p, "+%}")) return p + 3;
    if (at(p, "-%}")) return skip_space(p + 3);
    if (at(p, "%}")) {
      p += 2;
      if (options_.trim_blocks && p < src_.size() && src_[p] == '\n') ++p;
      return p;
    }
    return 0;
  }

  void lex_raw(size_t body, size_t tag) {
    for (size_t r = src_.find("{%", body); r != std::string::npos; r = src_.find("{%", r + 1)) {
      size_t p = r + 2;
      char sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      p = skip_space(p);
      if (!at(p, "endraw")) continue;
      size_t end = match_block_end(skip_space(p + 6));
      if (!end) continue;
      emit_data(strip_text(std::string_view(src_).substr(body, r - body), sign, false), body);
      pos_ = end;
      line_starting_ = src_[end - 1] == '\n';
      return;
    }
    throw_template_error("Missing end of raw directive", location(tag));
  }

  void lex_comment(size_t p, size_t tag) {
    size_t q = src_.find("#}", p);
    if (q == std::string::npos) throw_template_error("Missing end of comment tag", location(tag));
    char sign = q > p ? src_[q - 1] : 0;
    size_t end = q + 2;
    if (sign == '-') {
      end = skip_space(end);
    } else if (sign != '+' && options_.trim_blocks && end < src_.size() && src_[end] == '\n') {
      ++end;
    }
    pos_ = end;
    line_starting_ = src_[end - 1] == '\n';
  }

  void lex_tag(bool block, size_t tag) {
    std::vector<char> balance;
    const char* what = block ? "'%}'" : "'}}'";
    while (true) {
      if (pos_ >= src_.size())
        throw_template_error(
            str("unexpected end of template: the tag opened here lacks its ", what), location(tag));
      if (balance.empty()) {
        size_t end = 0;
        if (block) {
          end = match_block_end(pos_);
        } else if (at(pos_, "-}}")) {
          end = skip_space(pos_ + 3);
        } else if (at(pos_, "}}")) {
          end = pos_ + 2;
        }
        if (end) {
          push(block ? TokenType::BlockEnd : TokenType::VariableEnd, "", pos_);
          pos_ = end;
          line_starting_ = src_[end - 1] == '\n';
          return;
        }
      }
      if (size_t ws = skip_space(pos_); ws != pos_) {
        pos_ = ws;
        continue;
      }
      lex_token(balance);
    }
  }

  // `(\d+_)*\d+` at p: its end, or 0.
  size_t match_digits(size_t p) const {
    if (p >= src_.size() || !is_digit(src_[p])) return 0;
    while (true) {
      while (p < src_.size() && is_digit(src_[p])) ++p;
      if (p + 1 < src_.size() && src_[p] == '_' && is_digit(src_[p + 1])) {
        ++p;
        continue;
      }
      return p;
    }
  }

  // jinja2's float_re: digits with a fraction, an exponent or both; not after a '.'.
  size_t match_float(size_t p) const {
    if (p > 0 && src_[p - 1] == '.') return 0;
    size_t m = match_digits(p);
    if (!m) return 0;
    auto exponent = [&](size_t q) -> size_t {
      if (q >= src_.size() || (src_[q] != 'e' && src_[q] != 'E')) return 0;
      ++q;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      return match_digits(q);
    };
    size_t frac = m < src_.size() && src_[m] == '.' ? match_digits(m + 1) : 0;
    if (frac) {
      if (size_t e = exponent(frac)) return e;
      return frac;
    }
    return exponent(m);
  }

  // jinja2's integer_re (binary, octal, hex, decimal, zeros).
  size_t match_integer(size_t p) const {
    auto run = [&](size_t q, auto ok) -> size_t {
      size_t start = q;
      while (q < src_.size()) {
        if (ok(src_[q])) {
          ++q;
        } else if (src_[q] == '_' && q + 1 < src_.size() && ok(src_[q + 1])) {
          q += 2;
        } else {
          break;
        }
      }
      return q == start ? 0 : q;
    };
    if (src_[p] == '0' && p + 1 < src_.size()) {
      char x = char(std::tolower(static_cast<unsigned char>(src_[p + 1])));
      size_t end = 0;
      if (x == 'b') end = run(p + 2, [](char c) { return c == '0' || c == '1'; });
      if (x == 'o') end = run(p + 2, [](char c) { return c >= '0' && c <= '7'; });
      if (x == 'x')
        end = run(p + 2, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
      if (end) return end;
    }
    if (src_[p] == '0') return run(p, [](char c) { return c == '0'; });
    if (src_[p] >= '1' && src_[p] <= '9') return run(p, is_digit);
    return 0;
  }

  void lex_number(size_t end, bool is_float) {
    std::string text;
    for (size_t i = pos_; i < end; ++i)
      if (src_[i] != '_') text.push_back(src_[i]);
    Token t;
    t.loc = location(pos_);
    if (is_float) {
      t.type = TokenType::Float;
      t.float_value = std::strtod(text.c_str(), nullptr);
    } else {
      t.type = TokenType::Integer;
      int base = 10;
      std::string_view digits = text;
      if (text.size() > 1 && text[0] == '0' && std::isalpha(static_cast<unsigned char>(text[1]))) {
        char x = char(std::tolower(static_cast<unsigned char>(text[1])));
        base = x == 'b' ? 2 : x == 'o' ? 8 : 16;
        digits.remove_prefix(2);
      }
      auto res = std::from_chars(digits.data(), digits.data() + digits.size(), t.int_value, base);
      if (res.ec != std::errc())
        throw_template_error("integer literal " + text + " does not fit 64 bits", t.loc);
    }
    t.value = std::string(src_.substr(pos_, end - pos_));
    tokens_.push_back(std::move(t));
    pos_ = end;
  }

  void lex_token(std::vector<char>& balance) {
    char c = src_[pos_];
    if (size_t end = match_float(pos_)) return lex_number(end, true);
    if (size_t end = is_digit(c) ? match_integer(pos_) : 0) return lex_number(end, false);
    if (is_name_start(c)) {
      size_t end = pos_;
      while (end < src_.size() && is_name_char(src_[end])) ++end;
      push(TokenType::Name, src_.substr(pos_, end - pos_), pos_);
      pos_ = end;
      return;
    }
    if (c == '\'' || c == '"') return lex_string(c);
    lex_operator(balance);
  }

  void lex_string(char quote) {
    size_t p = pos_ + 1;
    while (p < src_.size() && src_[p] != quote) p += src_[p] == '\\' ? 2 : 1;
    if (p >= src_.size()) throw_template_error("unterminated string literal", location(pos_));
    Location loc = location(pos_);
    Token t;
    t.type = TokenType::String;
    t.loc = loc;
    t.value = decode_string(std::string_view(src_).substr(pos_ + 1, p - pos_ - 1), loc);
    tokens_.push_back(std::move(t));
    pos_ = p + 1;
  }

  void lex_operator(std::vector<char>& balance) {
    static const char* kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : kTwo) {
      if (at(pos_, op)) {
        push(TokenType::Operator, op, pos_);
        pos_ += 2;
        return;
      }
    }
    char c = src_[pos_];
    if (!std::strchr("+-/*%~[](){}><=.:|,;", c) || c == 0) {
      std::u32string u = utf8_decode(std::string_view(src_).substr(pos_, 4));
      std::string ch;
      utf8_append(ch, u.empty() ? U'?' : u[0]);
      throw_template_error("unexpected char '" + ch + "'", location(pos_));
    }
    if (c == '{' || c == '(' || c == '[') {
      balance.push_back(c == '{' ? '}' : c == '(' ? ')' : ']');
    } else if (c == '}' || c == ')' || c == ']') {
      if (balance.empty()) throw_template_error(str("unexpected '", c, "'"), location(pos_));
      char expected = balance.back();
      balance.pop_back();
      if (expected != c)
        throw_template_error(str("unexpected '", c, "', expected '", expected, "'"),
                             location(pos_));
    }
    push(TokenType::Operator, std::string(1, c), pos_);
    ++pos_;
  }
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const Options& options) {
  return Lexer(source, options).run();
}

}  // namespace llmtune::text::jinja
