// Text for training small tokenizers in tests: 1,200 lines of SQL-like statements and questions
// over a few tables and columns, in the style of the text-to-SQL data.
#pragma once

#include <string>
#include <vector>

namespace llmtune::test {

inline std::vector<std::string> sql_text() {
  std::vector<std::string> lines;
  const char* tables[] = {"head", "department", "farm", "city", "competition"};
  const char* columns[] = {"age", "name", "budget_in_billions", "population", "year"};
  for (int i = 0; i < 400; ++i) {
    const std::string t = tables[i % 5], c = columns[(i / 5) % 5];
    lines.push_back("CREATE TABLE " + t + " (" + c + " INTEGER, id VARCHAR)");
    lines.push_back("SELECT " + c + " FROM " + t + " WHERE id = " + std::to_string(i * 7));
    lines.push_back("How many " + t + "s have " + c + " above " + std::to_string(i) + "?");
  }
  return lines;
}

}  // namespace llmtune::test
