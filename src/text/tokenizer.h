// Tokenizers: text <-> token ids exactly as the Hugging Face stack computes them.
//
// A model directory holds tokenizer.json (Hugging Face "fast" tokenizers, implemented here) and
// or tokenizer.model (SentencePiece, through libsentencepiece), plus tokenizer_config.json with
// the special tokens, BOS/EOS rules and the chat template.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "text/added_tokens.h"

namespace llmtune::text {

struct TokenizerOptions;

struct SpecialTokens {
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;  // -1: the model has none
  std::string bos_token, eos_token, unk_token, pad_token;
};

struct EncodeOptions {
  // Add what the tokenizer adds around a text (Llama/Mistral: BOS; Llama 3: <|begin_of_text|>),
  // as tokenizer(text) does by default.
  bool add_special_tokens = true;
  // Added tokens written in the text ("<s>", "<|eot_id|>") become their ids, as in Transformers
  // (needed to tokenize a rendered chat template). false: special tokens are plain text, which is
  // what untrusted text should get; non-special added tokens still match.
  bool parse_special = true;
};

// A chat template's Jinja source and where it came from ("DIR/tokenizer_config.json", a file,
// "built-in template mistral"), which its errors name.
struct ChatTemplate {
  std::string source;
  std::string origin;
  bool empty() const { return source.empty(); }
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Ids back to text; skip_special_tokens drops special added tokens (BOS, EOS, ...).
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  // -1 when the token is not in the vocabulary.
  int32_t token_to_id(std::string_view token) const;
  // The token string; throws llmtune::Error for an id outside [0, vocab_size).
  std::string id_to_token(int32_t id) const;
  int64_t vocab_size() const;

  const SpecialTokens& special_tokens() const { return special_; }
  const AddedVocabulary& added_tokens() const { return added_; }
  // The Jinja chat template from tokenizer_config.json (empty when there is none).
  const ChatTemplate& chat_template() const { return chat_template_; }
  // "tokenizer.json" or "sentencepiece": which implementation encodes.
  virtual const char* kind() const = 0;

  // Rules from tokenizer_config.json (Transformers' defaults when absent).
  struct Config {
    std::optional<bool> add_bos_token, add_eos_token;  // unset: the tokenizer's own rule
    bool legacy = true;  // Llama/Mistral: text after a special token starts a new word
  };

 protected:
  // The model's own encoding of a piece of text between added tokens. `at_start`: the piece
  // begins the whole text (Metaspace's prepend_scheme "first" and non-legacy SentencePiece
  // prefix only that piece).
  virtual void encode_piece(std::string_view piece, bool at_start,
                            std::vector<int32_t>* out) const = 0;
  // Ids to add before and after an encoded text when add_special_tokens is set.
  virtual void special_wrap(std::vector<int32_t>* before, std::vector<int32_t>* after) const = 0;
  // The model's decoding of ids (already filtered for skip_special_tokens).
  virtual std::string decode_ids(std::span<const int32_t> ids) const = 0;
  virtual int32_t model_token_to_id(std::string_view token) const = 0;
  virtual std::string model_id_to_token(int32_t id) const = 0;
  virtual int64_t model_vocab_size() const = 0;

  // For the loaders: added tokens, special tokens and the template.
  AddedVocabulary added_;
  SpecialTokens special_;
  ChatTemplate chat_template_;
  Config config_;

  friend std::unique_ptr<Tokenizer> tokenizer_load(const std::string&, const TokenizerOptions&);
};

struct TokenizerOptions {
  // "auto": tokenizer.json when present (what AutoTokenizer uses), else tokenizer.model.
  // "tokenizer.json" or "sentencepiece" force one.
  std::string backend = "auto";
  // The padding token when the model defines none (Mistral, Llama 2). It must be an existing
  // token; "" picks <unk>, then <pad> if present. llmtune never pads with EOS, so that the EOS
  // label is not masked away (see README).
  std::string pad_token;
};

// Loads the tokenizer of a Hugging Face model directory. Throws llmtune::Error naming the file
// and the unsupported component or missing field.
std::unique_ptr<Tokenizer> tokenizer_load(const std::string& dir,
                                          const TokenizerOptions& options = {});

// The tokenizer files present in `dir` (tokenizer.json, tokenizer.model, tokenizer_config.json,
// special_tokens_map.json, generation_config.json): what a model directory or checkpoint
// carries so that it loads with its tokenizer.
std::vector<std::string> tokenizer_files(const std::string& dir);

}  // namespace llmtune::text
