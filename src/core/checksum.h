// CRC32C (Castagnoli), the checksum TFRecord framing and checkpoint manifests use: fast enough to
// check gigabytes of weights on resume, and catches any truncation or torn write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace llmtune {

// CRC32C (reflected 0x82F63B78); crc32c("123456789") == 0xE3069283. `crc` is the checksum of
// the bytes before these (0 to start), so a file may be checked in pieces.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

// The CRC32C and size of a file, read in pieces. Throws llmtune::Error naming the path.
struct FileChecksum {
  uint64_t bytes = 0;
  uint32_t crc32c = 0;
};
FileChecksum file_checksum(const std::string& path);

}  // namespace llmtune
