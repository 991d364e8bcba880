"""The reference stack itself as a peer of bench/train_step: Hugging Face Transformers'
LlamaForCausalLM (eager attention, fp32) trained by Transformers' Trainer, with PEFT's LoRA
(r 8, alpha 32, dropout 0.1 on q_proj and v_proj) in lora mode, PyTorch on 2 threads. The
model shape and the batch are bench/train_step's.

A step is one iteration of the Trainer's own loop (data collation, forward, backward,
gradient clipping, AdamW, the learning-rate schedule, zeroing the gradients), timed from its
on_step_begin to its on_step_end callback; the callback also waits for the bench's commands,
so the Trainer runs one step per "step" line.

Driven over stdin/stdout by bench/train_step (same protocol as train_step_peer.py):
  argv: --mode full|lora --hidden ... (the options of train_step_peer.py)
  prints "ready" once the Trainer starts; then for each input line:
    "step"  -> one Trainer step; prints "<seconds> <loss>"
    "mem"   -> the process's peak RSS in bytes since the last "mem" (VmHWM, then reset)
    "quit"  -> exits
Needs the project's .venv (scripts/install-deps.sh): .venv/bin/python bench/hf_trainer_peer.py
"""
import os
import sys
import tempfile
import time
import warnings

import torch

from train_step_peer import parse, peak_rss_and_reset


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    warnings.filterwarnings("ignore")
    from transformers import (LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback,
                              TrainingArguments)
    from transformers.utils import logging
    logging.set_verbosity_error()
    cfg = LlamaConfig(hidden_size=a.hidden, num_hidden_layers=a.layers,
                      num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                      intermediate_size=a.intermediate, vocab_size=a.vocab, rms_norm_eps=1e-5,
                      max_position_embeddings=max(2048, a.seq))
    cfg._attn_implementation = "eager"
    model = LlamaForCausalLM(cfg).float()
    if a.mode == "lora":
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=a.lora_r,
                                                 lora_alpha=a.lora_alpha,
                                                 lora_dropout=a.lora_dropout))
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)
    steps = 10000
    rows = [{"input_ids": ids[i % a.batch]} for i in range(a.batch * steps)]

    def collate(batch):
        x = torch.stack([r["input_ids"] for r in batch])
        return {"input_ids": x, "attention_mask": torch.ones_like(x), "labels": x}

    state = {"t0": 0.0, "loss": float("nan")}

    def wait_for_step():
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "step":
                return
            if cmd == "mem":
                print(peak_rss_and_reset(), flush=True)
            elif cmd == "quit":
                sys.stdout.flush()
                os._exit(0)
        os._exit(0)

    class Driver(TrainerCallback):
        def on_train_begin(self, args, st, control, **kw):
            print("ready", flush=True)

        def on_step_begin(self, args, st, control, **kw):
            wait_for_step()
            state["t0"] = time.perf_counter()

        def on_step_end(self, args, st, control, **kw):
            print(f"{time.perf_counter() - state['t0']:.6f} {state['loss']:.6f}", flush=True)

    class Timed(Trainer):
        def training_step(self, *args, **kw):
            loss = super().training_step(*args, **kw)
            state["loss"] = loss.item()
            return loss

    fields = TrainingArguments.__dataclass_fields__
    strategy = {"evaluation_strategy" if "evaluation_strategy" in fields else "eval_strategy": "no"}
    args = TrainingArguments(output_dir=tempfile.mkdtemp(prefix="hf_peer_"), max_steps=steps,
                             per_device_train_batch_size=a.batch, learning_rate=1e-4,
                             logging_steps=steps, save_strategy="no", report_to=[],
                             use_cpu=True, disable_tqdm=True, remove_unused_columns=False,
                             dataloader_num_workers=0, **strategy)
    Timed(model=model, args=args, train_dataset=rows, data_collator=collate,
          callbacks=[Driver()]).train()


if __name__ == "__main__":
    main()
