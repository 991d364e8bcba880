// llmtune's side of the interop checks (tests/interop/check_*.py): each verb runs one thing the
// product does, on files the Python side wrote with the real Hugging Face libraries, and writes
// what llmtune computed for the Python side to compare.
//
//   interop_tool logits MODEL DATA OUT [--adapter DIR] [--merge-save DIR] [--greedy N]
//       logits (B, T, V) of DATA's input_ids/attention_mask; with --greedy N also N greedy tokens
//       after each row of DATA's prompt_ids (P) as "greedy"; --merge-save writes the merged model
//   interop_tool train MODEL DATA OUT [--lora r,alpha,dropout,targets] [--steps K] [--lr X]
//       trains K steps on DATA's train.* micro-batches, then writes OUT/model (fp32),
//       OUT/sharded (max_shard_bytes 40000, with an index) or OUT/adapter, OUT/merged (LoRA) and
//       OUT/ours.safetensors (logits, merged_logits, greedy) as `logits` does
//   interop_tool lora-init MODEL OUT_ADAPTER r,alpha,dropout,targets SEED
//       the adapter add_lora makes for a run with this seed (what `llmtune train` starts from)
//   interop_tool encode TOKENIZER_DIR BACKEND IN.jsonl OUT.jsonl
//       ids of each line's "text" (tokenizer(text), BOS added): {"ids": [...]} per line
//   interop_tool chat TOKENIZER_DIR CASES.json OUT.json
//       for each case {template, messages, add_generation_prompt}: llmtune's text and ids
//   interop_tool collate RECORDS TOKENIZER_DIR TEMPLATE MAX_LENGTH BATCH MODE OUT.jsonl
//       MODE default|reference: the samples of format_records in record order, batched in order
//       (make_batch); one line per batch: records, input_ids, attention_mask, labels
//   interop_tool train-order DATASET_DIR TOKENIZER_DIR TEMPLATE MAX_LENGTH BATCH SEED MICRO OUT
//       the training samples `llmtune train` forms from DATASET_DIR/train.jsonl and the sample
//       indices of its first MICRO micro-batches, in the Trainer's order
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/batch.h"
#include "data/format.h"
#include "data/record.h"
#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"
#include "model/generate.h"
#include "support/reference_data.h"
#include "text/chat.h"
#include "text/tokenizer.h"
#include "train/adamw.h"
#include "train/trainer.h"

using namespace llmtune;
using nlohmann::json;

namespace {

// "--name value" options after the positional arguments.
struct Args {
  std::vector<std::string> pos;
  std::map<std::string, std::string> opt;
  std::string get(const std::string& k, const std::string& fallback = "") const {
    auto it = opt.find(k);
    return it == opt.end() ? fallback : it->second;
  }
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    const std::string s = argv[i];
    if (s.rfind("--", 0) == 0 && i + 1 < argc) {
      a.opt[s.substr(2)] = argv[++i];
    } else {
      a.pos.push_back(s);
    }
  }
  return a;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

// "r,alpha,dropout,q_proj+v_proj" ("" targets: PEFT's default).
model::LoraConfig lora_spec(const std::string& spec, const std::string& base) {
  const std::vector<std::string> f = split(spec, ',');
  if (f.size() < 3) throw Error("--lora wants r,alpha,dropout[,targets]");
  model::LoraConfig l;
  l.r = std::stoll(f[0]);
  l.alpha = std::stod(f[1]);
  l.dropout = std::stod(f[2]);
  if (f.size() > 3 && !f[3].empty()) l.target_modules = split(f[3], '+');
  l.base_model_name_or_path = base;
  return l;
}

// Greedy continuations of DATA's prompt_ids rows, (B, n).
Tensor greedy(model::LlamaModel& m, const io::SafetensorsFile& data, int64_t n) {
  const Tensor p = data.tensor("prompt_ids");
  const std::vector<int32_t> all = p.to_i32();
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t r = 0; r < p.size(0); ++r)
    prompts.emplace_back(all.begin() + r * p.size(1), all.begin() + (r + 1) * p.size(1));
  model::SamplingOptions o;  // greedy; no stop id, so every row has n tokens
  std::vector<int32_t> out;
  for (const model::Generation& g : model::generate(m, prompts, o, [n](size_t, const auto& gen) {
         return static_cast<int64_t>(gen.size()) >= n;
       })) {
    out.insert(out.end(), g.tokens.begin(), g.tokens.end());
  }
  return Tensor::from_i32(out, {p.size(0), n});
}

int cmd_logits(const Args& a) {
  const auto data = io::SafetensorsFile::open(a.pos.at(1));
  auto m = io::model_load(a.pos.at(0), {});
  if (!a.get("adapter").empty()) io::adapter_load(*m, a.get("adapter"));
  io::NamedTensors out;
  out.emplace_back("logits", m->logits(test::reference_batch(*data, "", 0)));
  if (!a.get("greedy").empty())
    out.emplace_back("greedy", greedy(*m, *data, std::stoll(a.get("greedy"))));
  if (!a.get("merge-save").empty()) {
    m->merge_lora();
    io::model_save(*m, a.get("merge-save"));
  }
  io::safetensors_write(a.pos.at(2), out);
  return 0;
}

int cmd_train(const Args& a) {
  const std::string base = a.pos.at(0), out = a.pos.at(2);
  const auto data = io::SafetensorsFile::open(a.pos.at(1));
  const bool lora = !a.get("lora").empty();
  model::ModelOptions mo;
  mo.training = lora ? model::Training::kLora : model::Training::kFull;
  auto m = io::model_load(base, mo);
  if (lora) m->add_lora(lora_spec(a.get("lora"), base), 7);
  train::TrainerOptions o;
  o.schedule.type = "constant";
  o.schedule.lr = std::stod(a.get("lr", "1e-2"));
  o.adamw.weight_decay = 0.01;
  o.seed = 11;
  train::Trainer trainer(*m, {}, o);
  const Tensor ids = data->tensor("train.input_ids");
  const int64_t micro = ids.numel() / (ids.size(-1) * ids.size(-2));
  const int64_t steps = std::stoll(a.get("steps", "3"));
  for (int64_t step = 0; step < steps; ++step) {
    const model::Batch mb[] = {test::reference_batch(*data, "train.", (2 * step) % micro),
                               test::reference_batch(*data, "train.", (2 * step + 1) % micro)};
    const int64_t mb_ids[] = {2 * step, 2 * step + 1};
    const train::StepOutcome r =
        trainer.step(mb, mb_ids, mb[0].count_targets() + mb[1].count_targets());
    std::printf("step %lld loss %.6f grad_norm %.6f\n", static_cast<long long>(step + 1), r.loss,
                r.grad_norm);
  }
  io::NamedTensors t;
  const model::Batch batch = test::reference_batch(*data, "", 0);
  t.emplace_back("logits", m->logits(batch));
  t.emplace_back("greedy", greedy(*m, *data, std::stoll(a.get("greedy", "8"))));
  if (lora) {
    io::adapter_save(*m, out + "/adapter");
    m->merge_lora();
    t.emplace_back("merged_logits", m->logits(batch));
    io::model_save(*m, out + "/merged");
  } else {
    io::model_save(*m, out + "/model");
    io::SaveOptions sharded;
    sharded.max_shard_bytes = 40000;
    io::model_save(*m, out + "/sharded", sharded);
  }
  io::safetensors_write(out + "/ours.safetensors", t);
  return 0;
}

int cmd_lora_init(const Args& a) {
  model::ModelOptions mo;
  mo.training = model::Training::kLora;
  auto m = io::model_load(a.pos.at(0), mo);
  m->add_lora(lora_spec(a.pos.at(2), a.pos.at(0)), std::stoull(a.pos.at(3)));
  io::adapter_save(*m, a.pos.at(1));
  return 0;
}

int cmd_encode(const Args& a) {
  text::TokenizerOptions to;
  to.backend = a.pos.at(1);
  const auto tok = text::tokenizer_load(a.pos.at(0), to);
  std::ifstream in(a.pos.at(2));
  std::ofstream out(a.pos.at(3));
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    out << json{{"ids", tok->encode(json::parse(line).at("text").get<std::string>())}}.dump()
        << "\n";
  }
  return 0;
}

int cmd_chat(const Args& a) {
  const auto tok = text::tokenizer_load(a.pos.at(0));
  json out = json::array();
  for (const json& c : json::parse(std::ifstream(a.pos.at(1)))) {
    text::ChatOptions o;
    o.template_override = text::chat_template_resolve(c.at("template").get<std::string>());
    o.add_generation_prompt = c.value("add_generation_prompt", false);
    o.merge_rejected_system = false;  // the renderer alone, as apply_chat_template
    std::vector<text::ChatMessage> messages;
    for (const json& m : c.at("messages")) messages.push_back({m.at("role"), m.at("content")});
    json r = {{"template", c.at("template")}, {"source", o.template_override.source}};
    try {
      r["text"] = text::apply_chat_template(*tok, messages, o);
      r["ids"] = text::encode_chat(*tok, messages, o);
    } catch (const std::exception& e) {
      r["error"] = e.what();
    }
    out.push_back(r);
  }
  std::ofstream(a.pos.at(2)) << out.dump() << "\n";
  return 0;
}

data::FormatOptions format_options(const std::string& tmpl, const std::string& max_length) {
  data::FormatOptions f;
  f.chat_template = text::chat_template_resolve(tmpl);
  f.max_length = std::stoll(max_length);
  return f;
}

int cmd_collate(const Args& a) {
  const std::vector<data::Record> records = data::read_records(a.pos.at(0));
  const auto tok = text::tokenizer_load(a.pos.at(1));
  data::FormatOptions f = format_options(a.pos.at(2), a.pos.at(3));
  const int64_t batch = std::stoll(a.pos.at(4));
  f.reference_compatible = a.pos.at(5) == "reference";
  data::FormatReport rep;
  const std::vector<data::Sample> samples = data::format_records(*tok, records, f, &rep);
  const int32_t pad =
      f.reference_compatible ? data::reference_pad_id(*tok, f) : tok->special_tokens().pad;
  std::ofstream out(a.pos.at(6));
  for (size_t b = 0; b < samples.size(); b += static_cast<size_t>(batch)) {
    std::vector<int64_t> idx;
    json rec = json::array();
    for (size_t i = b; i < std::min(samples.size(), b + static_cast<size_t>(batch)); ++i) {
      idx.push_back(static_cast<int64_t>(i));
      rec.push_back(samples[i].record);
    }
    const model::Batch mb = data::make_batch(samples, idx, pad);
    auto rows = [&](const std::vector<int32_t>& v) {
      json r = json::array();
      for (int64_t i = 0; i < mb.batch; ++i)
        r.push_back(std::vector<int32_t>(v.begin() + i * mb.seq, v.begin() + (i + 1) * mb.seq));
      return r;
    };
    out << json{{"records", rec},
                {"input_ids", rows(mb.input_ids)},
                {"attention_mask", rows(mb.attention_mask)},
                {"labels", rows(mb.labels)}}
               .dump()
        << "\n";
  }
  std::printf("records %lld kept %lld truncated %lld response_cut %lld template_miss %lld\n",
              static_cast<long long>(rep.records), static_cast<long long>(rep.kept),
              static_cast<long long>(rep.truncated), static_cast<long long>(rep.response_cut),
              static_cast<long long>(rep.template_miss));
  return 0;
}

// The Trainer's stream (src/train/trainer.cpp): micro-batch i is batch i mod E of epoch i / E,
// each epoch a batch_order of the sample lengths keyed by (seed, epoch).
int cmd_train_order(const Args& a) {
  const auto tok = text::tokenizer_load(a.pos.at(1));
  const data::FormatOptions f = format_options(a.pos.at(2), a.pos.at(3));
  const std::vector<data::Sample> samples =
      data::format_records(*tok, data::read_records(a.pos.at(0) + "/train.jsonl"), f, nullptr);
  data::BatchOptions b;
  b.batch_size = std::stoll(a.pos.at(4));
  b.seed = std::stoull(a.pos.at(5));
  const int64_t micro = std::stoll(a.pos.at(6));
  std::vector<int64_t> lengths;
  for (const data::Sample& s : samples) lengths.push_back(static_cast<int64_t>(s.input_ids.size()));
  json order = json::array();
  std::vector<std::vector<int64_t>> epoch;
  for (int64_t i = 0; i < micro; ++i) {
    if (epoch.empty() || i % static_cast<int64_t>(epoch.size()) == 0) {
      b.epoch = epoch.empty() ? 0 : static_cast<uint64_t>(i / static_cast<int64_t>(epoch.size()));
      epoch = data::batch_order(lengths, b);
    }
    order.push_back(epoch[static_cast<size_t>(i % static_cast<int64_t>(epoch.size()))]);
  }
  json s = json::array();
  for (const data::Sample& x : samples)
    s.push_back({{"input_ids", x.input_ids}, {"labels", x.labels}});
  std::ofstream(a.pos.at(7))
      << json{{"samples", s}, {"order", order}, {"pad_id", tok->special_tokens().pad}}.dump()
      << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::map<std::string, int (*)(const Args&)> verbs = {
      {"logits", cmd_logits},          {"train", cmd_train}, {"lora-init", cmd_lora_init},
      {"encode", cmd_encode},          {"chat", cmd_chat},   {"collate", cmd_collate},
      {"train-order", cmd_train_order}};
  if (argc < 2 || !verbs.count(argv[1])) {
    std::fprintf(stderr, "usage: interop_tool VERB ... (see the top of interop_tool.cpp)\n");
    return 2;
  }
  try {
    return verbs.at(argv[1])(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "interop_tool %s: %s\n", argv[1], e.what());
    return 1;
  }
}
