// Chat templates built into llmtune, for tokenizers that ship none (a freshly trained one, or a
// tokenizer.model alone). Texts as published in each model's tokenizer_config.json; the tests
// render them against python3-jinja2 (tests/text/chat_templates.json holds the same texts).
#include "text/chat.h"

#include <map>

namespace llmtune::text {

namespace {

struct Builtin {
  const char* description;
  const char* source;
};

const std::map<std::string, Builtin>& builtins() {
  static const std::map<std::string, Builtin> kTemplates = {
      {"mistral",
       {"Mistral-7B-Instruct-v0.2 as of the reference workflow (Dec 2023); no system role",
        R"tpl({{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %})tpl"}},
      {"mistral-v0.1",
       {"Mistral-7B-Instruct-v0.1",
        R"tpl({{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %})tpl"}},
      {"llama-2",
       {"Llama-2-chat, with the <<SYS>> block",
        R"tpl({% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %})tpl"}},
      {"zephyr",
       {"TinyLlama-1.1B-Chat-v1.0 / Zephyr",
        R"tpl({% for message in messages %}
{% if message['role'] == 'user' %}
{{ '<|user|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'system' %}
{{ '<|system|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'assistant' %}
{{ '<|assistant|>
'  + message['content'] + eos_token }}
{% endif %}
{% if loop.last and add_generation_prompt %}
{{ '<|assistant|>' }}
{% endif %}
{% endfor %})tpl"}},
      {"chatml",
       {"the reference workflow's ChatML for TinyLlama-Chat-v0.4",
        R"tpl(
{% for message in messages %}
{% if message['role'] == 'user' %}
{{'<|im_start|>user
' + message['content'].strip() + '<|im_end|>' }}
{% elif message['role'] == 'system' %}
{{'<|im_start|>system
' + message['content'].strip() + '<|im_end|>' }}
{% elif message['role'] == 'assistant' %}
{{'<|im_start|>assistant
'  + message['content'] + '<|im_end|>' }}
{% endif %}
{% endfor %}
)tpl"}},
      {"llama-3",
       {"Meta-Llama-3-Instruct",
        R"tpl({% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %})tpl"}},
  };
  return kTemplates;
}

}  // namespace

const char* builtin_chat_template(const std::string& name) {
  auto it = builtins().find(name);
  return it == builtins().end() ? nullptr : it->second.source;
}

std::vector<std::string> builtin_chat_template_names() {
  std::vector<std::string> names;
  for (const auto& [name, b] : builtins()) names.push_back(name);
  return names;
}

}  // namespace llmtune::text
