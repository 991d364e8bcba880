#!/usr/bin/env python3
"""Reference BLEU for tests/eval/bleu_test.cpp, standard library only.

Usage: bleu_reference.py CASES.json  (prints the results as JSON on stdout)

Input:  {"cases": [{"mode": "evaluate" | "sacrebleu", "max_order": 4, "smooth": false,
                    "predictions": [str, ...], "references": [[str, ...], ...]}, ...],
         "tokenize": [str, ...]}
Output: {"cases": [{"bleu", "precisions", "brevity_penalty", "length_ratio",
                    "translation_length", "reference_length"}, ...],
         "tokenize": [[token, ...], ...]}

Restates the published Python, not the C++ under test:
- the 13a tokenizer from sacrebleu tokenizers/tokenizer_13a.py + tokenizer_re.py (which
  evaluate's metrics/bleu/tokenizer_13a.py copies), with the same regular expressions;
- "evaluate": evaluate 0.4.1 metrics/bleu/bleu.py _compute, calling tensorflow/nmt
  nmt/scripts/bleu.py compute_bleu. One deliberate change: where the translation or
  reference length is 0 (ZeroDivisionError upstream), ratio and bp are 0, as in evaluate's
  open fix for issue #601 (PR #764);
- "sacrebleu": sacrebleu.corpus_bleu defaults (compat.py, metrics/base.py, metrics/bleu.py,
  sacrebleu 2.x): rstrip + 13a, closest reference length, 'exp' smoothing, no effective order.
"""

import collections
import json
import math
import re
import sys

# --- tokenizer_re.py / tokenizer_13a.py -------------------------------------------------------

_REGEXES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tokenize_13a(line):
    line = line.replace("<skipped>", "")
    line = line.replace("-\n", "")
    line = line.replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"')
        line = line.replace("&amp;", "&")
        line = line.replace("&lt;", "<")
        line = line.replace("&gt;", ">")
    line = f" {line} "
    for regex, repl in _REGEXES:
        line = regex.sub(repl, line)
    return line.split()


# --- evaluate: bleu.py + tensorflow/nmt compute_bleu -------------------------------------------


def _get_ngrams(segment, max_order):
    counts = collections.Counter()
    for order in range(1, max_order + 1):
        for i in range(0, len(segment) - order + 1):
            counts[tuple(segment[i:i + order])] += 1
    return counts


def evaluate_bleu(predictions, references, max_order, smooth):
    reference_corpus = [[tokenize_13a(r) for r in refs] for refs in references]
    translation_corpus = [tokenize_13a(p) for p in predictions]

    matches_by_order = [0] * max_order
    possible_matches_by_order = [0] * max_order
    reference_length = 0
    translation_length = 0
    for refs, translation in zip(reference_corpus, translation_corpus):
        reference_length += min(len(r) for r in refs)
        translation_length += len(translation)
        merged_ref_ngram_counts = collections.Counter()
        for ref in refs:
            merged_ref_ngram_counts |= _get_ngrams(ref, max_order)
        overlap = _get_ngrams(translation, max_order) & merged_ref_ngram_counts
        for ngram in overlap:
            matches_by_order[len(ngram) - 1] += overlap[ngram]
        for order in range(1, max_order + 1):
            possible_matches = len(translation) - order + 1
            if possible_matches > 0:
                possible_matches_by_order[order - 1] += possible_matches

    precisions = [0] * max_order
    for i in range(0, max_order):
        if smooth:
            precisions[i] = (matches_by_order[i] + 1.0) / (possible_matches_by_order[i] + 1.0)
        elif possible_matches_by_order[i] > 0:
            precisions[i] = float(matches_by_order[i]) / possible_matches_by_order[i]
        else:
            precisions[i] = 0.0

    if min(precisions) > 0:
        p_log_sum = sum((1.0 / max_order) * math.log(p) for p in precisions)
        geo_mean = math.exp(p_log_sum)
    else:
        geo_mean = 0

    if reference_length == 0 or translation_length == 0:  # the #601 guard (see above)
        ratio = 0.0
        bp = 0.0
    else:
        ratio = float(translation_length) / reference_length
        bp = 1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio)

    return {
        "bleu": geo_mean * bp,
        "precisions": precisions,
        "brevity_penalty": bp,
        "length_ratio": ratio,
        "translation_length": translation_length,
        "reference_length": reference_length,
    }


# --- sacrebleu.corpus_bleu with its defaults ---------------------------------------------------


def _my_log(num):
    return -9999999999 if num == 0.0 else math.log(num)


def _extract_all_word_ngrams(line, max_order):
    tokens = line.split()
    ngrams = []
    for n in range(1, max_order + 1):
        for i in range(0, len(tokens) - n + 1):
            ngrams.append(tuple(tokens[i:i + n]))
    return collections.Counter(ngrams), len(tokens)


def _preprocess(sent):
    return " ".join(tokenize_13a(sent.rstrip()))


def _closest_ref_len(hyp_len, ref_lens):
    closest_diff, closest_len = -1, -1
    for ref_len in ref_lens:
        diff = abs(hyp_len - ref_len)
        if closest_diff == -1 or diff < closest_diff:
            closest_diff, closest_len = diff, ref_len
        elif diff == closest_diff and ref_len < closest_len:
            closest_len = ref_len
    return closest_len


def sacrebleu_bleu(predictions, references, max_order):
    # sacrebleu takes reference streams ([[ref1 of seg1, ref1 of seg2, ...], ...]); a segment
    # with fewer references has None in the other streams, which sacrebleu drops.
    n_streams = max(len(refs) for refs in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references]
               for k in range(n_streams)]

    stats = []
    for hyp, refs in zip(predictions, zip(*streams)):
        lines = [_preprocess(x) for x in refs if x is not None]
        ref_ngrams, ref_lens = None, []
        for line in lines:
            this_ngrams, ref_len = _extract_all_word_ngrams(line, max_order)
            ref_lens.append(ref_len)
            if ref_ngrams is None:
                ref_ngrams = this_ngrams
            else:
                for ngram, count in this_ngrams.items():
                    ref_ngrams[ngram] = max(ref_ngrams[ngram], count)
        hyp_ngrams, hyp_len = _extract_all_word_ngrams(_preprocess(hyp), max_order)
        correct = [0] * max_order
        total = [0] * max_order
        for ngram, count in hyp_ngrams.items():
            n = len(ngram) - 1
            total[n] += count
            if ngram in ref_ngrams:
                correct[n] += min(count, ref_ngrams[ngram])
        stats.append([hyp_len, _closest_ref_len(hyp_len, ref_lens)] + correct + total)

    summed = [sum(column) for column in zip(*stats)]
    sys_len, ref_len = summed[0], summed[1]
    correct = summed[2:2 + max_order]
    total = summed[2 + max_order:]

    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * max_order
    score = 0.0
    if any(correct):
        smooth_mteval = 1.0
        for n in range(1, max_order + 1):
            if total[n - 1] == 0:
                break
            if correct[n - 1] == 0:
                smooth_mteval *= 2
                precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1])
            else:
                precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
        score = bp * math.exp(sum([_my_log(p) for p in precisions]) / max_order)

    return {
        "bleu": score,
        "precisions": precisions,
        "brevity_penalty": bp,
        "length_ratio": sys_len / ref_len if ref_len else 0,
        "translation_length": sys_len,
        "reference_length": ref_len,
    }


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    results = []
    for case in data.get("cases", []):
        max_order = case.get("max_order", 4)
        if case["mode"] == "evaluate":
            results.append(evaluate_bleu(case["predictions"], case["references"], max_order,
                                         case.get("smooth", False)))
        elif case["mode"] == "sacrebleu":
            results.append(sacrebleu_bleu(case["predictions"], case["references"], max_order))
        else:
            raise ValueError(f"unknown mode {case['mode']!r}")
    tokens = [tokenize_13a(s) for s in data.get("tokenize", [])]
    json.dump({"cases": results, "tokenize": tokens}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
