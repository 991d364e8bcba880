"""Interop check 3, tokenizers and chat templates, with the real Transformers and tokenizers.

- The shared corpus (tests/text/make_tokenizer_reference.py: about 2,800 strings of SQL data,
  prose, whitespace, many scripts, emoji, byte fallback, special-token look-alikes): the ids of
  tokenizer(text) from AutoTokenizer, fast (tokenizer.json, the tokenizers library) and slow
  (tokenizer.model, LlamaTokenizer), for the Llama 2 and the Mistral tokenizer, must equal
  llmtune's (its tokenizer.json implementation and its SentencePiece one).
- apply_chat_template of each of llmtune's built-in templates, on the rendering tests'
  conversations, with and without the generation prompt: text and ids must equal llmtune's
  renderer, and a template that refuses a conversation must refuse it in both.
- The tokenizer files llmtune writes into a training checkpoint load in AutoTokenizer and
  encode the corpus as the original directory does.

usage: check_tokenizers.py --tool T --llmtune L --shared S --source R --out DIR
"""
import json
import os
import shutil
import sys

from transformers.utils import logging

from transformers import AutoTokenizer

import common

MISTRAL_CONFIG = {  # Mistral-7B-Instruct-v0.2's tokenizer_config.json (INTEROP 4.3), no template
    "tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
    "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
    "legacy": True, "clean_up_tokenization_spaces": False, "model_max_length": 32768,
    "spaces_between_special_tokens": False}


def hf_ids(tok, texts):
    return [tok(t)["input_ids"] for t in texts]


def ours(a, tok_dir, backend, corpus, out):
    common.run([a.tool, "encode", tok_dir, backend, corpus, out])
    with open(out) as f:
        return [json.loads(line)["ids"] for line in f]


def compare_corpus(c, what, got, want, texts):
    bad = [i for i, (x, y) in enumerate(zip(got, want)) if x != y]
    detail = ""
    if bad:
        i = bad[0]
        detail = (f"{len(bad)} strings differ; first, line {i}: {texts[i][:80]!r}\n"
                  f"    llmtune {got[i][:40]}\n    reference {want[i][:40]}")
    c.equal(f"{what} ({len(texts)} strings)", len(got) == len(want) and not bad, True, detail)


def chat_cases(source):
    with open(os.path.join(source, "tests", "text", "chat_templates.json")) as f:
        conversations = json.load(f)["conversations"]
    return conversations


def main():
    a = common.parse_args(__doc__)
    llama, mistral_model, data = common.need_shared(
        a, "fixtures/llama2-tokenizer", "fixtures/mistral-tokenizer/tokenizer.model",
        "data/sql-create-context-4k.jsonl")
    print(common.versions())
    logging.set_verbosity_error()  # long corpus strings exceed model_max_length: no matter here
    c = common.Checks("interop tokenizers")
    common.run([sys.executable, os.path.join(a.source, "tests/text/make_tokenizer_reference.py"),
                "--shared", a.shared, "--out", os.path.join(a.out, "text")])
    corpus = os.path.join(a.out, "text", "corpus.jsonl")
    with open(corpus, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]

    mistral = os.path.join(a.out, "mistral")
    os.makedirs(mistral)
    shutil.copy(mistral_model, mistral)
    common.write_json(os.path.join(mistral, "tokenizer_config.json"), MISTRAL_CONFIG)

    # Each of llmtune's implementations against the library that reads the same file:
    # tokenizer.json <-> the fast tokenizer (tokenizers), tokenizer.model <-> the slow one
    # (sentencepiece); for Mistral, which ships only tokenizer.model, also the fast tokenizer
    # Transformers converts from it.
    llama_fast = AutoTokenizer.from_pretrained(llama, use_fast=True)
    llama_slow = AutoTokenizer.from_pretrained(llama, use_fast=False)
    ours_json = ours(a, llama, "tokenizer.json", corpus, os.path.join(a.out, "llama_json.jsonl"))
    ours_sp = ours(a, llama, "sentencepiece", corpus, os.path.join(a.out, "llama_sp.jsonl"))
    fast_ids, slow_ids = hf_ids(llama_fast, texts), hf_ids(llama_slow, texts)
    compare_corpus(c, "Llama 2 tokenizer.json: AutoTokenizer fast == llmtune", ours_json, fast_ids,
                   texts)
    compare_corpus(c, "Llama 2 tokenizer.model: AutoTokenizer slow == llmtune", ours_sp, slow_ids,
                   texts)
    # The fixture's two files disagree on a few strings (U+2028, ...); Transformers' fast and
    # slow tokenizers differ on exactly those, and so do llmtune's two implementations.
    hf_split = [i for i in range(len(texts)) if fast_ids[i] != slow_ids[i]]
    our_split = [i for i in range(len(texts)) if ours_json[i] != ours_sp[i]]
    c.equal(f"Llama 2: fast and slow differ on the same {len(hf_split)} strings in both",
            our_split, hf_split)
    mistral_sp = ours(a, mistral, "sentencepiece", corpus, os.path.join(a.out, "mistral.jsonl"))
    for fast in (False, True):
        tok = AutoTokenizer.from_pretrained(mistral, use_fast=fast)
        compare_corpus(c, f"Mistral tokenizer.model: AutoTokenizer {'fast' if fast else 'slow'} "
                       f"({type(tok).__name__}) == llmtune", mistral_sp, hf_ids(tok, texts), texts)

    # Chat templates: llmtune's built-ins through apply_chat_template.
    conversations = chat_cases(a.source)
    names = ["mistral", "mistral-v0.1", "llama-2", "zephyr", "chatml", "llama-3"]
    cases = [{"template": n, "messages": conv["messages"], "add_generation_prompt": g,
              "name": conv["name"]} for n in names for conv in conversations for g in (False, True)]
    cases_path, res_path = os.path.join(a.out, "chat_cases.json"), os.path.join(a.out, "chat.json")
    common.write_json(cases_path, cases)
    common.run([a.tool, "chat", llama, cases_path, res_path])
    with open(res_path) as f:
        results = json.load(f)
    rendered = refused = 0
    for case, r in zip(cases, results):
        llama_fast.chat_template = r["source"]
        what = f"chat {case['template']} / {case['name']} / gen {case['add_generation_prompt']}"
        try:
            text = llama_fast.apply_chat_template(case["messages"], tokenize=False,
                                                  add_generation_prompt=case["add_generation_prompt"])
            ids = llama_fast.apply_chat_template(case["messages"], tokenize=True,
                                                 add_generation_prompt=case["add_generation_prompt"])
            if not isinstance(ids, list):  # Transformers 5 returns a BatchEncoding
                ids = ids["input_ids"]
        except Exception as e:  # the template's raise_exception
            c.true(f"{what}: both refuse", "error" in r, f"llmtune rendered; Transformers: {e}")
            refused += 1
            continue
        if "error" in r:
            c.true(f"{what}: both render", False, f"llmtune refused: {r['error']}")
            continue
        if r["text"] != text or r["ids"] != ids:
            c.equal(what, (r["text"], r["ids"]), (text, ids))
        rendered += 1
    c.true(f"chat templates: {rendered} renderings equal (text and ids), {refused} refused by both",
           rendered + refused == len(cases) and rendered > 0 and refused > 0)

    # A checkpoint's tokenizer files, as `llmtune train` writes them.
    model = os.path.join(a.out, "model")
    common.tiny_with_tokenizer(model, llama, seed=1, hidden_size=16, num_hidden_layers=1)
    dataset = os.path.join(a.out, "data")
    rows = common.read_sql_records(a.shared, 12)
    common.write_dataset(dataset, rows[:8], rows[8:10], rows[10:])
    trial = common.llmtune_train(a, {
        "name": "tokenizer files", "searcher": {"name": "single", "metric": "eval_loss"},
        "hyperparameters": {"model": model, "dataset": dataset, "dataset_subset": "all",
                            "chat_template": "llama-2", "lora": False, "max_length": 256,
                            "training_args": {"max_steps": 1, "per_device_train_batch_size": 2,
                                              "learning_rate": 1e-3, "evaluation_strategy": "no",
                                              "save_strategy": "steps", "save_steps": 1}}},
        os.path.join(a.out, "runs"))
    ckpt = os.path.join(trial, "checkpoint-1")
    c.true("the checkpoint holds tokenizer files",
           os.path.exists(os.path.join(ckpt, "tokenizer.json")), str(os.listdir(trial)))
    for fast, want in ((True, fast_ids), (False, slow_ids)):
        tok = AutoTokenizer.from_pretrained(ckpt, use_fast=fast)
        compare_corpus(c, f"checkpoint's tokenizer files: AutoTokenizer {'fast' if fast else 'slow'}"
                       " == the original's", hf_ids(tok, texts), want, texts)
    c.finish()


if __name__ == "__main__":
    main()
