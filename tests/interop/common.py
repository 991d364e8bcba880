"""What the interop checks (tests/interop/check_*.py) share: their command line, skipping,
reporting each comparison with its measured error, running llmtune's interop_tool, and the tiny
models they build with Transformers.

Every check takes the same arguments (tests/interop/CMakeLists.txt passes them):
    --tool BUILD/tests/interop/interop_tool --llmtune BUILD/src/cli/llmtune
    --shared ../shared --source REPO --out BUILD/interop/NAME
It exits 0 when every comparison holds, 1 naming each one that does not, and 77 (ctest:
skipped) with the reason when something it needs is absent (../shared, or a library of the
other generation, see README "The real Hugging Face stack").
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

SKIP = 77


class Checks:
    """Collects comparisons; each prints one line with its measured error."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.count = 0

    def close(self, what, err, tol):
        """err <= tol passes; err is printed whatever happens."""
        self.count += 1
        ok = err <= tol
        print(f"{what:74s} {err:9.2e} <= {tol:.0e} {'ok' if ok else 'FAIL'}", flush=True)
        if not ok:
            self.failures.append(f"{what}: {err:.3e} > {tol:.0e}")

    def equal(self, what, ours, theirs, detail=""):
        """Exact equality; on a mismatch `detail` (or both values, shortened) is printed."""
        self.count += 1
        ok = ours == theirs
        print(f"{what:74s} {'equal' if ok else 'DIFFERENT'}", flush=True)
        if not ok:
            shown = detail or f"llmtune {str(ours)[:300]}\n    reference {str(theirs)[:300]}"
            print("    " + shown, flush=True)
            self.failures.append(what)

    def true(self, what, cond, detail=""):
        self.count += 1
        print(f"{what:74s} {'ok' if cond else 'FAIL'}", flush=True)
        if not cond:
            if detail:
                print("    " + detail, flush=True)
            self.failures.append(what)

    def finish(self):
        if self.count == 0:
            print(f"{self.name}: FAILED: no comparison ran")
            sys.exit(1)
        if self.failures:
            print(f"{self.name}: FAILED {len(self.failures)} of {self.count}:\n  " +
                  "\n  ".join(self.failures))
            sys.exit(1)
        print(f"{self.name}: all {self.count} comparisons hold")
        sys.exit(0)


def skip(why):
    print(f"skipped: {why}", flush=True)
    sys.exit(SKIP)


def need_module(name, why=""):
    """Imports a module. Missing from the project's .venv it is an error (the environment is
    broken); missing from another Python (LLMTUNE_INTEROP_PYTHON, e.g. the GPU machine's
    current releases) the check is skipped, naming it."""
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError as e:
        if os.environ.get("LLMTUNE_INTEROP_PYTHON"):
            skip(f"{sys.executable} cannot import {name} ({e}){'; ' + why if why else ''}")
        raise


def transformers_at_least(version):
    import transformers
    from packaging.version import Version
    return Version(transformers.__version__) >= Version(version)


def parse_args(doc, extra=None):
    p = argparse.ArgumentParser(description=doc)
    for name in ("tool", "llmtune", "shared", "source", "out"):
        p.add_argument("--" + name, required=True)
    if extra:
        extra(p)
    a = p.parse_args()
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    return a


def need_shared(a, *paths):
    """The absolute path of each, or a skip naming the first that is absent."""
    full = [os.path.join(a.shared, p) for p in paths]
    for f in full:
        if not os.path.exists(f):
            skip(f"{f} is absent (the tests reach ../shared through LLMTUNE_SHARED_DIR)")
    return full


def run(cmd, quiet=True, env=None):
    """Runs a command; its output is shown when it fails (and always when not quiet)."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if r.returncode != 0 or not quiet:
        sys.stdout.write(r.stdout)
        sys.stdout.write(r.stderr)
    if r.returncode != 0:
        print(f"command failed ({r.returncode}): {' '.join(str(c) for c in cmd)}")
        sys.exit(1)
    return r.stdout


def versions():
    import torch
    import transformers
    out = f"torch {torch.__version__}, transformers {transformers.__version__}"
    try:
        import peft
        out += f", peft {peft.__version__}"
    except ImportError:
        pass
    return out


def rel(a, b):
    """max |a - b| / max |b|."""
    a, b = a.detach().double(), b.detach().double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def load_model(path, **kw):
    """AutoModelForCausalLM in fp32 with eager attention, whichever Transformers generation."""
    import torch
    from transformers import AutoModelForCausalLM
    import transformers
    major = int(transformers.__version__.split(".")[0])
    dtype = {"dtype": torch.float32} if major >= 5 else {"torch_dtype": torch.float32}
    return AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager", **dtype, **kw)


TINY = {  # the models of checks 1 and 2
    "llama_gqa": dict(arch="llama", hidden_size=64, intermediate_size=112, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, vocab_size=300,
                      tie_word_embeddings=False, rope_theta=10000.0),
    "llama_tied": dict(arch="llama", hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=4, vocab_size=300,
                       tie_word_embeddings=True, rope_theta=500000.0),
    "mistral_window": dict(arch="mistral", hidden_size=64, intermediate_size=128,
                           num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                           vocab_size=300, tie_word_embeddings=False, rope_theta=1e6,
                           sliding_window=6),
}


def make_tiny(name, seed, scale=1.0, **over):
    """A Transformers-created tiny model with random weights (initializer_range scaled up so
    logits and attention are far from uniform)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM
    spec = dict(TINY[name]) if name in TINY else {}
    spec.update(over)
    arch = spec.pop("arch", "llama")
    cfg_cls, model_cls = ((MistralConfig, MistralForCausalLM) if arch == "mistral"
                          else (LlamaConfig, LlamaForCausalLM))
    spec.setdefault("max_position_embeddings", 256)
    spec.setdefault("rms_norm_eps", 1e-6)
    spec.setdefault("initializer_range", 0.02 * scale)
    spec.setdefault("bos_token_id", 1)
    spec.setdefault("eos_token_id", 2)
    cfg = cfg_cls(**spec)
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = model_cls(cfg).float().eval()
    with torch.no_grad():  # norm weights away from 1, so a missed norm shows
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
    return model


def token_data(vocab, seed, rows=3, seq=12, prompt=5, micro=8, micro_rows=2):
    """A padded batch (input_ids, attention_mask, labels), unpadded prompts and a training
    stream train.* of (micro, rows, seq), as int32 tensors for safetensors."""
    import torch
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (rows, seq), generator=g, dtype=torch.int32)
    am = torch.ones(rows, seq, dtype=torch.int32)
    am[1, seq - 4:] = 0  # right padding
    ids[1, seq - 4:] = 0
    labels = ids.clone()
    labels[am == 0] = -100
    labels[:, :2] = -100
    t_ids = torch.randint(3, vocab, (micro, micro_rows, seq), generator=g, dtype=torch.int32)
    t_am = torch.ones_like(t_ids)
    t_am[:, 0, seq - 3:] = 0
    t_ids[t_am == 0] = 0
    t_labels = t_ids.clone()
    t_labels[t_am == 0] = -100
    return {"input_ids": ids, "attention_mask": am, "labels": labels,
            "prompt_ids": torch.randint(3, vocab, (rows, prompt), generator=g, dtype=torch.int32),
            "train.input_ids": t_ids, "train.attention_mask": t_am, "train.labels": t_labels}


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)


SQL_SYSTEM = None  # llmtune's default system text is used by `llmtune train`


def read_sql_records(shared, n, start=0):
    """The first n records (after `start`) of the shared sql-create-context file, with the
    reference field names and the [SQL] wrapper removed."""
    import re
    out = []
    with open(os.path.join(shared, "data", "sql-create-context-4k.jsonl"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i < start:
                continue
            if len(out) == n:
                break
            r = json.loads(line)
            answer = re.sub(r"^\s*\[SQL\]\s*(.*?)\s*\[/SQL\]\s*$", r"\1", r["answer"], flags=re.S)
            out.append({"instruction": r["question"], "input": r["context"], "response": answer})
    return out


def write_dataset(path, train, valid, test=None):
    """A prepared dataset directory (train/valid/test.jsonl), as `llmtune data prepare` writes."""
    os.makedirs(path, exist_ok=True)
    for name, rows in (("train", train), ("valid", valid), ("test", test or valid)):
        with open(os.path.join(path, name + ".jsonl"), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


def tiny_with_tokenizer(path, tokenizer_dir, seed, **over):
    """A tiny Transformers Llama with the vocabulary of tokenizer_dir, saved with its tokenizer
    files: a model directory `llmtune train` and Transformers both load."""
    spec = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, vocab_size=32000, tie_word_embeddings=False)
    spec.update(over)
    make_tiny(None, seed, scale=1.0, **spec).save_pretrained(path)
    for f in os.listdir(tokenizer_dir):
        shutil.copy(os.path.join(tokenizer_dir, f), path)


def llmtune_train(a, config, runs, name="config.yaml"):
    """Runs `llmtune train` on a config (a dict, written as YAML); returns the trial directory."""
    import yaml
    os.makedirs(runs, exist_ok=True)
    path = os.path.join(runs, name)
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    run([a.llmtune, "train", path, "--runs", runs, "--quiet"])
    trials = sorted(d for d in glob_dirs(runs) if os.path.isdir(os.path.join(d, "tensorboard")))
    if len(trials) != 1:
        print(f"expected one trial directory under {runs}, found {trials}")
        sys.exit(1)
    return trials[0]


def glob_dirs(root):
    out = []
    for dirpath, dirnames, _ in os.walk(root):
        out += [os.path.join(dirpath, d) for d in dirnames]
    return out


def store_metrics(runs, group):
    """{step: metrics} of the store's one trial for a group ("training", "validation"); rows of
    the same step (the last step's log and the run's summary) are merged."""
    import sqlite3
    db = sqlite3.connect(os.path.join(runs, "llmtune.db"))
    rows = db.execute('SELECT step, metrics FROM metrics WHERE "group" = ? ORDER BY id',
                      (group,)).fetchall()
    out = {}
    for step, m in rows:
        for k, v in json.loads(m).items():
            if k in out.setdefault(step, {}):
                print(f"store: {group} step {step} holds {k} twice")
                sys.exit(1)
            out[step][k] = v
    return out
