// tokenizer.json (Hugging Face tokenizers) implemented here: added tokens, normalizers
// (Sequence, Prepend, Replace, Strip), pre-tokenizers (Metaspace, ByteLevel, Split, Digits,
// Sequence), the BPE model, TemplateProcessing and the decoder chain (Replace, ByteFallback,
// Fuse, Strip, ByteLevel, Metaspace). Any other component type is refused by name.
#pragma once

#include <memory>
#include <string>

#include "text/tokenizer.h"

namespace llmtune::text {

// Reads `path` (tokenizer.json); the loader adds tokenizer_config.json's settings.
std::unique_ptr<Tokenizer> hf_tokenizer_load(const std::string& path,
                                             const Tokenizer::Config& config);

}  // namespace llmtune::text
