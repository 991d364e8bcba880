#include "data/csv.h"

#include "core/error.h"

namespace llmtune::data {

namespace {

bool is_line_break(char c) {
  return c == '\n' || c == '\r';
}

// Skips the line break at text[i] (CRLF counts as one) and returns the index after it.
size_t skip_line_break(std::string_view text, size_t i) {
  return text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n' ? i + 2 : i + 1;
}

// The line breaks in text[begin, end), where a CR that a LF follows is part of that break.
int64_t count_line_breaks(std::string_view text, size_t begin, size_t end) {
  int64_t n = 0;
  for (size_t i = begin; i < end; ++i) {
    if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n'))) {
      ++n;
    }
  }
  return n;
}

}  // namespace

std::vector<CsvRow> csv_parse(std::string_view text, const std::string& path) {
  const size_t n = text.size();
  size_t i = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  int64_t line = 1;
  std::vector<CsvRow> rows;
  while (i < n) {
    if (is_line_break(text[i])) {  // a blank line
      i = skip_line_break(text, i);
      ++line;
      continue;
    }
    CsvRow row;
    row.line = line;
    while (true) {  // one field per pass
      const size_t column = row.fields.size() + 1;
      std::string field;
      if (i < n && text[i] == '"') {
        const int64_t open_line = line;
        ++i;
        while (true) {
          const size_t quote = text.find('"', i);
          if (quote == std::string_view::npos) {
            throw Error(str(path, ":", open_line, ": column ", column,
                            ": the quoted field that starts here is never closed; end it with \" "
                            "and write a quote inside a quoted field as \"\""));
          }
          line += count_line_breaks(text, i, quote);
          field.append(text.substr(i, quote - i));
          i = quote + 1;
          if (i < n && text[i] == '"') {  // "" is one quote
            field.push_back('"');
            ++i;
            continue;
          }
          break;
        }
        if (i < n && text[i] != ',' && !is_line_break(text[i])) {
          throw Error(str(path, ":", line, ": column ", column,
                          ": text after the closing quote of a quoted field; quote the whole "
                          "field and write a quote inside it as \"\""));
        }
      } else {
        const size_t start = i;
        while (i < n && text[i] != ',' && !is_line_break(text[i])) ++i;
        field.assign(text.substr(start, i - start));
      }
      row.fields.push_back(std::move(field));
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < n) {
        i = skip_line_break(text, i);
        ++line;
      }
      break;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string csv_format_row(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t k = 0; k < fields.size(); ++k) {
    const std::string& f = fields[k];
    if (k > 0) out.push_back(',');
    // A row's first field starting with a byte-order mark is quoted: unquoted at the start of a
    // file, csv_parse would take the mark for the file's own and drop it.
    const bool quote = f.find_first_of(",\"\r\n") != std::string::npos ||
                       (f.empty() && fields.size() == 1) ||
                       (k == 0 && f.starts_with("\xEF\xBB\xBF"));
    if (!quote) {
      out += f;
      continue;
    }
    out.push_back('"');
    for (const char c : f) {
      if (c == '"') out.push_back('"');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out += "\r\n";
  return out;
}

}  // namespace llmtune::data
