// Internal to src/config: YAML read into JSON that remembers where each key was written, the
// closest-key suggestion for misspelled keys, and typed reads of values whose errors say where.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/experiment.h"

namespace llmtune::config {

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string key_join(const std::string& parent, const std::string& child);

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), ignoring case and
// treating '-' as '_'.
int key_distance(std::string_view a, std::string_view b);
// The candidate a misspelled `key` most likely meant, or "" when none is close.
std::string key_closest(std::string_view key, const std::vector<std::string_view>& candidates);

// A YAML document as JSON. Plain scalars follow the YAML 1.2 core schema (true/false, null, ints,
// floats including 1e-5), quoted and block scalars stay strings.
struct YamlJson {
  nlohmann::json value;
  std::vector<KeyOrigin> keys;  // every mapping key, depth first in document order: "label:line"
};
// Throws llmtune::Error "label:line: invalid YAML: ..." for a syntax error, a duplicate key or a
// key that is not a scalar.
YamlJson yaml_to_json(const std::string& text, const std::string& label);
// The value of a plain (unquoted) scalar under the core schema.
nlohmann::json yaml_plain_scalar(const std::string& text);

// Answers where a dotted key came from: its own origin, else its nearest recorded parent's, else
// the file.
class Locator {
 public:
  Locator(std::string file, const std::vector<KeyOrigin>& keys);
  std::string at(const std::string& key) const;
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::unordered_map<std::string, std::string> origins_;
};

// Throws llmtune::Error "where: key: message".
[[noreturn]] void fail_at(const Locator& loc, const std::string& key, const std::string& message);

// Throws "unknown key 'key' in where; did you mean 'x'?". `candidates` are the valid names at that
// level; `elsewhere` are full dotted keys valid at other levels, suggested when their last part
// equals the unknown name (a TrainingArguments name put directly under hyperparameters).
[[noreturn]] void fail_unknown_key(const Locator& loc, const std::string& key,
                                   const std::vector<std::string_view>& candidates,
                                   const std::vector<std::string>& elsewhere = {});

// Fails on the first key of `map` (at dotted `prefix`) that is not in `known`.
void check_keys(const nlohmann::json& map, const std::string& prefix,
                const std::vector<std::string_view>& known, const Locator& loc,
                const std::vector<std::string>& elsewhere = {});

// The value as it reads in an error: `the string "1e-5"`, `a list`, `true`.
std::string describe(const nlohmann::json& value);

// Typed reads; the error names the key, where it was written and what was found. An integral
// float (1e3) reads as an integer.
int64_t read_int(const nlohmann::json& v, const std::string& key, const Locator& loc);
double read_number(const nlohmann::json& v, const std::string& key, const Locator& loc);
bool read_bool(const nlohmann::json& v, const std::string& key, const Locator& loc);
std::string read_string(const nlohmann::json& v, const std::string& key, const Locator& loc);
const nlohmann::json& read_map(const nlohmann::json& v, const std::string& key, const Locator& loc);

// Reads a whole file; throws llmtune::Error naming `what` and the path when it cannot.
std::string read_text_file(const std::string& path, const std::string& what);

}  // namespace llmtune::config
