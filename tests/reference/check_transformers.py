#!/usr/bin/env python3
"""Checks the PyTorch oracle and llmtune's saved files with the real Transformers and PEFT.

The oracle (make_reference.py) re-implements Transformers/PEFT math without those libraries,
because they are not Debian packages. Where they are installed (the GPU machines), this script
closes the loop:
  1. Transformers' LlamaForCausalLM / MistralForCausalLM and PEFT load each reference case
     (config.json, model.safetensors, adapter/) and must reproduce the oracle's logits, loss,
     every gradient, LoRA gradients and merge_and_unload() logits.
  2. They load what llmtune saved (interop_export: fp32, sharded and bf16 model directories and
     a trained adapter) and must reproduce llmtune's own logits.

A case Transformers cannot read (llama3 rope scaling before 4.43) is reported and left out.
ctest runs it as interop_reference_cases (label interop) in the project's .venv.

usage: check_transformers.py REFERENCE_DIR INTEROP_DIR     (exit 1 on any mismatch)
"""
import json
import sys

import torch
from packaging.version import Version
import transformers
import peft
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

CASES = ["llama_gqa", "mistral_window", "llama_tied", "llama_linear"]
TOL = 1e-4
failures = []


def rel(a, b):
    a, b = a.detach().float(), b.detach().float()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def check(case, what, err, tol=TOL):
    ok = err <= tol
    print(f"{case:15s} {what:58s} {err:.2e} {'ok' if ok else 'FAIL'}", flush=True)
    if not ok:
        failures.append(f"{case} {what}: {err:.3e}")


def load(path):
    dtype = "dtype" if Version(transformers.__version__).major >= 5 else "torch_dtype"
    return AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager",
                                                **{dtype: torch.float32})


def run(model, data):
    model.train()
    return model(input_ids=data["input_ids"].long(),
                 attention_mask=data["attention_mask"].long(),
                 labels=data["labels"].long())


def main():
    ref, inter = sys.argv[1], sys.argv[2]
    torch.set_num_threads(4)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"peft {peft.__version__}")
    transformers.utils.logging.disable_progress_bar()
    for case in CASES:
        with open(f"{ref}/{case}/config.json") as f:
            rope = json.load(f).get("rope_scaling") or {}
        if rope.get("rope_type") == "llama3" and Version(transformers.__version__) < Version("4.43"):
            print(f"{case:15s} skipped: Transformers {transformers.__version__} predates llama3 "
                  "rope scaling (4.43); the PyTorch oracle (make_reference.py) covers it")
            continue
        exp = load_file(f"{ref}/{case}/expected.safetensors")
        data = load_file(f"{ref}/{case}/data.safetensors")
        ours = load_file(f"{inter}/{case}/ours.safetensors")

        model = load(f"{ref}/{case}")
        out = run(model, data)
        check(case, "oracle logits == transformers", rel(out.logits, exp["logits"]))
        check(case, "oracle loss == transformers", rel(out.loss, exp["loss"]), 1e-5)
        out.loss.backward()
        worst, name = 0.0, ""
        for n, p in model.named_parameters():
            e = rel(p.grad, exp["grad." + n])
            if e >= worst:
                worst, name = e, n
        check(case, f"oracle gradients == transformers (worst {name})", worst)

        pm = PeftModel.from_pretrained(load(f"{ref}/{case}"), f"{ref}/{case}/adapter",
                                       is_trainable=True)
        out = run(pm, data)
        check(case, "oracle LoRA logits == peft", rel(out.logits, exp["lora.logits"]))
        out.loss.backward()
        worst, count = 0.0, 0
        for n, p in pm.named_parameters():
            if "lora_" in n:
                worst = max(worst, rel(p.grad, exp["lora.grad." + n.replace(".default", "")]))
                count += 1
        check(case, f"oracle LoRA gradients == peft ({count} tensors)", worst)
        merged = pm.merge_and_unload()
        with torch.no_grad():
            out = run(merged, data)
        check(case, "oracle merged logits == peft merge_and_unload", rel(out.logits,
                                                                       exp["merged.logits"]))

        for d, key in (("full_f32", "full"), ("full_sharded", "full"), ("full_bf16", "bf16")):
            with torch.no_grad():
                out = run(load(f"{inter}/{case}/{d}"), data)
            check(case, f"llmtune-saved {d} loads; logits == llmtune's", rel(out.logits, ours[key]))
        pm = PeftModel.from_pretrained(load(f"{ref}/{case}"), f"{inter}/{case}/adapter")
        with torch.no_grad():
            out = run(pm, data)
        check(case, "llmtune-saved trained adapter loads; logits == llmtune's",
              rel(out.logits, ours["lora_trained"]))
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
