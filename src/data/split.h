// Difficulty subsets by word count and the seeded train/valid/test split of the reference
// workflow.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/record.h"

namespace llmtune::data {

// The reference buckets: easy 10-100 words, medium 101-200, hard 200-800. They share 200; llmtune
// puts 200 in medium (the first bucket that names it), so hard starts at 201. Records under 10
// or over 800 words belong to no subset.
enum class Difficulty { kEasy, kMedium, kHard, kNone };

Difficulty difficulty_of(int64_t words);
const char* difficulty_name(Difficulty d);
// "easy", "medium", "hard" or "all"; throws llmtune::Error naming the valid choices.
void check_subset(const std::string& subset);
// The records of a subset ("all": every record with 10-800 words), in their original order.
std::vector<Record> select_subset(const std::vector<Record>& records, const std::string& subset);

struct Splits {
  std::vector<Record> train, valid, test;
};

// Shuffles with a Philox Fisher-Yates keyed by `seed` (the same on every machine) and cuts
// 80/10/10: valid and test get round(n / 10) records each, train the rest. Throws llmtune::Error
// when a split would be empty.
Splits split_records(const std::vector<Record>& records, uint64_t seed = 123);

// A prepared dataset directory: DIR/train.jsonl, valid.jsonl and test.jsonl.
void write_splits(const std::string& dir, const Splits& splits);
Splits read_splits(const std::string& dir);

}  // namespace llmtune::data
