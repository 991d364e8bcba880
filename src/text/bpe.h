// The BPE model of Hugging Face tokenizers: characters (or byte-fallback tokens) merged by
// merge rank, lowest first, exactly as tokenizers' Word::merge_all does.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llmtune::text {

class Bpe {
 public:
  // From tokenizer.json's "model" object (type "BPE"); `where` names the file in errors.
  Bpe(const nlohmann::json& model, const std::string& where);

  // Appends the ids of one pre-tokenized word.
  void encode(std::string_view word, std::vector<int32_t>* out) const;

  int32_t token_to_id(std::string_view token) const;  // -1 when absent
  const std::string& id_to_token(int32_t id) const;
  int64_t vocab_size() const { return static_cast<int64_t>(tokens_.size()); }

 private:
  struct Merge {
    int32_t rank;
    int32_t id;  // the merged token
  };
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void initial_symbols(std::string_view word, std::vector<int32_t>* ids) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> tokens_;                 // by id (gaps are "")
  std::unordered_map<uint64_t, Merge> merges_;      // (left, right) -> rank, merged id
  std::unordered_map<uint32_t, int32_t> char_ids_;  // single-code-point tokens, the hot path
  int32_t byte_ids_[256];                           // "<0xXX>" tokens, -1 when absent
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
};

}  // namespace llmtune::text
