#include "data/format.h"

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
  std::vector<Sample> out;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    ++rep.records;
    const std::string prompt =
        text::apply_chat_template(tokenizer, conversation(r, false, o.system), prompt_only);
    const std::string full =
        text::apply_chat_template(tokenizer, conversation(r, true, o.system), whole);
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
