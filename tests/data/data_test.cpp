// Difficulty buckets, splits, prompt formatting with label masks, batching and statistics, on
// real rows of ../shared/data and on small hand-made records.
#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>
#include <set>

#include "core/error.h"
#include "data/batch.h"
#include "data/format.h"
#include "data/split.h"
#include "data/stats.h"
#include "support/compare.h"

namespace llmtune::data {
namespace {

namespace fs = std::filesystem;

std::string real_data() {
  return test::shared_dir() + "/data/sql-create-context-4k.jsonl";
}
std::string mistral_dir() {
  return test::shared_dir() + "/fixtures/mistral-tokenizer";
}

Record words(int64_t n) {
  Record r;
  for (int64_t i = 0; i < n; ++i) r.instruction += (i ? " w" : "w");
  return r;
}

TEST(Difficulty, BucketBoundaries) {
  const std::pair<int64_t, Difficulty> cases[] = {
      {0, Difficulty::kNone},   {9, Difficulty::kNone},     {10, Difficulty::kEasy},
      {100, Difficulty::kEasy}, {101, Difficulty::kMedium}, {200, Difficulty::kMedium},
      {201, Difficulty::kHard}, {800, Difficulty::kHard},   {801, Difficulty::kNone}};
  for (auto [n, d] : cases) {
    EXPECT_EQ(difficulty_of(n), d) << n << " words";
    EXPECT_EQ(difficulty_of(word_count(words(n))), d) << n << " words in a record";
  }
  const std::vector<Record> all = {words(5), words(50), words(150), words(200), words(300)};
  EXPECT_EQ(select_subset(all, "easy").size(), 1u);
  EXPECT_EQ(select_subset(all, "medium").size(), 2u);  // 150 and 200
  EXPECT_EQ(select_subset(all, "hard").size(), 1u);
  EXPECT_EQ(select_subset(all, "all").size(), 4u);
  EXPECT_THROW(select_subset(all, "trivial"), Error);
}

std::vector<Record> numbered(int n) {
  std::vector<Record> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[i].instruction = std::to_string(i);
  return v;
}

std::vector<std::string> names(const std::vector<Record>& v) {
  std::vector<std::string> out;
  for (const Record& r : v) out.push_back(r.instruction);
  return out;
}

TEST(Split, EightyTenTenDeterministicAndComplete) {
  const Splits a = split_records(numbered(1000), 123), b = split_records(numbered(1000), 123);
  EXPECT_EQ(a.train.size(), 800u);
  EXPECT_EQ(a.valid.size(), 100u);
  EXPECT_EQ(a.test.size(), 100u);
  EXPECT_EQ(names(a.train), names(b.train));
  EXPECT_EQ(names(a.test), names(b.test));
  std::set<std::string> seen;
  for (const auto* part : {&a.train, &a.valid, &a.test}) {
    for (const Record& r : *part) EXPECT_TRUE(seen.insert(r.instruction).second) << r.instruction;
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_NE(names(split_records(numbered(1000), 124).test), names(a.test));
  // The permutation is Philox-based, so it is the same on every machine and library; pin it.
  EXPECT_EQ(names(split_records(numbered(20), 123).test), (std::vector<std::string>{"6", "11"}));
  EXPECT_EQ(split_records(numbered(15), 1).train.size(), 11u);  // round(1.5) = 2 each held out
  EXPECT_THROW(split_records(numbered(4), 123), Error);         // valid/test would be empty
  EXPECT_THROW(split_records({}, 123), Error);
}

TEST(Split, RealRows) {
  if (!fs::exists(real_data())) GTEST_SKIP() << real_data() << " absent";
  const std::vector<Record> records = read_records(real_data());
  const std::vector<Record> easy = select_subset(records, "easy");
  EXPECT_GT(easy.size(), 3900u);  // the README: nearly all rows are easy
  const Splits s = split_records(easy, 123);
  EXPECT_EQ(s.train.size() + s.valid.size() + s.test.size(), easy.size());
  EXPECT_EQ(s.valid.size(), static_cast<size_t>(std::llround(easy.size() / 10.0)));
}

class Formatting : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(mistral_dir())) GTEST_SKIP() << mistral_dir() << " absent";
    tokenizer_ = text::tokenizer_load(mistral_dir());
    options_.chat_template = text::chat_template_resolve("mistral");
  }
  std::unique_ptr<text::Tokenizer> tokenizer_;
  FormatOptions options_;
};

Record head_record() {
  Record r;
  r.instruction = "How many heads of the departments are older than 56 ?";
  r.input = "CREATE TABLE head (age INTEGER)";
  r.response = "SELECT COUNT(*) FROM head WHERE age > 56";
  return r;
}

// The prompt is masked, the response and its EOS are not; the ids are the rendered template's.
TEST_F(Formatting, LabelsMaskThePromptAndKeepTheEos) {
  FormatReport rep;
  const std::vector<Sample> s = format_records(*tokenizer_, {head_record()}, options_, &rep);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(rep.kept, 1);
  const Sample& x = s[0];
  EXPECT_EQ(x.input_ids.size(), x.labels.size());
  EXPECT_EQ(x.input_ids.front(), 1);  // one BOS, from the template
  EXPECT_NE(x.input_ids[1], 1);
  EXPECT_EQ(std::vector<int32_t>(x.input_ids.begin() + 1, x.input_ids.begin() + 4),
            (std::vector<int32_t>{733, 16289, 28793}));  // "[INST]"
  for (int64_t i = 0; i < x.prompt_length; ++i) EXPECT_EQ(x.labels[i], -100) << i;
  for (size_t i = x.prompt_length; i < x.labels.size(); ++i) EXPECT_EQ(x.labels[i], x.input_ids[i]);
  EXPECT_EQ(x.labels.back(), 2);  // EOS is learned
  // The learned tokens are exactly the response and the EOS.
  const std::vector<int32_t> response(x.input_ids.begin() + x.prompt_length, x.input_ids.end() - 1);
  EXPECT_EQ(tokenizer_->decode(response), head_record().response);
  // The system text joined the user turn (Mistral's template refuses the system role).
  const std::string text = tokenizer_->decode(x.input_ids);
  EXPECT_NE(text.find("only provide the SQL query.\nTask: How many heads"), std::string::npos)
      << text;

  options_.reference_double_bos = true;
  const Sample y = format_records(*tokenizer_, {head_record()}, options_, nullptr)[0];
  EXPECT_EQ(std::vector<int32_t>(y.input_ids.begin(), y.input_ids.begin() + 2),
            (std::vector<int32_t>{1, 1}));
  EXPECT_EQ(y.prompt_length, x.prompt_length + 1);
}

// Reference-compatible mode: the reference stack's samples (double BOS, EOS label masked by
// pad = EOS, loss after the last "[/INST]", all-masked rows kept); tests/interop compares it
// with trl's collator on the whole shared file.
TEST_F(Formatting, ReferenceCompatibleModeKeepsTheReferenceQuirks) {
  const Sample ours = format_records(*tokenizer_, {head_record()}, options_, nullptr)[0];
  options_.reference_compatible = true;
  FormatReport rep;
  const Sample ref = format_records(*tokenizer_, {head_record()}, options_, &rep)[0];
  EXPECT_EQ(rep.kept, 1);
  EXPECT_EQ(rep.template_miss, 0);
  EXPECT_EQ(std::vector<int32_t>(ref.input_ids.begin(), ref.input_ids.begin() + 2),
            (std::vector<int32_t>{1, 1}));
  // The same tokens after the extra BOS; the prompt ends with "[/INST]" = 733 28748 16289 28793.
  EXPECT_EQ(std::vector<int32_t>(ref.input_ids.begin() + 1, ref.input_ids.end()), ours.input_ids);
  EXPECT_EQ(ref.prompt_length, ours.prompt_length + 1);
  EXPECT_EQ(std::vector<int32_t>(ref.input_ids.begin() + ref.prompt_length - 4,
                                 ref.input_ids.begin() + ref.prompt_length),
            (std::vector<int32_t>{733, 28748, 16289, 28793}));
  // Labels: the response as ours, but the EOS masked (pad = EOS).
  EXPECT_EQ(ref.input_ids.back(), 2);
  EXPECT_EQ(ref.labels.back(), -100);
  for (size_t i = ref.prompt_length; i + 1 < ref.labels.size(); ++i)
    EXPECT_EQ(ref.labels[i], ours.labels[i - 1]) << i;
  for (int64_t i = 0; i < ref.prompt_length; ++i) EXPECT_EQ(ref.labels[i], -100) << i;
  // Truncated before the end of "[/INST]": kept, with every label masked.
  options_.max_length = ref.prompt_length - 1;
  const Sample cut = format_records(*tokenizer_, {head_record()}, options_, &rep)[0];
  EXPECT_EQ(rep.template_miss, 1);
  EXPECT_EQ(rep.kept, 1);
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(static_cast<int64_t>(cut.input_ids.size()), options_.max_length);
  EXPECT_TRUE(
      std::all_of(cut.labels.begin(), cut.labels.end(), [](int32_t l) { return l == -100; }));
  // The last occurrence wins: a question that itself holds "[/INST]" moves nothing here, since
  // the prompt's own comes later.
  Record twice = head_record();
  twice.instruction += " [/INST]";
  options_.max_length = 2048;
  const Sample t = format_records(*tokenizer_, {twice}, options_, &rep)[0];
  EXPECT_EQ(t.labels.back(), -100);
  EXPECT_EQ(tokenizer_->decode(
                std::vector<int32_t>(t.input_ids.begin() + t.prompt_length, t.input_ids.end() - 1)),
            head_record().response);
  options_.response_template = "";
  EXPECT_THROW(format_records(*tokenizer_, {head_record()}, options_, &rep), Error);
}

TEST_F(Formatting, TruncationCutsTheTailAndExcludesRowsWithoutResponse) {
  FormatReport rep;
  const Sample full = format_records(*tokenizer_, {head_record()}, options_, &rep)[0];
  options_.max_length = full.prompt_length + 3;  // keeps 3 response tokens, loses the EOS
  std::vector<Sample> s = format_records(*tokenizer_, {head_record()}, options_, &rep);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0].truncated);
  EXPECT_EQ(rep.truncated, 1);
  EXPECT_EQ(static_cast<int64_t>(s[0].input_ids.size()), options_.max_length);
  EXPECT_NE(s[0].labels.back(), 2);
  EXPECT_EQ(s[0].full_length, full.full_length);
  options_.max_length = full.prompt_length;  // nothing of the response left: excluded, counted
  s = format_records(*tokenizer_, {head_record(), head_record()}, options_, &rep);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(rep.response_cut, 2);
  EXPECT_EQ(rep.records, 2);
  options_.max_length = 1;
  EXPECT_THROW(format_records(*tokenizer_, {head_record()}, options_, &rep), Error);
}

TEST_F(Formatting, RealRowsAllKeepTheirResponse) {
  if (!fs::exists(real_data())) GTEST_SKIP() << real_data() << " absent";
  std::vector<Record> records = read_records(real_data());
  records.resize(300);
  FormatReport rep;
  const std::vector<Sample> samples = format_records(*tokenizer_, records, options_, &rep);
  EXPECT_EQ(rep.template_miss, 0);
  EXPECT_EQ(rep.kept, 300);
  for (const Sample& s : samples) {
    EXPECT_EQ(s.labels.back(), 2);
    const int64_t learned =
        std::count_if(s.labels.begin(), s.labels.end(), [](int32_t l) { return l != -100; });
    EXPECT_GT(learned, 1);
  }
  // Batched: padding is masked in labels and attention, whatever the pad id (even EOS's).
  BatchOptions b;
  b.batch_size = 4;
  b.pad_id = 2;
  std::vector<int64_t> lengths;
  for (const Sample& s : samples) lengths.push_back(static_cast<int64_t>(s.input_ids.size()));
  for (const auto& order : batch_order(lengths, b)) {
    const model::Batch batch = make_batch(samples, order, b.pad_id);
    int64_t eos_labels = 0;
    for (int64_t row = 0; row < batch.batch; ++row) {
      const Sample& s = samples[order[row]];
      for (int64_t t = 0; t < batch.seq; ++t) {
        const size_t i = static_cast<size_t>(row * batch.seq + t);
        const bool real = t < static_cast<int64_t>(s.input_ids.size());
        EXPECT_EQ(batch.attention_mask[i], real ? 1 : 0);
        if (!real) {
          EXPECT_EQ(batch.labels[i], -100);
        }
        eos_labels += batch.labels[i] == 2;
      }
    }
    EXPECT_EQ(eos_labels, batch.batch);  // every row keeps exactly its own EOS label
  }
}

TEST(Batching, OrderCoversEverySampleAndGroupingPadsLess) {
  std::vector<int64_t> lengths;
  for (int i = 0; i < 1000; ++i) lengths.push_back(20 + (i * 7919) % 400);
  BatchOptions o;
  o.batch_size = 4;
  const auto order = batch_order(lengths, o);
  std::vector<int64_t> all;
  for (const auto& b : order) all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expect(1000);
  std::iota(expect.begin(), expect.end(), 0);
  EXPECT_EQ(all, expect);
  EXPECT_EQ(batch_order(lengths, o), order);  // deterministic
  o.epoch = 1;
  EXPECT_NE(batch_order(lengths, o), order);
  const double random = padding_report(lengths, o).padding_fraction();
  o.group_by_length = true;
  const double grouped = padding_report(lengths, o).padding_fraction();
  EXPECT_LT(grouped, random / 4);
  EXPECT_GT(random, 0.2);
  o.batch_size = 0;
  EXPECT_THROW(batch_order(lengths, o), Error);
}

TEST(Stats, SummaryHistogramAndSvg) {
  std::vector<int64_t> v(100);
  std::iota(v.begin(), v.end(), 1);  // 1..100
  const Summary s = summarize(v);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 100);
  EXPECT_EQ(s.median, 50);
  EXPECT_EQ(s.p90, 90);
  EXPECT_EQ(s.p99, 99);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  const Histogram h = histogram(v, 10);
  EXPECT_EQ(h.width, 10);  // a round width for the span 1..100 in about 10 bins
  EXPECT_EQ(h.lo, 0);      // the smallest value rounded down to the width
  EXPECT_EQ(std::accumulate(h.counts.begin(), h.counts.end(), int64_t{0}), 100);
  EXPECT_EQ(h.counts[0], 9);   // 1..9
  EXPECT_EQ(h.counts[10], 1);  // 100
  EXPECT_EQ(histogram(std::vector<int64_t>{480, 481, 799}, 16).lo, 480);
  const std::string text = histogram_text(h, 10);
  EXPECT_NE(text.find("10-19      | ##########"), std::string::npos) << text;
  EXPECT_THROW(histogram_like(h, {-1}), Error);
  const std::string svg = histogram_svg("t <&>", {{"a", h, "#123456"}}, 80, "max_length 80");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("t &lt;&amp;&gt;"), std::string::npos);
  EXPECT_NE(svg.find("max_length 80"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace llmtune::data
