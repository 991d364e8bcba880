// A data file of records. The first byte picks the format (JSON Lines, JSON array, CSV, or
// detection from the content); the rest is the file.
#include <array>

#include "data/csv.h"
#include "data/record.h"
#include "fuzz/targets.h"

namespace llmtune::fuzz {

int fuzz_records(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  struct Kind {
    const char* file;
    data::Format format;
  };
  static const std::array<Kind, 4> kKinds = {Kind{"records/data.jsonl", data::Format::kJsonLines},
                                             Kind{"records/data.json", data::Format::kJsonArray},
                                             Kind{"records/data.csv", data::Format::kCsv},
                                             Kind{"records/data.txt", data::Format::kAuto}};
  const Kind& kind = kKinds[data[0] % kKinds.size()];
  const std::string_view text = fuzz_bytes(data + 1, size - 1);
  const std::string path = fuzz_write(kind.file, text);
  fuzz_run([&] {
    data::ReadOptions options;
    options.format = kind.format;
    for (const data::Record& r : data::read_records(path, options)) (void)data::word_count(r);
  });
  if (kind.format != data::Format::kCsv) return 0;
  return fuzz_run([&] {
    // What csv_format_row promises: csv_parse reads its line back as the same fields.
    for (const data::CsvRow& row : data::csv_parse(text, path)) {
      const std::vector<data::CsvRow> back = data::csv_parse(data::csv_format_row(row.fields), "");
      LLMTUNE_CHECK(back.size() == 1 && back[0].fields == row.fields,
                    "csv_format_row does not read back, line ", row.line);
    }
  });
}

}  // namespace llmtune::fuzz
