"""Interop check 7, BLEU, with the real packages: `llmtune eval --predictions` on corpora of a
few thousand SQL pairs (the shared file's answers as references; seeded edits of them as
predictions: dropped, swapped, repeated and changed tokens, case and quote changes, empty and
unrelated outputs) must report
- sacreBLEU's corpus_bleu (the sacrebleu package: score, precisions, brevity penalty, ratio,
  lengths), single and multiple references;
- Hugging Face evaluate's "bleu", which is the tensorflow-nmt formula (shortest reference
  length, no smoothing, 0..1), computed from nltk's own pieces: corpus_bleu where it applies
  (one reference per segment) and nltk's modified_precision counts with the shortest
  reference length otherwise; tokens from sacrebleu's Tokenizer13a, which evaluate's copies.
The standard-library restatements in tests/eval stay as the unit tests' oracle.

usage: check_bleu.py --tool T --llmtune L --shared S --source R --out DIR
"""
import json
import math
import os
import random

import common

TOL = 1e-9


def perturb(rng, ref, others):
    toks = ref.split()
    k = rng.random()
    if k < 0.15:
        return ref
    if k < 0.2:
        return ""
    if k < 0.25:
        return rng.choice(others)
    if k < 0.3:
        return ref.lower()
    if k < 0.35:
        return ref.replace('"', "'")
    for _ in range(rng.randint(1, 3)):
        if not toks:
            break
        i = rng.randrange(len(toks))
        op = rng.random()
        if op < 0.3:
            del toks[i]
        elif op < 0.5 and len(toks) > 1:
            j = rng.randrange(len(toks))
            toks[i], toks[j] = toks[j], toks[i]
        elif op < 0.7:
            toks.insert(i, toks[i])
        else:
            toks[i] = rng.choice(["1", "name", "WHERE", "=", "'x'", "COUNT(*)", "t1.id"])
    return " ".join(toks)


def nmt_bleu(hyps, refs_list, tok):
    """The tensorflow-nmt formula (evaluate's bleu) from nltk's clipped n-gram counts."""
    from nltk.translate.bleu_score import modified_precision
    hyp_t = [tok(h).split() for h in hyps]
    ref_t = [[tok(r).split() for r in refs] for refs in refs_list]
    # modified_precision keeps its Fraction unreduced (as corpus_bleu relies on): the clipped
    # matches over the hypothesis' n-gram count.
    num, den = [0] * 4, [0] * 4
    for h, rs in zip(hyp_t, ref_t):
        for n in range(1, 5):
            if len(h) >= n:
                p = modified_precision(rs, h, n)
                num[n - 1] += p.numerator
                den[n - 1] += p.denominator
    prec = [num[i] / den[i] if den[i] > 0 else 0.0 for i in range(4)]
    trans = sum(len(h) for h in hyp_t)
    ref_len = sum(min(len(r) for r in rs) for rs in ref_t)
    geo = math.exp(sum(math.log(p) / 4 for p in prec)) if min(prec) > 0 else 0.0
    ratio = trans / ref_len
    bp = 1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio)
    return {"bleu": geo * bp, "precisions": prec, "brevity_penalty": bp, "length_ratio": ratio,
            "translation_length": trans, "reference_length": ref_len}


def overall(report, n):
    return next(v for v in report.values() if isinstance(v, dict) and v.get("count") == n)


def compare(c, tag, ours, theirs, scale=1.0):
    c.close(f"{tag}: score", abs(ours["bleu"] - theirs["bleu"] * scale), TOL * 100)
    c.close(f"{tag}: precisions", max(abs(x - y * scale) for x, y in
                                      zip(ours["precisions"], theirs["precisions"])), TOL * 100)
    c.close(f"{tag}: brevity penalty", abs(ours["brevity_penalty"] - theirs["brevity_penalty"]),
            TOL)
    c.close(f"{tag}: length ratio", abs(ours["length_ratio"] - theirs["length_ratio"]), TOL)
    c.equal(f"{tag}: translation and reference lengths",
            (ours["translation_length"], ours["reference_length"]),
            (theirs["translation_length"], theirs["reference_length"]))


def main():
    a = common.parse_args(__doc__)
    nltk = common.need_module("nltk")
    sacrebleu = common.need_module("sacrebleu")
    from nltk.translate.bleu_score import corpus_bleu as nltk_corpus_bleu
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
    common.need_shared(a, "data/sql-create-context-4k.jsonl")
    print(f"sacrebleu {sacrebleu.__version__}, nltk {nltk.__version__}")
    c = common.Checks("interop bleu")
    tok = Tokenizer13a()
    refs = [r["response"] for r in common.read_sql_records(a.shared, 4000)]
    rng = random.Random(7)
    single = [(perturb(rng, r, refs), [r]) for r in refs[:3000]]
    multi = [(perturb(rng, r, refs), [r, perturb(rng, r, refs) or r]) for r in refs[3000:]]
    # nltk's corpus_bleu counts a hypothesis shorter than n as one possible n-gram (its
    # max(1, count) denominator), where the tensorflow-nmt formula counts none: they agree on
    # hypotheses of at least 4 tokens, so nltk's own score is compared on those.
    long_enough = [(p, rs) for p, rs in single if len(tok(p).split()) >= 4]
    for name, corpus in (("3000 pairs, one reference", single),
                         ("1000 pairs, two references", multi),
                         (f"{len(long_enough)} pairs of 4+ tokens", long_enough)):
        path = os.path.join(a.out, name.split(",")[0].replace(" ", "_") + ".jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for pred, rs in corpus:
                f.write(json.dumps({"prediction": pred, "references": rs}) + "\n")
        report_path = path + ".report.json"
        common.run([a.llmtune, "eval", "--predictions", path, "--json", report_path])
        with open(report_path) as f:
            ours = overall(json.load(f), len(corpus))
        hyps = [p for p, _ in corpus]
        streams = [[rs[i] for _, rs in corpus] for i in range(len(corpus[0][1]))]
        s = sacrebleu.corpus_bleu(hyps, streams)
        theirs = {"bleu": s.score, "precisions": s.precisions, "brevity_penalty": s.bp,
                  "length_ratio": s.sys_len / s.ref_len, "translation_length": s.sys_len,
                  "reference_length": s.ref_len}
        compare(c, f"{name}: sacrebleu.corpus_bleu", ours["sacrebleu"], theirs)
        nmt = nmt_bleu(hyps, [rs for _, rs in corpus], tok)
        compare(c, f"{name}: tensorflow-nmt formula (evaluate) from nltk counts", ours["bleu"], nmt)
        if corpus is long_enough:
            n = nltk_corpus_bleu([[tok(r).split() for r in rs] for _, rs in corpus],
                                 [tok(h).split() for h in hyps])
            c.close(f"{name}: nltk corpus_bleu", abs(ours["bleu"]["bleu"] - n), TOL)
        if corpus is single:
            c.true(f"{name}: a score far from 0 and 1 ({ours['bleu']['bleu']:.4f}), brevity "
                   f"penalty below 1 ({ours['bleu']['brevity_penalty']:.4f})",
                   0.2 < ours["bleu"]["bleu"] < 0.95 and ours["bleu"]["brevity_penalty"] < 1)
    c.finish()


if __name__ == "__main__":
    main()
