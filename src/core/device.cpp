#include "core/device.h"

#include <omp.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>

#include "core/error.h"

namespace llmtune {

std::string Device::str() const {
  return is_cpu() ? "cpu" : llmtune::str("cuda:", index);
}

namespace {

std::string gib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1u << 30));
  return buf;
}

// CPU memory: 64-byte aligned. Blocks of 64 KiB and more are cached and reused, because a
// training step frees and re-allocates the same large activations every step, and fresh pages
// cost a page fault and a zeroing each. A request takes the smallest cached block that fits
// with at most a quarter to spare (batches of varying length still reuse blocks), and the cache
// is trimmed, largest blocks first, when it outgrows max(2 GiB, a quarter of the peak in use).
class CpuMemory final : public DeviceMemory {
 public:
  static constexpr size_t kAlign = 64;
  static constexpr size_t kCacheMin = 64 << 10;
  static constexpr size_t kCacheFloor = size_t{2} << 30;

  ~CpuMemory() override { release_cached(); }

  void* allocate(size_t bytes) override {
    const size_t size = round_up(bytes == 0 ? 1 : bytes);
    if (size >= kCacheMin) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.lower_bound(size);
      if (it != free_.end() && it->first <= size + size / 4) {
        const size_t block = it->first;
        void* p = it->second;
        free_.erase(it);
        stats_.cached -= block;
        blocks_[p] = block;
        note_alloc(block);
        return p;
      }
    }
    void* p = std::aligned_alloc(kAlign, size);
    if (p == nullptr) {
      release_cached();
      p = std::aligned_alloc(kAlign, size);
      if (p == nullptr) {
        const MemoryStats now = stats();
        throw OutOfMemory(str("out of CPU memory allocating ", gib(size), " (", gib(now.in_use),
                              " in tensors already)"));
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (size >= kCacheMin) blocks_[p] = size;
    note_alloc(size);
    return p;
  }

  void deallocate(void* ptr, size_t bytes) override {
    if (ptr == nullptr) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blocks_.find(ptr);
    if (it == blocks_.end()) {  // a small block
      stats_.in_use -= round_up(bytes == 0 ? 1 : bytes);
      std::free(ptr);
      return;
    }
    const size_t block = it->second;
    blocks_.erase(it);
    stats_.in_use -= block;
    free_.emplace(block, ptr);
    stats_.cached += block;
    const size_t limit = std::max(kCacheFloor, stats_.peak / 4);
    while (stats_.cached > limit) {
      auto largest = std::prev(free_.end());
      stats_.cached -= largest->first;
      std::free(largest->second);
      free_.erase(largest);
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
  std::multimap<size_t, void*> free_;         // cached blocks by size
  std::unordered_map<void*, size_t> blocks_;  // live cacheable blocks and their sizes
  MemoryStats stats_;
};

// The memory of each GPU a backend registered, by index.
std::map<int, DeviceMemory*>& gpu_memory() {
  static std::map<int, DeviceMemory*> registered;
  return registered;
}

}  // namespace

void device_memory_register(Device device, DeviceMemory* memory) {
  LLMTUNE_CHECK(!device.is_cpu(), "the CPU's memory is built in");
  gpu_memory()[device.index] = memory;
}

bool device_available(Device device) {
  return device.is_cpu() || gpu_memory().count(device.index) > 0;
}

DeviceMemory& device_memory(Device device) {
  if (device.is_cpu()) {
    static CpuMemory cpu;
    return cpu;
  }
  const auto it = gpu_memory().find(device.index);
  if (it == gpu_memory().end()) {
    throw Error(str("device ", device.str(), " is not available: this llmtune was built without ",
                    "the CUDA backend, or that GPU is not visible; use device cpu"));
  }
  return *it->second;
}

bool device_parse(const std::string& name, Device* device) {
  if (name == "cpu" || name == "auto") {
    *device = Device::cpu();
    return true;
  }
  int index = 0;
  if (name != "cuda") {
    const std::string digits = name.starts_with("cuda:") ? name.substr(5) : "";
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || index < 0)
      return false;
  }
  *device = {DeviceType::CUDA, index};
  return true;
}

Device device_resolve(const std::string& name) {
  Device d;
  if (!device_parse(name, &d))
    throw Error(str("device \"", name, "\" must be auto, cpu, cuda or cuda:N"));
  if (name == "auto") {
    const Device gpu{DeviceType::CUDA, 0};
    return device_available(gpu) ? gpu : Device::cpu();
  }
  device_memory(d);  // the clear error when it is not there
  return d;
}

}  // namespace llmtune
