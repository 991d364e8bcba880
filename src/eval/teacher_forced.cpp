#include "eval/teacher_forced.h"

#include "core/error.h"
#include "data/batch.h"

namespace llmtune::eval {

TeacherForced teacher_forced(model::LlamaModel& model, const text::Tokenizer& tokenizer,
                             const std::vector<data::Sample>& samples, int64_t batch_size) {
  if (samples.empty()) throw Error("no samples to evaluate");
  data::BatchOptions o;
  o.batch_size = batch_size;
  o.shuffle = false;
  o.pad_id = tokenizer.special_tokens().pad >= 0 ? tokenizer.special_tokens().pad : 0;
  std::vector<int64_t> lengths;
  for (const data::Sample& s : samples) lengths.push_back(static_cast<int64_t>(s.input_ids.size()));
  TeacherForced r;
  double loss_sum = 0;
  int64_t rows = 0, correct = 0;
  std::vector<std::string> predicted, reference;
  for (const std::vector<int64_t>& order : data::batch_order(lengths, o)) {
    const model::Batch batch = data::make_batch(samples, order, o.pad_id);
    Tensor argmax;
    const double loss = model.predict(batch, &argmax).item();
    const std::vector<int32_t> best = argmax.to_i32();
    loss_sum += loss * static_cast<double>(batch.batch);
    rows += batch.batch;
    // The model's targets in order: row by row, position t predicting labels[t + 1].
    size_t k = 0;
    for (int64_t row = 0; row < batch.batch; ++row) {
      std::vector<int32_t> pred, gold;
      for (int64_t t = 0; t + 1 < batch.seq; ++t) {
        const int32_t label = batch.labels[row * batch.seq + t + 1];
        if (label == -100) continue;
        pred.push_back(best.at(k++));
        gold.push_back(label);
        correct += pred.back() == label;
      }
      r.tokens += static_cast<int64_t>(gold.size());
      predicted.push_back(tokenizer.decode(pred, true));
      reference.push_back(tokenizer.decode(gold, true));
    }
    LLMTUNE_CHECK(k == best.size(), "teacher forcing: ", k, " targets read of ", best.size());
  }
  r.loss = loss_sum / static_cast<double>(rows);
  r.token_accuracy =
      r.tokens == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(r.tokens);
  std::vector<std::vector<std::string>> refs;
  for (std::string& s : reference) refs.push_back({std::move(s)});
  r.bleu = corpus_bleu(predicted, refs);
  return r;
}

}  // namespace llmtune::eval
