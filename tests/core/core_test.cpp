#include <gtest/gtest.h>

#include <cmath>
#include <vector>

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

}  // namespace
}  // namespace llmtune
