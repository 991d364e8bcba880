// A compiled PCRE2 regular expression over UTF-8 with Unicode classes (\p{L}, \s, ...), as the
// Split pre-tokenizer and Replace normalizer patterns of tokenizer.json need.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmtune::text {

class Regex {
 public:
  // `origin` says where the pattern comes from ("DIR/tokenizer.json: pre_tokenizer"), for
  // errors. Throws llmtune::Error naming it, the pattern and PCRE2's message.
  Regex(const std::string& pattern, const std::string& origin);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Every non-overlapping match in s, as [begin, end) byte offsets, left to right. A match that
  // backtracks past PCRE2's limits (a catastrophic pattern) throws llmtune::Error.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view s) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmtune::text
