// SentencePiece models (tokenizer.model) through Debian's libsentencepiece, with Transformers'
// LlamaTokenizer conventions on top: legacy or not, BOS/EOS from tokenizer_config.json, and the
// same decoding as the converted tokenizer.json. Also trains new models (for the built-in demo).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace llmtune::text {

std::unique_ptr<Tokenizer> sentencepiece_load(const std::string& path,
                                              const Tokenizer::Config& config);

// The tokenizer.json that Transformers' LlamaConverter makes of a SentencePiece BPE model: the
// same vocabulary, merges recovered from the piece scores (SentencePieceExtractor), Llama's
// normalizer (legacy: Prepend + Replace) or Metaspace pre-tokenizer (legacy = false), BOS
// template and decoder chain. Lets a tokenizer.model use the faster tokenizer.json path.
nlohmann::json sentencepiece_to_tokenizer_json(const std::string& model_path, bool legacy = true);

struct SentencePieceTrainOptions {
  int vocab_size = 1000;
  std::string model_type = "bpe";  // or "unigram"
  bool byte_fallback = true;       // as Llama's model: unknown characters become <0xXX> bytes
  bool split_digits = true;
  double character_coverage = 1.0;
};

// Training runs on one thread, which makes it deterministic: the same lines give the same model.

// Trains on `lines` and writes the model to `path` (a tokenizer.model). The special tokens are
// Llama's: <unk> 0, <s> 1, </s> 2. Throws llmtune::Error with SentencePiece's message.
void sentencepiece_train(const std::vector<std::string>& lines,
                         const SentencePieceTrainOptions& options, const std::string& path);

}  // namespace llmtune::text
