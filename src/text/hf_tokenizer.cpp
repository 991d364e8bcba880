#include "text/hf_tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "text/bpe.h"
#include "text/byte_level.h"
#include "text/regex.h"
#include "text/utf8.h"

namespace llmtune::text {

namespace {

using nlohmann::json;

const ByteLevelTables& tables() {
  return byte_level_tables();
}

// A pre-tokenized word, and whether it starts the original text (Metaspace "first").
struct Word {
  std::string text;
  bool at_start = false;
};

// ---- normalizers: a string in, a string out -------------------------------------------------

struct Normalizer {
  virtual ~Normalizer() = default;
  virtual void apply(std::string* s) const = 0;
};

// How much longer normalizing may make a text. Real normalizers add a prefix or swap a space
// for "\u2581" (3 bytes); a file whose Replace steps double the text 30 times is hostile.
constexpr size_t kMaxGrowth = 16;
void check_growth(size_t before, size_t after, const std::string& where) {
  if (after > kMaxGrowth * before + 1024) {
    throw Error(str(where, ": the normalizer turns ", before, " bytes of text into ", after,
                    ", more than ", kMaxGrowth, " times as many; the tokenizer.json is damaged"));
  }
}

// A "pattern" object of tokenizer.json: {"String": "..."} or {"Regex": "..."}.
struct Pattern {
  std::string literal;
  std::unique_ptr<Regex> regex;

  Pattern(const json& j, const std::string& where) {
    if (j.is_string()) {  // older files write the bare string
      literal = j.get<std::string>();
    } else if (j.is_object() && j.contains("String")) {
      literal = j["String"].get<std::string>();
    } else if (j.is_object() && j.contains("Regex")) {
      if (!j["Regex"].is_string())
        throw Error(str(where, ": a \"Regex\" pattern must be a string"));
      regex = std::make_unique<Regex>(j["Regex"].get<std::string>(), where);
    } else {
      throw Error(str(where, ": a pattern must be {\"String\": ...} or {\"Regex\": ...}"));
    }
    if (!regex && literal.empty()) throw Error(str(where, ": empty pattern"));
  }
  // Every match in *s replaced by `content`.
  void replace_all(std::string* s, const std::string& content) const {
    const auto matches = find_all(*s);
    if (matches.empty()) return;
    std::string out;
    size_t last = 0;
    for (auto [b, e] : matches) {
      out.append(*s, last, b - last);
      out += content;
      last = e;
    }
    out.append(*s, last);
    s->swap(out);
  }
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view s) const {
    if (regex) return regex->find_all(s);
    std::vector<std::pair<size_t, size_t>> out;
    for (size_t at = s.find(literal); at != std::string_view::npos;
         at = s.find(literal, at + literal.size())) {
      out.emplace_back(at, at + literal.size());
    }
    return out;
  }
};

struct Prepend final : Normalizer {
  std::string prefix;
  void apply(std::string* s) const override {
    if (!s->empty()) s->insert(0, prefix);
  }
};

struct Replace final : Normalizer {
  std::unique_ptr<Pattern> pattern;
  std::string content, where;
  void apply(std::string* s) const override {
    const auto matches = pattern->find_all(*s);
    size_t after = s->size();
    for (auto [b, e] : matches) after += content.size() - (e - b);
    check_growth(s->size(), after, where);  // before building it
    pattern->replace_all(s, content);
  }
};

bool is_unicode_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

struct Strip final : Normalizer {
  bool left = true, right = true;
  void apply(std::string* s) const override {
    size_t b = 0, e = s->size();
    if (left) {
      for (size_t i = 0; i < s->size();) {
        if (!is_unicode_space(utf8_next(*s, &i))) break;
        b = i;
      }
    }
    if (right) {
      while (e > b) {  // step back one code point
        size_t start = e - 1;
        while (start > b && ((*s)[start] & 0xC0) == 0x80) --start;
        size_t i = start;
        if (!is_unicode_space(utf8_next(*s, &i))) break;
        e = start;
      }
    }
    *s = s->substr(b, e - b);
  }
};

struct NormalizerSequence final : Normalizer {
  std::vector<std::unique_ptr<Normalizer>> steps;
  std::string where;
  void apply(std::string* s) const override {
    const size_t before = s->size();
    for (const auto& n : steps) {
      n->apply(s);
      check_growth(before, s->size(), where);
    }
  }
};

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    auto seq = std::make_unique<NormalizerSequence>();
    seq->where = where;
    for (const json& n : j.at("normalizers")) {
      if (auto step = make_normalizer(n, where)) seq->steps.push_back(std::move(step));
    }
    return seq;
  }
  if (type == "Prepend") {
    auto p = std::make_unique<Prepend>();
    p->prefix = j.at("prepend").get<std::string>();
    return p;
  }
  if (type == "Replace") {
    auto r = std::make_unique<Replace>();
    r->pattern = std::make_unique<Pattern>(j.at("pattern"), where);
    r->content = j.at("content").get<std::string>();
    r->where = where;
    return r;
  }
  if (type == "Strip") {
    auto s = std::make_unique<Strip>();
    s->left = j.value("strip_left", true);
    s->right = j.value("strip_right", true);
    return s;
  }
  throw Error(str(where, ": normalizer type \"", type,
                  "\" is not supported (llmtune implements Sequence, Prepend, Replace, Strip)"));
}

// ---- pre-tokenizers: words in, words out ----------------------------------------------------

// Metaspace's replacement: one character ("\u2581" by default), as the tokenizers library
// requires; an empty one would be found at every position for ever.
std::string metaspace_replacement(const json& j, const std::string& where) {
  const std::string r = j.contains("replacement") ? json_get<std::string>(j, "replacement", where)
                                                  : std::string("\u2581");
  size_t at = 0;
  if (r.empty() || (utf8_next(r, &at), at != r.size())) {
    throw Error(str(where, ": Metaspace \"replacement\" must be one character, got \"", r, "\""));
  }
  return r;
}

struct PreTokenizer {
  virtual ~PreTokenizer() = default;
  virtual void apply(std::vector<Word>* words) const = 0;
};

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Splits one word at the given matches, as tokenizers' NormalizedString::split does.
std::vector<Word> split_word(const Word& w, const std::vector<std::pair<size_t, size_t>>& matches,
                             Behavior behavior, bool invert) {
  // Pieces as (begin, end, is_match).
  std::vector<std::tuple<size_t, size_t, bool>> pieces;
  size_t last = 0;
  for (auto [b, e] : matches) {
    if (b > last) pieces.emplace_back(last, b, invert);
    pieces.emplace_back(b, e, !invert);
    last = e;
  }
  if (last < w.text.size()) pieces.emplace_back(last, w.text.size(), invert);
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t i = 0; i < pieces.size(); ++i) {
    auto [b, e, is_match] = pieces[i];
    switch (behavior) {
      case Behavior::kRemoved:
        if (!is_match) spans.emplace_back(b, e);
        break;
      case Behavior::kIsolated:
        spans.emplace_back(b, e);
        break;
      case Behavior::kMergedWithPrevious:
        if (is_match && !spans.empty() && !std::get<2>(pieces[i - 1]))
          spans.back().second = e;
        else
          spans.emplace_back(b, e);
        break;
      case Behavior::kMergedWithNext:
        if (!is_match && i > 0 && std::get<2>(pieces[i - 1]))
          spans.back().second = e;
        else
          spans.emplace_back(b, e);
        break;
      case Behavior::kContiguous:
        if (i > 0 && std::get<2>(pieces[i - 1]) == is_match)
          spans.back().second = e;
        else
          spans.emplace_back(b, e);
        break;
    }
  }
  std::vector<Word> out;
  for (auto [b, e] : spans) {
    if (e > b) out.push_back({w.text.substr(b, e - b), w.at_start && b == 0});
  }
  return out;
}

struct Split final : PreTokenizer {
  std::unique_ptr<Pattern> pattern;
  Behavior behavior = Behavior::kIsolated;
  bool invert = false;
  void apply(std::vector<Word>* words) const override {
    std::vector<Word> out;
    for (const Word& w : *words) {
      for (Word& piece : split_word(w, pattern->find_all(w.text), behavior, invert)) {
        out.push_back(std::move(piece));
      }
    }
    words->swap(out);
  }
};

enum class PrependScheme { kAlways, kFirst, kNever };

struct Metaspace final : PreTokenizer {
  std::string replacement = "\u2581";
  PrependScheme prepend = PrependScheme::kAlways;
  bool split = true;
  void apply(std::vector<Word>* words) const override {
    std::vector<Word> out;
    for (Word& w : *words) {
      std::string s;
      for (char c : w.text) {
        if (c == ' ')
          s += replacement;
        else
          s.push_back(c);
      }
      const bool starts = s.compare(0, replacement.size(), replacement) == 0;
      if (!starts &&
          (prepend == PrependScheme::kAlways || (prepend == PrependScheme::kFirst && w.at_start))) {
        s.insert(0, replacement);
      }
      Word replaced{std::move(s), w.at_start};
      if (!split) {
        out.push_back(std::move(replaced));
        continue;
      }
      std::vector<std::pair<size_t, size_t>> matches;
      for (size_t at = replaced.text.find(replacement); at != std::string::npos;
           at = replaced.text.find(replacement, at + replacement.size())) {
        matches.emplace_back(at, at + replacement.size());
      }
      for (Word& piece : split_word(replaced, matches, Behavior::kMergedWithNext, false)) {
        out.push_back(std::move(piece));
      }
    }
    words->swap(out);
  }
};

// GPT-2's pattern, which ByteLevel applies when use_regex is set.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct ByteLevel final : PreTokenizer {
  bool add_prefix_space = false;
  std::unique_ptr<Regex> regex;  // when use_regex
  void apply(std::vector<Word>* words) const override {
    std::vector<Word> out;
    for (Word& w : *words) {
      if (add_prefix_space && (w.text.empty() || w.text[0] != ' ')) w.text = " " + w.text;
      std::vector<Word> pieces;
      if (regex)
        pieces = split_word(w, regex->find_all(w.text), Behavior::kIsolated, false);
      else
        pieces.push_back(std::move(w));
      for (Word& p : pieces) {
        std::string mapped;
        mapped.reserve(p.text.size() * 2);
        for (unsigned char c : p.text) mapped += tables().byte_to_char[c];
        out.push_back({std::move(mapped), p.at_start});
      }
    }
    words->swap(out);
  }
};

struct Digits final : PreTokenizer {
  bool individual = false;
  void apply(std::vector<Word>* words) const override {
    std::vector<Word> out;
    for (const Word& w : *words) {
      std::vector<std::pair<size_t, size_t>> matches;
      for (size_t i = 0; i < w.text.size(); ++i) {
        if (w.text[i] < '0' || w.text[i] > '9') continue;
        size_t e = i + 1;
        while (!individual && e < w.text.size() && w.text[e] >= '0' && w.text[e] <= '9') ++e;
        matches.emplace_back(i, e);
        i = e - 1;
      }
      for (Word& p : split_word(w, matches, Behavior::kIsolated, false))
        out.push_back(std::move(p));
    }
    words->swap(out);
  }
};

struct PreTokenizerSequence final : PreTokenizer {
  std::vector<std::unique_ptr<PreTokenizer>> steps;
  void apply(std::vector<Word>* words) const override {
    for (const auto& p : steps) p->apply(words);
  }
};

Behavior parse_behavior(const std::string& b, const std::string& where) {
  if (b == "Removed") return Behavior::kRemoved;
  if (b == "Isolated") return Behavior::kIsolated;
  if (b == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::kMergedWithNext;
  if (b == "Contiguous") return Behavior::kContiguous;
  throw Error(str(where, ": Split behavior \"", b, "\" is unknown"));
}

PrependScheme parse_prepend(const json& j) {
  if (j.contains("prepend_scheme")) {
    const std::string s = j["prepend_scheme"].get<std::string>();
    return s == "first"   ? PrependScheme::kFirst
           : s == "never" ? PrependScheme::kNever
                          : PrependScheme::kAlways;
  }
  return j.value("add_prefix_space", true) ? PrependScheme::kAlways
                                           : PrependScheme::kNever;  // older files
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    auto seq = std::make_unique<PreTokenizerSequence>();
    for (const json& p : j.at("pretokenizers")) {
      if (auto step = make_pre_tokenizer(p, where)) seq->steps.push_back(std::move(step));
    }
    return seq;
  }
  if (type == "Metaspace") {
    auto m = std::make_unique<Metaspace>();
    m->replacement = metaspace_replacement(j, where);
    m->prepend = parse_prepend(j);
    m->split = j.value("split", true);
    return m;
  }
  if (type == "ByteLevel") {
    auto b = std::make_unique<ByteLevel>();
    b->add_prefix_space = j.value("add_prefix_space", true);
    if (j.value("use_regex", true))
      b->regex = std::make_unique<Regex>(kGpt2Pattern, where + ": ByteLevel pre_tokenizer");
    return b;
  }
  if (type == "Split") {
    auto s = std::make_unique<Split>();
    s->pattern = std::make_unique<Pattern>(j.at("pattern"), where);
    s->behavior = parse_behavior(j.at("behavior").get<std::string>(), where);
    s->invert = j.value("invert", false);
    return s;
  }
  if (type == "Digits") {
    auto d = std::make_unique<Digits>();
    d->individual = j.value("individual_digits", false);
    return d;
  }
  throw Error(str(where, ": pre_tokenizer type \"", type,
                  "\" is not supported (llmtune implements Sequence, Metaspace, ByteLevel, Split, "
                  "Digits)"));
}

// ---- decoders: token strings in, token strings out -----------------------------------------

struct Decoder {
  virtual ~Decoder() = default;
  virtual void apply(std::vector<std::string>* tokens) const = 0;
};

struct DecodeReplace final : Decoder {
  std::unique_ptr<Pattern> pattern;
  std::string content;
  void apply(std::vector<std::string>* tokens) const override {
    for (std::string& t : *tokens) pattern->replace_all(&t, content);
  }
};

// "<0xAB>" -> 0xAB; -1 otherwise.
int byte_token(const std::string& t) {
  if (t.size() != 6 || t[0] != '<' || t[1] != '0' || t[2] != 'x' || t[5] != '>') return -1;
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

struct ByteFallback final : Decoder {
  void apply(std::vector<std::string>* tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    size_t count = 0;
    auto flush = [&] {
      if (count == 0) return;
      if (utf8_valid(bytes)) {
        out.push_back(bytes);
      } else {
        for (size_t i = 0; i < count; ++i) out.push_back("\xEF\xBF\xBD");  // one per byte
      }
      bytes.clear();
      count = 0;
    };
    for (std::string& t : *tokens) {
      const int b = byte_token(t);
      if (b >= 0) {
        bytes.push_back(static_cast<char>(b));
        ++count;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens->swap(out);
  }
};

struct Fuse final : Decoder {
  void apply(std::vector<std::string>* tokens) const override {
    std::string all;
    for (const std::string& t : *tokens) all += t;
    tokens->assign(1, std::move(all));
  }
};

struct DecodeStrip final : Decoder {
  std::string content;  // one character
  size_t start = 0, stop = 0;
  void apply(std::vector<std::string>* tokens) const override {
    for (std::string& t : *tokens) {
      size_t b = 0, e = t.size();
      for (size_t n = 0; n < start && t.compare(b, content.size(), content) == 0; ++n)
        b += content.size();
      for (size_t n = 0; n < stop && e >= b + content.size() &&
                         t.compare(e - content.size(), content.size(), content) == 0;
           ++n) {
        e -= content.size();
      }
      t = t.substr(b, e - b);
    }
  }
};

struct DecodeByteLevel final : Decoder {
  void apply(std::vector<std::string>* tokens) const override {
    std::string bytes;
    for (const std::string& t : *tokens) {
      std::string mapped;
      bool ok = true;
      for (size_t i = 0; i < t.size() && ok;) {
        auto it = tables().char_to_byte.find(utf8_next(t, &i));
        if (it == tables().char_to_byte.end())
          ok = false;
        else
          mapped.push_back(static_cast<char>(it->second));
      }
      bytes += ok ? mapped : t;
    }
    tokens->assign(1, utf8_lossy(bytes));
  }
};

struct DecodeMetaspace final : Decoder {
  std::string replacement = "\u2581";
  PrependScheme prepend = PrependScheme::kAlways;
  void apply(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      std::string& t = (*tokens)[i];
      std::string out;
      for (size_t at = 0; at < t.size();) {
        if (t.compare(at, replacement.size(), replacement) == 0) {
          if (!(i == 0 && prepend != PrependScheme::kNever)) out.push_back(' ');
          at += replacement.size();
        } else {
          out.push_back(t[at++]);
        }
      }
      t.swap(out);
    }
  }
};

struct DecoderSequence final : Decoder {
  std::vector<std::unique_ptr<Decoder>> steps;
  void apply(std::vector<std::string>* tokens) const override {
    for (const auto& d : steps) d->apply(tokens);
  }
};

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    auto seq = std::make_unique<DecoderSequence>();
    for (const json& d : j.at("decoders")) {
      if (auto step = make_decoder(d, where)) seq->steps.push_back(std::move(step));
    }
    return seq;
  }
  if (type == "Replace") {
    auto r = std::make_unique<DecodeReplace>();
    r->pattern = std::make_unique<Pattern>(j.at("pattern"), where);
    r->content = j.at("content").get<std::string>();
    return r;
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Strip") {
    auto s = std::make_unique<DecodeStrip>();
    // Counts read as typed integers: nlohmann's j.value("start", 0) would cast 1e300 to int
    // (undefined behaviour), and -1 wraps to a count that never ends.
    s->content = json_get<std::string>(j, "content", where + " decoder Strip");
    const int64_t start = json_get_or<int64_t>(j, "start", 0, where + " decoder Strip");
    const int64_t stop = json_get_or<int64_t>(j, "stop", 0, where + " decoder Strip");
    if (s->content.empty() || start < 0 || stop < 0) {
      throw Error(str(where, ": decoder Strip needs a non-empty content and non-negative ",
                      "start and stop, got ", j.dump().substr(0, 80)));
    }
    s->start = static_cast<size_t>(start);
    s->stop = static_cast<size_t>(stop);
    return s;
  }
  if (type == "ByteLevel") return std::make_unique<DecodeByteLevel>();
  if (type == "Metaspace") {
    auto m = std::make_unique<DecodeMetaspace>();
    m->replacement = metaspace_replacement(j, where);
    m->prepend = parse_prepend(j);
    return m;
  }
  throw Error(str(where, ": decoder type \"", type,
                  "\" is not supported (llmtune implements Sequence, Replace, ByteFallback, Fuse, "
                  "Strip, ByteLevel, Metaspace)"));
}

// ---- the tokenizer -----------------------------------------------------------------------------

class HfTokenizer final : public Tokenizer {
 public:
  HfTokenizer(const std::string& path, const Tokenizer::Config& config) {
    try {
      load(path, config);
    } catch (const json::exception& e) {  // a value of the wrong type somewhere
      throw Error(
          str(path, ": not a tokenizer.json as the tokenizers library writes it (", e.what(), ")"));
    }
  }

  void load(const std::string& path, const Tokenizer::Config& config) {
    const json j = read_json(path);
    const std::string where = path;
    config_ = config;
    if (!j.contains("model") || !j["model"].is_object())
      throw Error(str(where, ": no \"model\" object"));
    const std::string type = j["model"].value("type", "BPE");
    if (type != "BPE") {
      throw Error(
          str(where, ": model type \"", type, "\" is not supported (llmtune implements BPE)"));
    }
    model_ = std::make_unique<Bpe>(j["model"], where);
    normalizer_ = make_normalizer(j.value("normalizer", json()), where);
    pre_tokenizer_ = make_pre_tokenizer(j.value("pre_tokenizer", json()), where);
    decoder_ = make_decoder(j.value("decoder", json()), where);
    const json& added = j.value("added_tokens", json::array());
    if (!added.is_array()) throw Error(str(where, ": \"added_tokens\" must be a list"));
    // Added tokens extend the model's vocabulary: an id past model + added tokens is a gap
    // that no real file has (and would size embeddings by it).
    const int64_t id_limit = model_->vocab_size() + static_cast<int64_t>(added.size());
    for (size_t i = 0; i < added.size(); ++i) {
      const json& t = added[i];
      const std::string at = str(where, ": added_tokens[", i, "]");
      AddedToken a;
      a.id = json_get<int32_t>(t, "id", at);
      if (a.id < 0 || a.id >= id_limit) {
        throw Error(str(at, ": id ", a.id, " is outside the vocabulary (", model_->vocab_size(),
                        " model tokens + ", added.size(), " added)"));
      }
      a.content = json_get<std::string>(t, "content", at);
      if (a.id < model_->vocab_size() && model_->id_to_token(a.id) != a.content) {
        throw Error(str(at, ": \"", a.content, "\" claims id ", a.id, ", which the vocabulary ",
                        "gives to \"", model_->id_to_token(a.id), "\""));
      }
      if (added_.find(a.id) != nullptr) {
        throw Error(str(at, ": id ", a.id, " is given to two added tokens"));
      }
      a.special = json_get_or(t, "special", false, at);
      a.lstrip = json_get_or(t, "lstrip", false, at);
      a.rstrip = json_get_or(t, "rstrip", false, at);
      a.single_word = json_get_or(t, "single_word", false, at);
      a.normalized = json_get_or(t, "normalized", !a.special, at);
      added_.add(a);
    }
    parse_post_processor(j.value("post_processor", json()), where);
  }

  const char* kind() const override { return "tokenizer.json"; }

  void set_normalizer_for_added() {
    added_.set_normalizer([this](std::string_view s) {
      std::string t(s);
      if (normalizer_) normalizer_->apply(&t);
      return t;
    });
  }

 protected:
  void encode_piece(std::string_view piece, bool at_start,
                    std::vector<int32_t>* out) const override {
    std::string normalized(piece);
    if (normalizer_) normalizer_->apply(&normalized);
    bool first = true;
    for (const Segment& seg : added_.split(normalized, 0, /*normalized=*/true, true)) {
      if (seg.id >= 0) {
        out->push_back(seg.id);
        first = false;
        continue;
      }
      std::vector<Word> words{{std::string(seg.text), at_start && first && seg.offset == 0}};
      first = false;
      if (pre_tokenizer_) pre_tokenizer_->apply(&words);
      for (const Word& w : words) model_->encode(w.text, out);
    }
  }

  void special_wrap(std::vector<int32_t>* before, std::vector<int32_t>* after) const override {
    *before = wrap_before_;
    *after = wrap_after_;
  }

  std::string decode_ids(std::span<const int32_t> ids) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) tokens.push_back(id_to_token(id));
    if (decoder_) decoder_->apply(&tokens);
    std::string out;
    for (const std::string& t : tokens) out += t;
    return out;
  }

  int32_t model_token_to_id(std::string_view token) const override {
    return model_->token_to_id(token);
  }
  std::string model_id_to_token(int32_t id) const override { return model_->id_to_token(id); }
  int64_t model_vocab_size() const override { return model_->vocab_size(); }

 private:
  void parse_post_processor(const json& j, const std::string& where) {
    if (j.is_null()) return;
    const std::string type = j.value("type", "");
    if (type == "Sequence") {
      for (const json& p : j.at("processors")) parse_post_processor(p, where);
    } else if (type == "ByteLevel") {
      // Only adjusts offsets; ids are unchanged.
    } else if (type == "TemplateProcessing") {
      const json& single = j.at("single");
      const json& specials = j.value("special_tokens", json::object());
      bool seen_sequence = false;
      for (const json& item : single) {
        if (item.contains("Sequence")) {
          seen_sequence = true;
          continue;
        }
        const std::string name = item.at("SpecialToken").at("id").get<std::string>();
        if (!specials.contains(name)) {
          throw Error(str(where, ": TemplateProcessing uses \"", name, "\" without defining it"));
        }
        for (const json& id : specials[name].at("ids")) {
          (seen_sequence ? wrap_after_ : wrap_before_).push_back(id.get<int32_t>());
        }
      }
    } else {
      throw Error(str(where, ": post_processor type \"", type,
                      "\" is not supported (llmtune implements TemplateProcessing, ByteLevel, "
                      "Sequence)"));
    }
  }

  std::unique_ptr<Bpe> model_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Decoder> decoder_;
  std::vector<int32_t> wrap_before_, wrap_after_;
};

}  // namespace

const ByteLevelTables& byte_level_tables() {
  static const ByteLevelTables t = [] {
    ByteLevelTables out;
    std::vector<int> printable;
    for (int b = '!'; b <= '~'; ++b) printable.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) printable.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) printable.push_back(b);
    uint32_t extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool kept = std::find(printable.begin(), printable.end(), b) != printable.end();
      const uint32_t cp = kept ? static_cast<uint32_t>(b) : 256 + extra++;
      utf8_append(&out.byte_to_char[b], cp);
      out.char_to_byte[cp] = static_cast<uint8_t>(b);
    }
    return out;
  }();
  return t;
}

std::unique_ptr<Tokenizer> hf_tokenizer_load(const std::string& path,
                                             const Tokenizer::Config& config) {
  auto t = std::make_unique<HfTokenizer>(path, config);
  t->set_normalizer_for_added();
  return t;
}

}  // namespace llmtune::text
