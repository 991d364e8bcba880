#include "core/json.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <set>
#include <type_traits>
#include <vector>

#include "core/error.h"

namespace llmtune {

namespace {

// The 1-based line of byte `at` of `text`.
size_t line_of(std::string_view text, size_t at) {
  at = std::min(at, text.size());
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + at, '\n'));
}

}  // namespace

void json_check_depth(std::string_view text, const std::string& where) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        throw Error(str(where, ":", line_of(text, i), ": JSON nested deeper than ", kMaxJsonDepth,
                        " levels; no llmtune input needs that: the file is damaged or hostile"));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

nlohmann::json json_parse_keys(std::string_view text, std::string* duplicate) {
  std::vector<std::set<std::string>> open_objects;
  duplicate->clear();
  return nlohmann::json::parse(
      text, [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::object_start) {
          open_objects.emplace_back();
        } else if (event == nlohmann::json::parse_event_t::object_end) {
          open_objects.pop_back();
        } else if (event == nlohmann::json::parse_event_t::key) {
          if (!open_objects.back().insert(parsed.get<std::string>()).second && duplicate->empty()) {
            *duplicate = parsed.get<std::string>();
          }
        }
        return true;
      });
}

nlohmann::json json_parse(std::string_view text, const std::string& where) {
  json_check_depth(text, where);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based; report the line it falls on.
    std::string what = e.what();
    if (what.size() > 240) what = what.substr(0, 240) + "...";  // "last read" can be huge
    throw Error(
        str(where, ":", line_of(text, e.byte == 0 ? 0 : e.byte - 1), ": invalid JSON: ", what));
  } catch (const nlohmann::json::out_of_range& e) {  // a number past the double range
    throw Error(str(where, ": invalid JSON: ", e.what()));
  }
}

namespace {

template <typename T>
const char* json_expected() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  if constexpr (std::is_same_v<T, int32_t>) return "an integer that fits 32 bits";
  if constexpr (std::is_same_v<T, int64_t>) return "an integer";
  if constexpr (std::is_same_v<T, double>) return "a finite number";
  if constexpr (std::is_same_v<T, std::string>) return "a string";
}

template <typename T>
bool json_fits(const nlohmann::json& v) {
  if constexpr (std::is_same_v<T, bool>) return v.is_boolean();
  if constexpr (std::is_same_v<T, int32_t>)
    return v.is_number_integer() && v.get<int64_t>() >= INT32_MIN &&
           v.get<int64_t>() <= INT32_MAX &&
           !(v.is_number_unsigned() && v.get<uint64_t>() > INT32_MAX);
  if constexpr (std::is_same_v<T, int64_t>)
    return v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX);
  if constexpr (std::is_same_v<T, double>) return v.is_number() && std::isfinite(v.get<double>());
  if constexpr (std::is_same_v<T, std::string>) return v.is_string();
}

template <typename T>
T json_read(const nlohmann::json& v, std::string_view key, const std::string& where) {
  if (!json_fits<T>(v)) {
    std::string shown = v.dump();
    if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
    throw Error(str(where, ": \"", key, "\" must be ", json_expected<T>(), ", got ", shown));
  }
  return v.get<T>();
}

}  // namespace

template <typename T>
T json_get(const nlohmann::json& obj, std::string_view key, const std::string& where) {
  if (!obj.is_object()) throw Error(str(where, ": expected a JSON object, got ", obj.type_name()));
  const auto it = obj.find(key);
  if (it == obj.end()) throw Error(str(where, ": \"", key, "\" is missing"));
  return json_read<T>(*it, key, where);
}

template <typename T>
T json_get_or(const nlohmann::json& obj, std::string_view key, T fallback,
              const std::string& where) {
  if (!obj.is_object()) throw Error(str(where, ": expected a JSON object, got ", obj.type_name()));
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  return json_read<T>(*it, key, where);
}

#define LLMTUNE_JSON_GET(T)                                                            \
  template T json_get<T>(const nlohmann::json&, std::string_view, const std::string&); \
  template T json_get_or<T>(const nlohmann::json&, std::string_view, T, const std::string&);
LLMTUNE_JSON_GET(bool)
LLMTUNE_JSON_GET(int32_t)
LLMTUNE_JSON_GET(int64_t)
LLMTUNE_JSON_GET(double)
LLMTUNE_JSON_GET(std::string)
#undef LLMTUNE_JSON_GET

}  // namespace llmtune
