// File helpers shared by the readers and writers: whole-file reads, atomic writes, JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/files.h"

namespace llmtune::io {

// The file's bytes (core/files.h).
using llmtune::read_file;

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

bool file_exists(const std::string& path);
std::string path_join(const std::string& dir, const std::string& name);

}  // namespace llmtune::io
