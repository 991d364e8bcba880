// A tokenizer directory's vocabulary as a GGUF file carries it for llama.cpp, made as llama.cpp's
// convert_hf_to_gguf.py makes it:
//   - tokenizer.model (SentencePiece) -> model "llama": every piece with its score and type
//     (normal, unknown, control, unused, byte), tokenizer_config.json's added_tokens_decoder
//     entries as control (special) or user-defined tokens with score -1000, ids up to the
//     model's vocab_size filled with "[PAD<id>]" (unused, score -10000);
//   - tokenizer.json of byte-level BPE (GPT-2, Llama 3) -> model "gpt2": tokens by id, merges,
//     added tokens as control or user-defined, and the pre-tokenizer llama.cpp names ("gpt-2",
//     "llama-bpe"), recognized from the pre_tokenizer section.
// Special token ids, the add-BOS/EOS rules and the chat template come from llmtune's own
// tokenizer of the directory, so the file tokenizes as llmtune does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmtune::text {

// llama.cpp's token types (gguf-py TokenType).
enum class GgufTokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct GgufVocab {
  std::string model;  // tokenizer.ggml.model: "llama" or "gpt2"
  std::string pre;    // tokenizer.ggml.pre: "default", "gpt-2", "llama-bpe"
  std::vector<std::string> tokens;
  std::vector<float> scores;  // "llama" only
  std::vector<int32_t> types;
  std::vector<std::string> merges;                 // "gpt2" only, "left right"
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;  // -1: none
  bool add_bos = false, add_eos = false;
  std::string chat_template;  // "" when the tokenizer has none
};

// The vocabulary of the tokenizer in `dir`, sized to the model's `vocab_size`. Throws
// llmtune::Error naming the file when the tokenizer is of a kind llama.cpp cannot be given
// (SentencePiece-style tokenizer.json without tokenizer.model, an unknown pre-tokenizer) or has
// more tokens than the model.
GgufVocab gguf_vocab(const std::string& dir, int64_t vocab_size);

}  // namespace llmtune::text
