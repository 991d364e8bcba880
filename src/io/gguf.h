// GGUF, the model file of llama.cpp (ggml): a little-endian header ("GGUF", version 3, tensor and
// key/value counts), typed key/value metadata, tensor descriptions (name, dimensions innermost
// first, ggml type, data offset), then the tensor data, each tensor aligned to 32 bytes (the
// default general.alignment). Written as gguf-py's GGUFWriter writes it; read back whole for
// checks. The tensor types are those an export needs: F32, F16 and Q8_0.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace llmtune::io {

// Metadata value types, numbered as in the file.
enum class GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// A metadata value: a scalar (numbers and bools in `number`, text in `string`) or an array whose
// elements all have `array_type` (numbers and bools in `numbers`, text in `strings`).
struct GgufValue {
  GgufType type = GgufType::kU32;
  GgufType array_type = GgufType::kU32;
  double number = 0;
  std::string string;
  std::vector<double> numbers;
  std::vector<std::string> strings;

  static GgufValue u32(uint32_t v);
  static GgufValue f32(float v);
  static GgufValue boolean(bool v);
  static GgufValue text(std::string v);
  static GgufValue texts(std::vector<std::string> v);
  static GgufValue f32s(const std::vector<float>& v);
  static GgufValue i32s(const std::vector<int32_t>& v);
};

// Tensor element types, numbered as ggml numbers them.
enum class GgmlType : uint32_t { kF32 = 0, kF16 = 1, kQ8_0 = 8 };
const char* ggml_type_name(GgmlType t);
// Bytes of `n` consecutive elements (for Q8_0, n a multiple of kQ8Block).
size_t ggml_bytes(GgmlType t, int64_t n);

// Q8_0: blocks of 32 weights, each an f16 scale d = max|x| / 127 followed by 32 int8 values
// round(x / d) (halves away from zero), 34 bytes; ggml's quantize_row_q8_0_ref, bit for bit.
constexpr int64_t kQ8Block = 32;
constexpr size_t kQ8BlockBytes = 34;
void q8_0_quantize(const float* x, int64_t n, uint8_t* out);  // n % kQ8Block == 0
void q8_0_dequantize(const uint8_t* in, int64_t n, float* x);

// A tensor to write. `values` produces its elements (any float dtype, `shape`) only when the
// writer reaches it, so one converted tensor at a time is in memory.
struct GgufTensor {
  std::string name;
  Shape shape;  // outermost first, as the model holds it; the file lists dimensions reversed
  GgmlType type = GgmlType::kF32;
  std::function<Tensor()> values;
};

class GgufWriter {
 public:
  // Keys are written in the order added; adding a key twice is an internal error.
  void add(const std::string& key, GgufValue value);
  void add_tensor(GgufTensor tensor);
  // Writes the file under path.tmp and renames it when complete.
  void write(const std::string& path) const;

 private:
  std::string header() const;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<GgufTensor> tensors_;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // innermost first, as in the file
  uint32_t type = 0;          // a GgmlType value
  uint64_t offset = 0;        // from the start of the data section
};

// A GGUF file read whole into memory, validated (magic, version, every length and offset inside
// the file); for tests and checks of written files.
struct GgufFile {
  uint32_t version = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata;
  std::vector<GgufTensorInfo> tensors;
  std::string bytes;
  size_t data_start = 0;

  const GgufValue* find(const std::string& key) const;  // null when absent
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  std::string_view tensor_bytes(const GgufTensorInfo& t) const;
  // Elements as f32: F32 as stored, F16 converted, Q8_0 dequantized.
  std::vector<float> tensor_f32(const GgufTensorInfo& t) const;
};

// Throws llmtune::Error naming the file and what is wrong with it.
GgufFile gguf_read(const std::string& path);

}  // namespace llmtune::io
