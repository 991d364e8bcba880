#include "text/tokenizer.h"

#include <charconv>
#include <climits>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "text/hf_tokenizer.h"
#include "text/sentencepiece.h"
#include "text/utf8.h"

namespace llmtune::text {

namespace {

using nlohmann::json;

// A special token in tokenizer_config.json: a string, an AddedToken dict {"content": ...}, or
// null (none).
std::string token_string(const json& j, const std::string& key, const std::string& where) {
  if (j.is_null()) return "";
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) {
    return j["content"].get<std::string>();
  }
  throw Error(str(where, ": \"", key, "\" must be a token string or {\"content\": string}, got ",
                  j.dump().substr(0, 60)));
}

}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  if (!utf8_valid(text)) throw Error("text to encode is not valid UTF-8");
  std::vector<int32_t> before, after, out;
  if (options.add_special_tokens) {
    if (config_.add_bos_token.has_value() || config_.add_eos_token.has_value()) {
      if (config_.add_bos_token.value_or(true) && special_.bos >= 0) before.push_back(special_.bos);
      if (config_.add_eos_token.value_or(false) && special_.eos >= 0) after.push_back(special_.eos);
    } else {
      special_wrap(&before, &after);
    }
  }
  out = before;
  for (const Segment& seg : added_.split(text, 0, /*normalized=*/false, options.parse_special)) {
    if (seg.id >= 0)
      out.push_back(seg.id);
    else
      encode_piece(seg.text, seg.offset == 0, &out);
  }
  out.insert(out.end(), after.begin(), after.end());
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<int32_t> kept;
  kept.reserve(ids.size());
  const int64_t vocab = vocab_size();
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab) {
      throw Error(str("token id ", id, " is outside the vocabulary [0, ", vocab, ")"));
    }
    if (!(skip_special_tokens && added_.is_special(id))) kept.push_back(id);
  }
  return decode_ids(kept);
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* t = added_.find(token)) return t->id;
  return model_token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* t = added_.find(id)) return t->content;
  if (id < 0 || id >= model_vocab_size()) {
    throw Error(str("token id ", id, " is outside the vocabulary [0, ", vocab_size(), ")"));
  }
  return model_id_to_token(id);
}

int64_t Tokenizer::vocab_size() const {
  int64_t n = model_vocab_size();
  for (const AddedToken& t : added_.tokens()) n = std::max<int64_t>(n, t.id + 1);
  return n;
}

namespace {

namespace fs = std::filesystem;

// Transformers applies add_bos_token/add_eos_token for its Llama tokenizers (their
// post-processor is rebuilt from them); other classes keep tokenizer.json's post-processor.
Tokenizer::Config config_rules(const json& config, const std::string& config_path,
                               const std::string& dir) {
  Tokenizer::Config rules;
  const std::string cls = json_get_or<std::string>(config, "tokenizer_class", "", config_path);
  const bool llama_rules =
      cls.find("Llama") != std::string::npos || cls.find("Gemma") != std::string::npos;
  if (llama_rules || !fs::exists(path_join(dir, "tokenizer.json"))) {
    for (auto [key, rule] : {std::pair{"add_bos_token", &rules.add_bos_token},
                             {"add_eos_token", &rules.add_eos_token}}) {
      if (config.contains(key) && !config[key].is_null())
        *rule = json_get<bool>(config, key, config_path);
    }
  }
  rules.legacy = json_get_or(config, "legacy", rules.legacy, config_path);
  return rules;
}

// tokenizer.json (what AutoTokenizer uses when present) or tokenizer.model.
std::unique_ptr<Tokenizer> backend_load(const std::string& dir, const std::string& backend,
                                        const Tokenizer::Config& rules) {
  const std::string json_path = path_join(dir, "tokenizer.json");
  const std::string model_path = path_join(dir, "tokenizer.model");
  if (backend != "auto" && backend != "tokenizer.json" && backend != "sentencepiece") {
    throw Error(
        str("tokenizer backend \"", backend, "\" must be auto, tokenizer.json or sentencepiece"));
  }
  if ((backend == "auto" && fs::exists(json_path)) || backend == "tokenizer.json") {
    if (!fs::exists(json_path)) throw Error(str(dir, ": no tokenizer.json"));
    return hf_tokenizer_load(json_path, rules);
  }
  if (fs::exists(model_path)) return sentencepiece_load(model_path, rules);
  throw Error(
      str(dir, ": no tokenizer.json or tokenizer.model; is this a Hugging Face model directory?"));
}

// Added tokens declared only in tokenizer_config.json (the .model path has no other source).
void config_added_tokens(const json& config, const std::string& config_path,
                         AddedVocabulary& added) {
  if (!config.contains("added_tokens_decoder") || !config["added_tokens_decoder"].is_object())
    return;
  for (auto& [id, tok] : config["added_tokens_decoder"].items()) {
    const std::string where = str(config_path, ": added_tokens_decoder \"", id, "\"");
    AddedToken a;
    const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), a.id);
    if (ec != std::errc() || end != id.data() + id.size() || a.id < 0) {
      throw Error(str(where, ": the key must be a token id from 0 to ", INT32_MAX));
    }
    a.content = json_get<std::string>(tok, "content", where);
    a.special = json_get_or(tok, "special", false, where);
    a.lstrip = json_get_or(tok, "lstrip", false, where);
    a.rstrip = json_get_or(tok, "rstrip", false, where);
    a.single_word = json_get_or(tok, "single_word", false, where);
    a.normalized = json_get_or(tok, "normalized", !a.special, where);
    if (!added.find(a.id)) added.add(a);
  }
}

// Special tokens: tokenizer_config.json names them; their ids come from the vocabulary. A
// model without a pad token pads with <unk> (or options.pad_token), never with EOS.
void resolve_specials(const json& config, const std::string& config_path, const Tokenizer& t,
                      const TokenizerOptions& options, const std::string& dir, SpecialTokens& s) {
  auto resolve = [&](const char* key, const std::string& fallback, std::string* name, int32_t* id) {
    std::string content =
        config.contains(key) ? token_string(config[key], key, config_path) : fallback;
    if (content.empty()) return;
    const int32_t i = t.token_to_id(content);
    if (i < 0)
      throw Error(str(config_path, ": ", key, " \"", content, "\" is not in the vocabulary"));
    *name = content;
    *id = i;
  };
  const bool sp_defaults = t.kind() == std::string("sentencepiece");
  resolve("bos_token", sp_defaults ? "<s>" : "", &s.bos_token, &s.bos);
  resolve("eos_token", sp_defaults ? "</s>" : "", &s.eos_token, &s.eos);
  resolve("unk_token", sp_defaults ? "<unk>" : "", &s.unk_token, &s.unk);
  resolve("pad_token", "", &s.pad_token, &s.pad);
  if (s.pad >= 0) return;
  std::string pad = options.pad_token;
  if (pad.empty()) pad = s.unk >= 0 ? s.unk_token : (t.token_to_id("<pad>") >= 0 ? "<pad>" : "");
  if (pad.empty()) return;
  s.pad = t.token_to_id(pad);
  if (s.pad < 0) throw Error(str("pad token \"", pad, "\" is not in the vocabulary of ", dir));
  s.pad_token = pad;
}

// The chat template: tokenizer_config.json's (a string, or a list of named templates), or a
// chat_template.jinja file beside it, as newer Transformers saves.
ChatTemplate chat_template_of(const json& config, const std::string& config_path,
                              const std::string& dir) {
  const std::string jinja_path = path_join(dir, "chat_template.jinja");
  if (config.contains("chat_template") && config["chat_template"].is_string())
    return {config["chat_template"].get<std::string>(), config_path};
  if (config.contains("chat_template") && config["chat_template"].is_array()) {
    ChatTemplate found;
    for (const json& named : config["chat_template"]) {
      const bool ok = named.is_object() && named.contains("template") &&
                      named["template"].is_string() &&
                      (!named.contains("name") || named["name"].is_string());
      if (!ok) {
        throw Error(str(config_path, ": each entry of \"chat_template\" must be {\"name\": ",
                        "string, \"template\": string}, got ", named.dump().substr(0, 80)));
      }
      if (named.value("name", "") == "default")
        found = {named["template"].get<std::string>(), config_path + " (\"default\")"};
    }
    return found;
  }
  if (config.contains("chat_template") && !config["chat_template"].is_null()) {
    throw Error(str(config_path, ": \"chat_template\" must be a string or a list of named ",
                    "templates, got ", config["chat_template"].type_name()));
  }
  if (fs::exists(jinja_path)) return {read_file(jinja_path), jinja_path};
  return {};
}

}  // namespace

std::unique_ptr<Tokenizer> tokenizer_load(const std::string& dir, const TokenizerOptions& options) {
  const Activity activity("loading the tokenizer of " + dir);
  if (!fs::is_directory(dir))
    throw Error(str(dir, ": not a directory (expected a model directory with a tokenizer)"));
  const std::string config_path = path_join(dir, "tokenizer_config.json");
  json config = json::object();
  if (fs::exists(config_path)) config = read_json(config_path);
  if (!config.is_object()) throw Error(str(config_path, ": expected a JSON object"));
  std::unique_ptr<Tokenizer> t =
      backend_load(dir, options.backend, config_rules(config, config_path, dir));
  config_added_tokens(config, config_path, t->added_);
  resolve_specials(config, config_path, *t, options, dir, t->special_);
  t->chat_template_ = chat_template_of(config, config_path, dir);
  return t;
}

std::vector<std::string> tokenizer_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                           "special_tokens_map.json", "generation_config.json"}) {
    const std::string p = path_join(dir, name);
    if (file_exists(p)) files.push_back(p);
  }
  return files;
}

}  // namespace llmtune::text
