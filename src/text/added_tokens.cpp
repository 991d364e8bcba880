#include "text/added_tokens.h"

#include <cctype>

#include "core/error.h"
#include "text/utf8.h"

namespace llmtune::text {

namespace {

bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// A word character for single_word: letters, digits and underscore (ASCII), and any non-ASCII
// character, as Rust's char::is_alphanumeric roughly sees them.
bool is_word_byte(unsigned char c) {
  return c >= 0x80 || c == '_' || std::isalnum(c);
}

}  // namespace

void AddedVocabulary::add(const AddedToken& token) {
  if (token.content.empty()) throw Error(str("added token ", token.id, " is empty"));
  auto it = by_id_.find(token.id);
  if (it != by_id_.end()) {  // a later definition (tokenizer_config.json) refines an earlier one
    by_content_.erase(tokens_[it->second].content);
    tokens_[it->second] = token;
    patterns_[it->second] = token.content;
    by_content_[token.content] = it->second;
    return;
  }
  by_id_[token.id] = tokens_.size();
  by_content_[token.content] = tokens_.size();
  tokens_.push_back(token);
  patterns_.push_back(token.content);
}

const AddedToken* AddedVocabulary::find(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

bool AddedVocabulary::is_special(int32_t id) const {
  const AddedToken* t = find(id);
  return t != nullptr && t->special;
}

void AddedVocabulary::set_normalizer(
    const std::function<std::string(std::string_view)>& normalize) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    patterns_[i] = tokens_[i].normalized && !tokens_[i].special ? normalize(tokens_[i].content)
                                                                : tokens_[i].content;
  }
}

std::vector<Segment> AddedVocabulary::split(std::string_view text, size_t base, bool normalized,
                                            bool parse_special) const {
  std::vector<size_t> active;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    // Special tokens are always matched on the raw text, whatever their normalized flag.
    const bool raw = t.special || !t.normalized;
    if (raw == !normalized && (parse_special || !t.special) && !patterns_[i].empty()) {
      active.push_back(i);
    }
  }
  // Candidates by first byte, so each position only tries tokens that can start there.
  std::vector<size_t> by_byte[256];
  for (size_t k : active) by_byte[static_cast<unsigned char>(patterns_[k][0])].push_back(k);
  std::vector<Segment> out;
  size_t start = 0;  // start of the pending text
  size_t i = 0;
  while (i < text.size()) {
    // Leftmost-longest: at the first position where anything matches, take the longest.
    size_t best = SIZE_MAX, best_len = 0;
    for (size_t k : by_byte[static_cast<unsigned char>(text[i])]) {
      const std::string& p = patterns_[k];
      if (p.size() > best_len && text.compare(i, p.size(), p) == 0) {
        const AddedToken& t = tokens_[k];
        if (t.single_word && ((i > 0 && is_word_byte(text[i - 1])) ||
                              (i + p.size() < text.size() && is_word_byte(text[i + p.size()])))) {
          continue;
        }
        best = k;
        best_len = p.size();
      }
    }
    if (best == SIZE_MAX) {
      i += utf8_length(static_cast<unsigned char>(text[i]));
      continue;
    }
    const AddedToken& t = tokens_[best];
    size_t left = i, right = i + best_len;
    if (t.lstrip) {
      while (left > start && is_space(static_cast<unsigned char>(text[left - 1]))) --left;
    }
    if (t.rstrip) {
      while (right < text.size() && is_space(static_cast<unsigned char>(text[right]))) ++right;
    }
    if (left > start) out.push_back({-1, text.substr(start, left - start), base + start});
    out.push_back({t.id, text.substr(i, best_len), base + i});
    start = i = right;
  }
  if (start < text.size()) out.push_back({-1, text.substr(start), base + start});
  return out;
}

}  // namespace llmtune::text
