#include "data/dataset.h"

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "data/split.h"
#include "data/synthetic.h"

namespace llmtune::data {

DatasetSplits load_dataset(const std::string& dataset, const std::string& subset,
                           const std::string& cache_dir) {
  namespace fs = std::filesystem;
  check_subset(subset);
  DatasetSplits out;
  std::string file = dataset;
  if (dataset == "synthetic") {
    const std::string dir = path_join(cache_dir, "synthetic");
    file = path_join(dir, "records.jsonl");
    if (!file_exists(file)) write_records(file, synthetic_generate({}, dir).records);
  }
  if (fs::is_directory(file)) {
    const Splits all = read_splits(file);
    out.train = select_subset(all.train, subset);
    out.valid = select_subset(all.valid, subset);
    out.test = select_subset(all.test, subset);
    out.db_root = file;
  } else {
    const std::vector<Record> selected = select_subset(read_records(file), subset);
    if (selected.empty()) throw Error(str("subset \"", subset, "\" of ", file, " is empty"));
    Splits s = split_records(selected, 123);
    out.train = std::move(s.train);
    out.valid = std::move(s.valid);
    out.test = std::move(s.test);
    out.db_root = fs::path(file).parent_path().string();
  }
  if (out.train.empty())
    throw Error(str("the training split of ", dataset, " (", subset, ") is empty"));
  return out;
}

}  // namespace llmtune::data
