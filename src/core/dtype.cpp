#include "core/dtype.h"

#include "core/error.h"

namespace llmtune {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "F32";
    case DType::BF16:
      return "BF16";
    case DType::F16:
      return "F16";
    case DType::I32:
      return "I32";
  }
  return "?";
}

bool dtype_parse(std::string_view name, DType* out) {
  if (name == "F32")
    *out = DType::F32;
  else if (name == "BF16")
    *out = DType::BF16;
  else if (name == "F16")
    *out = DType::F16;
  else if (name == "I32")
    *out = DType::I32;
  else
    return false;
  return true;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u)
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {  // below the smallest normal f16: a subnormal m * 2^-24, or zero
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // under half of 2^-24
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - (abs >> 23);  // 14..24
    const uint32_t kept = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    return static_cast<uint16_t>(sign |
                                 (kept + (rem > halfway || (rem == halfway && (kept & 1u)))));
  }
  uint32_t h = ((abs >> 13) - (112u << 10));  // rebias exponent 127 -> 15
  const uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalize
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    bits = sign | ((112u - e) << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void convert_floats(void* dst, DType dst_type, const void* src, DType src_type, size_t n) {
  LLMTUNE_CHECK(dst_type != DType::I32 && src_type != DType::I32, "convert_floats on I32");
  if (dst_type == src_type) {
    std::memcpy(dst, src, n * dtype_size(dst_type));
    return;
  }
  auto load = [&](size_t i) -> float {
    switch (src_type) {
      case DType::F32:
        return static_cast<const float*>(src)[i];
      case DType::BF16:
        return bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
      default:
        return f16_to_f32(static_cast<const uint16_t*>(src)[i]);
    }
  };
  switch (dst_type) {
    case DType::F32: {
      float* d = static_cast<float*>(dst);
#pragma omp parallel for schedule(static) if (n > (1 << 16))
      for (size_t i = 0; i < n; ++i) d[i] = load(i);
      break;
    }
    case DType::BF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
#pragma omp parallel for schedule(static) if (n > (1 << 16))
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_bf16(load(i));
      break;
    }
    default: {
      uint16_t* d = static_cast<uint16_t*>(dst);
#pragma omp parallel for schedule(static) if (n > (1 << 16))
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_f16(load(i));
      break;
    }
  }
}

}  // namespace llmtune
