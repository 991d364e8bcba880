// Philox4x32-10, the counter-based random generator of Salmon et al. (SC'11), as in Random123,
// cuRAND and PyTorch's CUDA generator. Element i of a stream is a pure function of
// (seed, stream, i), so dropout masks can be regenerated in backward instead of stored, and any
// device or thread produces the same numbers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace llmtune {

using PhiloxCounter = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

inline PhiloxCounter philox4x32_10(PhiloxCounter c, PhiloxKey k) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k[0] += kW0;
      k[1] += kW1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c[2];
    c = {static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<uint32_t>(p1),
         static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<uint32_t>(p0)};
  }
  return c;
}

// Mixes several identifiers (step, layer, site...) into one 64-bit stream id (splitmix64 steps).
inline uint64_t philox_stream(uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(a) ^ b) ^ c);
}

// One stream of random 32-bit words: word i is word i%4 of the block at counter
// (i/4 as 64 bits, stream as 64 bits) under the key `seed`.
class PhiloxStream {
 public:
  PhiloxStream(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}

  PhiloxCounter block(uint64_t block_index) const {
    return philox4x32_10(
        {static_cast<uint32_t>(block_index), static_cast<uint32_t>(block_index >> 32),
         static_cast<uint32_t>(stream_), static_cast<uint32_t>(stream_ >> 32)},
        {static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)});
  }
  uint32_t bits(uint64_t i) const { return block(i >> 2)[i & 3]; }
  // Uniform in [0, 1) with 24 random bits.
  static float to_unit(uint32_t bits) {
    return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
  }
  float uniform(uint64_t i) const { return to_unit(bits(i)); }

  // Fills dst[0..n) with elements [offset, offset + n) of the stream, mapped to
  // U(lo, hi) or N(mean, std) (Box-Muller on consecutive pairs).
  void fill_uniform(float* dst, size_t n, float lo, float hi, uint64_t offset = 0) const;
  void fill_normal(float* dst, size_t n, float mean, float std, uint64_t offset = 0) const;

 private:
  uint64_t seed_;
  uint64_t stream_;
};

}  // namespace llmtune
