// Tensor: a typed, shaped view into a reference-counted device buffer.
//
// Model code creates tensors and passes them to backend ops; it never reads element data.
// Host access goes through the explicit copy functions below, which synchronize with the device.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"

namespace llmtune {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);  // "[2, 3]"
int64_t shape_numel(const Shape& shape);

// A device buffer. Owns its memory, or borrows it from an owner kept alive by `keepalive`
// (a memory-mapped file, for instance).
class Storage {
 public:
  Storage(Device device, size_t bytes);
  Storage(Device device, void* data, size_t bytes, std::shared_ptr<const void> keepalive);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  bool owned() const { return keepalive_ == nullptr; }

 private:
  Device device_;
  void* data_ = nullptr;
  size_t bytes_ = 0;
  std::shared_ptr<const void> keepalive_;
};

class Tensor {
 public:
  Tensor() = default;

  // Uninitialized memory.
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::cpu());
  // Wraps memory owned elsewhere; `keepalive` keeps the owner alive as long as any view.
  static Tensor borrow(void* data, const Shape& shape, DType dtype, Device device,
                       std::shared_ptr<const void> keepalive);
  // Host data in, converted to `dtype` (float types) or copied (same type).
  static Tensor from_f32(const std::vector<float>& values, const Shape& shape,
                         DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor from_i32(const std::vector<int32_t>& values, const Shape& shape,
                         Device device = Device::cpu());

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int dim() const { return static_cast<int>(shape_.size()); }
  int64_t size(int d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  // True when both tensors are views of the same buffer.
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }

  // Views share the buffer. view() needs a contiguous tensor and the same element count;
  // narrow() selects [start, start + length) along one dimension.
  Tensor view(const Shape& shape) const;
  Tensor narrow(int d, int64_t start, int64_t length) const;

  // Pointer to the first element, for backends and I/O. Model code must not use it.
  void* raw() const;
  template <typename T>
  T* data() const;

  // Synchronous host transfers of a contiguous tensor.
  void copy_from_host(const void* src);
  void copy_to_host(void* dst) const;
  std::vector<float> to_f32() const;  // any float dtype, converted
  std::vector<int32_t> to_i32() const;
  float item() const;  // single-element float tensor

  // A contiguous copy on the same device, converted to `dtype` if it differs (a strided view
  // is gathered).
  Tensor to(DType dtype) const;
  Tensor clone() const { return to(dtype_); }
  // Copies src's elements into this contiguous tensor (same shape; float dtypes convert; a
  // strided src is gathered, on the CPU; across devices the copy goes through the host).
  void copy_(const Tensor& src);
  void zero_();

  std::string str() const;  // "F32[2, 3]"

 private:
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;  // in elements
  Shape shape_;
  Shape strides_;  // in elements
  DType dtype_ = DType::F32;
};

}  // namespace llmtune
