#include "data/split.h"

#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/files.h"
#include "core/philox.h"

namespace llmtune::data {

Difficulty difficulty_of(int64_t words) {
  if (words >= 10 && words <= 100) return Difficulty::kEasy;
  if (words >= 101 && words <= 200) return Difficulty::kMedium;
  if (words >= 201 && words <= 800) return Difficulty::kHard;
  return Difficulty::kNone;
}

const char* difficulty_name(Difficulty d) {
  switch (d) {
    case Difficulty::kEasy:
      return "easy";
    case Difficulty::kMedium:
      return "medium";
    case Difficulty::kHard:
      return "hard";
    default:
      return "none";
  }
}

void check_subset(const std::string& subset) {
  if (subset != "easy" && subset != "medium" && subset != "hard" && subset != "all") {
    throw Error(str("subset \"", subset, "\" must be easy (10-100 words), medium (101-200), ",
                    "hard (201-800) or all"));
  }
}

std::vector<Record> select_subset(const std::vector<Record>& records, const std::string& subset) {
  check_subset(subset);
  std::vector<Record> out;
  for (const Record& r : records) {
    const Difficulty d = difficulty_of(word_count(r));
    if (d != Difficulty::kNone && (subset == "all" || subset == difficulty_name(d)))
      out.push_back(r);
  }
  return out;
}

Splits split_records(const std::vector<Record>& records, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(records.size());
  const int64_t held = std::llround(static_cast<double>(n) / 10.0);
  if (held < 1 || n - 2 * held < 1) {
    throw Error(str(n, " records are too few for an 80/10/10 train/valid/test split (each part ",
                    "needs at least one; 15 records or more always work)"));
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const PhiloxStream rng(seed, philox_stream(0x73706c6974));  // "split"
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t r = (static_cast<uint64_t>(rng.bits(2 * i)) << 32) | rng.bits(2 * i + 1);
    std::swap(order[i], order[static_cast<int64_t>(r % static_cast<uint64_t>(i + 1))]);
  }
  Splits s;
  for (int64_t k = 0; k < n; ++k) {
    const Record& r = records[order[k]];
    if (k < n - 2 * held)
      s.train.push_back(r);
    else if (k < n - held)
      s.valid.push_back(r);
    else
      s.test.push_back(r);
  }
  return s;
}

void write_splits(const std::string& dir, const Splits& s) {
  write_records(path_join(dir, "train.jsonl"), s.train);
  write_records(path_join(dir, "valid.jsonl"), s.valid);
  write_records(path_join(dir, "test.jsonl"), s.test);
}

Splits read_splits(const std::string& dir) {
  return {read_records(path_join(dir, "train.jsonl")), read_records(path_join(dir, "valid.jsonl")),
          read_records(path_join(dir, "test.jsonl"))};
}

}  // namespace llmtune::data
