"""Interop check 4, the training data path, against the reference workflow's own: Transformers'
fast Mistral tokenizer with pad = EOS, padding and truncation on the right, the Mistral v0.2
chat template with the system text joined to the user turn, tokenizer(text, truncation=True,
max_length) and trl's DataCollatorForCompletionOnlyLM with the "[/INST]" response template,
batches of 4 in file order, over every record of ../shared/data/sql-create-context-4k.jsonl,
at max_length 2048 (the reference's) and at a short one that truncates many rows.

- llmtune's reference-compatible mode (FormatOptions::reference_compatible, batched with the
  EOS pad) must give the same input_ids, attention_mask and labels, batch for batch.
- llmtune's default mode must differ exactly by the documented fixes and nothing else: the
  reference's rows with these three changes applied before truncation (README "Where llmtune
  deliberately differs") must be llmtune's rows:
    double BOS    the tokenizer's BOS in front of the template's own is not there;
    masked EOS    the response's EOS keeps its label (the reference's pad = EOS masks it), and
                  padding uses <unk> with labels -100 and attention 0;
    all-masked    a row with no labelled token left (truncated before its response) is
                  excluded and counted, not trained as an all-masked row.

usage: check_collator.py --tool T --llmtune L --shared S --source R --out DIR
"""
import json
import os
import re
import shutil
import warnings

import torch

import common
from check_tokenizers import MISTRAL_CONFIG

SYSTEM = ("You are a helpful programmer assistant that excels at SQL. When prompted with a task "
          "and a definition of an SQL table, you respond with a SQL query to retrieve information "
          "from the table. Don't explain your reasoning, only provide the SQL query.")
BATCH = 4


def reference_rows(tok, collator, texts, max_length, truncate=True):
    """The reference data path: tokenizer(text, truncation, max_length), then the collator on
    batches of 4 in order. Returns the batches (dicts of lists)."""
    enc = [tok(t, truncation=truncate, max_length=max_length if truncate else None)
           for t in texts]
    batches = []
    for b in range(0, len(enc), BATCH):
        out = collator([{"input_ids": e["input_ids"], "attention_mask": e["attention_mask"]}
                        for e in enc[b:b + BATCH]])
        batches.append({k: out[k].tolist() for k in ("input_ids", "attention_mask", "labels")})
    return batches


def unpad(batches):
    """Per row: (input_ids, labels) without the right padding."""
    rows = []
    for b in batches:
        for ids, am, lab in zip(b["input_ids"], b["attention_mask"], b["labels"]):
            n = sum(am)
            rows.append((ids[:n], lab[:n]))
    return rows


def read_tool(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def main():
    from transformers import AutoTokenizer
    a = common.parse_args(__doc__)
    trl = common.need_module("trl", "the reference data path needs trl's collator")
    if not hasattr(trl, "DataCollatorForCompletionOnlyLM"):
        common.skip(f"trl {trl.__version__} has no DataCollatorForCompletionOnlyLM (later trl "
                    "releases removed it); the reference data path needs trl 0.7")
    DataCollatorForCompletionOnlyLM = trl.DataCollatorForCompletionOnlyLM
    model_file, data = common.need_shared(a, "fixtures/mistral-tokenizer/tokenizer.model",
                                          "data/sql-create-context-4k.jsonl")
    print(f"{common.versions()}, trl {trl.__version__}")
    warnings.filterwarnings("ignore")  # trl warns for every row without its response template
    c = common.Checks("interop collator")
    tok_dir = os.path.join(a.out, "mistral")
    os.makedirs(tok_dir)
    shutil.copy(model_file, tok_dir)
    common.write_json(os.path.join(tok_dir, "tokenizer_config.json"), MISTRAL_CONFIG)
    with open(os.path.join(a.source, "tests", "text", "chat_templates.json")) as f:
        template = next(t["template"] for t in json.load(f)["templates"]
                        if t["name"] == "mistral-7b-instruct-v0.2-original")

    tok = AutoTokenizer.from_pretrained(tok_dir, padding_side="right", truncation_side="right")
    if tok.pad_token_id is None:  # as the reference's finetune.py
        tok.pad_token = tok.eos_token
    tok.chat_template = template
    collator = DataCollatorForCompletionOnlyLM(tok.encode("[/INST]", add_special_tokens=False),
                                               tokenizer=tok)
    records = common.read_sql_records(a.shared, 4000)
    records_path = os.path.join(a.out, "records.jsonl")
    with open(records_path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    texts = []
    for r in records:
        user = f"Task: {r['instruction']}\nSQL table: {r['input']}\nSQL query: "
        texts.append(tok.apply_chat_template(
            [{"role": "user", "content": f"{SYSTEM}\n{user}"},
             {"role": "assistant", "content": r["response"]}], tokenize=False))
    bos, eos, unk = tok.bos_token_id, tok.eos_token_id, tok.unk_token_id
    full_ref = unpad(reference_rows(tok, collator, texts, None, truncate=False))
    c.true("the reference path found its response template in every untruncated row",
           all(any(l != -100 for l in lab) for _, lab in full_ref))

    for max_length in (2048, 160):
        tag = f"max_length {max_length}"
        ref = reference_rows(tok, collator, texts, max_length)
        out = os.path.join(a.out, f"reference_{max_length}.jsonl")
        print(common.run([a.tool, "collate", records_path, tok_dir, "mistral", max_length, BATCH,
                          "reference", out]).strip())
        ours = read_tool(out)
        same = [o["input_ids"] == r["input_ids"] and o["attention_mask"] == r["attention_mask"]
                and o["labels"] == r["labels"] for o, r in zip(ours, ref)]
        bad = [i for i, s in enumerate(same) if not s]
        c.equal(f"{tag}: reference-compatible mode == trl's collator ({len(ref)} batches, "
                "input_ids, attention_mask, labels)", len(ours) == len(ref) and not bad, True,
                f"batch {bad[0]} differs:\n llmtune {ours[bad[0]]}\n reference {ref[bad[0]]}"
                if bad else "")
        ref_rows = unpad(ref)
        all_masked = sum(1 for _, lab in ref_rows if all(l == -100 for l in lab))
        truncated = sum(1 for ids, _ in ref_rows if len(ids) == max_length)
        print(f"{tag}: the reference path has {truncated} truncated rows, {all_masked} all-masked")

        # The default mode: the reference's untruncated rows with the three fixes, truncated.
        expected, fixes = {}, {"double BOS": 0, "masked EOS": 0, "all-masked": 0}
        for i, (ids, lab) in enumerate(full_ref):
            if ids[:2] == [bos, bos]:
                ids, lab = ids[1:], lab[1:]
                fixes["double BOS"] += 1
            lab = list(lab)
            if ids[-1] == eos and lab[-1] == -100 and any(l != -100 for l in lab):
                lab[-1] = eos
                fixes["masked EOS"] += 1
            ids, lab = ids[:max_length], lab[:max_length]
            if all(l == -100 for l in lab[1:]):
                fixes["all-masked"] += 1
                continue
            expected[i] = (ids, lab)
        out = os.path.join(a.out, f"default_{max_length}.jsonl")
        report = common.run([a.tool, "collate", records_path, tok_dir, "mistral", max_length, BATCH,
                             "default", out]).strip()
        print(report)
        got, pads_ok = {}, True
        for b in read_tool(out):
            for rec, ids, am, lab in zip(b["records"], b["input_ids"], b["attention_mask"],
                                         b["labels"]):
                n = sum(am)
                got[rec] = (ids[:n], lab[:n])
                pads_ok &= am[:n] == [1] * n and all(x == unk for x in ids[n:]) and all(
                    x == -100 for x in lab[n:]) and not any(am[n:])
        c.true(f"{tag}: default mode pads with <unk>, attention 0, labels -100", pads_ok)
        c.equal(f"{tag}: default mode keeps exactly the rows with a labelled token left "
                f"({len(expected)} of {len(records)})", sorted(got), sorted(expected))
        diff = [i for i in expected if got.get(i) != expected[i]]
        c.equal(f"{tag}: default mode == reference + fixes {fixes}", diff, [],
                f"{len(diff)} rows differ; first {diff[:1]}: llmtune {got.get(diff[0]) if diff else ''}"
                f"\n    expected {expected[diff[0]] if diff else ''}")
        excluded = int(re.search(r"records (\d+) kept (\d+)", report).group(1)) - int(
            re.search(r"kept (\d+)", report).group(1))
        c.true(f"{tag}: llmtune's report counts the {fixes['all-masked']} excluded rows",
               excluded == fixes["all-masked"], report)
        if max_length == 160:
            c.true(f"{tag}: every fix occurs (the comparison exercises each)",
                   all(v > 0 for v in fixes.values()) and all_masked > 0, str(fixes))
    c.finish()


if __name__ == "__main__":
    main()
