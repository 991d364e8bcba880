// The dashboard's static files (web/ and Debian's Chart.js), built into the program at compile
// time (embed_assets.cmake), so that nothing is read from disk or fetched when it serves them.
#pragma once

#include <cstddef>
#include <string_view>

namespace llmtune::server {

struct Asset {
  std::string_view name;          // "app.js": served at /static/app.js
  std::string_view content_type;  // from the extension
  std::string_view bytes;
};

// The asset with exactly this name, or null: a name is looked up, never used as a path.
const Asset* asset_find(std::string_view name);

// What embed_assets.cmake generates: every file's name and bytes.
struct EmbeddedFile {
  const char* name;
  const unsigned char* data;
  size_t size;
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;

}  // namespace llmtune::server
