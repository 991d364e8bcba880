// A dataset setting ("synthetic", a prepared directory, a records file) as its train/valid/test
// records of one difficulty subset.
#pragma once

#include <string>
#include <vector>

#include "data/record.h"

namespace llmtune::data {

struct DatasetSplits {
  std::vector<Record> train, valid, test;
  std::string db_root;  // record.db is relative to this directory
};

// The records of `dataset` ("synthetic", a prepared directory with train/valid/test.jsonl, or a
// records file split 80/10/10 with seed 123), restricted to `subset`. The synthetic set is
// generated once under cache_dir. Throws llmtune::Error when the training split is empty.
DatasetSplits load_dataset(const std::string& dataset, const std::string& subset,
                           const std::string& cache_dir);

}  // namespace llmtune::data
