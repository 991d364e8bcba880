#include "server/assets.h"

#include <map>
#include <string>

namespace llmtune::server {

namespace {

std::string_view content_type_of(std::string_view name) {
  static const std::map<std::string_view, std::string_view> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"}};
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  const auto it = kTypes.find(name.substr(dot));
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

std::map<std::string_view, Asset> make_table() {
  std::map<std::string_view, Asset> table;
  for (size_t i = 0; i < kEmbeddedFileCount; ++i) {
    const EmbeddedFile& f = kEmbeddedFiles[i];
    const std::string_view bytes(reinterpret_cast<const char*>(f.data), f.size);
    table[f.name] = Asset{f.name, content_type_of(f.name), bytes};
  }
  return table;
}

}  // namespace

const Asset* asset_find(std::string_view name) {
  static const std::map<std::string_view, Asset> kTable = make_table();
  const auto it = kTable.find(name);
  return it == kTable.end() ? nullptr : &it->second;
}

}  // namespace llmtune::server
