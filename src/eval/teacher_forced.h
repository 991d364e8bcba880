// The validation metrics the reference trainer reports during training: loss, and from the
// argmax of the logits on response positions (teacher forcing) the token accuracy and BLEU.
#pragma once

#include <cstdint>
#include <vector>

#include "data/format.h"
#include "eval/bleu.h"
#include "model/llama.h"
#include "text/tokenizer.h"

namespace llmtune::eval {

struct TeacherForced {
  double loss = 0;            // mean of the batches' mean losses, weighted by batch rows
  double token_accuracy = 0;  // argmax == label over labelled positions
  int64_t tokens = 0;         // labelled positions
  BleuResult bleu;            // evaluate-style BLEU of the argmax text against the response text
};

TeacherForced teacher_forced(model::LlamaModel& model, const text::Tokenizer& tokenizer,
                             const std::vector<data::Sample>& samples, int64_t batch_size);

}  // namespace llmtune::eval
