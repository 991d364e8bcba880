#include "core/device.h"

#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

#include "core/error.h"

namespace llmtune {

std::string Device::str() const {
  return is_cpu() ? "cpu" : llmtune::str("cuda:", index);
}

namespace {

// CPU memory: 64-byte aligned. Blocks of 64 KiB and more are cached by size and reused, because
// a training step frees and re-allocates the same large activations every step, and fresh
// pages cost a page fault and a zeroing each.
class CpuMemory final : public DeviceMemory {
 public:
  static constexpr size_t kAlign = 64;
  static constexpr size_t kCacheMin = 64 << 10;

  ~CpuMemory() override { release_cached(); }

  void* allocate(size_t bytes) override {
    const size_t size = round_up(bytes == 0 ? 1 : bytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (size >= kCacheMin) {
        auto it = free_.find(size);
        if (it != free_.end()) {
          void* p = it->second;
          free_.erase(it);
          stats_.cached -= size;
          note_alloc(size);
          return p;
        }
      }
    }
    void* p = std::aligned_alloc(kAlign, size);
    if (p == nullptr) {
      release_cached();
      p = std::aligned_alloc(kAlign, size);
      if (p == nullptr) throw Error(str("out of CPU memory allocating ", size, " bytes"));
    }
    std::lock_guard<std::mutex> lock(mu_);
    note_alloc(size);
    return p;
  }

  void deallocate(void* ptr, size_t bytes) override {
    if (ptr == nullptr) return;
    const size_t size = round_up(bytes == 0 ? 1 : bytes);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.in_use -= size;
    if (size >= kCacheMin) {
      free_.emplace(size, ptr);
      stats_.cached += size;
    } else {
      std::free(ptr);
    }
  }

  void copy_from_host(void* dst, const void* src, size_t n) override { copy(dst, src, n); }
  void copy_to_host(void* dst, const void* src, size_t n) override { copy(dst, src, n); }
  void copy_on_device(void* dst, const void* src, size_t n) override { copy(dst, src, n); }

  void fill_zero(void* dst, size_t n) override {
    char* d = static_cast<char*>(dst);
    const size_t chunk = 1 << 20;
#pragma omp parallel for schedule(static) if (n > 4 * chunk)
    for (size_t off = 0; off < n; off += chunk) std::memset(d + off, 0, std::min(chunk, n - off));
  }

  void synchronize() override {}

  MemoryStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak = stats_.in_use;
  }
  void release_cached() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [size, p] : free_) std::free(p);
    free_.clear();
    stats_.cached = 0;
  }

 private:
  static size_t round_up(size_t n) {
    return (n + kAlign - 1) / kAlign * kAlign;
  }
  void note_alloc(size_t size) {
    stats_.in_use += size;
    if (stats_.in_use > stats_.peak) stats_.peak = stats_.in_use;
  }
  static void copy(void* dst, const void* src, size_t n) {
    char* d = static_cast<char*>(dst);
    const char* s = static_cast<const char*>(src);
    const size_t chunk = 1 << 20;
#pragma omp parallel for schedule(static) if (n > 4 * chunk)
    for (size_t off = 0; off < n; off += chunk)
      std::memcpy(d + off, s + off, std::min(chunk, n - off));
  }

  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;
  MemoryStats stats_;
};

DeviceMemory* g_devices[2] = {nullptr, nullptr};

}  // namespace

void device_memory_register(DeviceType type, DeviceMemory* memory) {
  g_devices[static_cast<int>(type)] = memory;
}

DeviceMemory& device_memory(Device device) {
  if (device.is_cpu()) {
    static CpuMemory cpu;
    return cpu;
  }
  DeviceMemory* m = g_devices[static_cast<int>(device.type)];
  if (m == nullptr) throw Error(str("device ", device.str(), " is not available in this build"));
  return *m;
}

}  // namespace llmtune
