#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/json.h"

namespace llmtune::io {

namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeader = 100'000'000;

// Element sizes in bits of every dtype a valid file may hold; llmtune computes with a subset.
// The order is the Rust writer's dtype order (the writer sorts by it, descending).
const std::vector<std::pair<std::string, int>>& dtype_table() {
  static const std::vector<std::pair<std::string, int>> kTable = {
      {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
      {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
      {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
      {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
      {"I64", 64},        {"U64", 64}};
  return kTable;
}

int dtype_bits(const std::string& name) {
  for (const auto& [n, bits] : dtype_table()) {
    if (n == name) return bits;
  }
  return 0;
}

int dtype_rank(const std::string& name) {
  const auto& t = dtype_table();
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i].first == name) return static_cast<int>(i);
  }
  return -1;
}

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error(str(path, ": not a valid safetensors file: ", what));
}

// One tensor of the header, checked: its dtype, its shape (no overflow) and its offsets, which
// must cover exactly the bytes that dtype and shape need.
SafetensorsEntry entry_parse(const std::string& path, const std::string& name, const json& value) {
  const std::string where = str("tensor \"", name, "\"");
  if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") ||
      !value.contains("data_offsets")) {
    bad(path, where + " needs dtype, shape and data_offsets");
  }
  SafetensorsEntry e;
  e.name = name;
  if (!value["dtype"].is_string()) bad(path, where + ": dtype is not a string");
  e.dtype_name = value["dtype"].get<std::string>();
  const int bits = dtype_bits(e.dtype_name);
  if (bits == 0) bad(path, str(where, ": unknown dtype \"", e.dtype_name, "\""));
  const json& shape = value["shape"];
  const json& offsets = value["data_offsets"];
  if (!shape.is_array()) bad(path, where + ": shape is not a list");
  unsigned __int128 numel = 1;
  for (const json& d : shape) {
    if (!d.is_number_unsigned()) {
      bad(path, where + ": shape holds a non-integer or negative size");
    }
    if (d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      bad(path, where + ": shape holds a size over 2^63 - 1");
    }
    e.shape.push_back(d.get<int64_t>());
    numel *= d.get<uint64_t>();
    if (numel > (static_cast<unsigned __int128>(1) << 62))
      bad(path, where + ": shape is too large");
  }
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    bad(path, where + ": data_offsets must be two non-negative integers");
  }
  e.begin = offsets[0].get<size_t>();
  e.end = offsets[1].get<size_t>();
  if (e.end < e.begin) bad(path, where + ": data_offsets end before they begin");
  const unsigned __int128 bytes = (numel * bits + 7) / 8;
  if (numel * bits % 8 != 0) bad(path, where + ": sub-byte tensor does not fill whole bytes");
  if (static_cast<unsigned __int128>(e.end - e.begin) != bytes) {
    bad(path, str(where, ": data_offsets cover ", e.end - e.begin, " bytes but ", e.dtype_name,
                  shape_str(e.shape), " needs ", static_cast<uint64_t>(bytes)));
  }
  return e;
}

// The tensors must tile the data section: sorted by offset, no hole, no overlap, no tail.
void check_layout(const std::string& path, std::vector<SafetensorsEntry>& entries,
                  size_t data_size) {
  std::sort(entries.begin(), entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  size_t expected = 0;
  for (const SafetensorsEntry& e : entries) {
    if (e.begin != expected) {
      bad(path, str("tensor \"", e.name, "\" starts at byte ", e.begin, " of the data but ",
                    expected, " was expected (a hole or an overlap)"));
    }
    expected = e.end;
  }
  if (expected != data_size) {
    bad(path, str("the tensors cover ", expected, " bytes of data but the file holds ", data_size,
                  expected > data_size ? " (truncated?)" : " (trailing bytes)"));
  }
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  // O_NONBLOCK: a FIFO in a weights file's place must not block the open.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw Error(str("cannot open ", path, ": ", std::strerror(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(str("cannot stat ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(str(path, S_ISDIR(st.st_mode) ? " is a directory" : " is not a regular file",
                    "; a safetensors weights file is needed here"));
  }
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ < 8) {
    ::close(fd);
    bad(path, str("the file has ", f->size_, " bytes, fewer than the 8-byte header length"));
  }
  f->map_ = ::mmap(nullptr, f->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (f->map_ == MAP_FAILED) {
    f->map_ = nullptr;
    throw Error(str("cannot map ", path, ": ", std::strerror(errno)));
  }
  f->self_ = f;
  const char* base = static_cast<const char*>(f->map_);
  uint64_t n;
  std::memcpy(&n, base, 8);  // little-endian on every platform llmtune runs on
  if (n > kMaxHeader) bad(path, str("header length ", n, " exceeds the 100 MB limit"));
  if (n > f->size_ - 8) {
    bad(path, str("header length ", n, " points past the end of the ", f->size_,
                  "-byte file (truncated?)"));
  }
  if (n == 0 || base[8] != '{') bad(path, "the header does not start with '{'");
  f->data_start_ = 8 + static_cast<size_t>(n);

  // Parse, refusing a key repeated within any object (nlohmann would keep the last one).
  const std::string_view header_text(base + 8, static_cast<size_t>(n));
  std::string duplicate;
  json_check_depth(header_text, path + " (header)");
  json header;
  try {
    header = json_parse_keys(header_text, &duplicate);
  } catch (const json::exception& e) {
    bad(path, str("the header is not valid JSON: ", e.what()));
  }
  if (!duplicate.empty())
    bad(path, str("the header lists \"", duplicate, "\" twice in one object"));
  if (!header.is_object()) bad(path, "the header is not a JSON object");

  for (auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) bad(path, "__metadata__ must be an object of strings");
      for (auto& [k, v] : value.items()) {
        if (!v.is_string()) bad(path, str("__metadata__ value for \"", k, "\" is not a string"));
        f->metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    f->entries_.push_back(entry_parse(path, name, value));
  }
  check_layout(path, f->entries_, f->size_ - f->data_start_);
  for (size_t i = 0; i < f->entries_.size(); ++i) f->index_[f->entries_[i].name] = i;
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, size_);
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry* e = find(name);
  if (e == nullptr) throw Error(str(path_, ": no tensor named \"", name, "\""));
  DType dtype;
  if (!dtype_parse(e->dtype_name, &dtype)) {
    throw Error(str(path_, ": tensor \"", name, "\" has dtype ", e->dtype_name,
                    "; llmtune reads F32, BF16, F16 and I32"));
  }
  char* data = static_cast<char*>(map_) + data_start_ + e->begin;
  return Tensor::borrow(data, e->shape, dtype, Device::cpu(), self_.lock());
}

namespace {

// The header (with its length prefix) and the tensors in file order.
struct Layout {
  std::string prefix;
  std::vector<const std::pair<std::string, Tensor>*> order;
};

Layout layout(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  Layout l;
  std::set<std::string> names;
  for (const auto& nt : tensors) {
    if (!names.insert(nt.first).second) throw Error(str("tensor \"", nt.first, "\" written twice"));
    LLMTUNE_CHECK(nt.second.is_contiguous(), "writing non-contiguous tensor ", nt.first);
    l.order.push_back(&nt);
  }
  std::stable_sort(l.order.begin(), l.order.end(), [](auto* a, auto* b) {
    const int ra = dtype_rank(dtype_name(a->second.dtype()));
    const int rb = dtype_rank(dtype_name(b->second.dtype()));
    return ra != rb ? ra > rb : a->first < b->first;
  });
  std::string header = "{";
  if (!metadata.empty()) header += "\"__metadata__\":" + json(metadata).dump() + ",";
  size_t offset = 0;
  for (size_t i = 0; i < l.order.size(); ++i) {
    const Tensor& t = l.order[i]->second;
    const size_t bytes = t.nbytes();
    header += json(l.order[i]->first).dump() + ":{\"dtype\":\"" + dtype_name(t.dtype()) +
              "\",\"shape\":" + json(t.shape()).dump() + ",\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    if (i + 1 < l.order.size()) header += ",";
    offset += bytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  const uint64_t n = header.size();
  l.prefix.assign(reinterpret_cast<const char*>(&n), 8);
  l.prefix += header;
  return l;
}

// Appends a tensor's bytes through `sink`, straight from memory on the CPU.
template <typename Sink>
void emit(const Tensor& t, Sink&& sink) {
  if (t.device().is_cpu()) {
    sink(t.raw(), t.nbytes());
  } else {
    std::string host(t.nbytes(), '\0');
    t.copy_to_host(host.data());
    sink(host.data(), host.size());
  }
}

}  // namespace

std::string safetensors_serialize(const NamedTensors& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  const Layout l = layout(tensors, metadata);
  std::string out = l.prefix;
  for (const auto* nt : l.order) {
    emit(nt->second, [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); });
  }
  return out;
}

void safetensors_write(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const Layout l = layout(tensors, metadata);
  AtomicFile f(path);
  f.write(l.prefix.data(), l.prefix.size());
  for (const auto* nt : l.order) emit(nt->second, [&](const void* p, size_t n) { f.write(p, n); });
  f.commit();
}

}  // namespace llmtune::io
