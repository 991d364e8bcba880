"""What the export checks (check_export.py, check_llama_cpp.py) share: training checkpoints with
`llmtune train`, running `llmtune export`, a SentencePiece tokenizer trained as the demo trains
its own, and the tensors a GGUF file should hold, computed here independently of llmtune: names
from the gguf package's own tensor map (llama.cpp's), q/k rows permuted as llama.cpp's
convert_hf_to_gguf.py permutes them.
"""
import glob
import json
import os

import numpy as np

import common


def train_config(model, dataset, lora, steps, lr, chat_template=None, batch=4, max_length=256):
    """A single-trial experiment: `steps` optimizer steps, a checkpoint at the end."""
    hp = {"model": model, "dataset": dataset, "dataset_subset": "all", "max_length": max_length,
          "lora": lora,
          "training_args": {"max_steps": steps, "per_device_train_batch_size": batch,
                            "learning_rate": lr, "warmup_steps": 2, "lr_scheduler_type": "linear",
                            "weight_decay": 0.0, "evaluation_strategy": "no",
                            "logging_steps": steps, "save_strategy": "steps", "save_steps": steps,
                            "seed": 42}}
    if chat_template:
        hp["chat_template"] = chat_template
    if lora:
        hp.update({"r": 8, "lora_alpha": 32, "lora_dropout": 0.0,
                   "lora_target_modules": "all-linear"})
    return {"name": "interop export", "resources": {"slots_per_trial": 1},
            "searcher": {"name": "single", "max_length": {"batches": steps},
                         "metric": "eval_loss", "smaller_is_better": True},
            "max_restarts": 0, "hyperparameters": hp}


def train(a, runs, config):
    """Runs `llmtune train`; returns the trial's last checkpoint directory."""
    trial = common.llmtune_train(a, config, runs)
    ckpts = sorted(glob.glob(os.path.join(trial, "checkpoint-*")),
                   key=lambda p: int(p.rsplit("-", 1)[1]))
    if not ckpts:
        print(f"no checkpoint under {trial}")
        raise SystemExit(1)
    return ckpts[-1]


def export(a, checkpoint, *args):
    """`llmtune export CHECKPOINT ARGS...`; its output is printed."""
    print(common.run([a.llmtune, "export", checkpoint, *args]).strip())


def train_spm(path, lines, vocab_size=1000):
    """A SentencePiece BPE model trained with the options of llmtune's sentencepiece_train (the
    demo's tokenizer): byte fallback, split digits, Llama's special ids, no normalization."""
    import sentencepiece as spm
    with open(path, "wb") as f:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=f, model_type="bpe",
            vocab_size=vocab_size, byte_fallback=True, split_digits=True, character_coverage=1.0,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, add_dummy_prefix=True,
            remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
            normalization_rule_name="identity", hard_vocab_limit=False, minloglevel=2)


def demo_tokenizer(a, out, rows):
    """OUT: the demo's kind of tokenizer, trained on the rows' prompts and answers, with
    llmtune's built-in Mistral chat template in tokenizer_config.json (as `llmtune demo`)."""
    os.makedirs(out, exist_ok=True)
    lines = [f"Task: {r['instruction']}\nSQL table: {r['input']}\nSQL query: " for r in rows]
    lines += [r["response"] for r in rows]
    train_spm(os.path.join(out, "tokenizer.model"), lines)
    config = {"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>",
              "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False,
              "model_max_length": 2048}
    common.write_json(os.path.join(out, "tokenizer_config.json"), config)
    cases, rendered = os.path.join(out, "cases.json"), os.path.join(out, "rendered.json")
    common.write_json(cases, [{"template": "mistral", "messages": [{"role": "user", "content": "x"}]}])
    common.run([a.tool, "chat", out, cases, rendered])
    with open(rendered) as f:
        config["chat_template"] = json.load(f)[0]["source"]
    common.write_json(os.path.join(out, "tokenizer_config.json"), config)
    for p in (cases, rendered):
        os.remove(p)
    return out


def permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute, in numpy."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def gguf_expected(state, config):
    """{GGUF name: float32 array} for a merged model's state dict, as the converter maps it."""
    import gguf
    n_layers = config["num_hidden_layers"]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    heads, kv = config["num_attention_heads"], config.get("num_key_value_heads")
    out = {}
    for hf, t in state.items():
        w = np.asarray(t, dtype=np.float32)
        if hf.endswith("q_proj.weight"):
            w = permute(w, heads)
        if hf.endswith("k_proj.weight"):
            w = permute(w, kv if kv is not None else heads)
        out[names.get_name(hf, try_suffixes=(".weight",))] = w
    return out


def field(reader, key):
    """A GGUF metadata value as Python (str, number, list), or None when absent."""
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def as_numpy(t):
    import torch
    return t.detach().to(torch.float32).numpy()
