#include "data/format.h"

#include <algorithm>

#include "core/error.h"

namespace llmtune::data {

std::string user_prompt(const Record& r) {
  return "Task: " + r.instruction + "\nSQL table: " + r.input + "\nSQL query: ";
}

std::vector<text::ChatMessage> conversation(const Record& r, bool with_response,
                                            const std::string& system) {
  std::vector<text::ChatMessage> m;
  if (!system.empty()) m.push_back({"system", system});
  m.push_back({"user", user_prompt(r)});
  if (with_response) m.push_back({"assistant", r.response});
  return m;
}

int32_t reference_pad_id(const text::Tokenizer& tokenizer, const FormatOptions& o) {
  const int32_t pad = o.reference_pad_id >= 0 ? o.reference_pad_id : tokenizer.special_tokens().eos;
  if (pad < 0) throw Error("reference-compatible mode needs a pad id: the tokenizer has no EOS");
  return pad;
}

namespace {

// Where trl's DataCollatorForCompletionOnlyLM (0.7.10, no instruction template) lets the loss
// start: after the last occurrence of the template's ids among the labels, or -1 when there is
// none. It searches the labels after the pad id was masked, so a template holding the pad id
// never matches; the same here.
int64_t response_start(const std::vector<int32_t>& labels, const std::vector<int32_t>& tmpl) {
  int64_t start = -1;
  const size_t n = labels.size(), m = tmpl.size();
  for (size_t i = 0; m > 0 && i + m <= n; ++i) {
    if (std::equal(tmpl.begin(), tmpl.end(), labels.begin() + static_cast<ptrdiff_t>(i)))
      start = static_cast<int64_t>(i + m);
  }
  return start;
}

// The reference-compatible sample of one rendered conversation (see FormatOptions).
Sample reference_sample(const text::Tokenizer& tokenizer, const std::string& full,
                        const std::vector<int32_t>& response_template, int32_t pad,
                        const FormatOptions& o, FormatReport& rep) {
  Sample s;
  std::vector<int32_t> ids = tokenizer.encode(full);  // add_special_tokens, as tokenizer(text)
  s.full_length = static_cast<int64_t>(ids.size());
  s.truncated = s.full_length > o.max_length;
  if (s.truncated) {
    ids.resize(static_cast<size_t>(o.max_length));
    ++rep.truncated;
  }
  s.labels = ids;
  for (int32_t& l : s.labels) {
    if (l == pad) l = -100;
  }
  const int64_t start = response_start(s.labels, response_template);
  s.prompt_length = start < 0 ? static_cast<int64_t>(ids.size()) : start;
  if (start < 0) ++rep.template_miss;
  std::fill(s.labels.begin(), s.labels.begin() + s.prompt_length, -100);
  s.input_ids = std::move(ids);
  return s;
}

}  // namespace

std::vector<Sample> format_records(const text::Tokenizer& tokenizer,
                                   const std::vector<Record>& records, const FormatOptions& o,
                                   FormatReport* report) {
  const Activity activity(str("formatting and tokenizing ", records.size(), " records"));
  if (o.max_length < 2) throw Error(str("max_length must be at least 2, got ", o.max_length));
  FormatReport local;
  FormatReport& rep = report ? *report : local;
  rep = FormatReport{};
  text::ChatOptions prompt_only;
  prompt_only.template_override = o.chat_template;
  prompt_only.add_generation_prompt = true;
  text::ChatOptions whole;
  whole.template_override = o.chat_template;
  text::EncodeOptions encode;
  encode.add_special_tokens = false;  // the template writes its own BOS/EOS
  const int32_t bos = tokenizer.special_tokens().bos;
  std::vector<int32_t> response_template;
  int32_t pad = -1;
  if (o.reference_compatible) {
    response_template = tokenizer.encode(o.response_template, encode);
    if (response_template.empty())
      throw Error("reference-compatible mode needs a response template (\"[/INST]\" for Mistral)");
    pad = reference_pad_id(tokenizer, o);
  }
  std::vector<Sample> out;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    ++rep.records;
    const std::string prompt =
        text::apply_chat_template(tokenizer, conversation(r, false, o.system), prompt_only);
    const std::string full =
        text::apply_chat_template(tokenizer, conversation(r, true, o.system), whole);
    if (o.reference_compatible) {
      out.push_back(reference_sample(tokenizer, full, response_template, pad, o, rep));
      out.back().record = static_cast<int64_t>(i);
      rep.full_lengths.push_back(out.back().full_length);
      ++rep.kept;
      continue;
    }
    std::vector<int32_t> ids = tokenizer.encode(full, encode);
    std::vector<int32_t> prompt_ids = tokenizer.encode(prompt, encode);
    if (o.reference_double_bos && bos >= 0) {
      ids.insert(ids.begin(), bos);
      prompt_ids.insert(prompt_ids.begin(), bos);
    }
    rep.full_lengths.push_back(static_cast<int64_t>(ids.size()));
    // The response starts where the prompt's tokens end, if the prompt's text and tokens are
    // both prefixes of the whole conversation's (the completion-only rule, without searching
    // for a response template that tokenization may have changed).
    const bool prefix = full.compare(0, prompt.size(), prompt) == 0 &&
                        prompt_ids.size() < ids.size() &&
                        std::equal(prompt_ids.begin(), prompt_ids.end(), ids.begin());
    if (!prefix) {
      ++rep.template_miss;
      continue;
    }
    const int64_t p = static_cast<int64_t>(prompt_ids.size());
    if (p >= o.max_length) {
      ++rep.response_cut;
      continue;
    }
    Sample s;
    s.record = static_cast<int64_t>(i);
    s.full_length = static_cast<int64_t>(ids.size());
    s.prompt_length = p;
    s.truncated = s.full_length > o.max_length;
    if (s.truncated) {
      ids.resize(static_cast<size_t>(o.max_length));
      ++rep.truncated;
    }
    s.labels = ids;
    std::fill(s.labels.begin(), s.labels.begin() + p, -100);
    s.input_ids = std::move(ids);
    out.push_back(std::move(s));
    ++rep.kept;
  }
  return out;
}

}  // namespace llmtune::data
