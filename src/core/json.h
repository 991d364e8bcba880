// JSON from files a stranger may have written (config.json, tokenizer.json, adapters, data):
// parsed with a nesting limit, errors naming where.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace llmtune {

// How deeply JSON input may nest. No real file comes near (tokenizer.json nests about 6
// levels); deeper input is damaged or hostile, and would exhaust the stack of the recursive
// copies and comparisons that nested values get.
constexpr int kMaxJsonDepth = 256;

// Throws llmtune::Error naming `where` and the line when `text` nests deeper than
// kMaxJsonDepth (brackets inside strings do not count).
void json_check_depth(std::string_view text, const std::string& where);

// nlohmann::json::parse that also reports the first key repeated within one object in
// *duplicate ("" when none): nlohmann keeps the last value silently, and a file that says a
// setting twice is ambiguous. Throws what parse throws.
nlohmann::json json_parse_keys(std::string_view text, std::string* duplicate);

// Parses `text` from `where` (a path, or path:line): json_check_depth, then a syntax error
// reported with its line.
nlohmann::json json_parse(std::string_view text, const std::string& where);

// Typed reads of obj[key] (obj from `where`): bool, int32_t, int64_t, double (finite) or
// std::string. A wrong type, an integer out of T's range or a missing key (json_get) throws
// llmtune::Error naming where, the key, what it must be and what it is.
template <typename T>
T json_get(const nlohmann::json& obj, std::string_view key, const std::string& where);
// The same with `fallback` when obj lacks the key or holds null there.
template <typename T>
T json_get_or(const nlohmann::json& obj, std::string_view key, T fallback,
              const std::string& where);

}  // namespace llmtune
