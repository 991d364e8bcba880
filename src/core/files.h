// Files: whole reads of files a user names (only regular files: a FIFO or /dev/zero would
// block or never end; every byte or an error, never a silently short read), atomic writes,
// JSON files, paths.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace llmtune {

// The file's bytes. Throws llmtune::Error naming the path when it is missing, not a regular
// file or unreadable, and OutOfMemory when its size cannot be held.
std::string read_file(const std::string& path);
// The same, with `hint` (what the file is for, what to check) after a failure's message; out
// of memory is reported as it is.
std::string read_file(const std::string& path, const std::string& hint);

// A file written under `path.tmp` and renamed over `path` by commit(), so a reader never sees
// a half-written file; destroyed uncommitted, it removes the temporary.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(const void* data, size_t bytes);
  void commit();  // fsync, close, rename

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

void write_file_atomic(const std::string& path, const std::string& bytes);

// Parses a JSON file; errors name the path, the line of a syntax error, and nesting deeper
// than kMaxJsonDepth (core/json.h).
nlohmann::json read_json(const std::string& path);

// Python's json.dumps(value, indent=2, sort_keys=True): nlohmann's objects are sorted maps and
// its indented layout matches Python's; non-ASCII is escaped as Python does by default.
std::string json_dumps_sorted(const nlohmann::json& value);

// Whether `path` names an existing file or directory; false when it cannot (too long a name).
bool file_exists(const std::string& path);
std::string path_join(const std::string& dir, const std::string& name);

}  // namespace llmtune
