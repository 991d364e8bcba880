#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>

#include "core/error.h"
#include "core/json.h"

namespace llmtune {

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(str("cannot open ", path, ": ", std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(str("cannot read ", path, ": ", std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) throw Error(str(path, " is a directory; a file is needed here"));
  if (!S_ISREG(st.st_mode)) {
    throw Error(str(path, " is not a regular file (a device, pipe or socket); give a file"));
  }
  std::string bytes;
  try {
    bytes.resize(static_cast<size_t>(st.st_size));
  } catch (const std::bad_alloc&) {
    throw OutOfMemory(str("out of memory reading ", path, " (", st.st_size, " bytes)"));
  } catch (const std::length_error&) {
    throw OutOfMemory(str("out of memory reading ", path, " (", st.st_size, " bytes)"));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(str("cannot read ", path, ": ", std::strerror(errno)));
    if (n == 0) break;  // it shrank while being read
    done += static_cast<size_t>(n);
  }
  if (done != bytes.size()) {
    throw Error(str(path, " changed while being read (", done, " of ", bytes.size(),
                    " bytes); read it again once nothing writes it"));
  }
  return bytes;
}

std::string read_file(const std::string& path, const std::string& hint) {
  try {
    return read_file(path);
  } catch (const OutOfMemory&) {
    throw;
  } catch (const Error& e) {
    throw Error(str(e.what(), "; ", hint));
  }
}

AtomicFile::AtomicFile(const std::string& path) : path_(path), tmp_(path + ".tmp") {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd_ < 0) throw Error(str("cannot write ", tmp_, ": ", std::strerror(errno)));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

namespace {

// Fault injection for the disk-full tests: LLMTUNE_FAULT_ENOSPC=TEXT makes a write to a file
// whose path contains TEXT stop halfway with ENOSPC, as a full disk does.
bool fault_disk_full(const std::string& path) {
  const char* text = std::getenv("LLMTUNE_FAULT_ENOSPC");
  return text != nullptr && *text != '\0' && path.find(text) != std::string::npos;
}

}  // namespace

void AtomicFile::write(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  const bool full = fault_disk_full(tmp_);
  if (full) bytes /= 2;
  while (bytes > 0) {
    const ssize_t w = ::write(fd_, p, std::min<size_t>(bytes, size_t{1} << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error(str("cannot write ", tmp_, ": ", std::strerror(errno)));
    }
    p += w;
    bytes -= static_cast<size_t>(w);
  }
  if (full) throw Error(str("cannot write ", tmp_, ": ", std::strerror(ENOSPC)));
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(tmp_.c_str());
    throw Error(str("cannot write ", tmp_, ": ", std::strerror(errno)));
  }
  fd_ = -1;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp_.c_str());
    throw Error(str("cannot rename ", tmp_, " to ", path_, ": ", why));
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  f.commit();
}

nlohmann::json read_json(const std::string& path) {
  return json_parse(read_file(path), path);
}

std::string json_dumps_sorted(const nlohmann::json& value) {
  return value.dump(2, ' ', /*ensure_ascii=*/true);
}

bool file_exists(const std::string& path) {
  std::error_code ec;  // a name too long for the file system, say, names no file
  return std::filesystem::exists(path, ec) && !ec;
}

std::string path_join(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

}  // namespace llmtune
