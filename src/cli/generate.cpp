// llmtune generate --model DIR [--adapter DIR] (--prompt TEXT | --dataset FILE --index N |
//                  --prompt-ids 1,2,3) [--print-ids] [--max-new-tokens 256] [--temperature T]
//     The SQL a model writes for a question, printed beside the correct answer as the reference
//     workflow's inference script does. --prompt-ids runs raw token ids (no tokenizer needed).
#include <cstdio>

#include "cli/common.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "data/format.h"
#include "data/record.h"
#include "eval/runner.h"
#include "model/generate.h"
#include "text/chat.h"

namespace llmtune::cli {

namespace {

struct GenerateArgs {
  ModelArgs model;
  std::string prompt, dataset, prompt_ids, chat_template;
  std::vector<std::string> stops;
  int64_t index = 0;
  bool print_ids = false, raw = false;
  model::SamplingOptions sampling;
};

std::string join(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

void run(GenerateArgs& a) {
  model::sampling_check(a.sampling);
  for (const std::string& s : a.stops)
    if (s.empty()) throw Error("--stop \"\" would end every generation at once; give a text");
  const int given = !a.prompt.empty() + !a.dataset.empty() + !a.prompt_ids.empty();
  if (given != 1)
    throw Error("give exactly one of --prompt TEXT, --dataset FILE --index N, --prompt-ids IDS");
  auto m = load_model(a.model);
  const auto tok = load_tokenizer(a.model, !a.prompt_ids.empty());
  std::vector<int32_t> ids;
  std::string reference, prompt_text;
  if (!a.prompt_ids.empty()) {
    ids = parse_token_ids(a.prompt_ids, "--prompt-ids");
  } else {
    text::ChatOptions chat;
    chat.add_generation_prompt = true;
    if (!a.chat_template.empty())
      chat.template_override = text::chat_template_resolve(a.chat_template);
    if (!a.dataset.empty()) {
      const std::vector<data::Record> records = data::read_records(a.dataset);
      if (a.index < 0 || a.index >= static_cast<int64_t>(records.size())) {
        throw Error(
            str("--index ", a.index, " is outside ", a.dataset, "'s ", records.size(), " records"));
      }
      const data::Record& r = records[a.index];
      reference = r.response;
      prompt_text = text::apply_chat_template(*tok, data::conversation(r, false), chat);
    } else if (a.raw) {
      prompt_text = a.prompt;
    } else {
      prompt_text = text::apply_chat_template(*tok, {{"user", a.prompt}}, chat);
    }
    text::EncodeOptions e;
    e.add_special_tokens = false;
    ids = tok->encode(prompt_text, e);
  }
  if (tok && tok->special_tokens().eos >= 0)
    a.sampling.stop_ids.push_back(tok->special_tokens().eos);
  model::GenerationStats stats;
  if (!a.stops.empty() && !tok) throw Error("--stop needs a tokenizer to read the generated text");
  const model::StopCheck stop = tok ? eval::stop_at_strings(*tok, a.stops) : model::StopCheck();
  const model::Generation g = model::generate(*m, {ids}, a.sampling, stop, &stats)[0];
  if (!prompt_text.empty()) std::printf("Prompt:\n%s\n\n", prompt_text.c_str());
  if (tok) {
    const std::string sql = eval::cut_at_stops(tok->decode(g.tokens, true), a.stops);
    std::printf("Generated SQL:\n%s\n", sql.c_str());
  }
  if (!reference.empty()) std::printf("\nCorrect answer:\n%s\n", reference.c_str());
  if (a.print_ids || !tok) {
    std::printf("\nprompt ids: %s\ngenerated ids: %s\n", join(ids).c_str(), join(g.tokens).c_str());
  }
  std::fprintf(stderr, "%zu tokens (%s) in %.2f s: %.1f tokens/s after a %.2f s prefill\n",
               g.tokens.size(), g.finish.c_str(), stats.prefill_seconds + stats.decode_seconds,
               g.tokens.size() / std::max(1e-9, stats.decode_seconds), stats.prefill_seconds);
}

}  // namespace

void add_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  a->sampling.max_new_tokens = 256;
  CLI::App* cmd = app.add_subcommand("generate", "Generate the SQL for a question with a model");
  cmd->footer(
      "Examples:\n"
      "  llmtune generate --model runs/demo/models/base --prompt \"How many singers are there?\"\n"
      "  llmtune generate --model runs/demo/models/base --adapter CHECKPOINT_DIR --dataset "
      "runs/demo/data/test.jsonl --index 3\n"
      "  llmtune generate --model MODEL_DIR --prompt-ids 1,415,2936 --print-ids");
  add_model_options(cmd, &a->model);
  cmd->add_option("--prompt", a->prompt, "A question, rendered through the chat template");
  cmd->add_flag("--raw", a->raw, "With --prompt: use the text as it is, without the chat template");
  cmd->add_option("--dataset", a->dataset, "A records file: prompt from its --index-th record");
  cmd->add_option("--index", a->index, "Record index in --dataset")->capture_default_str();
  cmd->add_option("--prompt-ids", a->prompt_ids, "Raw prompt token ids, e.g. 1,2,3");
  cmd->add_flag("--print-ids", a->print_ids, "Also print the prompt and generated token ids");
  cmd->add_option("--chat-template", a->chat_template, "Built-in template name or Jinja file");
  cmd->add_option("--max-new-tokens", a->sampling.max_new_tokens)
      ->capture_default_str()
      ->check(kPositiveInteger);
  cmd->add_option("--stop", a->stops, "A string that ends the generation (repeatable)");
  cmd->add_option("--temperature", a->sampling.temperature, "0: greedy")
      ->capture_default_str()
      ->check(kFiniteNonNegative);
  cmd->add_option("--top-k", a->sampling.top_k, "0: off")
      ->capture_default_str()
      ->check(kNonNegativeInteger);
  cmd->add_option("--top-p", a->sampling.top_p, "1: off")
      ->capture_default_str()
      ->check(kFinitePositive & CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", a->sampling.seed)->capture_default_str()->check(kNonNegativeInteger);
  cmd->callback([a] { run(*a); });
}

}  // namespace llmtune::cli
