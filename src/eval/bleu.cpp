#include "eval/bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "text/utf8.h"

namespace llmtune::eval {

namespace {

// Python's str.isspace(): the code points that str.split() and str.rstrip() treat as spaces.
bool is_python_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Decodes the code point at s[*i] (advancing *i) and says whether it is a Python space. A byte
// that is not valid UTF-8 decodes as itself (e.g. a stray 0x85) and is not a space.
bool next_is_space(std::string_view s, size_t* i) {
  const size_t start = *i;
  const uint32_t cp = text::utf8_next(s, i);
  return (cp < 0x80 || *i - start > 1) && is_python_space(cp);
}

// Python's str.split() with no argument.
std::vector<std::string> split_python(std::string_view s) {
  std::vector<std::string> words;
  constexpr size_t kNone = std::string_view::npos;
  size_t word_start = kNone;
  for (size_t i = 0; i < s.size();) {
    const size_t at = i;
    const bool space = next_is_space(s, &i);
    if (space && word_start != kNone) {
      words.emplace_back(s.substr(word_start, at - word_start));
      word_start = kNone;
    } else if (!space && word_start == kNone) {
      word_start = at;
    }
  }
  if (word_start != kNone) words.emplace_back(s.substr(word_start));
  return words;
}

// Python's str.rstrip() with no argument.
std::string_view rstrip_python(std::string_view s) {
  size_t end = 0;
  for (size_t i = 0; i < s.size();) {
    if (!next_is_space(s, &i)) end = i;
  }
  return s.substr(0, end);
}

// Python's str.replace: every non-overlapping occurrence, scanning left to right.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(s.substr(pos, hit - pos)).append(to);
  }
  out.append(s.substr(pos));
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_period_or_comma(char c) {
  return c == '.' || c == ',';
}

// The 13a symbol class [\{-\~\[-\` -\&\(-\+\:-\@\/].
bool is_13a_symbol(char c) {
  return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
         (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
}

// re.sub of a two-character pattern: where match(a, b) holds, `a b` becomes
// before_a + a + between + b + after_b and the scan resumes after b. The patterns' classes are
// ASCII or negated ASCII, so scanning bytes gives what Python's scan of code points gives.
template <typename Match>
std::string substitute_pairs(const std::string& s, Match match, const char* before_a,
                             const char* between, const char* after_b) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && match(s[i], s[i + 1])) {
      out.append(before_a).push_back(s[i]);
      out.append(between).push_back(s[i + 1]);
      out.append(after_b);
      i += 2;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

std::vector<std::string> tokenize_for(BleuMode mode, const std::string& text) {
  if (mode == BleuMode::kSacrebleu) return tokenize_13a(std::string(rstrip_python(text)));
  return tokenize_13a(text);
}

// n-gram counts of one order, keyed by the tokens with length prefixes (a token may hold any
// byte but whitespace, so no separator is safe).
using NgramCounts = std::unordered_map<std::string, int64_t>;

NgramCounts count_ngrams(const std::vector<std::string>& tokens, int order) {
  NgramCounts counts;
  for (size_t i = 0; i + order <= tokens.size(); ++i) {
    std::string key;
    for (int k = 0; k < order; ++k) {
      const std::string& t = tokens[i + k];
      key.append(std::to_string(t.size())).append(":").append(t);
    }
    ++counts[key];
  }
  return counts;
}

// Sufficient statistics of a corpus: lengths and per-order matches and possible n-grams.
struct BleuStats {
  int64_t translation_length = 0;
  int64_t reference_length = 0;
  std::vector<int64_t> matches;   // (max_order)
  std::vector<int64_t> possible;  // (max_order)
};

// The reference length a prediction of `hyp_len` tokens is measured against: the shortest
// (evaluate) or the closest, ties to the shorter (sacrebleu).
int64_t reference_length_for(BleuMode mode, int64_t hyp_len, const std::vector<int64_t>& lens) {
  int64_t best = lens[0];
  for (int64_t len : lens) {
    if (mode == BleuMode::kEvaluate) {
      best = std::min(best, len);
    } else {
      const int64_t d = std::llabs(hyp_len - len), best_d = std::llabs(hyp_len - best);
      if (d < best_d || (d == best_d && len < best)) best = len;
    }
  }
  return best;
}

void add_segment(BleuMode mode, const std::vector<std::string>& hyp,
                 const std::vector<std::vector<std::string>>& refs, BleuStats* stats) {
  const int64_t hyp_len = static_cast<int64_t>(hyp.size());
  std::vector<int64_t> ref_lens;
  for (const auto& r : refs) ref_lens.push_back(static_cast<int64_t>(r.size()));
  stats->translation_length += hyp_len;
  stats->reference_length += reference_length_for(mode, hyp_len, ref_lens);

  const int max_order = static_cast<int>(stats->matches.size());
  for (int n = 1; n <= max_order; ++n) {
    if (hyp_len - n + 1 <= 0) break;
    stats->possible[n - 1] += hyp_len - n + 1;
    NgramCounts max_ref;
    for (const auto& r : refs) {
      for (const auto& [gram, count] : count_ngrams(r, n)) {
        int64_t& m = max_ref[gram];
        m = std::max(m, count);
      }
    }
    for (const auto& [gram, count] : count_ngrams(hyp, n)) {
      const auto it = max_ref.find(gram);
      if (it != max_ref.end()) stats->matches[n - 1] += std::min(count, it->second);
    }
  }
}

// tensorflow/nmt compute_bleu; the arithmetic follows the Python expression by expression.
BleuResult finish_evaluate(const BleuStats& s, bool smooth) {
  const int max_order = static_cast<int>(s.matches.size());
  BleuResult out;
  out.translation_length = s.translation_length;
  out.reference_length = s.reference_length;
  out.precisions.assign(max_order, 0.0);
  for (int i = 0; i < max_order; ++i) {
    if (smooth) {
      out.precisions[i] =
          (static_cast<double>(s.matches[i]) + 1.0) / (static_cast<double>(s.possible[i]) + 1.0);
    } else if (s.possible[i] > 0) {
      out.precisions[i] = static_cast<double>(s.matches[i]) / static_cast<double>(s.possible[i]);
    }
  }
  double geo_mean = 0;
  if (*std::min_element(out.precisions.begin(), out.precisions.end()) > 0) {
    double log_sum = 0;
    for (double p : out.precisions) log_sum += (1.0 / max_order) * std::log(p);
    geo_mean = std::exp(log_sum);
  }
  if (s.reference_length == 0 || s.translation_length == 0) {
    out.length_ratio = 0;  // ZeroDivisionError in evaluate 0.4.1 (see bleu.h)
    out.brevity_penalty = 0;
  } else {
    out.length_ratio =
        static_cast<double>(s.translation_length) / static_cast<double>(s.reference_length);
    out.brevity_penalty = out.length_ratio > 1.0 ? 1.0 : std::exp(1 - 1.0 / out.length_ratio);
  }
  out.bleu = geo_mean * out.brevity_penalty;
  return out;
}

// sacrebleu BLEU.compute_bleu with smooth_method="exp" and no effective order.
BleuResult finish_sacrebleu(const BleuStats& s) {
  const int max_order = static_cast<int>(s.matches.size());
  const auto sys_len = static_cast<double>(s.translation_length);
  const auto ref_len = static_cast<double>(s.reference_length);
  BleuResult out;
  out.translation_length = s.translation_length;
  out.reference_length = s.reference_length;
  out.length_ratio = s.reference_length > 0 ? sys_len / ref_len : 0.0;
  out.brevity_penalty = 1.0;
  if (s.translation_length < s.reference_length) {
    out.brevity_penalty = s.translation_length > 0 ? std::exp(1 - ref_len / sys_len) : 0.0;
  }
  out.precisions.assign(max_order, 0.0);
  if (std::all_of(s.matches.begin(), s.matches.end(), [](int64_t m) { return m == 0; })) {
    out.bleu = 0;
    return out;
  }
  double smooth_mteval = 1;
  for (int n = 0; n < max_order; ++n) {
    if (s.possible[n] == 0) break;
    const auto total = static_cast<double>(s.possible[n]);
    if (s.matches[n] == 0) {
      smooth_mteval *= 2;
      out.precisions[n] = 100.0 / (smooth_mteval * total);
    } else {
      out.precisions[n] = 100.0 * static_cast<double>(s.matches[n]) / total;
    }
  }
  double log_sum = 0;
  for (double p : out.precisions) log_sum += p == 0.0 ? -9999999999.0 : std::log(p);
  out.bleu = out.brevity_penalty * std::exp(log_sum / max_order);
  return out;
}

}  // namespace

std::vector<std::string> tokenize_13a(const std::string& text) {
  std::string line = replace_all(text, "<skipped>", "");
  line = replace_all(line, "-\n", "");
  line = replace_all(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    line = replace_all(line, "&quot;", "\"");
    line = replace_all(line, "&amp;", "&");
    line = replace_all(line, "&lt;", "<");
    line = replace_all(line, "&gt;", ">");
  }
  std::string spaced = " ";
  spaced.reserve(line.size() * 2 + 2);
  for (char c : line) {
    if (is_13a_symbol(c)) {
      spaced.append(" ").push_back(c);
      spaced.append(" ");
    } else {
      spaced.push_back(c);
    }
  }
  spaced.push_back(' ');
  spaced = substitute_pairs(
      spaced, [](char a, char b) { return !is_digit(a) && is_period_or_comma(b); }, "", " ", " ");
  spaced = substitute_pairs(
      spaced, [](char a, char b) { return is_period_or_comma(a) && !is_digit(b); }, " ", " ", "");
  spaced = substitute_pairs(
      spaced, [](char a, char b) { return is_digit(a) && b == '-'; }, "", " ", " ");
  return split_python(spaced);
}

BleuResult corpus_bleu(const std::vector<std::string>& predictions,
                       const std::vector<std::vector<std::string>>& references,
                       const BleuOptions& options) {
  if (predictions.empty()) {
    throw Error("BLEU: no predictions to score; evaluate at least one example");
  }
  if (predictions.size() != references.size()) {
    throw Error(str("BLEU: ", predictions.size(), " predictions but ", references.size(),
                    " reference lists; give one list of references per prediction"));
  }
  if (options.max_order < 1) {
    throw Error(str("BLEU: max_order is ", options.max_order, "; it must be at least 1"));
  }
  BleuStats stats;
  stats.matches.assign(options.max_order, 0);
  stats.possible.assign(options.max_order, 0);
  for (size_t i = 0; i < predictions.size(); ++i) {
    if (references[i].empty()) {
      throw Error(str("BLEU: prediction ", i, " has no reference; give at least one"));
    }
    std::vector<std::vector<std::string>> refs;
    for (const std::string& r : references[i]) refs.push_back(tokenize_for(options.mode, r));
    add_segment(options.mode, tokenize_for(options.mode, predictions[i]), refs, &stats);
  }
  if (options.mode == BleuMode::kSacrebleu) return finish_sacrebleu(stats);
  return finish_evaluate(stats, options.smooth);
}

}  // namespace llmtune::eval
