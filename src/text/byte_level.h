// GPT-2's reversible map between bytes and printable code points, used by byte-level BPE
// (Llama 3): printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace llmtune::text {

struct ByteLevelTables {
  std::array<std::string, 256> byte_to_char;  // UTF-8 of each byte's code point
  std::unordered_map<uint32_t, uint8_t> char_to_byte;
};

const ByteLevelTables& byte_level_tables();

}  // namespace llmtune::text
