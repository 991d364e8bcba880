#!/usr/bin/python3
"""A small Llama-3-style byte-level BPE tokenizer and an independent encoder for it.

There is no Llama-3 tokenizer in the fixtures and no `tokenizers` library here, so this
program trains one (GPT-2 algorithm) and writes it in the Hugging Face format:

  OUT/tokenizer.json              Llama-3 layout: Split(regex, Isolated) + ByteLevel(no regex)
                                  pre-tokenizer, ByteLevel + TemplateProcessing post-processor,
                                  ByteLevel decoder, BPE with ignore_merges=true; merges written
                                  as [["a", "b"], ...] (tokenizers >= 0.20)
  OUT/tokenizer_old_merges.json   identical except merges written as "a b" strings
  OUT/tokenizer_config.json       bos "<|begin_of_text|>", eos "<|eot_id|>", no add_bos_token
  OUT/expected.jsonl              per line of corpus.jsonl (make_tokenizer_reference.py), in order:
                                  {"ids", "tokens", "decoded", "decoded_skip"} for
                                  tokenizer(text) (add_special_tokens=True, special tokens in the
                                  text parsed); decoded keeps special tokens, decoded_skip drops them
  OUT/decode.jsonl                decode-only cases: {"ids", "decoded", "decoded_skip"} for every
                                  id alone and for random / damaged id sequences (invalid UTF-8
                                  becomes U+FFFD)
  OUT/ignore_merges.jsonl         the corpus lines whose ids change when ignore_merges is false:
                                  {"line", "text", "ids", "ids_without_ignore_merges"}

The encoder reads tokenizer.json back and follows Hugging Face tokenizers step by step, as
plainly as possible (it is an oracle, speed does not matter):
  1. split the text on added tokens (leftmost, longest first); each one becomes its id;
  2. every other segment: regex pre-tokenization (Split, Isolated: matches and the gaps
     between them both become pre-tokens), then the bytes of each pre-token mapped to
     characters with GPT-2's bytes_to_unicode table;
  3. BPE per pre-token: if ignore_merges and the whole mapped pre-token is in the vocab, emit it;
     else start from single characters and repeatedly merge the adjacent pair with the lowest
     merge rank (the leftmost one on ties) until no pair has a rank;
  4. post-processor: <|begin_of_text|> first.
Decoding: tokens -> bytes through the inverse table (a token with a character outside the
table, i.e. an added token, contributes its UTF-8 bytes), then UTF-8 with errors="replace".

Only Debian's python3 with python3-regex and the standard library.

usage: /usr/bin/python3 tests/text/make_bytelevel_fixture.py --shared SHARED_DIR --out OUT_DIR/bytelevel
       [--corpus OUT_DIR/corpus.jsonl]   (default: corpus.jsonl next to the --out folder)
"""
import argparse
import collections
import json
import os
import random
import sys
import time

import regex

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                  "<|end_header_id|>", "<|eot_id|>"]
BOS = "<|begin_of_text|>"
N_MERGES = 1500        # trained merges on top of the 256 byte tokens
N_EXTRA = 24           # extra tokens that BPE alone does not reach (see add_unreachable)
TRAIN_SQL_ROWS = 3000
SEED = 20240611


def bytes_to_unicode():
    """GPT-2's table (openai/gpt-2 encoder.py): byte -> printable character."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs])), bs


BYTE_TO_CHAR, BYTE_ORDER = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}
PRETOKENIZER = regex.compile(LLAMA3_PATTERN)


def pretokenize(segment):
    """Split(pattern, behavior=Isolated, invert=false): matches and gaps, in order."""
    out, pos = [], 0
    for m in PRETOKENIZER.finditer(segment):
        if m.start() > pos:
            out.append(segment[pos:m.start()])
        if m.end() > m.start():
            out.append(m.group())
        pos = m.end()
    if pos < len(segment):
        out.append(segment[pos:])
    return out


def byte_map(piece):
    return "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))


# --------------------------------------------------------------------------------------------
# Training (GPT-2 BPE over pre-token counts)
# --------------------------------------------------------------------------------------------

def train(lines, n_merges):
    """Returns the merges, in rank order, as (a, b) pairs of byte-mapped strings.

    The most frequent adjacent pair (counted within pre-tokens, weighted by how often the
    pre-token occurs) is merged everywhere, repeatedly. Ties: the lexicographically smallest
    pair (Python string order, i.e. code points). Stops early when no pair occurs twice.
    """
    word_counts = collections.Counter()
    for text, weight in lines:
        for piece in pretokenize(text):
            word_counts[byte_map(piece)] += weight
    words = [list(w) for w in sorted(word_counts)]
    counts = [word_counts[w] for w in sorted(word_counts)]

    pair_counts = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for p in zip(w, w[1:]):
            pair_counts[p] += counts[i]
            where[p].add(i)

    merges = []
    while len(merges) < n_merges:
        best = None
        for p, c in pair_counts.items():
            if c > 0 and (best is None or c > best[0] or (c == best[0] and p < best[1])):
                best = (c, p)
        if best is None or best[0] < 2:
            break
        pair = best[1]
        a, b = pair
        merges.append(pair)
        for i in sorted(where[pair]):
            w = words[i]
            for p in zip(w, w[1:]):
                pair_counts[p] -= counts[i]
            new, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    new.append(a + b)
                    j += 2
                else:
                    new.append(w[j])
                    j += 1
            words[i] = new
            for p in zip(new, new[1:]):
                pair_counts[p] += counts[i]
                where[p].add(i)
        del pair_counts[pair]
        where.pop(pair, None)
    return merges, word_counts


def bpe(word, ranks, vocab, ignore_merges):
    """Hugging Face BPE on one byte-mapped pre-token (a list of token strings comes back)."""
    if ignore_merges and word in vocab:
        return [word]
    parts = list(word)
    while True:
        best = None
        for i in range(len(parts) - 1):
            r = ranks.get((parts[i], parts[i + 1]))
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            return parts
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]


def add_unreachable(merges, word_counts, n_extra):
    """Appends n_extra merges (a, b) whose result a+b is a frequent pre-token that plain BPE
    does not produce as one token. Real Llama-3 vocabularies have such tokens (converted from
    tiktoken ranks); they are what `ignore_merges: true` is about: such a pre-token encodes as
    one token with the flag and as several without it."""
    vocab = set(BYTE_TO_CHAR.values()) | {a + b for a, b in merges}
    ranks = {p: r for r, p in enumerate(merges)}
    extra = []
    for word, _ in sorted(word_counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(extra) == n_extra:
            break
        if word in vocab or not 3 <= len(word) <= 16:
            continue
        plain = bpe(word, ranks, vocab, False)
        # The split point farthest from plain BPE's own first boundary with both halves in vocab.
        splits = [(abs(k - len(plain[0])), k) for k in range(1, len(word))
                  if word[:k] in vocab and word[k:] in vocab and [word[:k], word[k:]] != plain]
        if not splits:
            continue
        k = max(splits)[1]
        extra.append((word[:k], word[k:]))
        vocab.add(word)
    return merges + extra, extra


# --------------------------------------------------------------------------------------------
# tokenizer.json
# --------------------------------------------------------------------------------------------

def tokenizer_json(merges, old_merges_format):
    vocab = {}
    for b in BYTE_ORDER:                      # GPT-2 order: id 0 is "!", the space byte is 220
        vocab[BYTE_TO_CHAR[b]] = len(vocab)
    for a, b in merges:
        assert a in vocab and b in vocab, (a, b)
        if a + b not in vocab:  # two merges may make the same string; it gets one id
            vocab[a + b] = len(vocab)
    added = []
    for tok in SPECIAL_TOKENS:
        added.append({"id": len(vocab) + len(added), "content": tok, "single_word": False,
                      "lstrip": False, "rstrip": False, "normalized": False, "special": True})
    bos_id = added[0]["id"]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated",
                 "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                 "use_regex": False},
            ],
        },
        "post_processor": {
            "type": "Sequence",
            "processors": [
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                 "use_regex": True},
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                            {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                          {"Sequence": {"id": "A", "type_id": 0}},
                          {"SpecialToken": {"id": BOS, "type_id": 1}},
                          {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {BOS: {"id": BOS, "ids": [bos_id], "tokens": [BOS]}}},
            ],
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": True,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges] if old_merges_format
            else [[a, b] for a, b in merges],
        },
    }


def tokenizer_config(tok):
    added = {str(t["id"]): {"content": t["content"], "lstrip": False, "normalized": False,
                            "rstrip": False, "single_word": False, "special": True}
             for t in tok["added_tokens"]}
    return {
        "added_tokens_decoder": added,
        "bos_token": BOS,
        "chat_template": (
            "{% set loop_messages = messages %}{% for message in loop_messages %}"
            "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
            "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
            "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
            "{% endif %}"),
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|eot_id|>",
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 8192,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


# --------------------------------------------------------------------------------------------
# The oracle encoder: reads tokenizer.json back
# --------------------------------------------------------------------------------------------

class Tokenizer:
    def __init__(self, path, ignore_merges=None):
        with open(path, encoding="utf-8") as f:
            tok = json.load(f)
        model = tok["model"]
        assert model["type"] == "BPE" and not model["byte_fallback"]
        self.vocab = model["vocab"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        assert all(len(m) == 2 for m in merges)
        self.merges = merges
        self.ranks = {p: r for r, p in enumerate(merges)}
        self.ignore_merges = model["ignore_merges"] if ignore_merges is None else ignore_merges
        assert tok["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] == LLAMA3_PATTERN
        self.added = {t["content"]: t["id"] for t in tok["added_tokens"]}
        self.special_ids = {t["id"] for t in tok["added_tokens"] if t["special"]}
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.id_to_token.update({i: t for t, i in self.added.items()})
        template = tok["post_processor"]["processors"][1]
        self.prefix = template["special_tokens"][BOS]["ids"]
        self.by_length = sorted(self.added, key=lambda t: (-len(t), t))
        self.cache = {}  # byte-mapped pre-token -> tokens (bpe is a pure function of it)

    def split_added(self, text):
        out, buf, i = [], "", 0
        while i < len(text):
            for tok in self.by_length:  # leftmost match, longest first
                if text.startswith(tok, i):
                    if buf:
                        out.append((buf, False))
                        buf = ""
                    out.append((tok, True))
                    i += len(tok)
                    break
            else:
                buf += text[i]
                i += 1
        if buf:
            out.append((buf, False))
        return out

    def bpe(self, word):
        if word not in self.cache:
            self.cache[word] = bpe(word, self.ranks, self.vocab, self.ignore_merges)
        return self.cache[word]

    def encode(self, text, add_special_tokens=True):
        ids = list(self.prefix) if add_special_tokens else []
        for seg, is_added in self.split_added(text):
            if is_added:
                ids.append(self.added[seg])
                continue
            for piece in pretokenize(seg):
                ids.extend(self.vocab[t] for t in self.bpe(byte_map(piece)))
        return ids

    def decode(self, ids, skip_special_tokens=False):
        data = b""
        for i in ids:
            if skip_special_tokens and i in self.special_ids:
                continue
            t = self.id_to_token[i]
            if all(c in CHAR_TO_BYTE for c in t):
                data += bytes(CHAR_TO_BYTE[c] for c in t)
            else:
                data += t.encode("utf-8")
        return data.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------

def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def write_jsonl(path, objs):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for o in objs:
            f.write(json.dumps(o, ensure_ascii=False) + "\n")


def self_checks(tk):
    """Small hand-checkable facts about the oracle itself; exits on failure."""
    fails = []

    def check(name, ok):
        print(f"  check {name:60s} {'ok' if ok else 'FAIL'}")
        if not ok:
            fails.append(name)

    check("bytes_to_unicode: 256 distinct chars, space -> 'Ġ', '\\n' -> 'Ċ'",
          len(set(BYTE_TO_CHAR.values())) == 256 and BYTE_TO_CHAR[32] == "Ġ" and
          BYTE_TO_CHAR[10] == "Ċ" and BYTE_TO_CHAR[ord("a")] == "a")
    check("pre-tokenize \"I'm here, they'LL 12345 go\"",
          pretokenize("I'm here, they'LL 12345 go") ==
          ["I", "'m", " here", ",", " they", "'LL", " ", "123", "45", " go"])
    check("pre-tokenize 'a  \\n\\n b\\t' (whitespace rules)",
          pretokenize("a  \n\n b\t") == ["a", "  \n\n", " b", "\t"])
    check("pre-tokenize '  x' keeps one space with the word",
          pretokenize("  x") == [" ", " x"])
    check("pre-tokenize '(x)\\n': one non-letter joins the word; newline",
          pretokenize("(x)\n") == ["(x", ")\n"])
    check("split on added tokens: leftmost, longest",
          tk.split_added("a<|eot_id|><|eot_id|b") ==
          [("a", False), ("<|eot_id|>", True), ("<|eot_id|b", False)])
    check("empty text -> [BOS]", tk.encode("") == tk.prefix)
    ranks = {("a", "b"): 0, ("b", "c"): 1, ("ab", "c"): 2}
    check("bpe lowest rank first", bpe("abc", ranks, {}, False) == ["abc"])
    ranks = {("b", "c"): 0, ("a", "b"): 1, ("ab", "c"): 2}
    check("bpe 'abc' with (b,c) first stays a|bc", bpe("abc", ranks, {}, False) == ["a", "bc"])
    check("bpe ignore_merges takes the whole word", bpe("abc", ranks, {"abc": 9}, True) == ["abc"])
    check("bpe 'aaa' with (a,a): leftmost first", bpe("aaa", {("a", "a"): 0}, {}, False) == ["aa", "a"])
    if fails:
        sys.exit("self checks failed: " + ", ".join(fails))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", required=True, help="the shared dir (data/)")
    ap.add_argument("--out", required=True, help="output dir, e.g. OUT_DIR/bytelevel (created)")
    ap.add_argument("--corpus", help="corpus.jsonl (default: ../corpus.jsonl from --out)")
    args = ap.parse_args()
    t0 = time.time()
    corpus_path = args.corpus or os.path.join(os.path.dirname(os.path.abspath(args.out)),
                                              "corpus.jsonl")
    with open(corpus_path, encoding="utf-8") as f:
        corpus = [json.loads(line)["text"] for line in f]
    with open(os.path.join(args.shared, "data", "sql-create-context-4k.jsonl"),
              encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    os.makedirs(args.out, exist_ok=True)

    # Training text: SQL rows as the blog's prompt + answer, and the corpus lines (English,
    # scripts, emoji, ...) with weight 3 so that some multi-byte characters get merged too
    lines = []
    for r in rows[:TRAIN_SQL_ROWS]:
        lines.append((f"Task: {r['question']}\nSQL table: {r['context']}\nSQL query: "
                      f"{r['answer']}", 1))
    lines += [(t, 3) for t in corpus if len(t) <= 1000]  # the long repetitive lines would
    # otherwise fill the vocabulary with their repeats
    merges, word_counts = train(lines, N_MERGES)
    t1 = time.time()
    merges, extra = add_unreachable(merges, word_counts, N_EXTRA)
    print(f"trained {len(merges) - len(extra)} merges on {len(lines)} lines in {t1 - t0:.1f} s, "
          f"+{len(extra)} unreachable tokens: "
          + " ".join(repr(bytes(CHAR_TO_BYTE[c] for c in a + b).decode()) for a, b in extra[:8])
          + " ...")

    tok = tokenizer_json(merges, old_merges_format=False)
    write_json(os.path.join(args.out, "tokenizer.json"), tok)
    write_json(os.path.join(args.out, "tokenizer_old_merges.json"),
               tokenizer_json(merges, old_merges_format=True))
    write_json(os.path.join(args.out, "tokenizer_config.json"), tokenizer_config(tok))
    print(f"vocab {len(tok['model']['vocab'])} + {len(tok['added_tokens'])} added tokens "
          f"(ids {tok['added_tokens'][0]['id']}..{tok['added_tokens'][-1]['id']})")

    tk = Tokenizer(os.path.join(args.out, "tokenizer.json"))
    tk_old = Tokenizer(os.path.join(args.out, "tokenizer_old_merges.json"))
    if tk_old.merges != tk.merges or tk_old.vocab != tk.vocab:
        sys.exit("tokenizer_old_merges.json does not read back identical to tokenizer.json")
    if any(" " in a or " " in b for a, b in tk.merges):
        sys.exit("a merge contains a space: the old merges format would be ambiguous")
    self_checks(tk)
    tk_plain = Tokenizer(os.path.join(args.out, "tokenizer.json"), ignore_merges=False)

    expected, ignore_cases, bad_roundtrip = [], [], []
    n_ids = 0
    for n, text in enumerate(corpus):
        ids = tk.encode(text)
        n_ids += len(ids)
        expected.append({"ids": ids, "tokens": [tk.id_to_token[i] for i in ids],
                         "decoded": tk.decode(ids), "decoded_skip": tk.decode(ids, True)})
        plain = tk_plain.encode(text)
        if plain != ids:
            ignore_cases.append({"line": n, "text": text, "ids": ids,
                                 "ids_without_ignore_merges": plain})
        # Round trips: without the BOS; with the added-token strings left as plain text
        # (split_special_tokens=True); and with special tokens skipped.
        as_text = [tk.vocab[t] for piece in pretokenize(text) for t in tk.bpe(byte_map(piece))]
        if (tk.decode(tk.encode(text, add_special_tokens=False)) != text
                or tk.decode(as_text) != text
                or tk.decode(ids, skip_special_tokens=True)
                != "".join(s for s, added in tk.split_added(text) if not added)):
            bad_roundtrip.append(n)
    write_jsonl(os.path.join(args.out, "expected.jsonl"), expected)

    # Decode-only cases: every id alone, then seeded random id sequences (special ids included);
    # single bytes of multi-byte characters decode to U+FFFD (UTF-8 with errors="replace", which
    # like Rust's from_utf8_lossy replaces each maximal invalid subpart).
    rng = random.Random(SEED)
    all_ids = sorted(tk.id_to_token)
    seqs = [[i] for i in all_ids]
    for _ in range(300):
        seqs.append([rng.choice(all_ids) for _ in range(rng.randint(1, 12))])
    for e in rng.sample(expected, 100):  # real encodings with a token dropped or swapped
        ids = list(e["ids"])
        if len(ids) > 2:
            k = rng.randrange(1, len(ids))
            if rng.random() < 0.5:
                del ids[k]
            else:
                ids[k], ids[k - 1] = ids[k - 1], ids[k]
        seqs.append(ids)
    write_jsonl(os.path.join(args.out, "decode.jsonl"),
                ({"ids": ids, "decoded": tk.decode(ids), "decoded_skip": tk.decode(ids, True)}
                 for ids in seqs))
    n_fffd = sum("\ufffd" in tk.decode(ids) for ids in seqs)
    print(f"decode.jsonl: {len(seqs)} id sequences, {n_fffd} decode with U+FFFD")
    write_jsonl(os.path.join(args.out, "ignore_merges.jsonl"), ignore_cases)
    print(f"expected.jsonl: {len(expected)} lines, {n_ids} ids; "
          f"{len(ignore_cases)} lines change without ignore_merges")
    if bad_roundtrip:
        sys.exit(f"round trip failed on corpus lines {bad_roundtrip[:20]}")
    print(f"round trip ok on all {len(corpus)} lines")
    if len(ignore_cases) < 10:
        sys.exit("too few lines exercise ignore_merges")
    print(f"done in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
