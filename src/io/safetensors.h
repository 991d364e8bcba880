// safetensors: the tensor file format of Hugging Face (8-byte little-endian header length,
// JSON header, then the data buffer). Reading memory-maps the file and validates the header
// the way the reference (Rust) reader does; writing produces the same bytes that library
// writes: tensors ordered by dtype then name, compact JSON, header padded to 8 bytes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace llmtune::io {

struct SafetensorsEntry {
  std::string name;
  std::string dtype_name;  // as in the header, "BF16"
  Shape shape;
  size_t begin = 0, end = 0;  // byte offsets into the data buffer
};

class SafetensorsFile {
 public:
  // Maps and validates the file; throws llmtune::Error naming the file and the problem.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }  // offset order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsEntry* find(const std::string& name) const;

  // A CPU tensor over the mapped bytes (copy-on-write: writing to it never changes the file).
  // Throws for a missing name or a dtype llmtune does not compute with.
  Tensor tensor(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  size_t data_start_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  std::weak_ptr<SafetensorsFile> self_;
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The complete file bytes for these tensors (host copies of any device's tensors).
std::string safetensors_serialize(const NamedTensors& tensors,
                                  const std::map<std::string, std::string>& metadata = {
                                      {"format", "pt"}});
// Serializes and writes atomically. Names must be unique.
void safetensors_write(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace llmtune::io
