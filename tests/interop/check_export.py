"""Interop check: `llmtune export` against Transformers, PEFT and llama.cpp's gguf package.

A tiny Llama made by Transformers with the Llama 2 tokenizer (tokenizer.json and
tokenizer.model; a ChatML chat template added to its tokenizer_config.json) is finetuned by
`llmtune train`, with LoRA on all seven projections and fully, a few steps each. Then:
1. LoRA --merge --out (f32): AutoModelForCausalLM gives llmtune's logits (base + adapter);
2. LoRA --merge --out --dtype bf16 --max-shard-size 100KB: shards with an index, BF16 tensors,
   torch_dtype bfloat16; Transformers' logits equal llmtune's on that directory;
3. the full checkpoint --out: Transformers' logits equal llmtune's of the checkpoint;
4. LoRA --out without --merge: PeftModel over the base gives llmtune's logits;
5. AutoTokenizer loads the exported directories: tokenizer files identical, chat template kept;
6. GGUF f16, q8_0 and f32, read by gguf's GGUFReader: every tensor against the merged weights of
   (1), named by gguf's own tensor map and permuted as convert_hf_to_gguf.py does: F16 and F32
   exactly, Q8_0 byte for byte as gguf.quants quantizes and within half a step of each block's
   scale once dequantized; the metadata against config.json; the vocabulary against gguf's
   SentencePieceVocab plus the converter's added-token rule; special tokens, add_bos/add_eos
   and the chat template against gguf's SpecialVocab of the exported directory;
7. the comparisons can fail: q/k left unpermuted, and a Q8_0 scale doubled, are reported.

usage: check_export.py --tool T --llmtune L --shared S --source R --out DIR
"""
import filecmp
import json
import os
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

import common
import export_helpers as eh

TOL = 1e-4
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|im_start|>assistant\\n' }}{% endif %}")


def logits(model, data):
    with torch.no_grad():
        return model(input_ids=data["input_ids"].long(),
                     attention_mask=data["attention_mask"].long()).logits


def ours(a, model_dir, data_path, out, adapter=None):
    cmd = [a.tool, "logits", model_dir, data_path, out]
    common.run(cmd + (["--adapter", adapter] if adapter else []))
    return load_file(out)["logits"]


def prepare(a, llama):
    """The base model (Transformers), its tokenizer with a chat template, and two checkpoints."""
    tok = os.path.join(a.out, "tokenizer")
    os.makedirs(tok)
    for f in os.listdir(llama):
        if f != "tokenizer_config.json":
            os.symlink(os.path.join(llama, f), os.path.join(tok, f))
    with open(os.path.join(llama, "tokenizer_config.json")) as f:
        config = json.load(f)
    config["chat_template"] = CHATML
    common.write_json(os.path.join(tok, "tokenizer_config.json"), config)
    base = os.path.join(a.out, "base")
    common.tiny_with_tokenizer(base, tok, seed=21, intermediate_size=80)
    dataset = os.path.join(a.out, "data")
    rows = common.read_sql_records(a.shared, 36)
    common.write_dataset(dataset, rows[:32], rows[32:])
    lora = eh.train(a, os.path.join(a.out, "runs_lora"),
                    eh.train_config(base, dataset, True, 8, 2e-2, "llama-2"))
    full = eh.train(a, os.path.join(a.out, "runs_full"),
                    eh.train_config(base, dataset, False, 8, 2e-3, "llama-2"))
    return tok, base, lora, full


def check_hf(a, c, base, lora, full, data_path, data):
    hf = lambda d: logits(common.load_model(d).eval(), data)  # noqa: E731
    out = lambda n: os.path.join(a.out, n)  # noqa: E731
    eh.export(a, lora, "--merge", "--out", out("merged_f32"), "--dtype", "f32")
    want = ours(a, base, data_path, out("lora.ours.safetensors"), adapter=lora)
    c.true("LoRA changed the logits", common.rel(want, logits(common.load_model(base), data)) > 1e-3)
    c.close("LoRA merged --out f32 in Transformers: logits == llmtune's (base + adapter)",
            common.rel(hf(out("merged_f32")), want), TOL)

    eh.export(a, lora, "--merge", "--out", out("merged_bf16"), "--dtype", "bf16",
              "--max-shard-size", "100KB")
    with open(out("merged_bf16/model.safetensors.index.json")) as f:
        shards = set(json.load(f)["weight_map"].values())
    c.true(f"bf16 export: {len(shards)} shards and an index",
           len(shards) > 1 and all(os.path.exists(out("merged_bf16/" + s)) for s in shards))
    dtypes = {t.dtype for s in shards for t in load_file(out("merged_bf16/" + s)).values()}
    with open(out("merged_bf16/config.json")) as f:
        torch_dtype = json.load(f)["torch_dtype"]
    c.equal("bf16 export: tensors BF16, config.json torch_dtype", (dtypes, torch_dtype),
            ({torch.bfloat16}, "bfloat16"))
    c.close("LoRA merged --out bf16 in Transformers: logits == llmtune's on that directory",
            common.rel(hf(out("merged_bf16")), ours(a, out("merged_bf16"), data_path,
                                                    out("bf16.ours.safetensors"))), TOL)

    eh.export(a, full, "--out", out("full"))
    c.close("full checkpoint --out in Transformers: logits == llmtune's of the checkpoint",
            common.rel(hf(out("full")), ours(a, full, data_path, out("full.ours.safetensors"))),
            TOL)

    from peft import PeftModel
    eh.export(a, lora, "--out", out("adapter"))
    pm = PeftModel.from_pretrained(common.load_model(base), out("adapter")).eval()
    c.close("LoRA --out (adapter) in PeftModel over the base: logits == llmtune's",
            common.rel(logits(pm, data), want), TOL)

    from transformers import AutoTokenizer
    for d in ("merged_f32", "full", "adapter"):
        same = all(filecmp.cmp(os.path.join(lora, f), out(f"{d}/{f}"), shallow=False)
                   for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json"))
        t = AutoTokenizer.from_pretrained(out(d))
        c.true(f"{d}: tokenizer files identical to the checkpoint's; AutoTokenizer loads them "
               "with the chat template", same and t.chat_template == CHATML)


def expected_vocab(tok_dir, n_vocab):
    """tokens, scores, types as convert_hf_to_gguf.py's _create_vocab_sentencepiece makes them."""
    import gguf
    v = gguf.SentencePieceVocab(Path(tok_dir))
    tokens = [f"[PAD{i}]" for i in range(n_vocab)]
    scores, types = [-10000.0] * n_vocab, [int(gguf.TokenType.UNUSED)] * n_vocab
    for i, (text, score, toktype) in enumerate(v.all_tokens()):
        tokens[i], scores[i], types[i] = text.decode("utf-8"), score, int(toktype)
    with open(os.path.join(tok_dir, "tokenizer_config.json")) as f:
        for key, t in json.load(f).get("added_tokens_decoder", {}).items():
            special = t.get("special") or t["content"].startswith("<|")
            tokens[int(key)] = t["content"] if special else t["content"].replace("\u2581", " ")
            scores[int(key)] = -1000.0
            types[int(key)] = int(gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED)
    return tokens, scores, types


def check_metadata(c, tag, r, config, hf_dir, ftype):
    import gguf
    want = {"general.architecture": "llama", "general.file_type": ftype,
            "general.quantization_version": 2,
            "llama.block_count": config["num_hidden_layers"],
            "llama.context_length": config["max_position_embeddings"],
            "llama.embedding_length": config["hidden_size"],
            "llama.feed_forward_length": config["intermediate_size"],
            "llama.attention.head_count": config["num_attention_heads"],
            "llama.attention.head_count_kv": config["num_key_value_heads"],
            "llama.rope.freq_base": np.float32(config["rope_theta"]),
            "llama.attention.layer_norm_rms_epsilon": np.float32(config["rms_norm_eps"]),
            "llama.vocab_size": config["vocab_size"],
            "llama.rope.dimension_count": config["hidden_size"] // config["num_attention_heads"],
            "tokenizer.ggml.model": "llama", "tokenizer.ggml.pre": "default"}
    got = {k: eh.field(r, k) for k in want}
    c.equal(f"{tag}: architecture metadata as config.json says", got, want)
    tokens, scores, types = expected_vocab(hf_dir, config["vocab_size"])
    c.equal(f"{tag}: tokens as SentencePieceVocab + added_tokens_decoder",
            eh.field(r, "tokenizer.ggml.tokens"), tokens)
    c.equal(f"{tag}: scores", list(np.float32(eh.field(r, "tokenizer.ggml.scores"))),
            list(np.float32(scores)))
    c.equal(f"{tag}: token types", eh.field(r, "tokenizer.ggml.token_type"), types)
    sv = gguf.SpecialVocab(Path(hf_dir), n_vocab=config["vocab_size"])
    special = {t: eh.field(r, f"tokenizer.ggml.{k}_token_id")
               for t, k in (("bos", "bos"), ("eos", "eos"), ("unk", "unknown"), ("pad", "padding"))}
    add = {t: eh.field(r, f"tokenizer.ggml.add_{t}_token") for t in ("bos", "eos")}
    c.equal(f"{tag}: special ids, add_bos/add_eos, chat template as gguf's SpecialVocab",
            (special, add, eh.field(r, "tokenizer.chat_template")),
            ({t: sv.special_token_ids.get(t) for t in special},
             {t: sv.add_special_token.get(t) for t in add}, sv.chat_template))


def tensor_differences(r, expected, qtype_of):
    """Names of the file's tensors that differ from `expected` (stored in their type), plus the
    worst Q8_0 error as a fraction of the allowed half step."""
    import gguf
    Q = gguf.GGMLQuantizationType
    bad, worst = [], 0.0
    if sorted(t.name for t in r.tensors) != sorted(expected):
        bad.append("the set of tensor names")
    for t in r.tensors:
        w = expected.get(t.name)
        if w is None:
            continue
        qtype = qtype_of(t.name, w)
        same_shape = list(t.shape) == list(reversed(w.shape)) and t.tensor_type == qtype
        if qtype == Q.Q8_0:
            ok = same_shape and np.array_equal(t.data, gguf.quants.quantize(w, Q.Q8_0))
            blocks = w.reshape(-1, 32)
            d = np.abs(blocks).max(axis=1, keepdims=True) / 127
            bound = d / 2 + 127 * np.abs(d.astype(np.float16).astype(np.float32) - d) + 1e-12
            err = np.abs(gguf.quants.dequantize(t.data, Q.Q8_0).reshape(-1, 32) - blocks)
            worst = max(worst, float((err / bound).max()))
            ok = ok and (err <= bound).all()
        else:
            want = w.astype(np.float16 if qtype == Q.F16 else np.float32)
            ok = same_shape and np.array_equal(np.asarray(t.data).reshape(w.shape), want)
        if not ok:
            bad.append(t.name)
    return bad, worst


def check_gguf(a, c, lora, config):
    import gguf
    Q = gguf.GGMLQuantizationType
    merged = load_file(os.path.join(a.out, "merged_f32", "model.safetensors"))
    expected = eh.gguf_expected({k: eh.as_numpy(v) for k, v in merged.items()}, config)
    for flag, ftype, mtype in (("f16", 1, Q.F16), ("q8_0", 7, Q.Q8_0), ("f32", 0, Q.F32)):
        path = os.path.join(a.out, f"lora.{flag}.gguf")
        eh.export(a, lora, "--gguf", path, "--type", flag)
        r = gguf.GGUFReader(path)

        def qtype_of(name, w, mtype=mtype):
            if w.ndim == 1 or name.endswith("_norm.weight"):
                return Q.F32
            return Q.F16 if mtype == Q.Q8_0 and w.shape[-1] % 32 else mtype
        bad, worst = tensor_differences(r, expected, qtype_of)
        c.true(f"{flag}: all {len(r.tensors)} tensors == the merged weights, converter names and "
               f"permutation{f' (Q8_0 error <= {worst:.2f} of half a step)' if worst else ''}",
               not bad, f"different: {bad}")
        check_metadata(c, flag, r, config, os.path.join(a.out, "merged_f32"), ftype)
        if flag == "q8_0":
            c.true("q8_0: ffn_down (rows of 80) fell back to F16, as the converter does",
                   next(t for t in r.tensors
                        if t.name == "blk.0.ffn_down.weight").tensor_type == Q.F16)
            check_can_fail(c, r, expected, qtype_of, config)


def check_can_fail(c, r, expected, qtype_of, config):
    """The comparisons see a missing permutation and a wrong Q8_0 scale."""
    import gguf
    unpermuted = dict(expected)
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    for name in expected:
        n = heads if ".attn_q." in name else kv if ".attn_k." in name else 0
        if n:
            w = expected[name]
            unpermuted[name] = (w.reshape(n, w.shape[0] // n // 2, 2, -1).swapaxes(1, 2)
                                .reshape(w.shape))
    bad, _ = tensor_differences(r, unpermuted, qtype_of)
    c.equal("can fail: q/k without the permutation differ (and nothing else)", sorted(bad),
            sorted(n for n in expected if ".attn_q." in n or ".attn_k." in n))
    t = next(t for t in r.tensors if t.name == "blk.0.attn_v.weight")
    data = np.array(t.data)
    d = data[0, :2].view(np.float16)
    data[0, :2] = (d * 2).view(np.uint8)
    blocks = expected[t.name].reshape(-1, 32)
    err = np.abs(gguf.quants.dequantize(data, gguf.GGMLQuantizationType.Q8_0).reshape(-1, 32)
                 - blocks)
    dd = np.abs(blocks).max(axis=1, keepdims=True) / 127
    c.true("can fail: a doubled Q8_0 scale breaks the half-step bound",
           not (err <= dd / 2 + 127 * np.abs(dd.astype(np.float16).astype(np.float32) - dd)).all())


def main():
    a = common.parse_args(__doc__)
    llama, _ = common.need_shared(a, "fixtures/llama2-tokenizer", "data/sql-create-context-4k.jsonl")
    common.need_module("gguf", "llama.cpp's gguf package (scripts/requirements.txt)")
    torch.set_num_threads(2)
    print(common.versions() + ", gguf " + version("gguf"))
    c = common.Checks("interop export")
    tok, base, lora, full = prepare(a, llama)
    data = common.token_data(32000, seed=5)
    data_path = os.path.join(a.out, "data.safetensors")
    save_file(data, data_path)
    check_hf(a, c, base, lora, full, data_path, data)
    with open(os.path.join(a.out, "merged_f32", "config.json")) as f:
        config = json.load(f)
    check_gguf(a, c, lora, config)
    c.finish()


if __name__ == "__main__":
    main()
