#include "text/gguf_vocab.h"

#include <sentencepiece_processor.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "text/tokenizer.h"

namespace llmtune::text {

namespace {

using nlohmann::json;

// Llama 3's pre-tokenizer pattern (its tokenizer.json Split), which llama.cpp calls "llama-bpe".
constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Added tokens the converter makes control tokens although the file does not call them special.
bool looks_special(const std::string& t) {
  const auto wrapped = [&](const std::string& open, const std::string& close) {
    return t.size() >= open.size() + close.size() && t.starts_with(open) && t.ends_with(close);
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\uff5c", "\uff5c>") || wrapped("<unused", ">");
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

void check_id(int64_t id, int64_t vocab_size, const std::string& where) {
  if (id < 0 || id >= vocab_size) {
    throw Error(str(where, ": token id ", id, " is outside the model's vocabulary of ", vocab_size,
                    "; the tokenizer does not belong to this model"));
  }
}

// Every id a "[PAD<id>]" placeholder until the tokenizer fills it, as the converter starts.
void placeholders(int64_t vocab_size, float score, GgufVocab* v) {
  for (int64_t i = 0; i < vocab_size; ++i) v->tokens.push_back(str("[PAD", i, "]"));
  v->types.assign(static_cast<size_t>(vocab_size), static_cast<int32_t>(GgufTokenType::kUnused));
  if (v->model == "llama") v->scores.assign(static_cast<size_t>(vocab_size), score);
}

void set_added(GgufVocab* v, int64_t id, const std::string& content, bool special) {
  const size_t i = static_cast<size_t>(id);
  if (special || looks_special(content)) {
    v->tokens[i] = content;
    v->types[i] = static_cast<int32_t>(GgufTokenType::kControl);
  } else {  // a user-defined token is matched in the text before the "▁" escaping
    v->tokens[i] = replace_all(content, "\u2581", " ");
    v->types[i] = static_cast<int32_t>(GgufTokenType::kUserDefined);
  }
  if (!v->scores.empty()) v->scores[i] = -1000.0f;
}

void spm_pieces(const std::string& path, int64_t vocab_size, GgufVocab* v) {
  sentencepiece::SentencePieceProcessor sp;
  const auto status = sp.Load(path);
  if (!status.ok()) throw Error(str(path, ": not a SentencePiece model: ", status.ToString()));
  if (sp.GetPieceSize() > vocab_size) {
    throw Error(str(path, " has ", sp.GetPieceSize(), " pieces but the model's vocab_size is ",
                    vocab_size, "; the tokenizer does not belong to this model"));
  }
  placeholders(vocab_size, -10000.0f, v);
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    GgufTokenType t = GgufTokenType::kNormal;
    if (sp.IsUnknown(id))
      t = GgufTokenType::kUnknown;
    else if (sp.IsControl(id))
      t = GgufTokenType::kControl;
    else if (sp.IsUnused(id))
      t = GgufTokenType::kUnused;
    else if (sp.IsByte(id))
      t = GgufTokenType::kByte;
    v->tokens[id] = sp.IdToPiece(id);
    v->scores[id] = sp.GetScore(id);
    v->types[id] = static_cast<int32_t>(t);
  }
}

// added_tokens.json, then tokenizer_config.json's added_tokens_decoder, over the pieces.
void spm_added(const std::string& dir, int64_t vocab_size, GgufVocab* v) {
  const std::string added_path = path_join(dir, "added_tokens.json");
  if (file_exists(added_path)) {
    const json added = read_json(added_path);
    if (!added.is_object()) throw Error(str(added_path, ": expected {\"token\": id, ...}"));
    for (const auto& [content, id] : added.items()) {
      const int64_t i = json_get<int64_t>(added, content, added_path);
      if (i >= 0 && i < vocab_size) set_added(v, i, content, false);
    }
  }
  const std::string config_path = path_join(dir, "tokenizer_config.json");
  if (!file_exists(config_path)) return;
  const json config = read_json(config_path);
  if (!config.is_object() || !config.contains("added_tokens_decoder")) return;
  for (const auto& [key, token] : config["added_tokens_decoder"].items()) {
    int64_t id = -1;
    std::from_chars(key.data(), key.data() + key.size(), id);
    const std::string where = str(config_path, ": added_tokens_decoder \"", key, "\"");
    check_id(id, vocab_size, where);
    set_added(v, id, json_get<std::string>(token, "content", where),
              json_get_or(token, "special", false, where));
  }
}

// llama.cpp's name for a byte-level BPE pre-tokenizer, or an Error naming the file.
std::string bpe_pre(const json& pre, const std::string& where) {
  const auto byte_level = [](const json& p, bool regex) {
    return p.is_object() && p.value("type", "") == "ByteLevel" &&
           !p.value("add_prefix_space", true) && p.value("use_regex", true) == regex;
  };
  if (byte_level(pre, true)) return "gpt-2";
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array() && pre["pretokenizers"].size() == 2) {
    const json& split = pre["pretokenizers"][0];
    const bool llama3 =
        split.is_object() && split.value("type", "") == "Split" &&
        split.value("pattern", json::object()).value("Regex", "") == kLlama3Pattern &&
        split.value("behavior", "") == "Isolated" && !split.value("invert", false);
    if (llama3 && byte_level(pre["pretokenizers"][1], false)) return "llama-bpe";
  }
  throw Error(str(where, ": its pre_tokenizer is not one llama.cpp knows by name; llmtune exports ",
                  "byte-level BPE with GPT-2's (ByteLevel, add_prefix_space false) or Llama 3's ",
                  "(Split + ByteLevel) pre-tokenizer, and SentencePiece tokenizer.model files"));
}

std::vector<std::string> bpe_merges(const json& merges, const std::string& where) {
  std::vector<std::string> out;
  if (!merges.is_array()) throw Error(str(where, ": model.merges must be a list"));
  for (const json& m : merges) {
    if (m.is_string()) {
      out.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      // The pair form of newer files; a space inside a part is written as U+0120 + ' ' - ' '.
      out.push_back(replace_all(m[0].get<std::string>(), " ", "\u0120") + " " +
                    replace_all(m[1].get<std::string>(), " ", "\u0120"));
    } else {
      throw Error(str(where, ": model.merges holds ", m.dump().substr(0, 60),
                      ", neither \"a b\" nor [\"a\", \"b\"]"));
    }
  }
  return out;
}

void bpe_pieces(const std::string& dir, int64_t vocab_size, const Tokenizer& tok, GgufVocab* v) {
  const std::string path = path_join(dir, "tokenizer.json");
  const json j = read_json(path);
  const json& model = j.at("model");
  const bool byte_level = model.value("type", "") == "BPE" &&
                          !model.value("byte_fallback", false) &&
                          j.value("decoder", json::object()).value("type", "") == "ByteLevel";
  if (!byte_level) {
    throw Error(str(path,
                    ": a tokenizer.json that is not byte-level BPE needs its tokenizer.model ",
                    "beside it for a GGUF file (llama.cpp's \"llama\" vocabulary is made from the ",
                    "SentencePiece model); copy the base model's tokenizer.model into ", dir));
  }
  v->pre = bpe_pre(j.value("pre_tokenizer", json()), path);
  v->merges = bpe_merges(model.value("merges", json::array()), path);
  if (tok.vocab_size() > vocab_size) {
    throw Error(str(path, " has ", tok.vocab_size(), " tokens but the model's vocab_size is ",
                    vocab_size, "; the tokenizer does not belong to this model"));
  }
  placeholders(vocab_size, 0.0f, v);
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    std::string t;
    try {
      t = tok.id_to_token(id);
    } catch (const Error&) {  // an id neither the model nor an added token has
    }
    if (t.empty()) continue;  // a gap in the vocabulary stays a placeholder
    v->tokens[id] = std::move(t);
    v->types[id] = static_cast<int32_t>(GgufTokenType::kNormal);
  }
  for (const AddedToken& a : tok.added_tokens().tokens()) set_added(v, a.id, a.content, a.special);
}

}  // namespace

GgufVocab gguf_vocab(const std::string& dir, int64_t vocab_size) {
  const auto tok = tokenizer_load(dir);
  GgufVocab v;
  const std::string model_path = path_join(dir, "tokenizer.model");
  if (file_exists(model_path)) {
    v.model = "llama";
    v.pre = "default";
    spm_pieces(model_path, vocab_size, &v);
    spm_added(dir, vocab_size, &v);
  } else {
    v.model = "gpt2";
    bpe_pieces(dir, vocab_size, *tok, &v);
  }
  const SpecialTokens& s = tok->special_tokens();
  v.bos = s.bos;
  v.eos = s.eos;
  v.unk = s.unk;
  // Only a padding token the files name: llmtune's own fallback (<unk>) is not the model's.
  const std::string config_path = path_join(dir, "tokenizer_config.json");
  if (file_exists(config_path)) {
    const json config = read_json(config_path);
    if (config.is_object() && config.contains("pad_token") && !config["pad_token"].is_null())
      v.pad = s.pad;
  }
  for (int32_t id : {v.bos, v.eos, v.unk, v.pad})
    if (id >= 0) check_id(id, vocab_size, dir + " (special tokens)");
  const std::vector<int32_t> ids = tok->encode("a");
  v.add_bos = v.bos >= 0 && !ids.empty() && ids.front() == v.bos;
  v.add_eos = v.eos >= 0 && ids.size() > 1 && ids.back() == v.eos;
  v.chat_template = tok->chat_template().source;
  return v;
}

}  // namespace llmtune::text
