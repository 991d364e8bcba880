"""Checks `llmtune data stats` against an independent count in Python.

Renders every record of the shared sql-create-context file through the Llama-2-chat template
with python3-jinja2 (Transformers' environment), tokenizes with python3-sentencepiece as
Transformers' legacy Llama tokenizer does (special tokens in the text split out, each segment
encoded with its own dummy prefix), and counts the samples max_length truncates. llmtune must
print the same counts, and a readable SVG.

usage: check_stats.py --llmtune BIN --shared DIR --templates chat_templates.json --out DIR
"""
import argparse
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import jinja2
import jinja2.ext
import jinja2.sandbox
import sentencepiece

SYSTEM = ("You are a helpful programmer assistant that excels at SQL. When prompted with a task "
          "and a definition of an SQL table, you respond with a SQL query to retrieve information "
          "from the table. Don't explain your reasoning, only provide the SQL query.")
SPECIALS = ["<s>", "</s>", "<unk>"]


def encode(sp, text):
    """Legacy LlamaTokenizer: split on special tokens, encode each other segment."""
    ids, i, start = [], 0, 0
    while i < len(text):
        hit = next((s for s in sorted(SPECIALS, key=len, reverse=True) if text.startswith(s, i)), None)
        if hit is None:
            i += 1
            continue
        if i > start:
            ids += sp.encode(text[start:i])
        ids.append(sp.piece_to_id(hit))
        i = start = i + len(hit)
    if start < len(text):
        ids += sp.encode(text[start:])
    return ids


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--llmtune", required=True)
    p.add_argument("--shared", required=True)
    p.add_argument("--templates", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--max-lengths", default="64,160,200",
                   help="64 as the issue asks (every prompt is longer: all cut); 160 and 200 split "
                        "the rows into kept, truncated and cut")
    a = p.parse_args()
    data = os.path.join(a.shared, "data", "sql-create-context-4k.jsonl")
    tok = os.path.join(a.shared, "fixtures", "llama2-tokenizer")
    if not os.path.exists(data) or not os.path.exists(tok):
        print(f"skipped: {a.shared} lacks the data or the Llama-2 tokenizer")
        return 0
    template = next(t["template"] for t in json.load(open(a.templates))["templates"]
                    if t["name"] == "llama-2-chat")
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols])
    env.globals["raise_exception"] = lambda m: (_ for _ in ()).throw(Exception(m))
    tpl = env.from_string(template)
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(tok, "tokenizer.model"))
    lengths = []  # (prompt tokens, whole tokens) per record
    for line in open(data, encoding="utf-8"):
        r = json.loads(line)
        answer = re.sub(r"^\s*\[SQL\]\s*(.*?)\s*\[/SQL\]\s*$", r"\1", r["answer"], flags=re.S)
        user = f"Task: {r['question']}\nSQL table: {r['context']}\nSQL query: "
        msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        kw = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>")
        prompt = tpl.render(messages=msgs, add_generation_prompt=True, **kw)
        full = tpl.render(messages=msgs + [{"role": "assistant", "content": answer}],
                          add_generation_prompt=False, **kw)
        lengths.append((len(encode(sp, prompt)), len(encode(sp, full))))
    os.makedirs(a.out, exist_ok=True)
    ok = True
    for max_length in [int(x) for x in a.max_lengths.split(",")]:
        cut = sum(1 for p_len, _ in lengths if p_len >= max_length)
        truncated = sum(1 for p_len, f_len in lengths if p_len < max_length < f_len)
        svg = os.path.join(a.out, f"stats-{max_length}.svg")
        res = subprocess.run([a.llmtune, "data", "stats", "--data", data, "--tokenizer", tok,
                              "--chat-template", "llama-2", "--max-length", str(max_length),
                              "--batch-size", "4", "--svg", svg], capture_output=True, text=True)
        print(res.stdout)
        if res.returncode != 0:
            print(res.stderr)
            return 1
        m = re.search(r"truncated at max_length \d+: (\d+) .*?response cut away entirely: (\d+)",
                      res.stdout)
        same = m is not None and int(m.group(1)) == truncated and int(m.group(2)) == cut
        print(f"max_length {max_length}: python: {len(lengths)} records, truncated {truncated}, "
              f"response cut {cut}; llmtune: {m.groups() if m else 'no counts printed'}")
        root = ET.parse(svg).getroot()
        bars = [e for e in root.iter() if e.tag.endswith("rect")]
        ok = ok and same and root.tag.endswith("svg") and len(bars) > 5 and "#####" in res.stdout
    print("ok" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
