// From records to training samples: the reference workflow's prompt through the model's chat
// template, tokenization, right truncation at max_length, and labels that leave only the
// response (with its EOS) to the loss.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/record.h"
#include "text/chat.h"
#include "text/tokenizer.h"

namespace llmtune::data {

inline constexpr const char* kSystemPrompt =
    "You are a helpful programmer assistant that excels at SQL. When prompted with a task and a "
    "definition of an SQL table, you respond with a SQL query to retrieve information from the "
    "table. Don't explain your reasoning, only provide the SQL query.";

// "Task: {instruction}\nSQL table: {input}\nSQL query: " (note the final space).
std::string user_prompt(const Record& r);

// system + user (+ the response as the assistant turn).
std::vector<text::ChatMessage> conversation(const Record& r, bool with_response,
                                            const std::string& system = kSystemPrompt);

struct FormatOptions {
  int64_t max_length = 2048;
  text::ChatTemplate chat_template;  // empty: the tokenizer's own
  std::string system = kSystemPrompt;
  // The reference stack tokenizes the rendered text with tokenizer(text), which adds a second
  // BOS in front of the template's own. Off by default; on to reproduce the reference runs.
  bool reference_double_bos = false;
  // Reference-compatible mode: the samples the reference workflow trains on, token for token
  // (tokenizer(text, truncation=True, max_length) and trl's DataCollatorForCompletionOnlyLM,
  // padding with reference_pad_id): the tokenizer's BOS in front of the template's own (double
  // BOS), every label equal to the pad id masked (with pad = EOS the EOS is never learned),
  // labels masked up to the end of the last occurrence of response_template's ids, and a row
  // without it (say, cut by truncation) kept with every label masked. Off (the default):
  // llmtune's fixes of those three, see README "Where llmtune deliberately differs".
  bool reference_compatible = false;
  std::string response_template = "[/INST]";  // encoded without special tokens, as trl does
  int32_t reference_pad_id = -1;  // -1: EOS, as the reference sets pad = eos when there is none
};

// The pad id the reference-compatible mode masks and pads with.
int32_t reference_pad_id(const text::Tokenizer& tokenizer, const FormatOptions& options);

// One tokenized example. input_ids has at most max_length tokens; labels are -100 over the
// prompt, the token ids over the response and its EOS.
struct Sample {
  std::vector<int32_t> input_ids;
  std::vector<int32_t> labels;
  int64_t full_length = 0;    // tokens before truncation
  int64_t prompt_length = 0;  // tokens of the prompt (labels -100)
  bool truncated = false;     // full_length > max_length: the response's tail (and EOS) is cut
  int64_t record = 0;         // index into the records given
};

struct FormatReport {
  int64_t records = 0;
  int64_t kept = 0;
  int64_t truncated = 0;      // kept, but cut at max_length
  int64_t response_cut = 0;   // excluded: the prompt alone reaches max_length
  int64_t template_miss = 0;  // excluded: the prompt's tokens are not a prefix of the whole's
                              // (reference-compatible mode: kept with every label masked)
  std::vector<int64_t> full_lengths;  // of every record, before truncation
};

// Formats and tokenizes every record; excluded ones are counted in the report, never silently
// trained on with an all-masked row (except in reference-compatible mode, which keeps them).
std::vector<Sample> format_records(const text::Tokenizer& tokenizer,
                                   const std::vector<Record>& records, const FormatOptions& options,
                                   FormatReport* report);

}  // namespace llmtune::data
