#include "backend/cpu/cpu_backend.h"
#include "core/error.h"

namespace llmtune {

namespace {
Backend* g_backends[2] = {nullptr, nullptr};
}

void backend_register(DeviceType type, Backend* backend) {
  g_backends[static_cast<int>(type)] = backend;
}

Backend& backend_for(Device device) {
  if (device.is_cpu()) {
    static cpu::CpuBackend cpu;
    return cpu;
  }
  Backend* b = g_backends[static_cast<int>(device.type)];
  if (b == nullptr) throw Error(str("no backend for device ", device.str(), " in this build"));
  return *b;
}

namespace cpu {

void check_f32(const Tensor& t, const char* what) {
  LLMTUNE_CHECK(t.defined() && t.dtype() == DType::F32 && t.is_contiguous(), what,
                ": expected a contiguous F32 tensor, got ", t.str());
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* what) {
  LLMTUNE_CHECK(a.shape() == b.shape(), what, ": shapes differ: ", a.str(), " vs ", b.str());
}

}  // namespace cpu
}  // namespace llmtune
