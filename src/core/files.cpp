#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "core/error.h"

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

}  // namespace llmtune
