#include "text/jinja/pystr.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "text/jinja/budget.h"

namespace llmtune::text::jinja {

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc >> 6) != 2) ok = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (!ok) {
      out.push_back(c);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void utf8_append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(char(c));
  } else if (c < 0x800) {
    out.push_back(char(0xc0 | (c >> 6)));
    out.push_back(char(0x80 | (c & 0x3f)));
  } else if (c < 0x10000) {
    out.push_back(char(0xe0 | (c >> 12)));
    out.push_back(char(0x80 | ((c >> 6) & 0x3f)));
    out.push_back(char(0x80 | (c & 0x3f)));
  } else {
    out.push_back(char(0xf0 | (c >> 18)));
    out.push_back(char(0x80 | ((c >> 12) & 0x3f)));
    out.push_back(char(0x80 | ((c >> 6) & 0x3f)));
    out.push_back(char(0x80 | (c & 0x3f)));
  }
}

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) utf8_append(out, c);
  return out;
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

int64_t utf8_length(std::string_view s) {
  if (is_ascii(s)) return int64_t(s.size());
  return int64_t(utf8_decode(s).size());
}

bool py_isspace(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
         c == 0x205f || c == 0x3000;
}

bool py_islinebreak(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || (c >= 0x1c && c <= 0x1e) ||
         c == 0x85 || c == 0x2028 || c == 0x2029;
}

bool py_isprintable(char32_t c) {
  if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c == 0xad) return false;
  if ((c >= 0x600 && c <= 0x605) || c == 0x61c || c == 0x6dd || c == 0x70f || c == 0x180e)
    return false;
  if (c == 0x1680 || (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f)) return false;
  if ((c >= 0x205f && c <= 0x2064) || (c >= 0x2066 && c <= 0x206f) || c == 0x3000) return false;
  if ((c >= 0xd800 && c <= 0xf8ff) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb)) return false;
  if (c == 0xfffe || c == 0xffff || c == 0xe0001 || (c >= 0xe0020 && c <= 0xe007f)) return false;
  return c < 0xf0000;
}

namespace {

// Simple (one-to-one) case pairs for the scripts chat data mostly uses: Latin, Greek, Cyrillic,
// Armenian, fullwidth Latin. `upper` true maps lower to upper.
char32_t map_case(char32_t c, bool upper) {
  auto pair_even = [&](char32_t lo, char32_t hi) -> std::optional<char32_t> {
    if (c < lo || c > hi) return std::nullopt;
    bool is_upper = ((c - lo) % 2) == 0;
    if (upper) return is_upper ? c : c - 1;
    return is_upper ? c + 1 : c;
  };
  if (c < 0x80) {
    if (upper && c >= 'a' && c <= 'z') return c - 32;
    if (!upper && c >= 'A' && c <= 'Z') return c + 32;
    return c;
  }
  if (c >= 0xc0 && c <= 0xde && c != 0xd7) return upper ? c : c + 0x20;
  if (c >= 0xe0 && c <= 0xfe && c != 0xf7) return upper ? c - 0x20 : c;
  if (c == 0xff) return upper ? 0x178 : c;
  if (c == 0x178) return upper ? c : 0xff;
  if (c == 0xb5) return upper ? 0x39c : c;
  if (c == 0x131) return upper ? 'I' : c;
  if (c == 0x17f) return upper ? 'S' : c;
  for (auto [lo, hi] : {std::pair<char32_t, char32_t>{0x100, 0x12f},
                        {0x132, 0x137},
                        {0x14a, 0x177},
                        {0x1e00, 0x1e95},
                        {0x1ea0, 0x1eff},
                        {0x460, 0x481},
                        {0x48a, 0x4bf},
                        {0x4d0, 0x52f}}) {
    if (auto r = pair_even(lo, hi)) return *r;
  }
  for (auto [lo, hi] :
       {std::pair<char32_t, char32_t>{0x139, 0x148}, {0x179, 0x17e}, {0x4c1, 0x4ce}}) {
    if (c >= lo && c <= hi) {
      bool is_upper = ((c - lo) % 2) == 0;
      if (upper) return is_upper ? c : c - 1;
      return is_upper ? c + 1 : c;
    }
  }
  if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return upper ? c : c + 0x20;
  if (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) return upper ? c - 0x20 : c;
  if (c == 0x3c2) return upper ? 0x3a3 : c;
  if (c == 0x386) return upper ? c : 0x3ac;
  if (c == 0x3ac) return upper ? 0x386 : c;
  if (c >= 0x388 && c <= 0x38a) return upper ? c : c + 0x25;
  if (c >= 0x3ad && c <= 0x3af) return upper ? c - 0x25 : c;
  if (c == 0x38c) return upper ? c : 0x3cc;
  if (c == 0x3cc) return upper ? 0x38c : c;
  if (c == 0x38e || c == 0x38f) return upper ? c : c + 0x3f;
  if (c == 0x3cd || c == 0x3ce) return upper ? c - 0x3f : c;
  if (c >= 0x410 && c <= 0x42f) return upper ? c : c + 0x20;
  if (c >= 0x430 && c <= 0x44f) return upper ? c - 0x20 : c;
  if (c >= 0x400 && c <= 0x40f) return upper ? c : c + 0x50;
  if (c >= 0x450 && c <= 0x45f) return upper ? c - 0x50 : c;
  if (c == 0x4c0) return upper ? c : 0x4cf;
  if (c == 0x4cf) return upper ? 0x4c0 : c;
  if (c >= 0x531 && c <= 0x556) return upper ? c : c + 0x30;
  if (c >= 0x561 && c <= 0x586) return upper ? c - 0x30 : c;
  if (c >= 0xff21 && c <= 0xff3a) return upper ? c : c + 0x20;
  if (c >= 0xff41 && c <= 0xff5a) return upper ? c - 0x20 : c;
  if (c == 0x1e9e) return upper ? c : 0xdf;
  return c;
}

void append_upper(std::u32string& out, char32_t c) {
  if (c == 0xdf) {
    out += U"SS";
  } else if (c == 0x149) {
    out += U"\u02bcN";
  } else {
    out.push_back(map_case(c, true));
  }
}

void append_title(std::u32string& out, char32_t c) {
  if (c == 0xdf) {
    out += U"Ss";
  } else if (c == 0x149) {
    out += U"\u02bcN";
  } else {
    out.push_back(map_case(c, true));
  }
}

// Appends lower(s[i]), with Python's final-sigma rule for capital sigma.
void append_lower(std::u32string& out, const std::u32string& s, size_t i) {
  char32_t c = s[i];
  if (c == 0x130) {
    out += U"i\u0307";
  } else if (c == 0x3a3) {
    bool before = i > 0 && py_iscased(s[i - 1]);
    bool after = i + 1 < s.size() && py_iscased(s[i + 1]);
    out.push_back(before && !after ? char32_t(0x3c2) : char32_t(0x3c3));
  } else {
    out.push_back(map_case(c, false));
  }
}

bool in_chars(char32_t c, const std::u32string* set) {
  if (!set) return py_isspace(c);
  return set->find(c) != std::u32string::npos;
}

}  // namespace

char32_t py_upper_char(char32_t c) {
  return map_case(c, true);
}
bool py_iscased(char32_t c) {
  return map_case(c, true) != c || map_case(c, false) != c || c == 0xdf || c == 0x138 || c == 0x149;
}

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                     bool right) {
  if (!chars && is_ascii(s)) {
    size_t b = 0, e = s.size();
    auto ws = [](char c) { return py_isspace(static_cast<unsigned char>(c)); };
    if (left)
      while (b < e && ws(s[b])) ++b;
    if (right)
      while (e > b && ws(s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
  }
  std::u32string u = utf8_decode(s);
  std::u32string set;
  if (chars) set = utf8_decode(*chars);
  const std::u32string* sp = chars ? &set : nullptr;
  size_t b = 0, e = u.size();
  if (left)
    while (b < e && in_chars(u[b], sp)) ++b;
  if (right)
    while (e > b && in_chars(u[e - 1], sp)) --e;
  return utf8_encode(std::u32string_view(u).substr(b, e - b));
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep,
                                  int64_t maxsplit) {
  std::vector<std::string> out;
  if (maxsplit < 0) maxsplit = INT64_MAX;
  if (sep) {
    size_t pos = 0;
    while (int64_t(out.size()) < maxsplit) {
      size_t f = s.find(*sep, pos);
      if (f == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, f - pos));
      pos = f + sep->size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  std::u32string u = utf8_decode(s);
  size_t i = 0, n = u.size();
  while (true) {
    while (i < n && py_isspace(u[i])) ++i;
    if (i == n) break;
    if (int64_t(out.size()) == maxsplit) {
      out.push_back(utf8_encode(std::u32string_view(u).substr(i)));
      break;
    }
    size_t j = i;
    while (j < n && !py_isspace(u[j])) ++j;
    out.push_back(utf8_encode(std::u32string_view(u).substr(i, j - i)));
    i = j;
  }
  return out;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep,
                                   int64_t maxsplit) {
  std::vector<std::string> out;
  if (maxsplit < 0) maxsplit = INT64_MAX;
  if (sep) {
    size_t end = s.size();
    while (int64_t(out.size()) < maxsplit && end >= sep->size()) {
      size_t f = s.rfind(*sep, end - sep->size());
      if (f == std::string_view::npos) break;
      out.emplace_back(s.substr(f + sep->size(), end - f - sep->size()));
      end = f;
    }
    out.emplace_back(s.substr(0, end));
  } else {
    std::u32string u = utf8_decode(s);
    size_t j = u.size();
    while (true) {
      while (j > 0 && py_isspace(u[j - 1])) --j;
      if (j == 0) break;
      if (int64_t(out.size()) == maxsplit) {
        out.push_back(utf8_encode(std::u32string_view(u).substr(0, j)));
        break;
      }
      size_t i = j;
      while (i > 0 && !py_isspace(u[i - 1])) --i;
      out.push_back(utf8_encode(std::u32string_view(u).substr(i, j - i)));
      j = i;
    }
  }
  return {out.rbegin(), out.rend()};
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  std::u32string u = utf8_decode(s);
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  while (i < u.size()) {
    if (!py_islinebreak(u[i])) {
      ++i;
      continue;
    }
    size_t eol = i;
    ++i;
    if (u[eol] == '\r' && i < u.size() && u[i] == '\n') ++i;
    out.push_back(utf8_encode(std::u32string_view(u).substr(start, (keepends ? i : eol) - start)));
    start = i;
  }
  if (start < u.size()) out.push_back(utf8_encode(std::u32string_view(u).substr(start)));
  return out;
}

std::string py_upper(std::string_view s) {
  std::u32string u = utf8_decode(s), out;
  for (char32_t c : u) append_upper(out, c);
  return utf8_encode(out);
}

std::string py_lower(std::string_view s) {
  std::u32string u = utf8_decode(s), out;
  for (size_t i = 0; i < u.size(); ++i) append_lower(out, u, i);
  return utf8_encode(out);
}

std::string py_title(std::string_view s) {
  std::u32string u = utf8_decode(s), out;
  bool previous_cased = false;
  for (size_t i = 0; i < u.size(); ++i) {
    if (previous_cased) {
      append_lower(out, u, i);
    } else {
      append_title(out, u[i]);
    }
    previous_cased = py_iscased(u[i]);
  }
  return utf8_encode(out);
}

std::string py_capitalize(std::string_view s) {
  std::u32string u = utf8_decode(s), out;
  for (size_t i = 0; i < u.size(); ++i) {
    if (i == 0) {
      append_title(out, u[i]);
    } else {
      append_lower(out, u, i);
    }
  }
  return utf8_encode(out);
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl,
                       int64_t count) {
  if (count < 0) count = INT64_MAX;
  const int64_t hits = std::min(count, py_count(s, old));
  budget_bytes(s.size() + static_cast<uint64_t>(hits) * repl.size());
  std::string out;
  if (old.empty()) {
    std::u32string u = utf8_decode(s);
    int64_t done = 0;
    for (char32_t c : u) {
      if (done < count) {
        out += repl;
        ++done;
      }
      utf8_append(out, c);
    }
    if (done < count) out += repl;
    return out;
  }
  size_t pos = 0;
  for (int64_t n = 0; n < count; ++n) {
    size_t f = s.find(old, pos);
    if (f == std::string_view::npos) break;
    out += s.substr(pos, f - pos);
    out += repl;
    pos = f + old.size();
  }
  out += s.substr(pos);
  return out;
}

int64_t py_count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return utf8_length(s) + 1;
  int64_t n = 0;
  for (size_t pos = s.find(sub); pos != std::string_view::npos; pos = s.find(sub, pos + sub.size()))
    ++n;
  return n;
}

int64_t py_find(std::string_view s, std::string_view sub, bool reverse) {
  size_t f = reverse ? s.rfind(sub) : s.find(sub);
  if (f == std::string_view::npos) return -1;
  return utf8_length(s.substr(0, f));
}

std::string py_center(std::string_view s, int64_t width, char32_t fill, int align) {
  int64_t len = utf8_length(s);
  int64_t marg = width - len;
  if (marg <= 0) return std::string(s);
  budget_bytes(static_cast<uint64_t>(marg), 4);  // up to 4 UTF-8 bytes per fill character
  int64_t left = align < 0 ? 0 : align > 0 ? marg : marg / 2 + (marg & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) utf8_append(out, fill);
  out += s;
  for (int64_t i = 0; i < marg - left; ++i) utf8_append(out, fill);
  return out;
}

std::string py_repr_string(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : utf8_decode(s)) {
    char buf[16];
    if (c == char32_t(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(char(c));
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(c));
      out += buf;
    } else if (c < 0x7f || py_isprintable(c)) {
      utf8_append(out, c);
    } else {
      const char* fmt = c <= 0xff ? "\\x%02x" : c <= 0xffff ? "\\u%04x" : "\\U%08x";
      std::snprintf(buf, sizeof buf, fmt, unsigned(c));
      out += buf;
    }
  }
  out.push_back(quote);
  return out;
}

std::string py_repr_float(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == 0) return std::signbit(x) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e = sci.find('e');
  int exp = std::atoi(sci.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits.push_back(sci[i]);
  int decpt = exp + 1, n = int(digits.size());
  std::string out = sign;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(-decpt, '0') + digits;
    } else if (decpt >= n) {
      out += digits + std::string(decpt - n, '0') + ".0";
    } else {
      out += digits.substr(0, decpt) + "." + digits.substr(decpt);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (n > 1) out += "." + digits.substr(1);
  std::snprintf(buf, sizeof buf, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
  return out + buf;
}

double py_round(double x, int64_t ndigits) {
  if (!std::isfinite(x) || x == 0) return x;
  if (ndigits > 323) return x;
  if (ndigits < -308) return 0.0 * x;
  std::vector<char> buf(400);
  if (ndigits >= 0) {
    std::snprintf(buf.data(), buf.size(), "%.*f", int(ndigits), x);
    double r = std::strtod(buf.data(), nullptr);
    return r == 0 ? std::copysign(0.0, x) : r;
  }
  double scale = std::pow(10.0, double(-ndigits));
  std::snprintf(buf.data(), buf.size(), "%.0f", x / scale);
  double r = std::strtod(buf.data(), nullptr) * scale;
  return r == 0 ? std::copysign(0.0, x) : r;
}

namespace {

// Digits with single underscores between them, as Python's int() and float() accept.
std::optional<std::string> strip_underscores(std::string_view s, bool (*is_digit)(char)) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == s.size() || !is_digit(s[i - 1]) || !is_digit(s[i + 1]))
        return std::nullopt;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && py_isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && py_isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<int64_t> py_parse_int(std::string_view s, int base) {
  s = trim_ws(s);
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.size() > 2 && s[0] == '0') {
    char p = char(std::tolower(static_cast<unsigned char>(s[1])));
    int prefixed = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (prefixed && (base == prefixed || base == 0)) {
      base = prefixed;
      s.remove_prefix(2);
      if (!s.empty() && s[0] == '_') s.remove_prefix(1);
    }
  }
  if (base == 0) base = 10;
  auto digits =
      strip_underscores(s, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
  if (!digits || digits->empty()) return std::nullopt;
  int64_t v = 0;
  auto res = std::from_chars(digits->data(), digits->data() + digits->size(), v, base);
  if (res.ec != std::errc() || res.ptr != digits->data() + digits->size()) return std::nullopt;
  return neg ? -v : v;
}

std::optional<double> py_parse_float(std::string_view s) {
  s = trim_ws(s);
  std::string lower;
  for (char c : s) lower.push_back(char(std::tolower(static_cast<unsigned char>(c))));
  std::string_view body = lower;
  bool neg = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == "inf" || body == "infinity") return neg ? -HUGE_VAL : HUGE_VAL;
  if (body == "nan") return neg ? -NAN : NAN;
  auto clean = strip_underscores(
      body, [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
  if (!clean || clean->empty()) return std::nullopt;
  for (char c : *clean)
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'e' && c != '+' &&
        c != '-')
      return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(clean->c_str(), &end);
  if (end != clean->c_str() + clean->size()) return std::nullopt;
  return neg ? -v : v;
}

}  // namespace llmtune::text::jinja
