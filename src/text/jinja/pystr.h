// Python's str operations on UTF-8 strings, counted in code points as Python counts them, and
// Python's repr() of floats and strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmtune::text::jinja {

// UTF-8. Decoding never fails: a malformed byte decodes as itself (U+0080..U+00FF).
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
void utf8_append(std::string& out, char32_t c);
int64_t utf8_length(std::string_view s);
bool is_ascii(std::string_view s);

// Character classes as Python's str methods see them.
bool py_isspace(char32_t c);      // str.isspace, and re's \s
bool py_islinebreak(char32_t c);  // what str.splitlines splits on
bool py_isprintable(char32_t c);  // approximation of str.isprintable for repr
char32_t py_upper_char(char32_t c);
bool py_iscased(char32_t c);

// str methods. `chars` absent strips whitespace.
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                     bool right);
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep,
                                  int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep,
                                   int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_title(std::string_view s);
std::string py_capitalize(std::string_view s);
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl,
                       int64_t count);
int64_t py_count(std::string_view s, std::string_view sub);
// Index in code points of the first (or last) occurrence of `sub`, or -1.
int64_t py_find(std::string_view s, std::string_view sub, bool reverse);
std::string py_center(std::string_view s, int64_t width, char32_t fill, int align);

// Python's repr(str): quotes and escapes.
std::string py_repr_string(std::string_view s);
// Python's repr(float): shortest round-trip digits, "1.0", "1e-05", "inf", "nan".
std::string py_repr_float(double x);
// Python's round(x, ndigits) for floats (round half to even on the exact binary value).
double py_round(double x, int64_t ndigits);

// Python's int(str, base) and float(str); nullopt where Python raises ValueError.
std::optional<int64_t> py_parse_int(std::string_view s, int base);
std::optional<double> py_parse_float(std::string_view s);

}  // namespace llmtune::text::jinja
