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
  // Throws llmtune::Error naming the pattern and PCRE2's message.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Every non-overlapping match in s, as [begin, end) byte offsets, left to right.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view s) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmtune::text
