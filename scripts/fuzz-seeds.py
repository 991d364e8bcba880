#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target (fuzz/): OUT/<target>/<name>, one input a file.

Seeds are real inputs: the repo's configs (configs/*.yaml, configs/ds_configs), the shared
fixtures (../shared/fixtures: reference configs, Llama 2's tokenizer.json shrunk to a few
hundred tokens so that one run stays fast, its chat template), the chat templates of the Jinja
tests, and small files written here (safetensors, config.json, adapter_config.json, records,
predictions, train_state.json). Nothing of ../shared is committed; without it those seeds are
left out.

usage: fuzz-seeds.py --out DIR [--shared DIR]
"""
import argparse
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent


def write(out, target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, bytes)] in data order."""
    header, offset, blob = {}, 0, b""
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blob += data
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def seeds_safetensors(out):
    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.25)
    write(out, "safetensors", "f32", safetensors([("w", "F32", [2, 2], f32)], {"format": "pt"}))
    write(out, "safetensors", "mixed", safetensors([
        ("a.weight", "BF16", [3], b"\x80\x3f\x00\x40\x40\x40"),
        ("b.weight", "F16", [1, 2], b"\x00\x3c\x00\xc0"),
        ("ids", "I32", [2], struct.pack("<2i", 7, -1)),
        ("flags", "BOOL", [2], b"\x01\x00"),
        ("scalar", "F64", [], struct.pack("<d", 2.5)),
        ("empty", "F32", [0, 4], b""),
    ], {"format": "pt", "note": "seed"}))
    write(out, "safetensors", "no_tensors", safetensors([]))


def seeds_hf_model(out):
    llama = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 256,
             "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
             "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
             "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "rope_scaling": None}
    write(out, "hf_model", "llama_config.json", json.dumps(llama, indent=2))
    mistral = dict(llama, architectures=["MistralForCausalLM"], model_type="mistral",
                   sliding_window=4096, head_dim=32)
    write(out, "hf_model", "mistral_config.json", json.dumps(mistral, indent=2))
    llama3 = dict(llama, eos_token_id=[2, 3], rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192})
    write(out, "hf_model", "llama3_config.json", json.dumps(llama3))
    index = {"metadata": {"total_size": 44}, "weight_map": {
        "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
        "model.norm.weight": "model-00001-of-00002.safetensors",
        "lm_head.weight": "model-00002-of-00002.safetensors"}}
    write(out, "hf_model", "index.json", json.dumps(index, indent=2))


def seeds_peft_adapter(out):
    config = {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "base",
              "bias": "none", "fan_in_fan_out": False, "inference_mode": True,
              "init_lora_weights": True, "layers_pattern": None, "layers_to_transform": None,
              "loftq_config": {}, "lora_alpha": 32, "lora_dropout": 0.1,
              "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": None,
              "peft_type": "LORA", "r": 8, "rank_pattern": {}, "revision": None,
              "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM",
              "use_rslora": False}
    write(out, "peft_adapter", "peft_0_8_2.json", json.dumps(config, indent=2))
    write(out, "peft_adapter", "all_linear.json", json.dumps(
        {"peft_type": "LORA", "r": 16, "lora_alpha": 16.0, "target_modules": "all-linear",
         "use_rslora": True}))


def shrink_tokenizer(tokenizer, keep):
    """The tokenizer with its first `keep` tokens and the merges among them."""
    model = tokenizer["model"]
    vocab = {t: i for t, i in model["vocab"].items() if i < keep}
    merges = []
    for m in model["merges"]:
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    return dict(tokenizer, model=dict(model, vocab=vocab, merges=merges))


def byte_level_tokenizer():
    chars = [chr(c) for c in range(33, 127)] + ["Ġ", "Ċ"]
    vocab = {c: i for i, c in enumerate(chars)}
    merges = []
    for a, b in [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("e", "r")]:
        merges.append([a, b])
        vocab.setdefault(a + b, len(vocab))
    return {
        "version": "1.0",
        "added_tokens": [{"id": len(vocab), "content": "<|end|>", "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": False,
                          "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+|\\s+"},
             "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": vocab, "merges": merges},
    }


def seeds_tokenizers(out, shared):
    write(out, "tokenizer_json", "byte_level.json", json.dumps(byte_level_tokenizer()))
    texts = ["Hello world", " SELECT * FROM t WHERE a = 'x';", "naïve café 日本語 🦙",
             "<s>[INST] hi [/INST] ok</s>", "\t\n\r  12345 \u200b", "\xff\xfe broken"]
    for i, t in enumerate(texts):
        write(out, "tokenizer_encode", f"text{i}",
              t.encode("latin-1") if t.startswith("\xff") else t.encode())
    llama = shared / "fixtures" / "llama2-tokenizer"
    if not (llama / "tokenizer.json").exists():
        return
    tokenizer = json.loads((llama / "tokenizer.json").read_text())
    write(out, "tokenizer_json", "llama2_small.json",
          json.dumps(shrink_tokenizer(tokenizer, 600), ensure_ascii=False))
    config = json.loads((llama / "tokenizer_config.json").read_text())
    if isinstance(config.get("chat_template"), str):
        write(out, "jinja", "llama2_fixture", config["chat_template"])


def seeds_jinja(out):
    cases = json.loads((ROOT / "tests" / "text" / "chat_templates.json").read_text())
    for t in cases["templates"]:
        write(out, "jinja", t["name"], t["template"])
    write(out, "jinja", "features", (
        "{% set ns = namespace(n=0) %}{% for m in messages if m.role != 'system' %}"
        "{% set ns.n = ns.n + 1 %}{{ loop.index }}:{{ m['content'] | trim | upper }}"
        "{{ m | tojson(indent=2) }}{% if loop.last %}{% break %}{% endif %}{% endfor %}"
        "{{ ns.n ~ ' ' ~ (messages | length) }}{{ 'a,b'.split(',') | join('-') }}"
        "{%- macro f(x, y=2) -%}{{ x * y }}{%- endmacro -%}{{ f(3) }}{{ range(3) | list }}"
        "{{ raise_exception('no') if false else '' }}{{ strftime_now('%Y') | length > 0 }}"))


def seeds_configs(out, shared):
    configs = sorted((ROOT / "configs").glob("*.yaml"))
    ds = sorted((ROOT / "configs" / "ds_configs").glob("*.json"))
    ref = shared / "fixtures" / "reference-configs"
    configs += sorted(ref.glob("*.yaml"))
    ds += sorted(ref.glob("*.json"))
    for p in configs:
        write(out, "experiment", p.parent.name + "_" + p.name, p.read_bytes())
    for p in ds:
        write(out, "deepspeed", p.parent.name + "_" + p.name, p.read_bytes())


def seeds_data(out):
    rows = [{"instruction": "How many users?", "input": "CREATE TABLE users (id INT)",
             "response": "SELECT COUNT(*) FROM users"},
            {"instruction": "Names, \"quoted\"", "input": "CREATE TABLE t (name TEXT)",
             "response": "[SQL] SELECT name FROM t [/SQL]", "db": "db/t.sqlite"}]
    write(out, "records", "jsonl", b"\x00" + "\n".join(json.dumps(r) for r in rows).encode())
    write(out, "records", "json", b"\x01" + json.dumps(rows, indent=1).encode())
    write(out, "records", "csv", b"\x02" + (
        "question,context,answer\r\n"
        "\"How many, total?\",CREATE TABLE t (a INT),\"SELECT COUNT(*) FROM t\"\r\n"
        "\"multi\nline \"\"quote\"\"\",ctx,SELECT 1\n").encode())
    write(out, "records", "auto_csv", b"\x03\xef\xbb\xbfinstruction,input,response\nq,c,a\n")
    preds = [{"prediction": "SELECT COUNT(*) FROM users", "reference": "SELECT count(*) FROM users",
              "difficulty": "easy"},
             {"prediction": "select name from t where a = 'x'",
              "references": ["SELECT name FROM t WHERE a = 'x'", "SELECT t.name FROM t"],
              "db_path": "db/t.sqlite", "difficulty": "hard"}]
    write(out, "predictions", "jsonl", "\n".join(json.dumps(p) for p in preds) + "\n")
    state = {"format": "llmtune-train-state-1", "step": 4, "optimizer_steps": 4, "seed": 42,
             "batch_size": 2, "accumulation": 1, "world_size": 1, "micro_batches": 4,
             "epoch": 0.5}
    write(out, "train_state", "plain.json", json.dumps(state, indent=2))
    zero = dict(state, zero={"sharded": True, "world_size": 2, "stage": 2},
                loss_scaler={"scale": 65536.0, "good_steps": 3})
    write(out, "train_state", "zero.json", json.dumps(zero, indent=2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    out, shared = pathlib.Path(args.out), pathlib.Path(args.shared)
    seeds_safetensors(out)
    seeds_hf_model(out)
    seeds_peft_adapter(out)
    seeds_tokenizers(out, shared)
    seeds_jinja(out)
    seeds_configs(out, shared)
    seeds_data(out)


if __name__ == "__main__":
    main()
