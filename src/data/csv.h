// CSV (RFC 4180) rows: the parser behind CSV record files and the writer that matches it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmtune::data {

struct CsvRow {
  std::vector<std::string> fields;
  int64_t line = 0;  // 1-based line the row starts on
};

// Splits RFC 4180 text into rows: fields separated by ',', quoted fields ("a,b") holding
// commas, line breaks and "" for a quote; rows end at CRLF, LF or a lone CR. A UTF-8 BOM at the
// start and blank lines are skipped; a quote inside an unquoted field is kept as text (as
// Python's csv module does). Throws llmtune::Error naming `path`, the line and the column for
// an unterminated quote or text after a closing quote. Column counts are not checked here.
std::vector<CsvRow> csv_parse(std::string_view text, const std::string& path);

// One CSV line (with "\r\n") that csv_parse reads back as `fields`: a field is quoted when it
// holds a comma, a quote, a line break or is empty in a single-field row.
std::string csv_format_row(const std::vector<std::string>& fields);

}  // namespace llmtune::data
