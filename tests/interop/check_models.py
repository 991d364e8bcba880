"""Interop check 1, models, both ways, with the real Transformers.

Transformers -> llmtune: a tiny Llama with grouped-query attention (untied), a tied-embedding
Llama and a Mistral with a sliding window are created by Transformers and written with
save_pretrained (safetensors, one file and sharded by max_shard_size with an index); llmtune
loads each and must give Transformers' logits (<= 1e-4 of the largest) and greedy tokens.
llmtune -> Transformers: llmtune trains each a few steps (full training) and saves it, in one
file and in shards with model.safetensors.index.json; AutoModelForCausalLM.from_pretrained loads
both and must give llmtune's logits and greedy continuation.

usage: check_models.py --tool T --llmtune L --shared S --source R --out DIR
"""
import glob
import json
import os

import torch
from safetensors.torch import load_file, save_file

import common

TOL = 1e-4
GREEDY = 8


def hf_greedy(model, prompts):
    """Greedy tokens from model.generate, with no EOS stop (llmtune's tool does not stop)."""
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    with torch.no_grad():
        out = model.generate(prompts.long(), attention_mask=torch.ones_like(prompts.long()),
                             do_sample=False, max_new_tokens=GREEDY, min_new_tokens=GREEDY)
    return out[:, prompts.shape[1]:].int()


def logits(model, data):
    with torch.no_grad():
        return model(input_ids=data["input_ids"].long(),
                     attention_mask=data["attention_mask"].long()).logits


def main():
    a = common.parse_args(__doc__)
    torch.set_num_threads(2)
    print(common.versions())
    c = common.Checks("interop models")
    for i, case in enumerate(common.TINY):
        out = os.path.join(a.out, case)
        os.makedirs(out)
        model = common.make_tiny(case, seed=100 + i, scale=10)
        one, sharded = os.path.join(out, "hf"), os.path.join(out, "hf_sharded")
        model.save_pretrained(one, safe_serialization=True)
        model.save_pretrained(sharded, safe_serialization=True, max_shard_size="40KB")
        shards = glob.glob(os.path.join(sharded, "model-*.safetensors"))
        c.true(f"{case}: Transformers wrote {len(shards)} shards and an index",
               len(shards) > 1 and os.path.exists(os.path.join(sharded,
                                                               "model.safetensors.index.json")))
        data = common.token_data(model.config.vocab_size, seed=200 + i)
        save_file(data, os.path.join(out, "data.safetensors"))
        want = logits(model, data)
        want_greedy = hf_greedy(model, data["prompt_ids"])
        for d in (one, sharded):
            res = os.path.join(out, os.path.basename(d) + ".ours.safetensors")
            common.run([a.tool, "logits", d, os.path.join(out, "data.safetensors"), res,
                        "--greedy", GREEDY])
            ours = load_file(res)
            c.close(f"{case}: Transformers' {os.path.basename(d)} in llmtune: logits",
                    common.rel(ours["logits"], want), TOL)
            c.equal(f"{case}: Transformers' {os.path.basename(d)} in llmtune: greedy tokens",
                    ours["greedy"].tolist(), want_greedy.tolist())

        trained = os.path.join(out, "llmtune")
        print(common.run([a.tool, "train", one, os.path.join(out, "data.safetensors"), trained,
                          "--steps", 3, "--lr", 1e-2, "--greedy", GREEDY]).strip())
        ours = load_file(os.path.join(trained, "ours.safetensors"))
        c.true(f"{case}: llmtune's training changed the logits",
               common.rel(ours["logits"], want) > 1e-3)
        llm_shards = glob.glob(os.path.join(trained, "sharded", "model-*.safetensors"))
        with open(os.path.join(trained, "sharded", "model.safetensors.index.json")) as f:
            index = json.load(f)
        c.true(f"{case}: llmtune wrote {len(llm_shards)} shards and an index",
               len(llm_shards) > 1 and set(index["weight_map"].values()) ==
               {os.path.basename(s) for s in llm_shards})
        for d in ("model", "sharded"):
            hf = common.load_model(os.path.join(trained, d)).eval()
            c.close(f"{case}: llmtune-trained {d} in Transformers: logits",
                    common.rel(logits(hf, data), ours["logits"]), TOL)
            c.equal(f"{case}: llmtune-trained {d} in Transformers: greedy tokens",
                    hf_greedy(hf, data["prompt_ids"]).tolist(), ours["greedy"].tolist())
        if case == "llama_tied":
            hf = common.load_model(os.path.join(trained, "model"))
            c.true(f"{case}: loads tied (lm_head is embed_tokens)",
                   hf.lm_head.weight.data_ptr() == hf.model.embed_tokens.weight.data_ptr())
    c.finish()


if __name__ == "__main__":
    main()
