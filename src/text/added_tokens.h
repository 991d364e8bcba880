// Added tokens (special or not) and the splitting of a text around them, as Hugging Face
// tokenizers' AddedVocabulary does: leftmost-longest matches, lstrip/rstrip swallowing the
// whitespace beside a match, single_word requiring word boundaries.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llmtune::text {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false, rstrip = false, single_word = false;
  bool normalized = false;  // matched on the normalized text rather than the raw text
};

// A piece of the input: an added token's id, or a span of text for the model.
struct Segment {
  int32_t id = -1;  // >= 0: an added token
  std::string_view text;
  size_t offset = 0;  // where `text` starts in the original input
};

class AddedVocabulary {
 public:
  void add(const AddedToken& token);
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* find(int32_t id) const;
  const AddedToken* find(std::string_view content) const;
  bool is_special(int32_t id) const;

  // Splits `text` on the added tokens whose `normalized` flag equals `normalized`; special
  // tokens take part only when parse_special. Offsets are relative to `base`.
  std::vector<Segment> split(std::string_view text, size_t base, bool normalized,
                             bool parse_special) const;

  // A normalized token's pattern is its content put through the tokenizer's normalizer; the
  // loader sets it once the normalizer is known.
  void set_normalizer(const std::function<std::string(std::string_view)>& normalize);

 private:
  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
  std::vector<std::string> patterns_;  // per token: what is searched for
};

}  // namespace llmtune::text
