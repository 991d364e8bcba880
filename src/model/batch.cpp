#include "model/batch.h"

#include "core/error.h"

namespace llmtune::model {

void Batch::validate() const {
  const size_t n = static_cast<size_t>(batch * seq);
  if (batch <= 0 || seq <= 0) throw Error(str("batch of ", batch, " x ", seq, " tokens is empty"));
  auto check = [&](const std::vector<int32_t>& v, const char* what, bool optional) {
    if (optional && v.empty()) return;
    if (v.size() != n) {
      throw Error(str("batch ", what, " has ", v.size(), " entries, expected ", batch, " x ", seq));
    }
  };
  check(input_ids, "input_ids", false);
  check(labels, "labels", true);
  check(attention_mask, "attention_mask", true);
  check(position_ids, "position_ids", true);
}

int64_t count_targets(std::span<const int32_t> labels) {
  int64_t n = 0;
  for (size_t t = 1; t < labels.size(); ++t) n += labels[t] != -100;
  return n;
}

int64_t Batch::count_targets() const {
  if (labels.empty()) return 0;
  int64_t n = 0;
  const std::span<const int32_t> all(labels);
  for (int64_t b = 0; b < batch; ++b) n += model::count_targets(all.subspan(b * seq, seq));
  return n;
}

}  // namespace llmtune::model
