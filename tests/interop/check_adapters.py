"""Interop check 2, LoRA adapters, both ways, with the real PEFT.

llmtune -> PEFT: on a tiny Llama (GQA) and a tiny Mistral made by Transformers, llmtune adds
an adapter with the reference workflow's LoraConfig (r 8, alpha 32, dropout 0.1, q_proj and
v_proj) and one on all seven projections, trains it a few steps (dropout on) and saves it;
PeftModel.from_pretrained must give llmtune's logits, and merge_and_unload() must give
llmtune's merged logits and the weights of llmtune's merged model directory.
PEFT -> llmtune: PEFT trains an adapter a few AdamW steps (so B != 0) and saves it with
save_pretrained; llmtune loads it and must give PEFT's logits, and its merge PEFT's merged
weights.

usage: check_adapters.py --tool T --llmtune L --shared S --source R --out DIR
"""
import json
import os

import torch
from safetensors.torch import load_file, save_file

import common

TOL = 1e-4
ALL7 = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def logits(model, data):
    with torch.no_grad():
        return model(input_ids=data["input_ids"].long(),
                     attention_mask=data["attention_mask"].long()).logits


def weights_rel(hf_state, path):
    """Worst relative difference between a merged state dict and llmtune's merged files."""
    ours = load_file(path)
    worst, name = 0.0, ""
    for n, t in hf_state.items():
        if n == "lm_head.weight" and n not in ours:
            continue
        e = common.rel(ours[n], t)
        if e >= worst:
            worst, name = e, n
    return worst, name, set(ours) - set(hf_state)


def peft_train(base_dir, data, targets, steps=5):
    """A PEFT adapter trained `steps` AdamW steps on the data's training stream."""
    from peft import LoraConfig, get_peft_model
    torch.manual_seed(5)
    model = common.load_model(base_dir)
    cfg = LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=32, lora_dropout=0.1,
                     target_modules=targets)
    pm = get_peft_model(model, cfg)
    opt = torch.optim.AdamW([p for p in pm.parameters() if p.requires_grad], lr=1e-2)
    pm.train()
    for s in range(steps):
        out = pm(input_ids=data["train.input_ids"][s].long(),
                 attention_mask=data["train.attention_mask"][s].long(),
                 labels=data["train.labels"][s].long())
        out.loss.backward()
        opt.step()
        opt.zero_grad()
    return pm.eval()


def main():
    from peft import PeftModel
    a = common.parse_args(__doc__)
    torch.set_num_threads(2)
    print(common.versions())
    c = common.Checks("interop adapters")
    for i, case in enumerate(("llama_gqa", "mistral_window")):
        out = os.path.join(a.out, case)
        os.makedirs(out)
        base = os.path.join(out, "base")
        common.make_tiny(case, seed=300 + i, scale=10).save_pretrained(base)
        data = common.token_data(300, seed=400 + i)
        data_path = os.path.join(out, "data.safetensors")
        save_file(data, data_path)
        base_logits = logits(common.load_model(base).eval(), data)

        for label, targets in (("reference q_proj,v_proj", ["q_proj", "v_proj"]),
                               ("all seven projections", ALL7)):
            run = os.path.join(out, "llmtune_" + str(len(targets)))
            common.run([a.tool, "train", base, data_path, run, "--steps", 4, "--lr", 2e-2,
                        "--lora", "8,32,0.1," + "+".join(targets)])
            ours = load_file(os.path.join(run, "ours.safetensors"))
            with open(os.path.join(run, "adapter", "adapter_config.json")) as f:
                conf = json.load(f)
            c.true(f"{case} {label}: adapter_config r 8, alpha 32, dropout 0.1, targets",
                   (conf["r"], conf["lora_alpha"], conf["lora_dropout"],
                    sorted(conf["target_modules"])) == (8, 32, 0.1, sorted(targets)), str(conf))
            pm = PeftModel.from_pretrained(common.load_model(base), os.path.join(run, "adapter"))
            pm.eval()
            b_norm = max(p.abs().max().item() for n, p in pm.named_parameters() if "lora_B" in n)
            c.true(f"{case} {label}: PEFT loaded trained B (max |B| {b_norm:.3f})", b_norm > 1e-3)
            got = logits(pm, data)
            c.true(f"{case} {label}: the adapter changes the logits",
                   common.rel(got, base_logits) > 1e-3)
            c.close(f"{case} {label}: llmtune's adapter in PEFT: logits",
                    common.rel(got, ours["logits"]), TOL)
            merged = pm.merge_and_unload()
            c.close(f"{case} {label}: PEFT merge_and_unload logits == llmtune merged",
                    common.rel(logits(merged, data), ours["merged_logits"]), TOL)
            worst, name, extra = weights_rel(merged.state_dict(),
                                             os.path.join(run, "merged", "model.safetensors"))
            c.close(f"{case} {label}: merged weights == llmtune's merged model (worst {name})",
                    worst, 1e-6)
            c.true(f"{case} {label}: llmtune's merged model has no adapter tensors", not extra,
                   str(extra))

        for label, targets in (("PEFT-trained q_proj,v_proj", None), ("PEFT-trained all seven", ALL7)):
            pm = peft_train(base, data, targets)
            adapter = os.path.join(out, "peft_" + ("default" if targets is None else "all7"))
            pm.save_pretrained(adapter)
            want = logits(pm, data)
            b_norm = max(p.abs().max().item() for n, p in pm.named_parameters() if "lora_B" in n)
            c.true(f"{case} {label}: B != 0 after PEFT's training (max |B| {b_norm:.3f})",
                   b_norm > 1e-3)
            res = os.path.join(out, os.path.basename(adapter) + ".ours.safetensors")
            merged_dir = os.path.join(out, os.path.basename(adapter) + "_merged")
            common.run([a.tool, "logits", base, data_path, res, "--adapter", adapter,
                        "--merge-save", merged_dir])
            c.close(f"{case} {label}: PEFT's adapter in llmtune: logits",
                    common.rel(load_file(res)["logits"], want), TOL)
            worst, name, _ = weights_rel(pm.merge_and_unload().state_dict(),
                                         os.path.join(merged_dir, "model.safetensors"))
            c.close(f"{case} {label}: llmtune's merge == merge_and_unload (worst {name})",
                    worst, 1e-6)
    c.finish()


if __name__ == "__main__":
    main()
