#include "text/bpe.h"

#include <cstdio>
#include <queue>

#include "core/error.h"
#include "text/utf8.h"

namespace llmtune::text {

namespace {

using nlohmann::json;

// A merge waiting in the queue: the pair starting at symbol `pos`, and what it should make.
struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t id;
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

Bpe::Bpe(const json& model, const std::string& where) {
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && !model[key].get<std::string>().empty()) {
      throw Error(str(where, ": BPE \"", key,
                      "\" is not supported (Llama-family tokenizers leave it null)"));
    }
  }
  if (model.contains("dropout") && !model["dropout"].is_null() &&
      model["dropout"].get<double>() > 0) {
    throw Error(str(where, ": BPE dropout is not supported for encoding (set it to null)"));
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    throw Error(str(where, ": the BPE model has no \"vocab\" object"));
  }
  // Ids number the entries: each of 0 .. n-1 exactly once.
  const size_t n = model["vocab"].size();
  tokens_.resize(n);
  std::vector<bool> seen(n, false);
  for (auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<uint64_t>() >= n) {
      throw Error(str(where, ": vocab id ", id.dump(), " of \"", token,
                      "\" is not an integer from 0 to ", n - 1, " (the vocabulary has ", n,
                      " entries)"));
    }
    const int32_t i = id.get<int32_t>();
    if (seen[i]) {
      throw Error(str(where, ": vocab id ", i, " is given to both \"", tokens_[i], "\" and \"",
                      token, "\""));
    }
    seen[i] = true;
    vocab_[token] = i;
    tokens_[i] = token;
    if (token.empty()) continue;  // some converted vocabularies hold an unreachable ""
    size_t pos = 0;
    const uint32_t cp = utf8_next(token, &pos);
    if (pos == token.size()) char_ids_[cp] = i;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_ids_[b] = token_to_id(name);
  }
  byte_fallback_ = model.value("byte_fallback", false);
  fuse_unk_ = model.value("fuse_unk", false);
  ignore_merges_ = model.value("ignore_merges", false);
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    unk_id_ = token_to_id(model["unk_token"].get<std::string>());
    if (unk_id_ < 0)
      throw Error(str(where, ": unk_token \"", model["unk_token"].get<std::string>(),
                      "\" is not in the vocab"));
  }
  const json& merges = model.value("merges", json::array());
  int32_t rank = 0;
  for (const json& m : merges) {
    std::string a, b;
    if (m.is_string()) {  // tokenizers < 0.20: "a b"
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ', 1);
      if (space == std::string::npos)
        throw Error(str(where, ": merge \"", s, "\" is not \"left right\""));
      a = s.substr(0, space);
      b = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // newer
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      throw Error(str(where, ": merge ", rank, " is neither \"a b\" nor [\"a\", \"b\"]"));
    }
    const int32_t ia = token_to_id(a), ib = token_to_id(b), ic = token_to_id(a + b);
    if (ia < 0 || ib < 0 || ic < 0) {
      throw Error(str(where, ": merge ", rank, " (\"", a, "\", \"", b,
                      "\") uses a token missing from the vocab"));
    }
    merges_.emplace(key(ia, ib), Merge{rank, ic});  // the first (lowest) rank wins
    ++rank;
  }
}

int32_t Bpe::token_to_id(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  return it == vocab_.end() ? -1 : it->second;
}

const std::string& Bpe::id_to_token(int32_t id) const {
  return tokens_.at(static_cast<size_t>(id));
}

void Bpe::initial_symbols(std::string_view word, std::vector<int32_t>* ids) const {
  bool last_unk = false;
  for (size_t i = 0; i < word.size();) {
    const size_t start = i;
    const uint32_t cp = utf8_next(word, &i);
    auto it = char_ids_.find(cp);
    if (it != char_ids_.end() &&
        i - start == utf8_length(static_cast<unsigned char>(word[start]))) {
      ids->push_back(it->second);
      last_unk = false;
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (size_t k = start; k < i; ++k)
        all = all && byte_ids_[static_cast<unsigned char>(word[k])] >= 0;
      if (all) {
        for (size_t k = start; k < i; ++k)
          ids->push_back(byte_ids_[static_cast<unsigned char>(word[k])]);
        last_unk = false;
        continue;
      }
    }
    if (unk_id_ < 0) {
      throw Error(str("the character at byte ", start, " of \"", word,
                      "\" is not in the BPE vocabulary, which has no unk_token or byte fallback"));
    }
    if (!(fuse_unk_ && last_unk)) ids->push_back(unk_id_);
    last_unk = true;
  }
}

void Bpe::encode(std::string_view word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const int32_t whole = token_to_id(word);
    if (whole >= 0) {
      out->push_back(whole);
      return;
    }
  }
  std::vector<int32_t> ids;
  initial_symbols(word, &ids);
  const int32_t n = static_cast<int32_t>(ids.size());
  if (n == 1) {
    out->push_back(ids[0]);
    return;
  }
  // A doubly linked list of symbols; a merged-away symbol has id -1.
  std::vector<int32_t> prev(static_cast<size_t>(n)), next(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    auto it = merges_.find(key(ids[pos], ids[next[pos]]));
    if (it != merges_.end()) queue.push({it->second.rank, pos, it->second.id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    if (ids[c.pos] < 0 || next[c.pos] < 0) continue;
    const int32_t right = next[c.pos];
    auto it = merges_.find(key(ids[c.pos], ids[right]));
    if (it == merges_.end() || it->second.id != c.id) continue;  // stale
    ids[c.pos] = c.id;
    ids[right] = -1;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    consider(prev[c.pos]);
    consider(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out->push_back(ids[i]);
}

}  // namespace llmtune::text
