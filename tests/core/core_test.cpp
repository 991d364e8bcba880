#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/files.h"
#include "support/scratch.h"

#include "core/checksum.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/philox.h"
#include "core/tensor.h"

namespace llmtune {
namespace {

TEST(Philox, MatchesRandom123KnownAnswers) {
  // Known-answer vectors of philox4x32-10 from Random123's kat_vectors.
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (PhiloxCounter{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                          {0xffffffffu, 0xffffffffu}),
            (PhiloxCounter{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                          {0xa4093822u, 0x299f31d0u}),
            (PhiloxCounter{0xd16cfe09u, 0x94fdcceb, 0x5001e420u, 0x24126ea1u}));
}

// The CPU cache hands a freed large block to a later request it fits with at most a quarter
// to spare, so batches of varying length reuse memory instead of growing the cache.
TEST(CpuMemory, ReusesCachedBlocksOfSimilarSize) {
  DeviceMemory& mem = device_memory(Device::cpu());
  mem.release_cached();
  const size_t mib = 1 << 20;
  void* a = mem.allocate(mib);
  mem.deallocate(a, mib);
  EXPECT_EQ(mem.stats().cached, mib);
  void* b = mem.allocate(900 * 1024);  // fits the 1 MiB block with < 25% spare
  EXPECT_EQ(b, a);
  EXPECT_EQ(mem.stats().cached, 0u);
  mem.deallocate(b, 900 * 1024);
  void* c = mem.allocate(mib / 2);  // would waste half the block: a fresh one
  EXPECT_NE(c, a);
  EXPECT_EQ(mem.stats().cached, mib);
  mem.deallocate(c, mib / 2);
  mem.release_cached();
  EXPECT_EQ(mem.stats().cached, 0u);
}

// The sliced CRC32C against the bytewise definition, at every alignment and length around the
// 8-byte step, in one piece and in two; the known check value; a file read in 1 MiB pieces.
TEST(Crc32c, SlicedEqualsBytewiseInPiecesAndFiles) {
  const auto bytewise = [](const std::string& s) {
    uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : s) {
      c ^= b;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
  };
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  std::string data;
  for (int i = 0; i < 300; ++i) data += static_cast<char>((i * 131 + 7) & 0xff);
  for (size_t begin = 0; begin < 9; ++begin) {
    for (size_t n = 0; n < 40; ++n) {
      const std::string s = data.substr(begin, n);
      ASSERT_EQ(crc32c(s.data(), s.size()), bytewise(s)) << begin << " " << n;
      const uint32_t head = crc32c(s.data(), n / 3);
      ASSERT_EQ(crc32c(s.data() + n / 3, n - n / 3, head), bytewise(s));
    }
  }
  test::ScratchDir dir;
  std::string big((size_t{1} << 20) * 2 + 13, 'x');
  for (size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>(i & 0xff);
  write_file_atomic(dir.file("f"), big);
  const FileChecksum f = file_checksum(dir.file("f"));
  EXPECT_EQ(f.bytes, big.size());
  EXPECT_EQ(f.crc32c, bytewise(big));
  EXPECT_THROW(file_checksum(dir.file("missing")), Error);
}

}  // namespace
}  // namespace llmtune
