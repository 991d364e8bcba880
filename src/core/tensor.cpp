#include "core/tensor.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace llmtune {

namespace {

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::F32;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::I32;
}
template <>
constexpr DType dtype_of<uint16_t>() {
  return DType::BF16;
}

}  // namespace

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Storage::Storage(Device device, size_t bytes)
    : device_(device), data_(device_memory(device).allocate(bytes)), bytes_(bytes) {}

Storage::Storage(Device device, void* data, size_t bytes, std::shared_ptr<const void> keepalive)
    : device_(device), data_(data), bytes_(bytes), keepalive_(std::move(keepalive)) {
  LLMTUNE_CHECK(keepalive_ != nullptr, "borrowed storage needs an owner");
}

Storage::~Storage() {
  if (owned()) device_memory(device_).deallocate(data_, bytes_);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  int64_t numel = 1;
  size_t bytes = 0;
  bool overflow = false;
  for (int64_t d : shape) {
    LLMTUNE_CHECK(d >= 0, "negative dimension in ", shape_str(shape));
    overflow |= __builtin_mul_overflow(numel, d, &numel);
  }
  overflow |= __builtin_mul_overflow(static_cast<size_t>(numel), dtype_size(dtype), &bytes);
  const auto what = [&] {
    return llmtune::str("a ", shape_str(shape), " ", dtype_name(dtype), " tensor");
  };
  if (overflow) throw OutOfMemory(llmtune::str(what(), " has more bytes than memory can address"));
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  try {
    t.storage_ = std::make_shared<Storage>(device, bytes);
  } catch (const OutOfMemory& e) {
    throw OutOfMemory(llmtune::str(e.what(), " for ", what()));
  }
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::borrow(void* data, const Shape& shape, DType dtype, Device device,
                      std::shared_ptr<const void> keepalive) {
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>(device, data, t.nbytes(), std::move(keepalive));
  return t;
}

Tensor Tensor::from_f32(const std::vector<float>& values, const Shape& shape, DType dtype,
                        Device device) {
  LLMTUNE_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
                "from_f32: ", values.size(), " values for shape ", shape_str(shape));
  Tensor t = empty(shape, dtype, device);
  if (dtype == DType::F32) {
    t.copy_from_host(values.data());
  } else {
    std::vector<char> buf(t.nbytes());
    convert_floats(buf.data(), dtype, values.data(), DType::F32, values.size());
    t.copy_from_host(buf.data());
  }
  return t;
}

Tensor Tensor::from_i32(const std::vector<int32_t>& values, const Shape& shape, Device device) {
  LLMTUNE_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
                "from_i32: ", values.size(), " values for shape ", shape_str(shape));
  Tensor t = empty(shape, DType::I32, device);
  t.copy_from_host(values.data());
  return t;
}

int64_t Tensor::size(int d) const {
  if (d < 0) d += dim();
  LLMTUNE_CHECK(d >= 0 && d < dim(), "dimension ", d, " out of range for ", str());
  return shape_[d];
}

bool Tensor::is_contiguous() const {
  return strides_ == contiguous_strides(shape_);
}

Tensor Tensor::view(const Shape& shape) const {
  LLMTUNE_CHECK(is_contiguous(), "view of a non-contiguous tensor ", str());
  LLMTUNE_CHECK(shape_numel(shape) == numel(), "view ", shape_str(shape), " of ", str());
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  return t;
}

Tensor Tensor::narrow(int d, int64_t start, int64_t length) const {
  if (d < 0) d += dim();
  LLMTUNE_CHECK(d >= 0 && d < dim(), "narrow dimension ", d, " of ", str());
  LLMTUNE_CHECK(start >= 0 && length >= 0 && start + length <= shape_[d], "narrow [", start, ", ",
                start + length, ") of dimension ", d, " of ", str());
  Tensor t = *this;
  t.offset_ += static_cast<size_t>(start * strides_[d]);
  t.shape_[d] = length;
  return t;
}

void* Tensor::raw() const {
  LLMTUNE_CHECK(defined(), "use of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_);
}

template <typename T>
T* Tensor::data() const {
  LLMTUNE_CHECK(dtype_size(dtype_) == sizeof(T) &&
                    (dtype_of<T>() == dtype_ || (sizeof(T) == 2 && dtype_ != DType::F32)),
                "data<", sizeof(T), "-byte type>() of ", str());
  LLMTUNE_CHECK(device().is_cpu(), "host pointer to a ", device().str(), " tensor");
  return static_cast<T*>(raw());
}
template float* Tensor::data<float>() const;
template int32_t* Tensor::data<int32_t>() const;
template uint16_t* Tensor::data<uint16_t>() const;

void Tensor::copy_from_host(const void* src) {
  LLMTUNE_CHECK(is_contiguous(), "copy_from_host into non-contiguous ", str());
  device_memory(device()).copy_from_host(raw(), src, nbytes());
}

void Tensor::copy_to_host(void* dst) const {
  LLMTUNE_CHECK(is_contiguous(), "copy_to_host from non-contiguous ", str());
  DeviceMemory& mem = device_memory(device());
  mem.synchronize();
  mem.copy_to_host(dst, raw(), nbytes());
}

std::vector<float> Tensor::to_f32() const {
  LLMTUNE_CHECK(dtype_ != DType::I32, "to_f32 of ", str());
  std::vector<float> out(static_cast<size_t>(numel()));
  if (dtype_ == DType::F32) {
    copy_to_host(out.data());
  } else {
    std::vector<char> buf(nbytes());
    copy_to_host(buf.data());
    convert_floats(out.data(), DType::F32, buf.data(), dtype_, out.size());
  }
  return out;
}

std::vector<int32_t> Tensor::to_i32() const {
  LLMTUNE_CHECK(dtype_ == DType::I32, "to_i32 of ", str());
  std::vector<int32_t> out(static_cast<size_t>(numel()));
  copy_to_host(out.data());
  return out;
}

float Tensor::item() const {
  LLMTUNE_CHECK(numel() == 1, "item() of ", str());
  return to_f32()[0];
}

Tensor Tensor::to(DType dtype) const {
  Tensor out = empty(shape_, dtype, device());
  out.copy_(*this);
  return out;
}

void Tensor::copy_(const Tensor& src) {
  LLMTUNE_CHECK(shape_ == src.shape_, "copy_ from ", src.str(), " into ", str());
  LLMTUNE_CHECK(is_contiguous(), "copy_ into non-contiguous ", str());
  if (device() != src.device()) {  // through the host: an upload, a download or both
    LLMTUNE_CHECK(src.is_contiguous(), "copy_ of a strided tensor across devices");
    std::vector<char> host(src.nbytes());
    src.copy_to_host(host.data());
    if (dtype_ != src.dtype_) {
      std::vector<char> converted(nbytes());
      convert_floats(converted.data(), dtype_, host.data(), src.dtype_,
                     static_cast<size_t>(numel()));
      host.swap(converted);
    }
    copy_from_host(host.data());
    return;
  }
  if (!src.is_contiguous()) {  // a strided view (a column slice): gather it row by row
    LLMTUNE_CHECK(device().is_cpu(), "strided copy on ", device().str());
    const int d = src.dim();
    const int64_t inner = src.shape_[d - 1], rows = numel() / std::max<int64_t>(inner, 1);
    const size_t in = dtype_size(src.dtype_), out = dtype_size(dtype_);
    std::vector<int64_t> index(static_cast<size_t>(d), 0);
    for (int64_t r = 0; r < rows; ++r) {
      int64_t offset = 0;
      for (int k = 0; k < d - 1; ++k) offset += index[k] * src.strides_[k];
      const char* from = static_cast<const char*>(src.raw()) + offset * in;
      char* to = static_cast<char*>(raw()) + r * inner * out;
      if (src.strides_[d - 1] == 1) {
        if (dtype_ == src.dtype_)
          std::memcpy(to, from, inner * in);
        else
          convert_floats(to, dtype_, from, src.dtype_, static_cast<size_t>(inner));
      } else {
        for (int64_t j = 0; j < inner; ++j) {
          const char* e = from + j * src.strides_[d - 1] * in;
          if (dtype_ == src.dtype_)
            std::memcpy(to + j * out, e, in);
          else
            convert_floats(to + j * out, dtype_, e, src.dtype_, 1);
        }
      }
      for (int k = d - 2; k >= 0 && ++index[k] == src.shape_[k]; --k) index[k] = 0;
    }
    return;
  }
  if (dtype_ == src.dtype_) {
    device_memory(device()).copy_on_device(raw(), src.raw(), nbytes());
    return;
  }
  LLMTUNE_CHECK(device().is_cpu(), "dtype conversion on ", device().str(),
                " goes through backend ops");
  convert_floats(raw(), dtype_, src.raw(), src.dtype_, static_cast<size_t>(numel()));
}

void Tensor::zero_() {
  LLMTUNE_CHECK(is_contiguous(), "zero_ of non-contiguous ", str());
  device_memory(device()).fill_zero(raw(), nbytes());
}

std::string Tensor::str() const {
  return defined() ? std::string(dtype_name(dtype_)) + shape_str(shape_) : "undefined";
}

}  // namespace llmtune
