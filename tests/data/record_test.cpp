// Record files: the JSON Lines, JSON array and CSV readers, field mappings, the [SQL] wrapper,
// the writer, word counts against Python, and the errors a user's bad file gets.
#include "data/record.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/files.h"
#include "data/csv.h"
#include "io/io_test_util.h"

namespace llmtune::data {
namespace {

using test::ScratchDir;
using test::throws_error;

const std::string kRealRows = std::string(LLMTUNE_SHARED_DIR) + "/data/sql-create-context-4k.jsonl";

std::string write(const ScratchDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

Record rec(std::string instruction, std::string input, std::string response, std::string db = "",
           int64_t line = 0) {
  return Record{std::move(instruction), std::move(input), std::move(response), std::move(db), line};
}

void expect_record(const Record& got, const Record& want) {
  EXPECT_EQ(got.instruction, want.instruction) << "line " << want.line;
  EXPECT_EQ(got.input, want.input) << "line " << want.line;
  EXPECT_EQ(got.response, want.response) << "line " << want.line;
  EXPECT_EQ(got.db, want.db) << "line " << want.line;
  EXPECT_EQ(got.line, want.line);
}

TEST(RecordRead, JsonLinesWithBlankLinesAndCrlf) {
  ScratchDir dir;
  const std::string path = write(
      dir, "r.jsonl",
      "\xEF\xBB\xBF{\"instruction\": \"Q1\", \"input\": \"CREATE TABLE a (x INT)\", \"response\": "
      "\"SELECT x FROM a\", \"extra\": 5}\r\n"
      "\n"
      "   \n"
      "{\"instruction\": \"caf\\u00e9 \xE6\x97\xA5\", \"input\": \"\", \"response\": "
      "\"[SQL] SELECT 1 [/SQL]\", \"db\": \"databases/a.sqlite\"}\n"
      "{\"response\": \"r\", \"input\": \"i\", \"instruction\": \"q\", \"db\": null}");
  const std::vector<Record> rs = read_records(path);
  ASSERT_EQ(rs.size(), 3u);
  expect_record(rs[0], rec("Q1", "CREATE TABLE a (x INT)", "SELECT x FROM a", "", 1));
  expect_record(rs[1], rec("caf\xC3\xA9 \xE6\x97\xA5", "", "SELECT 1", "databases/a.sqlite", 4));
  expect_record(rs[2], rec("q", "i", "r", "", 5));
}

TEST(RecordRead, JsonArrayLinesAreElementIndexes) {
  ScratchDir dir;
  const std::string path =
      write(dir, "r.json",
            "\xEF\xBB\xBF[\n"
            "  {\"question\": \"a [x]\", \"context\": \"c1\", \"answer\": "
            "\"s1\"},\n"
            "  {\"question\": \"b\",\n"
            "   \"context\": \"c2\", \"answer\": \"s2\", \"db\": \"d.sqlite\"}\n"
            "]\n");
  const std::vector<Record> rs = read_records(path);
  ASSERT_EQ(rs.size(), 2u);
  expect_record(rs[0], rec("a [x]", "c1", "s1", "", 1));
  expect_record(rs[1], rec("b", "c2", "s2", "d.sqlite", 2));
}

TEST(RecordRead, CsvQuotesNewlinesCrlfAndBom) {
  ScratchDir dir;
  const std::string path = write(dir, "r.csv",
                                 "\xEF\xBB\xBFquestion,context,answer,extra,db\r\n"
                                 "\"How many, exactly?\",\"CREATE TABLE t (a INT,\r\nb TEXT)\","
                                 "\"[SQL] SELECT \"\"a\"\" FROM t [/SQL]\",x,\r\n"
                                 "plain,ctx,SELECT 1,y,db/one.sqlite\r\n"
                                 "\r\n"
                                 "\"multi\nline\",,\"\",z,\n"
                                 "last,\"caf\xC3\xA9\",it's \"raw\",w,");  // no final line break
  const std::vector<Record> rs = read_records(path);
  ASSERT_EQ(rs.size(), 4u);
  expect_record(rs[0], rec("How many, exactly?", "CREATE TABLE t (a INT,\r\nb TEXT)",
                           "SELECT \"a\" FROM t", "", 2));
  expect_record(rs[1], rec("plain", "ctx", "SELECT 1", "db/one.sqlite", 4));
  expect_record(rs[2], rec("multi\nline", "", "", "", 6));
  expect_record(rs[3], rec("last", "caf\xC3\xA9", "it's \"raw\"", "", 8));
}

TEST(RecordRead, CsvParserRoundTripsFormattedRows) {
  const std::vector<std::vector<std::string>> table = {
      {"a", "b,c", "\"quoted\"", ""},
      {"line\nbreak", "cr\rlf\r\n", " spaced ", "x\"y"},
      {""},
      {"", ""},
  };
  std::string text;
  for (const auto& row : table) text += csv_format_row(row);
  const std::vector<CsvRow> rows = csv_parse(text, "t.csv");
  ASSERT_EQ(rows.size(), table.size());
  for (size_t k = 0; k < table.size(); ++k) EXPECT_EQ(rows[k].fields, table[k]) << k;
  EXPECT_EQ(rows[0].line, 1);
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[2].line, 6);  // row 2 holds \n, a lone \r and \r\n: three line breaks
  EXPECT_EQ(rows[3].line, 7);
  // Random fields over the characters that matter round-trip too.
  std::mt19937 rng(123);
  const std::string alphabet = "a ,\"\r\n";
  std::vector<std::vector<std::string>> random_rows(300);
  std::string random_text;
  for (auto& row : random_rows) {
    row.resize(1 + rng() % 4);
    for (std::string& f : row) {
      for (size_t n = rng() % 5; n > 0; --n) f.push_back(alphabet[rng() % alphabet.size()]);
    }
    random_text += csv_format_row(row);
  }
  const std::vector<CsvRow> random_back = csv_parse(random_text, "r.csv");
  ASSERT_EQ(random_back.size(), random_rows.size());
  for (size_t k = 0; k < random_rows.size(); ++k) {
    EXPECT_EQ(random_back[k].fields, random_rows[k]) << k;
  }
  // A lone CR ends a row; a quote inside an unquoted field is text.
  const std::vector<CsvRow> cr = csv_parse("a,b\rc,d\"e\r", "t.csv");
  ASSERT_EQ(cr.size(), 2u);
  EXPECT_EQ(cr[1].fields, (std::vector<std::string>{"c", "d\"e"}));
  EXPECT_EQ(cr[1].line, 2);
  // A row whose first field starts with a byte-order mark (a mid-file row, say) is written so
  // that, read back alone, the mark is not taken for the file's own (found by fuzz/records).
  const std::vector<std::string> bom = {
      "\xEF\xBB\xBF"
      "el",
      "x"};
  const std::vector<CsvRow> bom_back = csv_parse(csv_format_row(bom), "b.csv");
  ASSERT_EQ(bom_back.size(), 1u);
  EXPECT_EQ(bom_back[0].fields, bom);
}

TEST(RecordRead, Mappings) {
  ScratchDir dir;
  // The reference names win when the first record has both sets.
  const std::string both = write(dir, "both.jsonl",
                                 "{\"instruction\": \"I\", \"input\": \"N\", \"response\": \"R\", "
                                 "\"question\": \"Q\", \"context\": \"C\", \"answer\": \"A\"}\n");
  expect_record(read_records(both)[0], rec("I", "N", "R", "", 1));
  const std::string sql =
      write(dir, "sql.jsonl", "{\"question\": \"Q\", \"context\": \"C\", \"answer\": \"A\"}\n");
  expect_record(read_records(sql)[0], rec("Q", "C", "A", "", 1));

  const std::string custom =
      write(dir, "custom.csv", "prompt,schema,sql,answer\nP,S,\"[SQL] X [/SQL]\",ignored\n");
  ReadOptions all;
  all.instruction_field = "prompt";
  all.input_field = "schema";
  all.response_field = "sql";
  expect_record(read_records(custom, all)[0], rec("P", "S", "X", "", 2));
  // One explicit name; the others come from whichever default set fits.
  ReadOptions one;
  one.response_field = "sql";
  const std::string partial =
      write(dir, "partial.jsonl", "{\"question\": \"Q\", \"context\": \"C\", \"sql\": \"S\"}\n");
  expect_record(read_records(partial, one)[0], rec("Q", "C", "S", "", 1));
  EXPECT_TRUE(throws_error(
      [&] { read_records(custom); },
      {custom + ":1", "instruction/input/response", "question/context/answer", "\"prompt\""}));
}

TEST(RecordRead, SqlWrapperStrippedOnlyWhenItWrapsTheWholeAnswer) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[SQL] SELECT 1 [/SQL]", "SELECT 1"},
      {"  [SQL]SELECT 1[/SQL]\n", "SELECT 1"},
      {"[SQL]  SELECT a,\n b FROM t  [/SQL]", "SELECT a,\n b FROM t"},
      {"[SQL] [/SQL]", ""},
      {"[SQL] SELECT 1", "[SQL] SELECT 1"},
      {"SELECT 1 [/SQL]", "SELECT 1 [/SQL]"},
      {"x [SQL] SELECT 1 [/SQL]", "x [SQL] SELECT 1 [/SQL]"},
      {"[SQL] SELECT 1 [/SQL] x", "[SQL] SELECT 1 [/SQL] x"},
      {"[sql] SELECT 1 [/sql]", "[sql] SELECT 1 [/sql]"},
      {"[SQL/]", "[SQL/]"},
  };
  std::string text;
  for (const auto& [answer, _] : cases) {
    text += nlohmann::json{{"question", "q"}, {"context", "c"}, {"answer", answer}}.dump() + "\n";
  }
  const std::vector<Record> rs = read_records(write(dir, "w.jsonl", text));
  ASSERT_EQ(rs.size(), cases.size());
  for (size_t k = 0; k < cases.size(); ++k) EXPECT_EQ(rs[k].response, cases[k].second) << k;
}

TEST(RecordRead, FormatDetection) {
  ScratchDir dir;
  const std::string line = "{\"instruction\": \"q\", \"input\": \"i\", \"response\": \"r\"}";
  // .json holding JSON Lines (what Hugging Face datasets' to_json writes).
  EXPECT_EQ(read_records(write(dir, "a.json", line + "\n" + line + "\n")).size(), 2u);
  EXPECT_EQ(read_records(write(dir, "b.txt", "\n [" + line + "," + line + "]")).size(), 2u);
  EXPECT_EQ(read_records(write(dir, "c.data", line + "\n")).size(), 1u);
  EXPECT_EQ(read_records(write(dir, "d", "instruction,input,response\nq,i,r\n")).size(), 1u);
  EXPECT_EQ(read_records(write(dir, "E.JSONL", line)).size(), 1u);
  // An explicit format wins over the extension.
  ReadOptions csv;
  csv.format = Format::kCsv;
  const std::vector<Record> rs =
      read_records(write(dir, "f.jsonl", "instruction,input,response\nq,i,r\n"), csv);
  ASSERT_EQ(rs.size(), 1u);
  expect_record(rs[0], rec("q", "i", "r", "", 2));
}

TEST(RecordRead, RealRows) {
  if (!file_exists(kRealRows)) {
    std::printf("skipping: %s is absent\n", kRealRows.c_str());
    GTEST_SKIP() << kRealRows << " is absent";
  }
  const std::vector<Record> rs = read_records(kRealRows);
  ASSERT_EQ(rs.size(), 4000u);
  expect_record(rs[0], rec("How many heads of the departments are older than 56 ?",
                           "CREATE TABLE head (age INTEGER)",
                           "SELECT COUNT(*) FROM head WHERE age > 56", "", 1));
  EXPECT_EQ(rs[3999].line, 4000);
  for (const Record& r : rs) {
    EXPECT_EQ(r.response.find("[SQL]"), std::string::npos) << r.line;
    EXPECT_EQ(r.response.find("[/SQL]"), std::string::npos) << r.line;
  }
}

// The output of `/usr/bin/python3 -c program args`, or nullopt when it cannot run.
std::optional<std::string> run_python(const std::string& program, const std::string& arg) {
  if (!file_exists("/usr/bin/python3")) return std::nullopt;
  const std::string command = "/usr/bin/python3 -c '" + program + "' '" + arg + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  if (::pclose(pipe) != 0) return std::nullopt;
  return out;
}

TEST(RecordWordCount, MatchesPythonSplit) {
  std::vector<Record> records;
  if (file_exists(kRealRows)) {
    records = read_records(kRealRows);
  } else {
    std::printf("real rows absent (%s): checking the tricky strings only\n", kRealRows.c_str());
  }
  const std::vector<std::string> tricky = {
      "",
      " ",
      "word",
      "  leading and trailing  ",
      "a\tb\nc\rd\ve\ff",
      "nbsp\xC2\xA0split",             // U+00A0
      "ideographic\xE3\x80\x80space",  // U+3000
      "nel\xC2\x85split",              // U+0085
      "ogham\xE1\x9A\x80split",        // U+1680
      "en\xE2\x80\x80quad\xE2\x80\x8Ahair",
      "line\xE2\x80\xA8para\xE2\x80\xA9sep",
      "narrow\xE2\x80\xAF"
      "math\xE2\x81\x9Fspace",
      "seps\x1C\x1D\x1E\x1Fhere",
      "zero\xE2\x80\x8Bwidth",       // U+200B is not a space
      "mongolian\xE1\xA0\x8Evowel",  // U+180E is not a space (since Unicode 6.3)
      "bom\xEF\xBB\xBFinside",
      "\xE6\x97\xA5\xE6\x9C\xAC \xE8\xAA\x9E\t\xF0\x9F\x98\x80 x",
      "\xC2\xA0\xC2\xA0",
      "\n\n a \n\n",
      "SELECT COUNT(*) FROM head WHERE age > 56",
  };
  for (const std::string& t : tricky) {
    records.push_back(rec(t, "", ""));
    records.push_back(rec("x", t, t + " y"));
  }
  // The oracle reads its own JSON, written here with nlohmann rather than write_records.
  ScratchDir dir;
  std::string text;
  for (const Record& r : records) {
    text += nlohmann::json::array({r.instruction, r.input, r.response}).dump() + "\n";
  }
  const std::string path = write(dir, "fields.jsonl", text);
  const std::optional<std::string> out = run_python(
      "import json, sys\n"
      "for line in open(sys.argv[1], encoding=\"utf-8\"):\n"
      "    print(sum(len(f.split()) for f in json.loads(line)))\n",
      path);
  if (!out) {
    std::printf("skipping: /usr/bin/python3 is not available\n");
    GTEST_SKIP() << "/usr/bin/python3 is not available";
  }
  std::istringstream lines(*out);
  size_t k = 0;
  for (int64_t want; lines >> want; ++k) {
    ASSERT_LT(k, records.size());
    EXPECT_EQ(word_count(records[k]), want)
        << "record " << k << ": " << nlohmann::json::array({records[k].instruction}).dump();
  }
  EXPECT_EQ(k, records.size());
}

TEST(RecordWordCount, InvalidBytesAreNotSpaces) {
  // A stray 0x85 or 0xA0 byte is not U+0085 / U+00A0.
  EXPECT_EQ(word_count(rec("a\x85"
                           "b",
                           "c\xA0"
                           "d",
                           "")),
            2);
  EXPECT_EQ(word_count(rec("a\xC2\x85"
                           "b",
                           "c\xC2\xA0"
                           "d",
                           "")),
            4);
}

struct BadInput {
  std::string name;                // file name; "" for none written
  std::string contents;            // the file's bytes
  std::vector<std::string> parts;  // beside the path: what the message must hold
  Format format = Format::kAuto;
};

TEST(RecordRead, BadInputsNameTheFileLineAndField) {
  const std::vector<BadInput> cases = {
      {"missing.jsonl", "<absent>", {"missing.jsonl", "check the records file"}},
      {"empty.jsonl", "", {"empty.jsonl:", "no records"}},
      {"blank.jsonl", "\n  \r\n\n", {"blank.jsonl:", "no records"}},
      {"empty_array.json", " [ ] ", {"empty_array.json:", "no records"}},
      {"header_only.csv", "question,context,answer\r\n", {"header_only.csv:1", "no rows"}},
      {"bad_line.jsonl",
       "{\"question\": \"q\", \"context\": \"c\", \"answer\": \"a\"}\n\n{\"question\": \"q\",\n",
       {"bad_line.jsonl:3", "invalid JSON", "column"}},
      {"bad_array.json",
       "[\n {\"question\": \"q\", \"context\": \"c\", \"answer\": \"a\"},\n\n {\"question\": }\n]",
       {"bad_array.json:4", "invalid JSON", "column 15"}},
      {"not_object.jsonl",
       "{\"question\": \"q\", \"context\": \"c\", \"answer\": \"a\"}\n[1, 2]\n",
       {"not_object.jsonl:2", "expected a JSON object", "an array"}},
      {"not_object.json",
       "[\n {\"question\": \"q\", \"context\": \"c\", \"answer\": \"a\"},\n \"text\"\n]",
       {"not_object.json:3 (element 2)", "expected a JSON object", "a string"}},
      {"missing_field.jsonl",
       "{\"question\": \"q\", \"context\": \"c\", \"answer\": \"a\"}\n"
       "{\"question\": \"q\", \"context\": \"c\", \"sql\": \"a\"}\n",
       {"missing_field.jsonl:2", "no field \"answer\"", "question/context/answer", "\"sql\""}},
      {"no_mapping.jsonl",
       "{\"q\": \"q\", \"ctx\": \"c\"}\n",
       {"no_mapping.jsonl:1", "instruction/input/response", "question/context/answer", "\"ctx\""}},
      {"number.jsonl",
       "{\"question\": \"q\", \"context\": \"c\", \"answer\": 5}\n",
       {"number.jsonl:1", "field \"answer\"", "a number", "not a string"}},
      {"null.jsonl",
       "{\"question\": \"q\", \"context\": null, \"answer\": \"a\"}\n",
       {"null.jsonl:1", "field \"context\"", "null"}},
      {"db_number.jsonl",
       "{\"question\": \"q\", \"context\": \"c\", \"answer\": \"a\", \"db\": 1}\n",
       {"db_number.jsonl:1", "field \"db\"", "a number"}},
      {"utf8.jsonl",
       "{\"question\": \"q\", \"context\": \"c\", \"answer\": \"a\"}\n"
       "{\"question\": \"caf\xE9\", \"context\": \"c\", \"answer\": \"a\"}\n",
       {"utf8.jsonl:2", "byte offset 66", "0xE9", "UTF-8"}},
      {"utf8.csv", "question,context,answer\rq,\xC3,a\r", {"utf8.csv:2", "byte offset 26"}},
      {"unterminated.csv",
       "question,context,answer\nq,c,a\nq,\"CREATE TABLE t\n(a INT),a\n",
       {"unterminated.csv:3", "column 2", "never closed"}},
      {"after_quote.csv",
       "question,context,answer\n\"q\"x,c,a\n",
       {"after_quote.csv:2", "column 1", "after the closing quote"}},
      {"columns.csv",
       "question,context,answer\nq,c,a\nq,c,a,b\n",
       {"columns.csv:3", "4 fields", "header (line 1) has 3"}},
      {"no_column.csv",
       "question,context,sql\nq,c,a\n",
       {"no_column.csv:1", "CSV header", "missing \"answer\"", "\"sql\""}},
      {"duplicate.csv",
       "question,context,answer,question\nq,c,a,b\n",
       {"duplicate.csv:1", "\"question\" twice", "columns 1 and 4"}},
      {"object.data",
       "\n{\"records\": []}",
       {"object.data:2", "expected a JSON array", "an object"},
       Format::kJsonArray},
  };
  ScratchDir dir;
  for (const BadInput& c : cases) {
    const std::string path =
        c.contents == "<absent>" ? dir.file(c.name) : write(dir, c.name, c.contents);
    const std::vector<std::string> before = dir.listing();
    std::vector<std::string> parts = c.parts;
    parts[0] = dir.file(parts[0]);  // the full path, and the line after it
    ReadOptions options;
    options.format = c.format;
    EXPECT_TRUE(throws_error([&] { read_records(path, options); }, parts)) << c.name;
    EXPECT_EQ(dir.listing(), before) << c.name << ": reading wrote a file";
  }
  EXPECT_TRUE(throws_error([&] { read_records(dir.path()); }, {dir.path(), "directory"}));
}

// A field given twice is ambiguous (JSON parsers keep one or the other), and a NUL byte has
// no place in a text file: both are refused with the line.
TEST(RecordRead, RepeatedFieldsAndNulBytesAreRefused) {
  ScratchDir dir;
  const std::string twice =
      write(dir, "twice.jsonl",
            "{\"question\": \"a\", \"context\": \"b\", \"answer\": \"c\"}\n"
            "{\"question\": \"a\", \"question\": \"x\", \"context\": \"b\", \"answer\": \"c\"}\n");
  EXPECT_TRUE(
      throws_error([&] { read_records(twice); }, {twice + ":2", "\"question\" appears twice"}));
  const std::string array =
      write(dir, "twice.json",
            "[{\"question\": \"a\", \"context\": \"b\", \"answer\": \"c\", \"answer\": \"d\"}]");
  EXPECT_TRUE(throws_error([&] { read_records(array); }, {array, "\"answer\" appears twice"}));
  const std::string nul =
      write(dir, "nul.csv", std::string("instruction,input,response\nq,t,s\nq,t\0x,s\n", 41));
  EXPECT_TRUE(throws_error([&] { read_records(nul); }, {nul + ":3", "NUL byte"}));
}

TEST(RecordWrite, RoundTripIsExact) {
  ScratchDir dir;
  const std::vector<Record> records = {
      rec("How many? caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80",
          "CREATE TABLE t (a INT)\nCREATE TABLE u (b TEXT)", "SELECT \"a\" FROM t WHERE b = '\\'",
          "databases/shop.sqlite"),
      rec("tabs\tand\rcontrol\x01 \xE2\x80\xA8 nbsp\xC2\xA0", "", "SELECT 1", ""),
      rec("[SQL] in the question [/SQL]", "{\"json\": [1]}", "SELECT 2 [/SQL]",
          "d/\xC3\xA9.sqlite"),
  };
  const std::string path = dir.file("out.jsonl");
  write_records(path, records);
  const std::string bytes = read_file(path);
  // Keys in order, db only when set, UTF-8 raw, one line per record, a final newline.
  EXPECT_EQ(bytes.substr(0, bytes.find('\n') + 1),
            "{\"instruction\":\"How many? caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80\","
            "\"input\":\"CREATE TABLE t (a INT)\\nCREATE TABLE u (b TEXT)\","
            "\"response\":\"SELECT \\\"a\\\" FROM t WHERE b = '\\\\'\","
            "\"db\":\"databases/shop.sqlite\"}\n");
  EXPECT_EQ(std::count(bytes.begin(), bytes.end(), '\n'), 3);
  EXPECT_EQ(bytes.back(), '\n');
  EXPECT_EQ(bytes.find("\"db\":\"\""), std::string::npos);
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"out.jsonl"});

  const std::vector<Record> back = read_records(path);
  ASSERT_EQ(back.size(), records.size());
  for (size_t k = 0; k < records.size(); ++k) {
    Record want = records[k];
    want.line = static_cast<int64_t>(k) + 1;
    expect_record(back[k], want);
  }
}

TEST(RecordWrite, RealRowsRoundTrip) {
  if (!file_exists(kRealRows)) {
    std::printf("skipping: %s is absent\n", kRealRows.c_str());
    GTEST_SKIP() << kRealRows << " is absent";
  }
  ScratchDir dir;
  const std::vector<Record> records = read_records(kRealRows);
  write_records(dir.file("real.jsonl"), records);
  const std::vector<Record> back = read_records(dir.file("real.jsonl"));
  ASSERT_EQ(back.size(), records.size());
  for (size_t k = 0; k < records.size(); ++k) expect_record(back[k], records[k]);
}

TEST(RecordWrite, FailureLeavesNoFile) {
  ScratchDir dir;
  const std::string path = dir.file("out.jsonl");
  EXPECT_TRUE(throws_error(
      [&] {
        write_records(path, {rec("ok", "", "SELECT 1"), rec("q", "bad\xFF", "s", "", 7)});
      },
      {path, "record 2", "line 7", "\"input\"", "UTF-8"}));
  EXPECT_TRUE(dir.listing().empty());
  // An existing file is left as it was.
  write_records(path, {rec("old", "", "SELECT 1")});
  const std::string before = read_file(path);
  EXPECT_TRUE(throws_error([&] { write_records(path, {rec("\xC3", "", "")}); }, {path}));
  EXPECT_EQ(read_file(path), before);
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"out.jsonl"});
}

}  // namespace
}  // namespace llmtune::data
