#include "io/gguf.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/files.h"

namespace llmtune::io {

static_assert(std::endian::native == std::endian::little, "GGUF files are little-endian");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF"
constexpr uint32_t kVersion = 3;
constexpr uint64_t kAlignment = 32;

uint64_t align(uint64_t n) {
  return (n + kAlignment - 1) / kAlignment * kAlignment;
}

template <typename T>
void put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_string(std::string* out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out->append(s);
}

void put_number(std::string* out, GgufType type, double v) {
  switch (type) {
    case GgufType::kU8:
      return put(out, static_cast<uint8_t>(v));
    case GgufType::kI8:
      return put(out, static_cast<int8_t>(v));
    case GgufType::kU16:
      return put(out, static_cast<uint16_t>(v));
    case GgufType::kI16:
      return put(out, static_cast<int16_t>(v));
    case GgufType::kU32:
      return put(out, static_cast<uint32_t>(v));
    case GgufType::kI32:
      return put(out, static_cast<int32_t>(v));
    case GgufType::kF32:
      return put(out, static_cast<float>(v));
    case GgufType::kBool:
      return put(out, static_cast<uint8_t>(v != 0));
    case GgufType::kU64:
      return put(out, static_cast<uint64_t>(v));
    case GgufType::kI64:
      return put(out, static_cast<int64_t>(v));
    case GgufType::kF64:
      return put(out, v);
    default:
      LLMTUNE_CHECK(false, "GGUF type ", static_cast<uint32_t>(type), " is not a number");
  }
}

void put_value(std::string* out, const GgufValue& v) {
  put<uint32_t>(out, static_cast<uint32_t>(v.type));
  if (v.type == GgufType::kString) return put_string(out, v.string);
  if (v.type != GgufType::kArray) return put_number(out, v.type, v.number);
  put<uint32_t>(out, static_cast<uint32_t>(v.array_type));
  if (v.array_type == GgufType::kString) {
    put<uint64_t>(out, v.strings.size());
    for (const std::string& s : v.strings) put_string(out, s);
    return;
  }
  put<uint64_t>(out, v.numbers.size());
  for (double x : v.numbers) put_number(out, v.array_type, x);
}

size_t number_size(GgufType t) {
  switch (t) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kBool:
      return 1;
    case GgufType::kU16:
    case GgufType::kI16:
      return 2;
    case GgufType::kU32:
    case GgufType::kI32:
    case GgufType::kF32:
      return 4;
    case GgufType::kU64:
    case GgufType::kI64:
    case GgufType::kF64:
      return 8;
    default:
      return 0;
  }
}

// The elements of one tensor in its file type.
std::string encode(const std::vector<float>& x, GgmlType type) {
  std::string out(ggml_bytes(type, static_cast<int64_t>(x.size())), '\0');
  if (type == GgmlType::kQ8_0) {
    q8_0_quantize(x.data(), static_cast<int64_t>(x.size()), reinterpret_cast<uint8_t*>(out.data()));
  } else {
    convert_floats(out.data(), type == GgmlType::kF16 ? DType::F16 : DType::F32, x.data(),
                   DType::F32, x.size());
  }
  return out;
}

}  // namespace

GgufValue GgufValue::u32(uint32_t v) {
  GgufValue g;
  g.type = GgufType::kU32;
  g.number = v;
  return g;
}

GgufValue GgufValue::f32(float v) {
  GgufValue g;
  g.type = GgufType::kF32;
  g.number = v;
  return g;
}

GgufValue GgufValue::boolean(bool v) {
  GgufValue g;
  g.type = GgufType::kBool;
  g.number = v ? 1 : 0;
  return g;
}

GgufValue GgufValue::text(std::string v) {
  GgufValue g;
  g.type = GgufType::kString;
  g.string = std::move(v);
  return g;
}

GgufValue GgufValue::texts(std::vector<std::string> v) {
  GgufValue g;
  g.type = GgufType::kArray;
  g.array_type = GgufType::kString;
  g.strings = std::move(v);
  return g;
}

GgufValue GgufValue::f32s(const std::vector<float>& v) {
  GgufValue g;
  g.type = GgufType::kArray;
  g.array_type = GgufType::kF32;
  g.numbers.assign(v.begin(), v.end());
  return g;
}

GgufValue GgufValue::i32s(const std::vector<int32_t>& v) {
  GgufValue g;
  g.type = GgufType::kArray;
  g.array_type = GgufType::kI32;
  g.numbers.assign(v.begin(), v.end());
  return g;
}

const char* ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kQ8_0:
      return "Q8_0";
  }
  return "?";
}

size_t ggml_bytes(GgmlType t, int64_t n) {
  if (t == GgmlType::kF32) return static_cast<size_t>(n) * 4;
  if (t == GgmlType::kF16) return static_cast<size_t>(n) * 2;
  LLMTUNE_CHECK(n % kQ8Block == 0, "Q8_0 needs a multiple of ", kQ8Block, " elements, not ", n);
  return static_cast<size_t>(n / kQ8Block) * kQ8BlockBytes;
}

void q8_0_quantize(const float* x, int64_t n, uint8_t* out) {
  LLMTUNE_CHECK(n % kQ8Block == 0, "Q8_0 needs a multiple of ", kQ8Block, " elements, not ", n);
  for (int64_t b = 0; b < n / kQ8Block; ++b, x += kQ8Block, out += kQ8BlockBytes) {
    float amax = 0.0f;
    for (int64_t j = 0; j < kQ8Block; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    std::memcpy(out, &h, 2);
    for (int64_t j = 0; j < kQ8Block; ++j) {
      out[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id)));
    }
  }
}

void q8_0_dequantize(const uint8_t* in, int64_t n, float* x) {
  LLMTUNE_CHECK(n % kQ8Block == 0, "Q8_0 needs a multiple of ", kQ8Block, " elements, not ", n);
  for (int64_t b = 0; b < n / kQ8Block; ++b, x += kQ8Block, in += kQ8BlockBytes) {
    uint16_t h;
    std::memcpy(&h, in, 2);
    const float d = f16_to_f32(h);
    for (int64_t j = 0; j < kQ8Block; ++j) x[j] = d * static_cast<int8_t>(in[2 + j]);
  }
}

void GgufWriter::add(const std::string& key, GgufValue value) {
  for (const auto& [k, v] : metadata_) LLMTUNE_CHECK(k != key, "GGUF key ", key, " added twice");
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(GgufTensor tensor) {
  LLMTUNE_CHECK(!tensor.shape.empty(), "GGUF tensor ", tensor.name, " has no dimensions");
  for (const GgufTensor& t : tensors_) {
    LLMTUNE_CHECK(t.name != tensor.name, "GGUF tensor ", tensor.name, " added twice");
  }
  tensors_.push_back(std::move(tensor));
}

std::string GgufWriter::header() const {
  std::string h;
  put<uint32_t>(&h, kMagic);
  put<uint32_t>(&h, kVersion);
  put<uint64_t>(&h, tensors_.size());
  put<uint64_t>(&h, metadata_.size());
  for (const auto& [key, value] : metadata_) {
    put_string(&h, key);
    put_value(&h, value);
  }
  uint64_t offset = 0;
  for (const GgufTensor& t : tensors_) {
    put_string(&h, t.name);
    put<uint32_t>(&h, static_cast<uint32_t>(t.shape.size()));
    for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) put<uint64_t>(&h, *d);
    put<uint32_t>(&h, static_cast<uint32_t>(t.type));
    put<uint64_t>(&h, offset);
    offset += align(ggml_bytes(t.type, shape_numel(t.shape)));
  }
  h.resize(align(h.size()), '\0');
  return h;
}

void GgufWriter::write(const std::string& path) const {
  AtomicFile file(path);
  const std::string h = header();
  file.write(h.data(), h.size());
  const std::string zeros(kAlignment, '\0');
  for (const GgufTensor& t : tensors_) {
    const Tensor v = t.values();
    LLMTUNE_CHECK(v.shape() == t.shape, "GGUF tensor ", t.name, " is ", shape_str(v.shape()),
                  ", not the ", shape_str(t.shape), " its description says");
    const std::string data = encode(v.to_f32(), t.type);
    file.write(data.data(), data.size());
    file.write(zeros.data(), align(data.size()) - data.size());
  }
  file.commit();
}

// --- Reading

namespace {

class Cursor {
 public:
  Cursor(const std::string& bytes, const std::string& path) : b_(bytes), path_(path) {}
  size_t at() const { return at_; }
  template <typename T>
  T get() {
    need(sizeof(T), "a number");
    T v;
    std::memcpy(&v, b_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  std::string text() {
    const uint64_t n = get<uint64_t>();
    need(n, "a string");
    std::string s = b_.substr(at_, n);
    at_ += n;
    return s;
  }
  double number(GgufType t) {
    switch (t) {
      case GgufType::kU8:
        return get<uint8_t>();
      case GgufType::kI8:
        return get<int8_t>();
      case GgufType::kU16:
        return get<uint16_t>();
      case GgufType::kI16:
        return get<int16_t>();
      case GgufType::kU32:
        return get<uint32_t>();
      case GgufType::kI32:
        return get<int32_t>();
      case GgufType::kF32:
        return get<float>();
      case GgufType::kBool:
        return get<uint8_t>() != 0;
      case GgufType::kU64:
        return static_cast<double>(get<uint64_t>());
      case GgufType::kI64:
        return static_cast<double>(get<int64_t>());
      case GgufType::kF64:
        return get<double>();
      default:
        throw fail(str("value type ", static_cast<uint32_t>(t), " is not a number"));
    }
  }
  GgufValue value(GgufType type) {
    GgufValue v;
    v.type = type;
    if (type == GgufType::kString) {
      v.string = text();
    } else if (type == GgufType::kArray) {
      v.array_type = static_cast<GgufType>(get<uint32_t>());
      const uint64_t n = get<uint64_t>();
      // Each element takes at least one byte: a count beyond the file is a lie, not a size.
      need(n, "an array");
      for (uint64_t i = 0; i < n; ++i) {
        if (v.array_type == GgufType::kString)
          v.strings.push_back(text());
        else
          v.numbers.push_back(number(v.array_type));
      }
    } else {
      if (number_size(type) == 0) throw fail(str("unknown value type ", static_cast<int>(type)));
      v.number = number(type);
    }
    return v;
  }
  Error fail(const std::string& what) const {
    return Error(str(path_, ": not a valid GGUF file: ", what, " at byte ", at_));
  }

 private:
  void need(uint64_t n, const char* what) const {
    if (n > b_.size() - at_) throw fail(str(what, " runs past the end of the file"));
  }
  const std::string& b_;
  const std::string& path_;
  size_t at_ = 0;
};

}  // namespace

GgufFile gguf_read(const std::string& path) {
  GgufFile f;
  f.bytes = read_file(path);
  Cursor c(f.bytes, path);
  if (c.get<uint32_t>() != kMagic) throw c.fail("it does not start with \"GGUF\"");
  f.version = c.get<uint32_t>();
  if (f.version != kVersion) throw c.fail(str("version ", f.version, ", not 3"));
  const uint64_t n_tensors = c.get<uint64_t>(), n_kv = c.get<uint64_t>();
  if (n_tensors > f.bytes.size() || n_kv > f.bytes.size()) throw c.fail("impossible counts");
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.text();
    const auto type = static_cast<GgufType>(c.get<uint32_t>());
    f.metadata.emplace_back(std::move(key), c.value(type));
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = c.text();
    const uint32_t n_dims = c.get<uint32_t>();
    if (n_dims == 0 || n_dims > 4) throw c.fail(str("tensor ", t.name, " has ", n_dims, " dims"));
    for (uint32_t d = 0; d < n_dims; ++d) t.dims.push_back(static_cast<int64_t>(c.get<uint64_t>()));
    t.type = c.get<uint32_t>();
    t.offset = c.get<uint64_t>();
    f.tensors.push_back(t);
  }
  if (const GgufValue* a = f.find("general.alignment"); a && a->number != kAlignment)
    throw c.fail("general.alignment is not 32, the only alignment llmtune reads");
  f.data_start = align(c.at());
  for (const GgufTensorInfo& t : f.tensors) {
    try {
      f.tensor_bytes(t);  // validates its extent
    } catch (const Error& e) {
      throw Error(str(path, ": not a valid GGUF file: ", e.what()));
    }
  }
  return f;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  for (const GgufTensorInfo& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string_view GgufFile::tensor_bytes(const GgufTensorInfo& t) const {
  const auto type = static_cast<GgmlType>(t.type);
  if (type != GgmlType::kF32 && type != GgmlType::kF16 && type != GgmlType::kQ8_0)
    throw Error(
        str("GGUF tensor ", t.name, " has ggml type ", t.type, ", which llmtune reads not"));
  int64_t n = 1;
  for (int64_t d : t.dims) {
    if (d <= 0 || d > (int64_t{1} << 40) / n) throw Error(str("GGUF tensor ", t.name, " is huge"));
    n *= d;
  }
  if (type == GgmlType::kQ8_0 && t.dims[0] % kQ8Block != 0)
    throw Error(str("GGUF tensor ", t.name, " is Q8_0 with rows not in blocks of 32"));
  const size_t size = ggml_bytes(type, n);
  const size_t available = bytes.size() - std::min(bytes.size(), data_start);
  if (t.offset % kAlignment != 0 || t.offset > available || size > available - t.offset) {
    throw Error(str("GGUF tensor ", t.name, " lies outside the file's data"));
  }
  return std::string_view(bytes).substr(data_start + t.offset, size);
}

std::vector<float> GgufFile::tensor_f32(const GgufTensorInfo& t) const {
  const std::string_view b = tensor_bytes(t);
  const auto type = static_cast<GgmlType>(t.type);
  int64_t n = 1;
  for (int64_t d : t.dims) n *= d;
  std::vector<float> x(static_cast<size_t>(n));
  if (type == GgmlType::kF32) {
    std::memcpy(x.data(), b.data(), b.size());
  } else if (type == GgmlType::kF16) {
    convert_floats(x.data(), DType::F32, b.data(), DType::F16, x.size());
  } else {
    q8_0_dequantize(reinterpret_cast<const uint8_t*>(b.data()), n, x.data());
  }
  return x;
}

}  // namespace llmtune::io
