// llmtune data prepare --source FILE|synthetic --out DIR [--subset all|easy|medium|hard]
//     records -> difficulty subset -> seeded 80/10/10 split: DIR/{train,valid,test}.jsonl,
//     DIR/manifest.json (written last: its presence means the rest is complete), and for the
//     synthetic source DIR/databases/*.sqlite.
// llmtune data stats --data FILE|DIR --tokenizer DIR [--max-length 2048] [--batch-size 4]
//     token lengths through the chat template, before and after per-batch padding, how many
//     samples max_length truncates; a terminal histogram and an SVG chart.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "core/files.h"
#include "data/batch.h"
#include "data/format.h"
#include "data/record.h"
#include "data/split.h"
#include "data/stats.h"
#include "data/synthetic.h"

namespace llmtune::cli {

namespace {

namespace fs = std::filesystem;

struct PrepareArgs {
  std::string source, out, subset = "all", format = "auto";
  std::string instruction_field, input_field, response_field;
  uint64_t seed = 123;
  int64_t databases = 20, questions = 60;
};

data::Format parse_format(const std::string& f) {
  if (f == "auto") return data::Format::kAuto;
  if (f == "jsonl") return data::Format::kJsonLines;
  if (f == "json") return data::Format::kJsonArray;
  if (f == "csv") return data::Format::kCsv;
  throw Error(str("--format \"", f, "\" must be auto, jsonl, json or csv"));
}

// The files `prepare` writes into its output directory.
constexpr const char* kPreparedFiles[] = {"train.jsonl", "valid.jsonl", "test.jsonl",
                                          "manifest.json"};

// Refuses an output directory that cannot hold the prepared files or whose files would
// overwrite the source (before anything is read or written).
void check_output_dir(const std::string& out, const std::string& source) {
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
    throw Error(str("--out ", out, " is a file; give a directory for train/valid/test.jsonl"));
  }
  if (source != "synthetic") {
    const fs::path src = fs::weakly_canonical(fs::absolute(source), ec);
    for (const char* name : kPreparedFiles) {
      const fs::path target = fs::path(out) / name;
      const bool same = fs::exists(target, ec)
                            ? fs::equivalent(target, source, ec)
                            : fs::weakly_canonical(fs::absolute(target), ec) == src;
      if (same) {
        throw Error(str("--out ", out, " would overwrite the source ", source, " with its ", name,
                        "; choose another output directory"));
      }
    }
  }
}

void create_output_dir(const std::string& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out)) {
    throw Error(str("cannot create the output directory ", out, ": ",
                    ec ? ec.message() : "not a directory", "; choose a writable directory"));
  }
}

void prepare(const PrepareArgs& a) {
  data::check_subset(a.subset);
  check_output_dir(a.out, a.source);
  std::vector<data::Record> records;
  nlohmann::ordered_json manifest;
  if (a.source == "synthetic") {
    data::SyntheticOptions o;
    o.seed = a.seed;
    o.databases = a.databases;
    o.questions_per_db = a.questions;
    create_output_dir(a.out);
    const data::SyntheticResult r = data::synthetic_generate(o, a.out);
    records = r.records;
    std::printf(
        "synthetic: %zu questions over %lld databases (%lld of %lld gold queries dropped: "
        "failed or returned no rows)\n",
        records.size(), static_cast<long long>(a.databases), static_cast<long long>(r.rejected),
        static_cast<long long>(r.attempted));
    manifest["source"] = "synthetic";
    manifest["synthetic"] = {{"databases", a.databases},
                             {"questions_per_db", a.questions},
                             {"attempted", r.attempted},
                             {"rejected", r.rejected}};
  } else {
    data::ReadOptions o;
    o.format = parse_format(a.format);
    o.instruction_field = a.instruction_field;
    o.input_field = a.input_field;
    o.response_field = a.response_field;
    records = data::read_records(a.source, o);
    create_output_dir(a.out);  // only once the source reads
    // Database paths were relative to the source file; make them relative to the output.
    const fs::path from = fs::absolute(a.source).parent_path(), to = fs::absolute(a.out);
    for (data::Record& r : records) {
      if (!r.db.empty() && fs::path(r.db).is_relative())
        r.db = fs::relative(from / r.db, to).string();
    }
    manifest["source"] = fs::absolute(a.source).string();
  }
  int64_t buckets[4] = {0, 0, 0, 0};
  for (const data::Record& r : records)
    ++buckets[static_cast<int>(data::difficulty_of(data::word_count(r)))];
  std::printf(
      "difficulty by words of question + tables + SQL: easy (10-100) %lld, medium (101-200; "
      "200 counts as medium) %lld, hard (201-800) %lld, outside 10-800 %lld\n",
      static_cast<long long>(buckets[0]), static_cast<long long>(buckets[1]),
      static_cast<long long>(buckets[2]), static_cast<long long>(buckets[3]));
  const std::vector<data::Record> subset = data::select_subset(records, a.subset);
  if (subset.empty()) {
    throw Error(str("subset \"", a.subset, "\" of ", a.source, " is empty: no record has the ",
                    "word count it needs (see the counts above)"));
  }
  const data::Splits s = data::split_records(subset, a.seed);
  data::write_splits(a.out, s);
  manifest["subset"] = a.subset;
  manifest["seed"] = a.seed;
  manifest["difficulty_rule"] =
      "words of instruction+input+response: easy 10-100, medium 101-200, "
      "hard 201-800 (200 is medium)";
  manifest["counts"] = {{"records", records.size()},
                        {"easy", buckets[0]},
                        {"medium", buckets[1]},
                        {"hard", buckets[2]},
                        {"outside", buckets[3]}};
  manifest["splits"] = {
      {"train", s.train.size()}, {"valid", s.valid.size()}, {"test", s.test.size()}};
  write_file_atomic(path_join(a.out, "manifest.json"), manifest.dump(2) + "\n");
  std::printf("subset %s: %zu records -> train %zu, valid %zu, test %zu (seed %llu) in %s\n",
              a.subset.c_str(), subset.size(), s.train.size(), s.valid.size(), s.test.size(),
              static_cast<unsigned long long>(a.seed), a.out.c_str());
}

struct StatsArgs {
  std::string data, split = "train", tokenizer, chat_template, svg, subset = "all";
  int64_t max_length = 2048, batch_size = 4;
  bool group_by_length = false, double_bos = false;
  uint64_t seed = 123;
};

void stats(const StatsArgs& a) {
  std::string file = a.data;
  if (fs::is_directory(file)) file = path_join(a.data, a.split + ".jsonl");
  const std::vector<data::Record> records = data::select_subset(data::read_records(file), a.subset);
  if (records.empty()) throw Error(str(file, ": no record in subset \"", a.subset, "\""));
  const auto tok = text::tokenizer_load(a.tokenizer);
  data::FormatOptions f;
  f.max_length = a.max_length;
  f.reference_double_bos = a.double_bos;
  if (!a.chat_template.empty()) f.chat_template = text::chat_template_resolve(a.chat_template);
  data::FormatReport rep;
  const std::vector<data::Sample> samples = data::format_records(*tok, records, f, &rep);
  std::vector<int64_t> kept;
  for (const data::Sample& s : samples) kept.push_back(static_cast<int64_t>(s.input_ids.size()));
  data::BatchOptions b;
  b.batch_size = a.batch_size;
  b.group_by_length = a.group_by_length;
  b.seed = a.seed;
  const data::PaddingReport pad = data::padding_report(kept, b);

  const data::Summary before = data::summarize(rep.full_lengths);
  std::printf("%s: %lld records, %s tokenizer, max_length %lld\n", file.c_str(),
              static_cast<long long>(rep.records), tok->kind(),
              static_cast<long long>(a.max_length));
  std::printf(
      "tokens per sample before truncation: min %lld, median %lld, mean %.1f, p90 %lld, "
      "p99 %lld, max %lld\n",
      static_cast<long long>(before.min), static_cast<long long>(before.median), before.mean,
      static_cast<long long>(before.p90), static_cast<long long>(before.p99),
      static_cast<long long>(before.max));
  std::printf(
      "truncated at max_length %lld: %lld (kept, response tail and EOS cut); response cut "
      "away entirely: %lld (excluded); prompt/response boundary not found: %lld (excluded)\n",
      static_cast<long long>(a.max_length), static_cast<long long>(rep.truncated),
      static_cast<long long>(rep.response_cut), static_cast<long long>(rep.template_miss));
  std::vector<int64_t> both = rep.full_lengths;  // one set of bins for both series
  both.insert(both.end(), pad.padded_lengths.begin(), pad.padded_lengths.end());
  const data::Histogram bins = data::histogram(both);
  const data::Histogram h_before = data::histogram_like(bins, rep.full_lengths);
  std::printf("\nlength before padding (%lld samples):\n%s", static_cast<long long>(rep.records),
              data::histogram_text(h_before).c_str());
  const data::Histogram h_after = data::histogram_like(bins, pad.padded_lengths);
  std::printf(
      "\nlength after padding to the longest of each batch of %lld%s (%lld kept samples):\n%s",
      static_cast<long long>(a.batch_size), a.group_by_length ? ", grouped by length" : "",
      static_cast<long long>(rep.kept), data::histogram_text(h_after).c_str());
  std::printf("\npadding: %.1f%% of %lld batch tokens (%lld batches)\n",
              100.0 * pad.padding_fraction(), static_cast<long long>(pad.padded_tokens),
              static_cast<long long>(pad.batches));
  if (!a.svg.empty()) {
    const std::string svg = data::histogram_svg(
        fs::path(file).filename().string() + ": tokens per sample",
        {{"before padding (" + std::to_string(rep.records) + " samples)", h_before, "#4e79a7"},
         {"after per-batch padding (batch " + std::to_string(a.batch_size) + ")", h_after,
          "#f28e2b"}},
        a.max_length, "max_length " + std::to_string(a.max_length));
    write_file_atomic(a.svg, svg);
    std::printf("chart: %s\n", a.svg.c_str());
  }
}

}  // namespace

void add_data(CLI::App& app) {
  CLI::App* data =
      app.add_subcommand("data", "Prepare text-to-SQL datasets and look at their token lengths");
  data->require_subcommand(1);

  auto p = std::make_shared<PrepareArgs>();
  CLI::App* prep =
      data->add_subcommand("prepare", "Records -> difficulty subset -> train/valid/test files");
  prep->footer(
      "Examples:\n"
      "  llmtune data prepare --source synthetic --out data/synthetic\n"
      "  llmtune data prepare --source ../shared/data/sql-create-context-4k.jsonl --out data/hard "
      "--subset hard");
  prep->add_option("--source", p->source, "A .jsonl/.json/.csv file, or \"synthetic\"")->required();
  prep->add_option("--out", p->out, "Output directory")->required();
  prep->add_option("--subset", p->subset, "easy, medium, hard or all")->capture_default_str();
  prep->add_option("--seed", p->seed, "Split (and synthetic) seed")
      ->capture_default_str()
      ->check(kNonNegativeInteger);
  prep->add_option("--format", p->format, "auto, jsonl, json or csv")->capture_default_str();
  prep->add_option("--instruction-field", p->instruction_field, "Field holding the question");
  prep->add_option("--input-field", p->input_field, "Field holding the CREATE TABLE text");
  prep->add_option("--response-field", p->response_field, "Field holding the SQL");
  prep->add_option("--databases", p->databases, "Synthetic: number of databases (1-10000)")
      ->capture_default_str();
  prep->add_option("--questions-per-db", p->questions,
                   "Synthetic: questions tried per database (1-10000)")
      ->capture_default_str();
  prep->callback([p] { prepare(*p); });

  auto s = std::make_shared<StatsArgs>();
  CLI::App* st = data->add_subcommand("stats", "Token-length distribution, padding and truncation");
  st->footer(
      "Example:\n"
      "  llmtune data stats --data data/synthetic --tokenizer ../shared/fixtures/mistral-tokenizer "
      "--chat-template mistral --svg lengths.svg");
  st->add_option("--data", s->data, "A records file, or a prepared directory")->required();
  st->add_option("--split", s->split, "With a directory: train, valid or test")
      ->capture_default_str();
  st->add_option("--tokenizer", s->tokenizer, "Model directory with the tokenizer")->required();
  st->add_option(
      "--chat-template", s->chat_template,
      "Built-in template name (mistral, llama-2, zephyr, chatml, llama-3) or a Jinja file");
  st->add_option("--max-length", s->max_length, "Truncation length")
      ->capture_default_str()
      ->check(kPositiveInteger);
  st->add_option("--batch-size", s->batch_size, "Per-device batch size")
      ->capture_default_str()
      ->check(kPositiveInteger);
  st->add_option("--subset", s->subset, "easy, medium, hard or all")->capture_default_str();
  st->add_flag("--group-by-length", s->group_by_length, "Batch similar lengths together");
  st->add_flag("--reference-double-bos", s->double_bos, "Count the reference stack's second BOS");
  st->add_option("--seed", s->seed, "Batch order seed")
      ->capture_default_str()
      ->check(kNonNegativeInteger);
  st->add_option("--svg", s->svg, "Write the histogram as an SVG chart here");
  st->callback([s] { stats(*s); });
}

}  // namespace llmtune::cli
