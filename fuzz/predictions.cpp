// The predictions file of `llmtune eval --predictions`, loaded and scored (BLEU, exact match).
// Databases it names are replaced by one that does not exist: no query runs.
#include "eval/runner.h"
#include "fuzz/targets.h"

namespace llmtune::fuzz {

int fuzz_predictions(const uint8_t* data, size_t size) {
  const std::string path = fuzz_write("eval/predictions.jsonl", fuzz_bytes(data, size));
  return fuzz_run([&] {
    std::vector<eval::Prediction> preds = eval::predictions_load(path);
    for (eval::Prediction& p : preds) {
      if (!p.db_path.empty()) p.db_path = fuzz_scratch() + "/eval/missing.db";
    }
    const eval::EvalReport report = eval::score(preds, {});
    (void)report.to_json().dump();
    (void)report.table();
  });
}

}  // namespace llmtune::fuzz
