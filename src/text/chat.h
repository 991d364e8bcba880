// Conversations through a model's chat template, as Transformers' apply_chat_template does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace llmtune::text {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

struct ChatOptions {
  bool add_generation_prompt = false;
  // The template to use instead of the tokenizer's own (the blog's ChatML for TinyLlama, say).
  ChatTemplate template_override;
  // When the template refuses a system message (Mistral-7B-Instruct's raises), prepend the
  // system text to the first user turn as "{system}\n{user}", as the reference workflow does.
  bool merge_rejected_system = true;
};

// The rendered text (apply_chat_template(..., tokenize=False)). The template sees messages,
// add_generation_prompt and the special tokens (bos_token, eos_token, unk_token, pad_token).
// Throws llmtune::Error when the tokenizer has no template or the template is malformed or
// exceeds a limit (naming the template's origin, line and column), and jinja::TemplateRaised
// when the template rejects the conversation.
std::string apply_chat_template(const Tokenizer& tokenizer,
                                const std::vector<ChatMessage>& messages,
                                const ChatOptions& options = {});

// The ids of the rendered text, as apply_chat_template(..., tokenize=True): special tokens in the
// text are parsed and none are added around it (so the template's own "<s>" is the only BOS).
std::vector<int32_t> encode_chat(const Tokenizer& tokenizer,
                                 const std::vector<ChatMessage>& messages,
                                 const ChatOptions& options = {});

// A chat template built into llmtune by name ("mistral", "mistral-v0.1", "llama-2", "zephyr",
// "chatml", "llama-3"), or null. For tokenizers without a template of their own.
const char* builtin_chat_template(const std::string& name);
std::vector<std::string> builtin_chat_template_names();

// A template given by a user: a built-in name, or the path of a Jinja file.
ChatTemplate chat_template_resolve(const std::string& name_or_path);

// Reads [{"role": ..., "content": ...}, ...] (or {"messages": [...]}) from a JSON file.
std::vector<ChatMessage> chat_load(const std::string& path);

}  // namespace llmtune::text
