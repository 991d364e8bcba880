// Element types and the conversions between them.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace llmtune {

enum class DType : uint8_t { F32, BF16, F16, I32 };

inline size_t dtype_size(DType t) {
  return t == DType::F32 || t == DType::I32 ? 4 : 2;
}

// Names as safetensors spells them: "F32", "BF16", "F16", "I32".
const char* dtype_name(DType t);

// Parses a safetensors dtype name; false for names llmtune does not load.
bool dtype_parse(std::string_view name, DType* out);

// bf16 is the upper half of an fp32; conversion rounds to nearest even, as PyTorch does,
// and keeps NaN a (quiet) NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// IEEE half precision, round to nearest even, with subnormals, infinities and NaN.
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

// Converts n elements between any two float types (F32, BF16, F16); same type copies.
void convert_floats(void* dst, DType dst_type, const void* src, DType src_type, size_t n);

}  // namespace llmtune
