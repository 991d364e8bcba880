#include "track/tensorboard.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>

#include "core/error.h"

namespace llmtune::track {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Protobuf wire encoding, the few pieces an Event with a scalar summary needs.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_fixed(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

void put_double(std::string& out, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_fixed(out, bits, 8);
}

void put_float(std::string& out, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_fixed(out, bits, 4);
}

// A length-delimited field: key (field << 3 | wire type 2), length, bytes.
void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | 2);
  put_varint(out, bytes.size());
  out += bytes;
}

// Event{wall_time = 1, step = 2} with the rest of the event (`what`) already encoded. A zero
// step is left out, as protobuf's own serializer does for a proto3 default.
std::string event(double wall_time, int64_t step, const std::string& what) {
  std::string e;
  e += '\x09';
  put_double(e, wall_time);
  if (step != 0) {
    e += '\x10';
    put_varint(e, static_cast<uint64_t>(step));  // int64: negative steps take 10 bytes
  }
  return e + what;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t c = crc32c(data, size);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

EventWriter::EventWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(str("cannot create the TensorBoard directory ", dir, ": ", ec.message()));
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%010lld", static_cast<long long>(std::time(nullptr)));
  const std::string base = (std::filesystem::path(dir) / str("events.out.tfevents.", stamp, ".",
                                                             hostname(), ".", getpid(), ".llmtune"))
                               .string();
  // Two writers in one directory within one second (a restart, a test) get ".1", ".2", ...,
  // which sort after the first, so TensorBoard reads them in order.
  for (int n = 0; file_ == nullptr; ++n) {
    path_ = n == 0 ? base : str(base, ".", n);
    file_ = std::fopen(path_.c_str(), "wbx");
    if (file_ == nullptr && (errno != EEXIST || n >= 1000)) {
      throw Error(
          str("cannot create the TensorBoard event file ", path_, ": ", std::strerror(errno)));
    }
  }
  std::string version;
  put_bytes(version, 3, "brain.Event:2");
  try {
    record(event(now_seconds(), 0, version));
  } catch (...) {
    std::fclose(file_);
    throw;
  }
}

EventWriter::~EventWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void EventWriter::scalar(const std::string& tag, int64_t step, double value, double wall_time) {
  std::string v;
  put_bytes(v, 1, tag);
  v += '\x15';
  put_float(v, static_cast<float>(value));
  std::string summary;
  put_bytes(summary, 1, v);
  std::string what;
  put_bytes(what, 5, summary);
  record(event(wall_time < 0 ? now_seconds() : wall_time, step, what));
}

void EventWriter::record(const std::string& data) {
  std::string r;
  r.reserve(data.size() + 16);
  put_fixed(r, data.size(), 8);
  put_fixed(r, masked_crc32c(r.data(), 8), 4);
  r += data;
  put_fixed(r, masked_crc32c(data.data(), data.size()), 4);
  if (std::fwrite(r.data(), 1, r.size(), file_) != r.size() || std::fflush(file_) != 0) {
    throw Error(str("cannot write the TensorBoard event file ", path_, ": ", std::strerror(errno)));
  }
}

std::string tensorboard_tag(const std::string& key) {
  if (key.starts_with("eval_")) return "eval/" + key.substr(5);
  if (key.starts_with("test_")) return "test/" + key.substr(5);
  return "train/" + key;
}

}  // namespace llmtune::track
