#include "text/sentencepiece.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <unordered_map>

#include "core/error.h"
#include "core/files.h"
#include "text/utf8.h"

namespace llmtune::text {

namespace {

// --- A minimal protobuf edit: NormalizerSpec.add_dummy_prefix (ModelProto field 3, field 3).
// Transformers' non-legacy LlamaTokenizer loads the model with that flag cleared and adds the
// prefix itself; llmtune does the same without the protobuf headers Debian does not ship.

uint64_t read_varint(const std::string& s, size_t* i) {
  uint64_t v = 0;
  for (int shift = 0; *i < s.size() && shift < 64; shift += 7) {
    const uint8_t b = static_cast<uint8_t>(s[(*i)++]);
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
  throw Error("tokenizer.model is not a valid SentencePiece model (bad varint)");
}

void write_varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Rewrites the fields of a message; `edit` sees each length-delimited field and may replace it.
std::string rewrite(const std::string& msg, int field, bool value, bool nested) {
  std::string out;
  bool found = false;
  for (size_t i = 0; i < msg.size();) {
    const size_t start = i;
    const uint64_t tag = read_varint(msg, &i);
    const int f = static_cast<int>(tag >> 3), wire = static_cast<int>(tag & 7);
    if (wire == 0) {
      read_varint(msg, &i);
      if (!nested && f == field) continue;  // dropped: re-added below
    } else if (wire == 1) {
      i += 8;
    } else if (wire == 5) {
      i += 4;
    } else if (wire == 2) {
      const uint64_t len = read_varint(msg, &i);
      if (i + len > msg.size()) throw Error("tokenizer.model is truncated");
      if (nested && f == 3) {  // ModelProto.normalizer_spec
        const std::string inner = rewrite(msg.substr(i, len), field, value, false);
        write_varint(&out, tag);
        write_varint(&out, inner.size());
        out += inner;
        i += len;
        found = true;
        continue;
      }
      i += len;
    } else {
      throw Error("tokenizer.model is not a valid SentencePiece model (wire type)");
    }
    if (i > msg.size()) throw Error("tokenizer.model is truncated");
    out.append(msg, start, i - start);
  }
  if (!nested) {
    write_varint(&out, (static_cast<uint64_t>(field) << 3) | 0);
    write_varint(&out, value ? 1 : 0);
  } else if (!found) {
    std::string inner;
    write_varint(&inner, (static_cast<uint64_t>(field) << 3) | 0);
    write_varint(&inner, value ? 1 : 0);
    write_varint(&out, (3 << 3) | 2);
    write_varint(&out, inner.size());
    out += inner;
  }
  return out;
}

class SentencePieceTokenizer final : public Tokenizer {
 public:
  SentencePieceTokenizer(const std::string& path, const Config& config) : path_(path) {
    config_ = config;
    std::string model = read_file(path);
    // The prefix "▁" is added here (always for legacy, only at the start otherwise), so the
    // processor never adds its own.
    try {
      model = rewrite(model, 3, false, true);
    } catch (const Error& e) {  // its messages say "tokenizer.model" but not which
      throw Error(str(path, ": ", e.what()));
    }
    const auto status = sp_.LoadFromSerializedProto(model);
    if (!status.ok()) throw Error(str(path, ": not a SentencePiece model: ", status.ToString()));
    for (int id = 0; id < sp_.GetPieceSize(); ++id) {
      if (sp_.IsControl(id) || sp_.IsUnknown(id)) {
        AddedToken t;
        t.id = id;
        t.content = sp_.IdToPiece(id);
        t.special = true;
        added_.add(t);
      }
    }
  }

  const char* kind() const override { return "sentencepiece"; }

 protected:
  void encode_piece(std::string_view piece, bool at_start,
                    std::vector<int32_t>* out) const override {
    if (piece.empty()) return;
    std::string text;
    if (config_.legacy || at_start) text = " ";
    text.append(piece);
    std::vector<int> ids;
    const auto status = sp_.Encode(text, &ids);
    if (!status.ok())
      throw Error(str(path_, ": SentencePiece failed to encode: ", status.ToString()));
    out->insert(out->end(), ids.begin(), ids.end());
  }

  void special_wrap(std::vector<int32_t>* before, std::vector<int32_t>* after) const override {
    // LlamaTokenizer's defaults; tokenizer_config.json's add_bos_token/add_eos_token override.
    before->assign(1, sp_.bos_id());
    after->clear();
    if (sp_.bos_id() < 0) before->clear();
  }

  std::string decode_ids(std::span<const int32_t> ids) const override {
    // What the converted tokenizer.json's decoder does: "▁" -> " ", <0xXX> runs -> UTF-8 (one
    // U+FFFD per byte of an invalid run), join, strip one leading space.
    std::string out, bytes;
    size_t nbytes = 0;
    auto flush = [&] {
      if (nbytes == 0) return;
      if (utf8_valid(bytes))
        out += bytes;
      else
        for (size_t i = 0; i < nbytes; ++i) out += "\xEF\xBF\xBD";
      bytes.clear();
      nbytes = 0;
    };
    for (int32_t id : ids) {
      if (sp_.IsByte(id)) {
        const std::string& p = sp_.IdToPiece(id);  // "<0xAB>"
        bytes.push_back(static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
        ++nbytes;
        continue;
      }
      flush();
      const std::string& p = id_to_token_ref(id);
      for (size_t i = 0; i < p.size();) {
        if (p.compare(i, 3, "\u2581") == 0) {
          out.push_back(' ');
          i += 3;
        } else {
          out.push_back(p[i++]);
        }
      }
    }
    flush();
    if (!out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
  }

  int32_t model_token_to_id(std::string_view token) const override {
    const int id = sp_.PieceToId(token);
    // PieceToId answers unk_id for unknown pieces; only <unk> itself maps there.
    return id == sp_.unk_id() && token != sp_.IdToPiece(id) ? -1 : id;
  }
  std::string model_id_to_token(int32_t id) const override { return id_to_token_ref(id); }
  int64_t model_vocab_size() const override { return sp_.GetPieceSize(); }

 private:
  const std::string& id_to_token_ref(int32_t id) const {
    if (id < 0 || id >= sp_.GetPieceSize()) {
      throw Error(str("token id ", id, " is outside the vocabulary [0, ", sp_.GetPieceSize(), ")"));
    }
    return sp_.IdToPiece(id);
  }

  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
};

class LinesIterator final : public sentencepiece::SentenceIterator {
 public:
  explicit LinesIterator(const std::vector<std::string>& lines) : lines_(lines) {}
  bool done() const override { return i_ >= lines_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return lines_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& lines_;
  size_t i_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> sentencepiece_load(const std::string& path,
                                              const Tokenizer::Config& config) {
  return std::make_unique<SentencePieceTokenizer>(path, config);
}

namespace {

// The BPE merges of a SentencePiece model: every split of every piece into two pieces, ordered
// by the merged piece's score, highest first, then by the ids of the two halves, as
// Transformers' SentencePieceExtractor orders them (pieces scored 0, the special and byte
// pieces, make no merge).
nlohmann::json sentencepiece_merges(const sentencepiece::SentencePieceProcessor& sp,
                                    const std::unordered_map<std::string, int>& vocab) {
  using nlohmann::json;
  const int n = sp.GetPieceSize();
  struct Merge {
    int left, right;
    float score;
  };
  std::vector<Merge> merges;
  for (int id = 0; id < n; ++id) {
    const float score = sp.GetScore(id);
    if (score == 0.0f) continue;
    const std::string& piece = sp.IdToPiece(id);
    for (size_t at = utf8_length(static_cast<unsigned char>(piece[0])); at < piece.size();
         at += utf8_length(static_cast<unsigned char>(piece[at]))) {
      auto l = vocab.find(piece.substr(0, at)), r = vocab.find(piece.substr(at));
      if (l != vocab.end() && r != vocab.end()) merges.push_back({l->second, r->second, score});
    }
  }
  std::sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.left != b.left ? a.left < b.left : a.right < b.right;
  });
  json merges_json = json::array();
  for (const Merge& m : merges)
    merges_json.push_back(sp.IdToPiece(m.left) + " " + sp.IdToPiece(m.right));

  return merges_json;
}

// The TemplateProcessing post-processor that puts BOS in front, as the Llama tokenizers do.
nlohmann::json bos_post_processor(const sentencepiece::SentencePieceProcessor& sp) {
  using nlohmann::json;
  const std::string bos = sp.bos_id() >= 0 ? sp.IdToPiece(sp.bos_id()) : "";
  if (bos.empty()) return nullptr;
  return json{
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair",
       {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
        {{"SpecialToken", {{"id", bos}, {"type_id", 1}}}},
        {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
      {"special_tokens", {{bos, {{"id", bos}, {"ids", {sp.bos_id()}}, {"tokens", {bos}}}}}}};
}

}  // namespace

nlohmann::json sentencepiece_to_tokenizer_json(const std::string& model_path, bool legacy) {
  using nlohmann::json;
  sentencepiece::SentencePieceProcessor sp;
  const auto status = sp.Load(model_path);
  if (!status.ok())
    throw Error(str(model_path, ": not a SentencePiece model: ", status.ToString()));
  const int n = sp.GetPieceSize();
  std::unordered_map<std::string, int> vocab;
  json vocab_json = json::object();
  for (int id = 0; id < n; ++id) {
    vocab[sp.IdToPiece(id)] = id;
    vocab_json[sp.IdToPiece(id)] = id;
  }
  const json merges_json = sentencepiece_merges(sp, vocab);

  json added = json::array();
  for (int id : {sp.unk_id(), sp.bos_id(), sp.eos_id()}) {
    if (id < 0) continue;
    added.push_back({{"id", id},
                     {"content", sp.IdToPiece(id)},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  const std::string space = "\u2581";
  json t = json::object();
  t["version"] = "1.0";
  t["truncation"] = nullptr;
  t["padding"] = nullptr;
  t["added_tokens"] = added;
  if (legacy) {
    t["normalizer"] = {
        {"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", space}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}}}};
    t["pre_tokenizer"] = nullptr;
  } else {
    t["normalizer"] = nullptr;
    t["pre_tokenizer"] = {{"type", "Metaspace"},
                          {"replacement", space},
                          {"prepend_scheme", "first"},
                          {"split", false}};
  }
  t["post_processor"] = bos_post_processor(sp);
  t["decoder"] = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                    {{"type", "ByteFallback"}},
                    {{"type", "Fuse"}},
                    {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  t["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", sp.unk_id() >= 0 ? json(sp.IdToPiece(sp.unk_id())) : json()},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", true},
                {"byte_fallback", true},
                {"ignore_merges", false},
                {"vocab", vocab_json},
                {"merges", merges_json}};
  return t;
}

void sentencepiece_train(const std::vector<std::string>& lines, const SentencePieceTrainOptions& o,
                         const std::string& path) {
  if (lines.empty()) throw Error("cannot train a SentencePiece model on no text");
  if (o.model_type != "bpe" && o.model_type != "unigram") {
    throw Error(str("SentencePiece model_type \"", o.model_type, "\" must be bpe or unigram"));
  }
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", o.model_type},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"byte_fallback", o.byte_fallback ? "true" : "false"},
      {"split_digits", o.split_digits ? "true" : "false"},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"num_threads", "1"},
      {"add_dummy_prefix", "true"},
      {"remove_extra_whitespaces", "false"},
      {"allow_whitespace_only_pieces", "true"},
      {"normalization_rule_name", "identity"},
      {"hard_vocab_limit", "false"},
      {"minloglevel", "2"},
  };
  LinesIterator it(lines);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
  if (!status.ok()) throw Error(str("SentencePiece training failed: ", status.ToString()));
  write_file_atomic(path, model);
}

}  // namespace llmtune::text
