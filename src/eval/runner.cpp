#include "eval/runner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "data/format.h"
#include "data/split.h"
#include "eval/sql_match.h"
#include "text/chat.h"

namespace llmtune::eval {

namespace {

using nlohmann::ordered_json;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ordered_json bleu_json(const BleuResult& b) {
  return {{"bleu", b.bleu},
          {"precisions", b.precisions},
          {"brevity_penalty", b.brevity_penalty},
          {"length_ratio", b.length_ratio},
          {"translation_length", b.translation_length},
          {"reference_length", b.reference_length}};
}

// Cuts the text at the first stop string, if any.
std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

std::string cut_at_stops(std::string text, const std::vector<std::string>& stops) {
  size_t cut = std::string::npos;
  for (const std::string& s : stops) {
    if (!s.empty()) cut = std::min(cut, text.find(s));
  }
  if (cut != std::string::npos) text.resize(cut);
  return text;
}

model::StopCheck stop_at_strings(const text::Tokenizer& tokenizer,
                                 const std::vector<std::string>& stops) {
  if (std::all_of(stops.begin(), stops.end(), [](const std::string& s) { return s.empty(); }))
    return {};
  return [&tokenizer, stops](size_t, const std::vector<int32_t>& tokens) {
    const std::string text = tokenizer.decode(tokens, true);
    return cut_at_stops(text, stops).size() < text.size();
  };
}

EvalReport score(std::vector<Prediction>& preds, const ExecOptions& exec) {
  EvalReport r;
  std::map<std::string, std::vector<size_t>> members;
  std::map<std::string, int64_t> missing;  // database path -> predictions that name it
  for (size_t i = 0; i < preds.size(); ++i) {
    Prediction& p = preds[i];
    if (p.references.empty()) throw Error(str("prediction ", i + 1, " has no reference"));
    p.exact = false;
    for (const std::string& ref : p.references)
      p.exact = p.exact || sql_exact_match(p.prediction, ref);
    p.execution.clear();
    if (!p.db_path.empty()) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(p.db_path, ec)) ++missing[p.db_path];
      p.execution =
          exec_outcome_name(execution_match(p.db_path, p.prediction, p.references[0], exec));
    }
    members["all"].push_back(i);
    if (!p.difficulty.empty()) members[p.difficulty].push_back(i);
  }
  for (const auto& [group, idx] : members) {
    GroupScores g;
    std::vector<std::string> hyp;
    std::vector<std::vector<std::string>> refs;
    int64_t exact = 0, matches = 0;
    for (size_t i : idx) {
      const Prediction& p = preds[i];
      hyp.push_back(p.prediction);
      refs.push_back(p.references);
      exact += p.exact;
      if (!p.execution.empty()) {
        ++g.executed;
        ++g.outcomes[p.execution];
        matches += p.execution == exec_outcome_name(ExecOutcome::kMatch);
      }
    }
    g.count = static_cast<int64_t>(idx.size());
    g.bleu = corpus_bleu(hyp, refs);
    BleuOptions sacre;
    sacre.mode = BleuMode::kSacrebleu;
    g.sacrebleu = corpus_bleu(hyp, refs, sacre);
    g.exact_match = static_cast<double>(exact) / static_cast<double>(g.count);
    g.execution_accuracy = g.executed == 0 ? 0.0 : static_cast<double>(matches) / g.executed;
    r.groups[group] = g;
  }
  for (const auto& [path, n] : missing) {
    std::error_code ec;
    r.warnings.push_back(str("database ", path,
                             std::filesystem::exists(path, ec) ? " is not a file" : " is missing",
                             ": ", n, " prediction(s) name it and count as gold_failed; fix their ",
                             "db_path (relative to the predictions file)"));
  }
  return r;
}

EvalReport evaluate(model::LlamaModel& model, const text::Tokenizer& tokenizer,
                    const std::vector<data::Record>& records, const EvalOptions& o,
                    std::vector<Prediction>* out) {
  const Activity activity(str("generating predictions for ", records.size(), " records"));
  if (records.empty()) throw Error("no records to evaluate");
  if (o.batch_size < 1) throw Error(str("batch size must be at least 1, got ", o.batch_size));
  text::ChatOptions chat;
  chat.add_generation_prompt = true;
  chat.template_override = o.chat_template;
  text::EncodeOptions encode;
  encode.add_special_tokens = false;
  model::SamplingOptions sampling = o.sampling;
  if (tokenizer.special_tokens().eos >= 0)
    sampling.stop_ids.push_back(tokenizer.special_tokens().eos);
  std::vector<Prediction> preds(records.size());
  const double start = now();
  int64_t generated = 0;
  for (size_t b0 = 0; b0 < records.size(); b0 += static_cast<size_t>(o.batch_size)) {
    const size_t b1 = std::min(records.size(), b0 + static_cast<size_t>(o.batch_size));
    std::vector<std::vector<int32_t>> prompts;
    for (size_t i = b0; i < b1; ++i) {
      const data::Record& rec = records[i];
      Prediction& p = preds[i];
      p.prompt = text::apply_chat_template(
          tokenizer,
          data::conversation(rec, false, o.system.empty() ? data::kSystemPrompt : o.system), chat);
      p.references = {rec.response};
      p.difficulty = data::difficulty_name(data::difficulty_of(data::word_count(rec)));
      if (!rec.db.empty()) {
        p.db_path = std::filesystem::absolute(std::filesystem::path(o.db_root) / rec.db).string();
      }
      prompts.push_back(tokenizer.encode(p.prompt, encode));
    }
    const model::StopCheck stop = stop_at_strings(tokenizer, o.stop_strings);
    model::GenerationStats stats;
    const std::vector<model::Generation> gens =
        model::generate(model, prompts, sampling, stop, &stats);
    generated += stats.generated_tokens;
    for (size_t i = b0; i < b1; ++i) {
      preds[i].prediction =
          trim(cut_at_stops(tokenizer.decode(gens[i - b0].tokens, true), o.stop_strings));
    }
    if (o.progress)
      o.progress(static_cast<int64_t>(b1), static_cast<int64_t>(records.size()),
                 generated / std::max(1e-9, now() - start));
  }
  EvalReport r = score(preds, o.exec);
  r.generated_tokens = generated;
  r.seconds = now() - start;
  if (out) *out = std::move(preds);
  return r;
}

ordered_json EvalReport::to_json() const {
  ordered_json j = ordered_json::object();
  for (const auto& [name, g] : groups) {
    ordered_json e = {
        {"count", g.count},
        {"bleu", bleu_json(g.bleu)},
        {"sacrebleu", bleu_json(g.sacrebleu)},
        {"exact_match", g.exact_match},
        {"executed", g.executed},
        {"execution_accuracy", g.executed ? ordered_json(g.execution_accuracy) : ordered_json()},
        {"execution_outcomes", g.outcomes}};
    j[name] = e;
  }
  if (generated_tokens > 0) {
    j["generation"] = {{"tokens", generated_tokens},
                       {"seconds", seconds},
                       {"tokens_per_second", generated_tokens / std::max(1e-9, seconds)}};
  }
  if (!warnings.empty()) j["warnings"] = warnings;
  return j;
}

std::string EvalReport::table() const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-8s %7s %8s %10s %8s %10s\n", "subset", "count", "BLEU",
                "sacreBLEU", "exact", "execution");
  out += line;
  auto row = [&](const std::string& name, const GroupScores& g) {
    char exec[32] = "-";
    if (g.executed) std::snprintf(exec, sizeof exec, "%.1f%%", 100 * g.execution_accuracy);
    std::snprintf(line, sizeof line, "%-8s %7lld %8.4f %10.2f %7.1f%% %10s\n", name.c_str(),
                  static_cast<long long>(g.count), g.bleu.bleu, g.sacrebleu.bleu,
                  100 * g.exact_match, exec);
    out += line;
  };
  for (const char* name : {"easy", "medium", "hard", "none"}) {
    auto it = groups.find(name);
    if (it != groups.end()) row(name, it->second);
  }
  if (groups.count("all")) row("all", groups.at("all"));
  for (const auto& [name, g] : groups) {
    if (name != "all" || g.outcomes.empty()) continue;
    out += "execution outcomes:";
    for (const auto& [k, n] : g.outcomes) out += " " + k + " " + std::to_string(n);
    out += "\n";
  }
  for (const std::string& w : warnings) out += "warning: " + w + "\n";
  return out;
}

std::vector<Prediction> predictions_load(const std::string& path) {
  const std::string text = read_file(path, "check the predictions file's path");
  const std::filesystem::path base = std::filesystem::absolute(path).parent_path();
  std::vector<Prediction> out;
  int64_t line_no = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json_check_depth(line, str(path, ":", line_no));
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(str(path, ":", line_no, ": invalid JSON: ", e.what()));
    } catch (const nlohmann::json::out_of_range& e) {  // a number past the double range
      throw Error(str(path, ":", line_no, ": invalid JSON: ", e.what()));
    }
    const std::string where = str(path, ":", line_no);
    if (!j.is_object() || !j.contains("prediction") || !j["prediction"].is_string()) {
      throw Error(str(where, ": needs a string field \"prediction\""));
    }
    Prediction p;
    p.prediction = j["prediction"].get<std::string>();
    if (j.contains("references") && j["references"].is_array()) {
      for (const auto& r : j["references"]) {
        if (!r.is_string()) throw Error(str(where, ": \"references\" must hold strings"));
        p.references.push_back(r.get<std::string>());
      }
    } else if (j.contains("reference") && j["reference"].is_string()) {
      p.references.push_back(j["reference"].get<std::string>());
    }
    if (p.references.empty()) throw Error(str(where, ": needs \"reference\" or \"references\""));
    if (j.contains("db_path") && j["db_path"].is_string() &&
        !j["db_path"].get<std::string>().empty()) {
      const std::filesystem::path db = j["db_path"].get<std::string>();
      p.db_path = (db.is_relative() ? base / db : db).string();
    }
    if (j.contains("difficulty") && j["difficulty"].is_string()) p.difficulty = j["difficulty"];
    out.push_back(std::move(p));
  }
  if (out.empty()) throw Error(str(path, ": no predictions (the file is empty)"));
  return out;
}

void predictions_save(const std::string& path, const std::vector<Prediction>& preds) {
  std::string text;
  for (const Prediction& p : preds) {
    ordered_json j = {{"prediction", p.prediction}, {"references", p.references}};
    if (!p.db_path.empty()) j["db_path"] = p.db_path;
    j["difficulty"] = p.difficulty;
    j["exact_match"] = p.exact;
    if (!p.execution.empty()) j["execution"] = p.execution;
    j["prompt"] = p.prompt;
    text += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  write_file_atomic(path, text);
}

}  // namespace llmtune::eval
