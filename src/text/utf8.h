// UTF-8 helpers for the tokenizers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmtune::text {

// Length in bytes of the UTF-8 sequence starting with byte `lead` (1 for a stray byte, so that
// iteration always advances).
inline size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// The code point at s[i] (advancing i); invalid bytes decode as themselves (0x80-0xFF).
uint32_t utf8_next(std::string_view s, size_t* i);
void utf8_append(std::string* out, uint32_t cp);
// Whether s is valid UTF-8.
bool utf8_valid(std::string_view s);
// s with every invalid byte replaced by U+FFFD, as Rust's String::from_utf8_lossy does.
std::string utf8_lossy(std::string_view s);

}  // namespace llmtune::text
