// Corpus BLEU, computed the way two Python packages do it; `options.mode` picks which.
//
// kEvaluate: Hugging Face evaluate's "bleu" (evaluate 0.4.1 metrics/bleu/bleu.py, which calls
// tensorflow/nmt's nmt/scripts/bleu.py compute_bleu). Scale 0..1.
//   - Tokens: tokenize_13a(text).
//   - t = sum of prediction lengths; r = sum of each prediction's SHORTEST reference length.
//   - m_n = clipped n-gram matches: min(count in the prediction, max count in any one reference).
//   - c_n = possible n-grams = sum of max(0, len - n + 1) over the predictions.
//   - p_n = m_n / c_n, or 0 when c_n = 0. With smooth (Lin & Och 2004), every order uses
//     p_n = (m_n + 1) / (c_n + 1).
//   - geo = exp(sum_n ln(p_n) / N), or 0 when any p_n is 0.
//   - ratio = t / r; bp = 1 if ratio > 1, else exp(1 - 1 / ratio); bleu = geo * bp.
//   - Where t or r is 0, evaluate 0.4.1 raises ZeroDivisionError. Here ratio, bp and bleu are 0
//     instead, as evaluate's open fix for its issue #601 (PR #764) does.
//
// kSacrebleu: sacrebleu.corpus_bleu with its defaults (sacrebleu 2.x metrics/bleu.py: 13a,
// smooth_method="exp", lowercase=False, use_effective_order=False). Scale 0..100.
//   - Tokens: tokenize_13a of the text with trailing whitespace stripped (Python's rstrip()), so
//     a trailing "-\n" is not joined.
//   - t and m_n, c_n as above. r sums each prediction's CLOSEST reference length; a tie goes to
//     the shorter reference.
//   - bp = 1 if t >= r, else exp(1 - r / t), or 0 when t = 0.
//   - When no n-gram of any order matches, the score and all precisions are 0.
//   - Otherwise, for n = 1..N, stopping at the first order with c_n = 0 (the later p_n stay 0):
//       - p_n = 100 m_n / c_n when m_n > 0;
//       - otherwise p_n = 100 / (2^k c_n), for the k-th order (k = 1, 2, ...) with no match.
//   - score = bp * exp(sum_n log(p_n) / N), where log(0) = -9999999999.
//   - ratio = t / r, or 0 when r = 0.
//
// Both modes: an empty string is a valid prediction or reference (0 tokens).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmtune::eval {

// The "13a" tokenizer (mteval-v13a) that evaluate and sacreBLEU share (sacrebleu
// tokenizers/tokenizer_13a.py and tokenizer_re.py). The steps, in order:
//   1. Remove "<skipped>", then "-\n", then replace each "\n" with a space.
//   2. If a "&" is left, replace &quot; &amp; &lt; &gt; in that order.
//   3. Pad the text with a space on each side.
//   4. Put spaces around each of  ! " # $ % & ( ) * + / : ; < = > ? @ [ \ ] ^ _ ` { | } ~
//   5. Split a "." or "," off a preceding non-digit, then off a following non-digit.
//   6. Split a "-" off a preceding digit.
//   7. Split on whitespace as Python's str.split() does (Unicode spaces included).
// Steps 5 and 6 scan left to right as re.sub does, so "a.." gives "a", ".", ".". Apostrophes
// and other hyphens stay inside words; case is kept. Bytes that are not UTF-8 count as ordinary
// non-space characters.
std::vector<std::string> tokenize_13a(const std::string& text);

struct BleuResult {
  double bleu = 0;                 // evaluate: 0..1; sacrebleu: 0..100
  std::vector<double> precisions;  // per order (evaluate: 0..1; sacrebleu: 0..100)
  double brevity_penalty = 0;
  double length_ratio = 0;
  int64_t translation_length = 0;
  int64_t reference_length = 0;
};

enum class BleuMode {
  kEvaluate,   // evaluate.load("bleu").compute(...) with its defaults
  kSacrebleu,  // sacrebleu.corpus_bleu(...) with its defaults
};

struct BleuOptions {
  BleuMode mode = BleuMode::kEvaluate;
  int max_order = 4;
  bool smooth = false;  // kEvaluate: smooth=True (add-one, all orders); kSacrebleu ignores it
};

// predictions[i] is scored against references[i] (one or more references each). Throws
// llmtune::Error when there are no predictions, a prediction has no reference or max_order < 1
// (where the packages fail too), or when the two lists differ in length (where both packages
// would silently drop the extra items).
BleuResult corpus_bleu(const std::vector<std::string>& predictions,
                       const std::vector<std::vector<std::string>>& references,
                       const BleuOptions& options = {});

}  // namespace llmtune::eval
