// Devices and their memory. core knows how to allocate and copy memory on each device type;
// compute lives in backend/. The CPU implementation is here; a GPU backend registers its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace llmtune {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool operator==(const Device&) const = default;
  std::string str() const;
};

// Bytes of tensor memory on one device: in use now, the most in use since the last reset,
// and held in the allocator's cache for reuse.
struct MemoryStats {
  size_t in_use = 0;
  size_t peak = 0;
  size_t cached = 0;
};

// Memory management of one device type. Copies may be asynchronous on devices that queue work;
// synchronize() waits for everything queued.
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_on_device(void* dst, const void* src, size_t bytes) = 0;
  virtual void fill_zero(void* dst, size_t bytes) = 0;
  virtual void synchronize() = 0;
  virtual MemoryStats stats() const = 0;
  virtual void reset_peak() = 0;
  virtual void release_cached() = 0;
};

// The memory manager of a device (its statistics are that device's); throws llmtune::Error
// when the device is unavailable.
DeviceMemory& device_memory(Device device);

// Lets a GPU backend make one of its devices available (the CPU always is).
void device_memory_register(Device device, DeviceMemory* memory);
bool device_available(Device device);

// The device a setting names: "cpu", "cuda" (= cuda:0), "cuda:N", or "auto" (the first GPU
// when one is available, else the CPU). Throws llmtune::Error, before any work starts, when the
// setting is malformed or names a GPU this build or machine does not have.
Device device_resolve(const std::string& name);
// Only the syntax of such a name (for config checks): false when it is none of those.
bool device_parse(const std::string& name, Device* device);

}  // namespace llmtune
