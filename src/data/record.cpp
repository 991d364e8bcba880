#include "data/record.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "data/csv.h"
#include "text/utf8.h"

namespace llmtune::data {

namespace {

using nlohmann::json;

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kSpace = " \t\r\n\f\v";
constexpr const char* kDbField = "db";

// The names of the fields that fill Record's instruction, input and response.
struct Mapping {
  std::string instruction, input, response;
  bool operator==(const Mapping&) const = default;
  std::string str() const { return instruction + "/" + input + "/" + response; }
};

const Mapping kReferenceNames{"instruction", "input", "response"};
const Mapping kSqlCreateContextNames{"question", "context", "answer"};

std::string_view trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

bool is_blank(std::string_view s) {
  return s.find_first_not_of(kSpace) == std::string_view::npos;
}

std::string quoted_list(const std::vector<std::string>& names) {
  if (names.empty()) return "no fields";
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "\"" : ", \"") + n + "\"";
  return out;
}

// "path:line", with the element of a JSON array when there is one.
std::string where(const std::string& path, int64_t line, int64_t element = 0) {
  return element > 0 ? str(path, ":", line, " (element ", element, ")") : str(path, ":", line);
}

// The 1-based line of text[offset]. CSV also ends lines at a lone CR; JSON does not.
int64_t line_at(std::string_view text, size_t offset, bool lone_cr) {
  int64_t line = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n' ||
        (lone_cr && text[i] == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n'))) {
      ++line;
    }
  }
  return line;
}

void check_utf8(std::string_view text, const std::string& path, bool lone_cr) {
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    throw Error(str(path, ":", line_at(text, nul, lone_cr), ": byte offset ", nul,
                    " is a NUL byte; a records file is text"));
  }
  if (text::utf8_valid(text)) return;
  for (size_t i = 0; i < text.size();) {
    const size_t n = text::utf8_length(static_cast<unsigned char>(text[i]));
    if (!text::utf8_valid(text.substr(i, n))) {
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[i]));
      throw Error(str(path, ":", line_at(text, i, lone_cr), ": byte offset ", i, " (", byte,
                      ") is not valid UTF-8; save the file as UTF-8"));
    }
    i += n;
  }
}

Format detect_format(const std::string& path, std::string_view text) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const size_t first = text.find_first_not_of(kSpace);
  const char lead = first == std::string_view::npos ? '\0' : text[first];
  if (ext == ".jsonl" || ext == ".ndjson") return Format::kJsonLines;
  if (ext == ".csv") return Format::kCsv;
  // Hugging Face datasets' to_json() writes JSON Lines under .json, so the content decides.
  if (ext == ".json") return lead == '[' ? Format::kJsonArray : Format::kJsonLines;
  if (lead == '[') return Format::kJsonArray;
  if (lead == '{') return Format::kJsonLines;
  return Format::kCsv;
}

// Explicit names where given; for the rest the reference names, else sql-create-context's,
// whichever `names` (the first record's fields or the CSV header) holds all of.
Mapping choose_mapping(const ReadOptions& o, const std::vector<std::string>& names,
                       const std::string& at, const std::string& whose) {
  const auto has = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  std::vector<Mapping> tried;
  std::string missing;
  for (Mapping m : {kReferenceNames, kSqlCreateContextNames}) {
    if (!o.instruction_field.empty()) m.instruction = o.instruction_field;
    if (!o.input_field.empty()) m.input = o.input_field;
    if (!o.response_field.empty()) m.response = o.response_field;
    if (std::find(tried.begin(), tried.end(), m) != tried.end()) continue;
    tried.push_back(m);
    std::vector<std::string> absent;
    for (const std::string* n : {&m.instruction, &m.input, &m.response}) {
      if (!has(*n)) absent.push_back(*n);
    }
    if (absent.empty()) return m;
    missing += str(missing.empty() ? "" : " or ", m.str(), " (missing ", quoted_list(absent), ")");
  }
  throw Error(str(at, ": ", whose, " has no fields for the mapping ", missing, "; it has ",
                  quoted_list(names),
                  ". Name the fields with --instruction-field, --input-field and --response-field "
                  "(ReadOptions::*_field)"));
}

// The response without a "[SQL] ... [/SQL]" wrapper around all of it (and the spaces inside).
std::string strip_sql_wrapper(const std::string& response) {
  constexpr std::string_view kOpen = "[SQL]", kClose = "[/SQL]";
  const std::string_view t = trim(response);
  if (t.size() < kOpen.size() + kClose.size() || !t.starts_with(kOpen) || !t.ends_with(kClose)) {
    return response;
  }
  return std::string(trim(t.substr(kOpen.size(), t.size() - kOpen.size() - kClose.size())));
}

std::string json_kind(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    default:
      return "a number";
  }
}

// nlohmann's parse message without its "[json.exception...] parse error at line 1, column 5: "
// prefix, whose position is relative to what was parsed, not to the file.
std::string json_reason(const json::parse_error& e) {
  const std::string what = e.what();
  const size_t at = what.find("parse error");
  const size_t colon = at == std::string::npos ? at : what.find(": ", at);
  std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
  if (reason.size() > 200) reason = reason.substr(0, 200) + "...";  // "last read" can be huge
  return reason;
}

std::vector<std::string> json_keys(const json& obj) {
  std::vector<std::string> keys;
  for (const auto& item : obj.items()) keys.push_back(item.key());
  return keys;
}

void require_object(const json& v, const std::string& at) {
  if (!v.is_object()) {
    throw Error(str(at, ": expected a JSON object with the record's fields, got ", json_kind(v),
                    "; write each record as {\"instruction\": ..., \"input\": ..., "
                    "\"response\": ...}"));
  }
}

// obj[name] as a string; nullptr when an optional field is absent or null.
const std::string* json_field(const json& obj, const std::string& name, const Mapping* required,
                              const std::string& at) {
  const auto it = obj.find(name);
  if (it == obj.end() || (it->is_null() && required == nullptr)) {
    if (required == nullptr) return nullptr;
    throw Error(str(at, ": the record has no field \"", name, "\" (mapping ", required->str(),
                    ", chosen from the first record); it has ", quoted_list(json_keys(obj)),
                    ". Give every record the same fields"));
  }
  if (!it->is_string()) {
    throw Error(str(at, ": field \"", name, "\" is ", json_kind(*it),
                    ", not a string; write it as a JSON string (in quotes)"));
  }
  return &it->get_ref<const std::string&>();
}

Record json_record(const json& value, const Mapping& m, const std::string& at, int64_t line) {
  require_object(value, at);
  Record r;
  r.instruction = *json_field(value, m.instruction, &m, at);
  r.input = *json_field(value, m.input, &m, at);
  r.response = strip_sql_wrapper(*json_field(value, m.response, &m, at));
  if (const std::string* db = json_field(value, kDbField, nullptr, at)) r.db = *db;
  r.line = line;
  return r;
}

std::vector<Record> read_json_lines(std::string_view text, const std::string& path,
                                    const ReadOptions& options) {
  std::vector<Record> records;
  Mapping mapping;
  int64_t line = 0;
  for (size_t begin = 0; begin < text.size();) {
    const size_t end = std::min(text.find('\n', begin), text.size());
    const std::string_view s = text.substr(begin, end - begin);
    begin = end + 1;
    ++line;
    if (is_blank(s)) continue;
    const std::string at = where(path, line);
    json_check_depth(s, at);
    json value;
    std::string duplicate;
    try {
      value = json_parse_keys(s, &duplicate);
    } catch (const json::parse_error& e) {
      throw Error(str(at, ": invalid JSON at column ", std::max<size_t>(e.byte, 1), ": ",
                      json_reason(e), "; each line must hold one JSON object (JSON Lines)"));
    } catch (const json::out_of_range& e) {  // a number past the double range
      throw Error(str(at, ": invalid JSON: ", e.what()));
    }
    if (!duplicate.empty()) {
      throw Error(str(at, ": field \"", duplicate, "\" appears twice in the record; keep one"));
    }
    if (records.empty()) {
      require_object(value, at);
      mapping = choose_mapping(options, json_keys(value), at, "the first record");
    }
    records.push_back(json_record(value, mapping, at, line));
  }
  return records;
}

// Where each top-level element of a valid JSON array starts, as byte offsets into `text`.
std::vector<size_t> array_element_offsets(std::string_view text) {
  std::vector<size_t> offsets;
  int depth = 0;
  bool in_string = false, want_element = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (kSpace.find(c) != std::string_view::npos) continue;
    if (depth == 1 && want_element && c != ']') {
      offsets.push_back(i);
      want_element = false;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      want_element = ++depth == 1;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) break;
    } else if (c == ',' && depth == 1) {
      want_element = true;
    }
  }
  return offsets;
}

std::vector<Record> read_json_array(std::string_view text, const std::string& path,
                                    const ReadOptions& options) {
  json_check_depth(text, path);
  json doc;
  std::string duplicate;
  try {
    doc = json_parse_keys(text, &duplicate);
  } catch (const json::parse_error& e) {
    const size_t at = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    const size_t line_start = at == 0 ? 0 : text.rfind('\n', at - 1) + 1;  // npos + 1 == 0
    throw Error(str(path, ":", line_at(text, at, false), ": invalid JSON at column ",
                    at - line_start + 1, ": ", json_reason(e),
                    "; the file must hold one JSON array of objects"));
  } catch (const json::out_of_range& e) {  // a number past the double range
    throw Error(str(path, ": invalid JSON: ", e.what()));
  }
  if (!duplicate.empty()) {
    throw Error(str(path, ": field \"", duplicate, "\" appears twice in a record; keep one"));
  }
  if (!doc.is_array()) {
    throw Error(str(path, ":", line_at(text, text.find_first_not_of(kSpace), false),
                    ": expected a JSON array of objects, got ", json_kind(doc),
                    "; write the records as [{...}, {...}] or as JSON Lines (.jsonl)"));
  }
  const std::vector<size_t> offsets = array_element_offsets(text);
  LLMTUNE_CHECK(offsets.size() == doc.size(), "found ", offsets.size(), " of ", doc.size(),
                " array elements in ", path);
  std::vector<Record> records;
  records.reserve(doc.size());
  Mapping mapping;
  int64_t line = 1;
  size_t counted = 0;  // line holds the line of text[counted]
  for (size_t k = 0; k < doc.size(); ++k) {
    line += std::count(text.begin() + counted, text.begin() + offsets[k], '\n');
    counted = offsets[k];
    const std::string at = where(path, line, static_cast<int64_t>(k) + 1);
    if (k == 0) {
      require_object(doc[k], at);
      mapping = choose_mapping(options, json_keys(doc[k]), at, "the first record");
    }
    records.push_back(json_record(doc[k], mapping, at, static_cast<int64_t>(k) + 1));
  }
  return records;
}

std::vector<Record> read_csv(std::string_view text, const std::string& path,
                             const ReadOptions& options) {
  const std::vector<CsvRow> rows = csv_parse(text, path);
  if (rows.empty()) return {};
  const CsvRow& header = rows[0];
  const std::string at = where(path, header.line);
  std::unordered_map<std::string, size_t> column;
  for (size_t k = 0; k < header.fields.size(); ++k) {
    const auto [it, added] = column.emplace(header.fields[k], k);
    if (!added) {
      throw Error(str(at, ": the CSV header names column \"", header.fields[k],
                      "\" twice (columns ", it->second + 1, " and ", k + 1, "); rename one"));
    }
  }
  const Mapping m = choose_mapping(options, header.fields, at, "the CSV header");
  const size_t instruction = column.at(m.instruction), input = column.at(m.input),
               response = column.at(m.response);
  const auto db = column.find(kDbField);
  std::vector<Record> records;
  records.reserve(rows.size() - 1);
  for (size_t k = 1; k < rows.size(); ++k) {
    const CsvRow& row = rows[k];
    if (row.fields.size() != header.fields.size()) {
      throw Error(str(path, ":", row.line, ": the row has ", row.fields.size(),
                      " fields but the header (line ", header.line, ") has ", header.fields.size(),
                      "; quote fields that hold commas or line breaks (\"a,b\")"));
    }
    Record r;
    r.instruction = row.fields[instruction];
    r.input = row.fields[input];
    r.response = strip_sql_wrapper(row.fields[response]);
    if (db != column.end()) r.db = row.fields[db->second];
    r.line = row.line;
    records.push_back(std::move(r));
  }
  if (records.empty()) {
    throw Error(str(at, ": the CSV file has a header but no rows; add one record per line"));
  }
  return records;
}

// Python's str.isspace(): the code points str.split() splits on.
bool is_python_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

int64_t count_words(std::string_view s) {
  int64_t words = 0;
  bool in_word = false;
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const uint32_t cp = text::utf8_next(s, &i);
    // utf8_next decodes a stray byte as itself (e.g. 0x85): that is not a space.
    const bool space = (cp < 0x80 || i - start > 1) && is_python_space(cp);
    if (space) {
      in_word = false;
    } else if (!in_word) {
      in_word = true;
      ++words;
    }
  }
  return words;
}

}  // namespace

std::vector<Record> read_records(const std::string& path, const ReadOptions& options) {
  const Activity activity("reading the records of " + path);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(str(path,
                    ": is a directory, not a records file; give the path of a .jsonl, "
                    ".json or .csv file"));
  }
  const std::string bytes = read_file(path, "check the records file's path and permissions");
  std::string_view text = bytes;
  if (text.starts_with(kBom)) text.remove_prefix(kBom.size());
  const Format format =
      options.format == Format::kAuto ? detect_format(path, text) : options.format;
  check_utf8(bytes, path, format == Format::kCsv);
  std::vector<Record> records;
  if (!is_blank(text)) {
    switch (format) {
      case Format::kJsonArray:
        records = read_json_array(text, path, options);
        break;
      case Format::kCsv:
        records = read_csv(text, path, options);
        break;
      default:
        records = read_json_lines(text, path, options);
        break;
    }
  }
  if (records.empty()) {
    throw Error(str(path, ": no records (the file is empty or holds only blank lines or an empty ",
                    "array); add records or give another file"));
  }
  return records;
}

void write_records(const std::string& path, const std::vector<Record>& records) {
  std::string out;
  for (size_t k = 0; k < records.size(); ++k) {
    const Record& r = records[k];
    const std::pair<const char*, const std::string*> fields[] = {{"instruction", &r.instruction},
                                                                 {"input", &r.input},
                                                                 {"response", &r.response},
                                                                 {kDbField, &r.db}};
    nlohmann::ordered_json obj = nlohmann::ordered_json::object();
    for (const auto& [name, value] : fields) {
      if (!text::utf8_valid(*value)) {
        throw Error(str("cannot write ", path, ": record ", k + 1, " (line ", r.line,
                        ") has field \"", name, "\" that is not valid UTF-8; fix the text"));
      }
      if (std::string_view(name) != kDbField || !value->empty()) obj[name] = *value;
    }
    out += obj.dump(-1, ' ', /*ensure_ascii=*/false);
    out += '\n';
  }
  write_file_atomic(path, out);
}

int64_t word_count(const Record& r) {
  return count_words(r.instruction) + count_words(r.input) + count_words(r.response);
}

}  // namespace llmtune::data
