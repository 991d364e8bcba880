#!/usr/bin/python3
"""Independent PyTorch oracle for llmtune.

Writes tiny, deterministic reference cases (config, weights, LoRA adapter,
data, expected logits / losses / gradients / training trajectories) that the
C++ engine is tested against.

The math is written from scratch in plain PyTorch (autograd) and follows
Hugging Face transformers 4.37 `LlamaForCausalLM` / `MistralForCausalLM`
(eager attention) and PEFT 0.8.2 LoRA, all in float32.  No transformers,
peft or safetensors packages are used.

Usage:
    /usr/bin/python3 tests/reference/make_reference.py --out DIR
    /usr/bin/python3 tests/reference/make_reference.py --check DIR
    /usr/bin/python3 tests/reference/make_reference.py --selftest

See tests/reference/README.md for the file layout and semantics.
"""

import argparse
import json
import math
import os
import shutil
import struct
import sys
import tempfile

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------
# Global settings shared by all cases
# ----------------------------------------------------------------------------

BATCH = 3          # rows of the single forward/backward batch
SEQ = 12           # sequence length T
STEPS = 10         # optimizer steps of the training stream
ACCUM = 2          # micro-batches per optimizer step
MICRO = 2          # rows per micro-batch
PAD_ID = 2         # pad token (= eos, as in the blog pipeline)
IGNORE = -100

FULL_LR = 1e-2
LORA_LR = 2e-2
BETAS = (0.9, 0.95)
ADAM_EPS = 1e-8
WEIGHT_DECAY = 0.1
MAX_GRAD_NORM = 0.5

# Weight init (chosen so activations, attention patterns and logits are
# clearly non-trivial; see README).
EMBED_STD = 1.0      # model.embed_tokens.weight (untied; tied uses LM_HEAD_STD)
PROJ_STD = 0.1       # q/k/v/o/gate/up/down_proj.weight
LM_HEAD_STD = 0.2    # lm_head.weight (untied cases)
NORM_JITTER = 0.1    # RMSNorm weights = 1 + NORM_JITTER * randn
LORA_B_STD = 0.02    # LoRA B ~ N(0, 0.02)  (NOT zero, so A gets gradients)

LORA_MODULE_ORDER = ["q_proj", "k_proj", "v_proj", "o_proj",
                     "gate_proj", "up_proj", "down_proj"]
ALL_TARGETS = list(LORA_MODULE_ORDER)

CASES = [
    dict(name="llama_gqa", seed=1001, arch="llama", hidden=64, inter=160,
         layers=2, heads=4, kv_heads=2, vocab=256, tie=False,
         rope_theta=10000.0, rope_scaling=None, rms_norm_eps=1e-6,
         sliding_window=None,
         lora=dict(r=4, alpha=8, targets=ALL_TARGETS, use_rslora=False)),
    dict(name="mistral_window", seed=1002, arch="mistral", hidden=64,
         inter=128, layers=2, heads=4, kv_heads=2, vocab=256, tie=False,
         rope_theta=1000000.0, rope_scaling=None, rms_norm_eps=1e-6,
         sliding_window=5,
         lora=dict(r=8, alpha=32, targets=["q_proj", "v_proj"],
                   use_rslora=False)),
    # NOTE: original_max_position_embeddings is 64 (not 32) so that, with
    # head_dim 16 and theta 5e5, the llama3 rule has one high-frequency, one
    # medium (smoothed) and six low-frequency components.  With 32 no
    # component falls in the medium band and the smoothing is never used.
    dict(name="llama_tied", seed=1003, arch="llama", hidden=64, inter=96,
         layers=2, heads=4, kv_heads=4, vocab=256, tie=True,
         rope_theta=500000.0,
         rope_scaling={"factor": 8.0, "high_freq_factor": 4.0,
                       "low_freq_factor": 1.0,
                       "original_max_position_embeddings": 64,
                       "rope_type": "llama3"},
         rms_norm_eps=1e-6, sliding_window=None,
         lora=dict(r=4, alpha=16, targets=["q_proj", "v_proj", "o_proj"],
                   use_rslora=True)),
    dict(name="llama_linear", seed=1004, arch="llama", hidden=32, inter=64,
         layers=3, heads=2, kv_heads=1, vocab=128, tie=False,
         rope_theta=10000.0, rope_scaling={"factor": 2.0, "type": "linear"},
         rms_norm_eps=1e-5, sliding_window=None,
         lora=dict(r=2, alpha=4, targets=["gate_proj", "up_proj", "down_proj"],
                   use_rslora=False)),
]


class Cfg:
    def __init__(self, case):
        self.__dict__.update(case)
        self.head_dim = self.hidden // self.heads
        self.n_rep = self.heads // self.kv_heads


# ----------------------------------------------------------------------------
# safetensors writer (INTEROP §1): F32 / I32
# ----------------------------------------------------------------------------

_ST_CODES = {torch.float32: ("F32", "f", 4), torch.int32: ("I32", "i", 4)}
# Position in the Rust Dtype enum (only relative order matters): the Rust
# writer sorts by dtype descending, then by name ascending.
_ST_RANK = {"I32": 15, "F32": 17}


def save_safetensors(path, tensors):
    items = []
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in _ST_CODES:
            raise TypeError("unsupported dtype %s for %s" % (t.dtype, name))
        code, fmt, _ = _ST_CODES[t.dtype]
        data = struct.pack("<%d%s" % (t.numel(), fmt), *t.reshape(-1).tolist())
        items.append((name, code, [int(s) for s in t.shape], data))
    items.sort(key=lambda it: (-_ST_RANK[it[1]], it[0]))
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, code, shape, data in items:
        header[name] = {"dtype": code, "shape": shape,
                        "data_offsets": [off, off + len(data)]}
        off += len(data)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for it in items:
            f.write(it[3])


def write_json(path, obj, trailing_newline=True):
    text = json.dumps(obj, indent=2, sort_keys=True)
    if trailing_newline:
        text += "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# ----------------------------------------------------------------------------
# Model math (HF modeling_llama.py / modeling_mistral.py, transformers 4.37)
# ----------------------------------------------------------------------------

def rope_inv_freq(cfg):
    d = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2).float() / d))
    rs = cfg.rope_scaling
    if rs is not None and rs.get("rope_type", rs.get("type")) == "llama3":
        # transformers modeling_rope_utils._compute_llama3_parameters
        factor = rs["factor"]
        lo = rs["low_freq_factor"]
        hi = rs["high_freq_factor"]
        old_ctx = rs["original_max_position_embeddings"]
        low_freq_wavelen = old_ctx / lo
        high_freq_wavelen = old_ctx / hi
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen,
                                     inv_freq / factor, inv_freq)
        smooth = (old_ctx / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama
        is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        inv_freq = torch.where(is_medium, smoothed, inv_freq_llama)
    return inv_freq


def rope_cos_sin(cfg, seq_len, dtype):
    """cos/sin tables [T, head_dim], built in float32 like HF, cast to dtype."""
    inv_freq = rope_inv_freq(cfg)
    t = torch.arange(seq_len, dtype=inv_freq.dtype)
    rs = cfg.rope_scaling
    if rs is not None and rs.get("rope_type", rs.get("type")) == "linear":
        t = t / rs["factor"]  # LlamaLinearScalingRotaryEmbedding
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, n_kv, s, d = x.shape
    if n_rep == 1:
        return x
    x = x[:, :, None, :, :].expand(b, n_kv, n_rep, s, d)
    return x.reshape(b, n_kv * n_rep, s, d)


def rms_norm(x, weight, eps):
    input_dtype = x.dtype
    h = x.to(torch.float32) if input_dtype == torch.float32 else x
    variance = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(variance + eps)
    return weight * h.to(input_dtype)


def attention_mask_4d(cfg, attention_mask, dtype):
    """Additive mask [B,1,T,T]: 0 where visible, finfo(dtype).min elsewhere.

    Visible: key j <= query i, key not padded (attention_mask == 1) and, for a
    non-null sliding_window W, i - W < j.
    """
    bsz, t = attention_mask.shape
    i = torch.arange(t)[:, None]
    j = torch.arange(t)[None, :]
    visible = j <= i
    if cfg.sliding_window is not None:
        visible = visible & (j > i - cfg.sliding_window)
    allowed = visible[None, :, :] & (attention_mask[:, None, :] != 0)
    mask = torch.zeros(bsz, 1, t, t, dtype=dtype)
    return mask.masked_fill(~allowed[:, None, :, :], torch.finfo(dtype).min)


class Lora:
    """LoRA adapter state: module path -> (A [r,in], B [out,r]); scaling."""

    def __init__(self, cfg, params):
        lc = cfg.lora
        self.scaling = (lc["alpha"] / math.sqrt(lc["r"]) if lc["use_rslora"]
                        else lc["alpha"] / lc["r"])
        self.params = params  # peft tensor name -> tensor
        self.modules = {}
        for name in params:
            if name.endswith(".lora_A.weight"):
                mod = name[len("base_model.model."):-len(".lora_A.weight")]
                bname = name.replace(".lora_A.weight", ".lora_B.weight")
                self.modules[mod] = (params[name], params[bname])


def lin(x, P, mod, lora):
    y = F.linear(x, P[mod + ".weight"])
    if lora is not None and mod in lora.modules:
        a, b = lora.modules[mod]
        # peft: result = result + lora_B(lora_A(dropout(x))) * scaling
        y = y + F.linear(F.linear(x, a), b) * lora.scaling
    return y


def forward(cfg, P, input_ids, attention_mask, lora=None):
    """Returns logits [B,T,V] (float32 for a float32 model)."""
    emb_w = P["model.embed_tokens.weight"]
    dt = emb_w.dtype
    bsz, t = input_ids.shape
    h = F.embedding(input_ids.long(), emb_w)
    cos, sin = rope_cos_sin(cfg, t, dt)
    pos = torch.arange(t)[None, :].expand(bsz, t)  # position_ids = arange(T)
    cos = cos[pos].unsqueeze(1)   # [B,1,T,hd]
    sin = sin[pos].unsqueeze(1)
    mask = attention_mask_4d(cfg, attention_mask, dt)
    nh, nkv, hd = cfg.heads, cfg.kv_heads, cfg.head_dim
    softmax_dtype = torch.float32 if dt == torch.float32 else dt
    for li in range(cfg.layers):
        p = "model.layers.%d." % li
        residual = h
        x = rms_norm(h, P[p + "input_layernorm.weight"], cfg.rms_norm_eps)
        q = lin(x, P, p + "self_attn.q_proj", lora).view(bsz, t, nh, hd).transpose(1, 2)
        k = lin(x, P, p + "self_attn.k_proj", lora).view(bsz, t, nkv, hd).transpose(1, 2)
        v = lin(x, P, p + "self_attn.v_proj", lora).view(bsz, t, nkv, hd).transpose(1, 2)
        q = (q * cos) + (rotate_half(q) * sin)
        k = (k * cos) + (rotate_half(k) * sin)
        k = repeat_kv(k, cfg.n_rep)
        v = repeat_kv(v, cfg.n_rep)
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd)
        w = w + mask
        w = F.softmax(w, dim=-1, dtype=softmax_dtype).to(q.dtype)
        o = torch.matmul(w, v).transpose(1, 2).contiguous().reshape(bsz, t, nh * hd)
        h = residual + lin(o, P, p + "self_attn.o_proj", lora)
        residual = h
        x = rms_norm(h, P[p + "post_attention_layernorm.weight"], cfg.rms_norm_eps)
        g = lin(x, P, p + "mlp.gate_proj", lora)
        u = lin(x, P, p + "mlp.up_proj", lora)
        h = residual + lin(F.silu(g) * u, P, p + "mlp.down_proj", lora)
    h = rms_norm(h, P["model.norm.weight"], cfg.rms_norm_eps)
    head = emb_w if cfg.tie else P["lm_head.weight"]
    return F.linear(h, head).to(dt)


def causal_lm_loss(logits, labels):
    v = logits.shape[-1]
    shift_logits = logits[..., :-1, :].contiguous().view(-1, v)
    shift_labels = labels[..., 1:].contiguous().view(-1).long()
    return F.cross_entropy(shift_logits, shift_labels, ignore_index=IGNORE)


# ----------------------------------------------------------------------------
# Parameters, data
# ----------------------------------------------------------------------------

def hf_param_names(cfg):
    """HF named_parameters() order."""
    names = ["model.embed_tokens.weight"]
    for li in range(cfg.layers):
        p = "model.layers.%d." % li
        names += [p + "self_attn.%s.weight" % m for m in ("q_proj", "k_proj", "v_proj", "o_proj")]
        names += [p + "mlp.%s.weight" % m for m in ("gate_proj", "up_proj", "down_proj")]
        names += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
    names.append("model.norm.weight")
    if not cfg.tie:
        names.append("lm_head.weight")
    return names


def param_shape(cfg, name):
    H, I, V = cfg.hidden, cfg.inter, cfg.vocab
    qd, kvd = cfg.heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim
    if name.endswith("norm.weight"):
        return (H,)
    if name in ("model.embed_tokens.weight", "lm_head.weight"):
        return (V, H)
    shapes = {"q_proj": (qd, H), "k_proj": (kvd, H), "v_proj": (kvd, H),
              "o_proj": (H, qd), "gate_proj": (I, H), "up_proj": (I, H),
              "down_proj": (H, I)}
    return shapes[name.split(".")[-2]]


def module_path(layer, mod):
    sub = "self_attn" if mod in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
    return "model.layers.%d.%s.%s" % (layer, sub, mod)


def lora_param_names(cfg):
    """PEFT named_parameters() order (with the '.default' adapter name removed)."""
    names = []
    targets = set(cfg.lora["targets"])
    for li in range(cfg.layers):
        for m in LORA_MODULE_ORDER:
            if m in targets:
                base = "base_model.model." + module_path(li, m)
                names += [base + ".lora_A.weight", base + ".lora_B.weight"]
    return names


def init_base(cfg):
    P = {}
    for name in hf_param_names(cfg):
        shape = param_shape(cfg, name)
        if name.endswith("norm.weight"):
            P[name] = 1.0 + NORM_JITTER * torch.randn(shape)
        elif name == "model.embed_tokens.weight":
            # tied: the embedding is also the output head, so use the head std
            P[name] = torch.randn(shape) * (LM_HEAD_STD if cfg.tie else EMBED_STD)
        elif name == "lm_head.weight":
            P[name] = torch.randn(shape) * LM_HEAD_STD
        else:
            P[name] = torch.randn(shape) * PROJ_STD
    return P


def init_lora(cfg, P):
    r = cfg.lora["r"]
    L = {}
    for name in lora_param_names(cfg):
        mod = name[len("base_model.model."):-len(".lora_A.weight")]
        out_f, in_f = P[mod + ".weight"].shape
        if ".lora_A." in name:
            bound = 1.0 / math.sqrt(in_f)
            L[name] = torch.empty(r, in_f).uniform_(-bound, bound)
        else:
            L[name] = torch.randn(out_f, r) * LORA_B_STD
    return L


def zipf_probs(cfg):
    """Zipf-like unigram distribution over a random permutation of the vocab."""
    perm = torch.randperm(cfg.vocab)
    w = 1.0 / (torch.arange(cfg.vocab, dtype=torch.float64) + 3.0)
    probs = torch.zeros(cfg.vocab, dtype=torch.float64)
    probs[perm] = w
    return probs


def make_language(cfg):
    """A learnable toy language: a random successor map plus Zipf noise."""
    return zipf_probs(cfg), torch.randperm(cfg.vocab)


def sample_rows(lang, rows):
    """Row-major token rows [rows, SEQ]: token t+1 = succ[token t] with
    probability 0.75, otherwise a fresh Zipf sample."""
    probs, succ = lang
    noise = torch.multinomial(probs, rows * SEQ, replacement=True).view(rows, SEQ)
    follow = torch.rand(rows, SEQ) < 0.75
    out = noise.clone()
    for t in range(1, SEQ):
        out[:, t] = torch.where(follow[:, t], succ[out[:, t - 1]], noise[:, t])
    return out.to(torch.int32)


def make_batch(lang):
    ids = sample_rows(lang, BATCH)
    am = torch.ones(BATCH, SEQ, dtype=torch.int32)
    labels = ids.clone()
    # row 1: right padding of 4 (mask 0, label -100) and a 3-token prompt
    ids[1, SEQ - 4:] = PAD_ID
    am[1, SEQ - 4:] = 0
    labels[1, SEQ - 4:] = IGNORE
    labels[1, :3] = IGNORE
    # row 2: no padding, one ignored label at position 5
    labels[2, 5] = IGNORE
    return ids, am, labels


def make_stream(lang):
    n = STEPS * ACCUM * MICRO
    ids = sample_rows(lang, n)
    am = torch.ones(n, SEQ, dtype=torch.int32)
    pad = torch.randint(0, 5, (n,))      # 0..4 right-padded positions
    prompt = torch.randint(0, 5, (n,))   # 0..4 leading -100 labels
    labels = ids.clone()
    for r in range(n):
        pl, pr = int(pad[r]), int(prompt[r])
        if pl:
            ids[r, SEQ - pl:] = PAD_ID
            am[r, SEQ - pl:] = 0
            labels[r, SEQ - pl:] = IGNORE
        labels[r, :pr] = IGNORE
    shape = (STEPS, ACCUM, MICRO, SEQ)
    ids, am, labels = ids.view(shape), am.view(shape), labels.view(shape)
    for s in range(STEPS):
        for a in range(ACCUM):
            assert bool((labels[s, a, :, 1:] != IGNORE).any()), "micro-batch without labels"
    return ids, am, labels


# ----------------------------------------------------------------------------
# Training (full / LoRA)
# ----------------------------------------------------------------------------

def train(named, fwd, stream, lr):
    """named: list of (name, Parameter) trainable; fwd(ids, am) -> logits."""
    decay = [p for n, p in named if not n.endswith("norm.weight")]
    no_decay = [p for n, p in named if n.endswith("norm.weight")]
    groups = [{"params": decay, "weight_decay": WEIGHT_DECAY}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=lr, betas=BETAS, eps=ADAM_EPS,
                            weight_decay=WEIGHT_DECAY, foreach=False)
    params = [p for _, p in named]
    ids, am, labels = stream
    losses, norms = [], []
    for s in range(STEPS):
        # The step's loss is the mean over every labelled token of its micro-batches (as
        # Transformers >= 4.46 and llmtune accumulate): micro-batch a's mean loss weighs
        # counts[a] / total.
        counts = [int((labels[s, a, :, 1:] != IGNORE).sum()) for a in range(ACCUM)]
        total = sum(counts)
        step_loss = torch.zeros((), dtype=torch.float32)
        for a in range(ACCUM):
            loss = causal_lm_loss(fwd(ids[s, a], am[s, a]), labels[s, a])
            (loss * (counts[a] / total)).backward()
            step_loss = step_loss + loss.detach() * (counts[a] / total)
        norm = torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        opt.step()
        opt.zero_grad()
        losses.append(step_loss)
        norms.append(norm.detach().to(torch.float32))
    return torch.stack(losses), torch.stack(norms)


# ----------------------------------------------------------------------------
# Case generation
# ----------------------------------------------------------------------------

def hf_config(cfg):
    c = {
        "architectures": ["MistralForCausalLM" if cfg.arch == "mistral" else "LlamaForCausalLM"],
        "model_type": cfg.arch,
        "hidden_size": cfg.hidden,
        "intermediate_size": cfg.inter,
        "num_hidden_layers": cfg.layers,
        "num_attention_heads": cfg.heads,
        "num_key_value_heads": cfg.kv_heads,
        "vocab_size": cfg.vocab,
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_scaling": cfg.rope_scaling,
        "max_position_embeddings": 128,
        "tie_word_embeddings": cfg.tie,
        "hidden_act": "silu",
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
        "initializer_range": 0.02,
        "attention_dropout": 0.0,
        "use_cache": True,
    }
    if cfg.arch == "mistral":
        c["sliding_window"] = cfg.sliding_window
    else:
        c["attention_bias"] = False
        c["pretraining_tp"] = 1
    return c


def adapter_config(cfg):
    lc = cfg.lora
    return {
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "",
        "bias": "none", "fan_in_fan_out": False, "inference_mode": True,
        "init_lora_weights": True, "layers_pattern": None,
        "layers_to_transform": None, "loftq_config": {}, "lora_alpha": lc["alpha"],
        "lora_dropout": 0.0, "megatron_config": None,
        "megatron_core": "megatron.core", "modules_to_save": None,
        "peft_type": "LORA", "r": lc["r"], "rank_pattern": {}, "revision": None,
        "target_modules": sorted(lc["targets"]), "task_type": "CAUSAL_LM",
        "use_rslora": lc["use_rslora"],
    }


def case_json(cfg, lora):
    lc = cfg.lora
    return {
        "full_lr": FULL_LR,
        "lora_lr": LORA_LR,
        "betas": list(BETAS),
        "eps": ADAM_EPS,
        "weight_decay": WEIGHT_DECAY,
        "max_grad_norm": MAX_GRAD_NORM,
        "grad_accum": ACCUM,
        "steps": STEPS,
        "seed": cfg.seed,
        "lora": {"r": lc["r"], "lora_alpha": lc["alpha"], "lora_dropout": 0.0,
                 "target_modules": sorted(lc["targets"]),
                 "use_rslora": lc["use_rslora"], "scaling": lora.scaling},
        "no_decay": "parameters whose name ends with 'norm.weight' get "
                    "weight_decay 0 (HF Trainer excludes RMSNorm weights); all "
                    "others, including LoRA A/B, decay",
    }


def build_case(case):
    """Returns (cfg, files, summary, info); files: relpath -> ("st", tensors) or ("json", obj, trailing_newline)."""
    torch.manual_seed(case["seed"])
    cfg = Cfg(case)
    P0 = init_base(cfg)
    L0 = init_lora(cfg, P0)
    lang = make_language(cfg)
    ids, am, labels = make_batch(lang)
    stream = make_stream(lang)
    expected = {}

    # --- base model: logits, loss, grads (all parameters trainable)
    P = {n: t.clone().requires_grad_(True) for n, t in P0.items()}
    logits = forward(cfg, P, ids, am)
    loss = causal_lm_loss(logits, labels)
    loss.backward()
    expected["logits"] = logits.detach()
    expected["loss"] = loss.detach()
    for n, p in P.items():
        expected["grad." + n] = p.grad.detach()

    # --- LoRA: logits, loss, grads of A/B (base frozen)
    Pf = {n: t.clone() for n, t in P0.items()}
    Lp = {n: t.clone().requires_grad_(True) for n, t in L0.items()}
    lora = Lora(cfg, Lp)
    llogits = forward(cfg, Pf, ids, am, lora)
    lloss = causal_lm_loss(llogits, labels)
    lloss.backward()
    expected["lora.logits"] = llogits.detach()
    expected["lora.loss"] = lloss.detach()
    for n, p in Lp.items():
        expected["lora.grad." + n] = p.grad.detach()

    # --- merged: W += (B @ A) * scaling
    Pm = {n: t.clone() for n, t in P0.items()}
    for mod, (a, b) in lora.modules.items():
        Pm[mod + ".weight"] = Pm[mod + ".weight"] + (b.detach() @ a.detach()) * lora.scaling
    with torch.no_grad():
        expected["merged.logits"] = forward(cfg, Pm, ids, am)
    merge_diff = (expected["merged.logits"] - expected["lora.logits"]).abs().max().item()

    # --- full training
    Pt = {n: torch.nn.Parameter(t.clone()) for n, t in P0.items()}
    named = [(n, Pt[n]) for n in hf_param_names(cfg)]
    f_losses, f_norms = train(named, lambda i, m: forward(cfg, Pt, i, m), stream, FULL_LR)
    expected["full.step_losses"] = f_losses
    expected["full.grad_norms"] = f_norms
    for n, p in Pt.items():
        expected["full.final." + n] = p.detach().clone()

    # --- LoRA training
    Pb = {n: t.clone() for n, t in P0.items()}
    Lt = {n: torch.nn.Parameter(t.clone()) for n, t in L0.items()}
    lora_t = Lora(cfg, Lt)
    named = [(n, Lt[n]) for n in lora_param_names(cfg)]
    l_losses, l_norms = train(named, lambda i, m: forward(cfg, Pb, i, m, lora_t), stream, LORA_LR)
    expected["lora.step_losses"] = l_losses
    expected["lora.grad_norms"] = l_norms
    for n, p in Lt.items():
        expected["lora.final." + n] = p.detach().clone()

    files = {
        "config.json": ("json", hf_config(cfg), True),
        "model.safetensors": ("st", P0),
        "adapter/adapter_config.json": ("json", adapter_config(cfg), False),
        "adapter/adapter_model.safetensors": ("st", L0),
        "data.safetensors": ("st", {
            "input_ids": ids, "attention_mask": am, "labels": labels,
            "train.input_ids": stream[0], "train.attention_mask": stream[1],
            "train.labels": stream[2]}),
        "case.json": ("json", case_json(cfg, lora), True),
        "expected.safetensors": ("st", expected),
    }
    f_clip = int((f_norms > MAX_GRAD_NORM).sum())
    l_clip = int((l_norms > MAX_GRAD_NORM).sum())
    summary = ("%-15s loss %.6f lora_loss %.6f | full steps %.4f -> %.4f clipped %d/%d"
               " | lora steps %.4f -> %.4f clipped %d/%d | merge maxdiff %.2e"
               % (cfg.name, loss.item(), lloss.item(), f_losses[0].item(),
                  f_losses[-1].item(), f_clip, STEPS, l_losses[0].item(),
                  l_losses[-1].item(), l_clip, STEPS, merge_diff))
    info = dict(merge_diff=merge_diff, f_clip=f_clip, l_clip=l_clip,
                loss=loss.item(), lloss=lloss.item(), vocab=cfg.vocab,
                f_losses=f_losses, l_losses=l_losses)
    return cfg, files, summary, info


def write_case(out_dir, files):
    for rel, spec in files.items():
        path = os.path.join(out_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if spec[0] == "st":
            save_safetensors(path, spec[1])
        else:
            write_json(path, spec[1], trailing_newline=spec[2])


def generate(out_dir, quiet=False):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    infos = {}
    for case in CASES:
        cfg, files, summary, info = build_case(case)
        write_case(os.path.join(out_dir, cfg.name), files)
        infos[cfg.name] = info
        if not quiet:
            print(summary)
    return infos


def list_files(root):
    out = []
    for d, _, fs in os.walk(root):
        for f in fs:
            out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def check(ref_dir):
    tmp = tempfile.mkdtemp(prefix="llmtune_ref_")
    try:
        generate(tmp, quiet=True)
        want = list_files(tmp)
        have = list_files(ref_dir) if os.path.isdir(ref_dir) else []
        bad = []
        for rel in sorted(set(want) | set(have)):
            if rel not in have:
                bad.append("%s: missing in %s" % (rel, ref_dir))
            elif rel not in want:
                bad.append("%s: not produced by the generator" % rel)
            else:
                with open(os.path.join(tmp, rel), "rb") as a, \
                        open(os.path.join(ref_dir, rel), "rb") as b:
                    if a.read() != b.read():
                        bad.append("%s: differs" % rel)
        if bad:
            for line in bad:
                print("reference out of date: " + line, file=sys.stderr)
            return 1
        print("reference in %s is current (%d files)" % (ref_dir, len(want)))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------
# Self-test
# ----------------------------------------------------------------------------

def parse_safetensors(path):
    """Independent minimal reader; asserts the INTEROP §1 header rules."""
    with open(path, "rb") as f:
        blob = f.read()
    assert len(blob) >= 8, path
    (n,) = struct.unpack("<Q", blob[:8])
    assert n <= 100000000 and n % 8 == 0, (path, n)
    raw = blob[8:8 + n]
    assert raw[:1] == b"{", path
    text = raw.decode("utf-8")
    stripped = text.rstrip(" ")
    assert stripped.endswith("}") and len(text) - len(stripped) < 8, path
    assert " " not in stripped and "\n" not in stripped, "header not compact: " + path
    pairs = json.loads(stripped, object_pairs_hook=lambda kv: kv)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "duplicate keys in " + path
    assert keys[0] == "__metadata__" and dict(pairs[0][1]) == {"format": "pt"}, path
    buf = blob[8 + n:]
    sizes = {"F32": (4, "f"), "I32": (4, "i")}
    out = {}
    prev_end = 0
    names = []
    for name, entry in pairs[1:]:
        assert [k for k, _ in entry] == ["dtype", "shape", "data_offsets"], (path, name)
        e = dict(entry)
        size, fmt = sizes[e["dtype"]]
        numel = 1
        for s in e["shape"]:
            numel *= s
        b, en = e["data_offsets"]
        assert b == prev_end and en - b == numel * size, (path, name)
        prev_end = en
        vals = struct.unpack("<%d%s" % (numel, fmt), buf[b:en])
        dt = torch.float32 if e["dtype"] == "F32" else torch.int32
        out[name] = torch.tensor(vals, dtype=dt).reshape(e["shape"])
        names.append((-{"I32": 15, "F32": 17}[e["dtype"]], name))
    assert names == sorted(names), "tensors not in writer order: " + path
    assert len(blob) == 8 + n + prev_end, "file length mismatch: " + path
    return out


def naive_inv_freq(cfg):
    """float64 scalar re-derivation of the RoPE frequencies."""
    d = cfg.head_dim
    out = []
    rs = cfg.rope_scaling or {}
    kind = rs.get("rope_type", rs.get("type"))
    for i in range(d // 2):
        f = cfg.rope_theta ** (-(2.0 * i) / d)
        if kind == "llama3":
            n = rs["original_max_position_embeddings"]
            lo, hi, fac = rs["low_freq_factor"], rs["high_freq_factor"], rs["factor"]
            wl = 2 * math.pi / f
            if wl < n / hi:
                pass                      # high frequency: unchanged
            elif wl > n / lo:
                f = f / fac               # low frequency: scaled
            else:
                s = (n / wl - lo) / (hi - lo)
                f = (1 - s) * f / fac + s * f
        elif kind == "linear":
            f = f / rs["factor"]
        out.append(f)
    return out


def naive_forward(cfg, P, ids, am):
    """Loop-based float64 reference: explicit RoPE rotation of pairs
    (i, i+d/2), explicit visible-key lists, explicit RMSNorm sums."""
    P = {k: v.double() for k, v in P.items()}
    bsz, t = ids.shape
    H, nh, nkv, hd = cfg.hidden, cfg.heads, cfg.kv_heads, cfg.head_dim
    eps = cfg.rms_norm_eps
    inv = naive_inv_freq(cfg)

    def norm(x, w):
        y = torch.empty_like(x)
        for b in range(x.shape[0]):
            for s in range(x.shape[1]):
                ms = sum(float(v) ** 2 for v in x[b, s]) / H
                y[b, s] = x[b, s] / math.sqrt(ms + eps) * w
        return y

    def rope(vec, pos):
        out = vec.clone()
        half = hd // 2
        for i in range(half):
            ang = pos * inv[i]
            c, s = math.cos(ang), math.sin(ang)
            out[i] = vec[i] * c - vec[i + half] * s
            out[i + half] = vec[i + half] * c + vec[i] * s
        return out

    h = P["model.embed_tokens.weight"][ids.long()]
    for li in range(cfg.layers):
        p = "model.layers.%d." % li
        x = norm(h, P[p + "input_layernorm.weight"])
        q = x @ P[p + "self_attn.q_proj.weight"].T
        k = x @ P[p + "self_attn.k_proj.weight"].T
        v = x @ P[p + "self_attn.v_proj.weight"].T
        o = torch.zeros(bsz, t, nh * hd, dtype=torch.float64)
        for b in range(bsz):
            for head in range(nh):
                kvh = head // (nh // nkv)
                for i in range(t):
                    qi = rope(q[b, i, head * hd:(head + 1) * hd], i)
                    keys = [j for j in range(t) if j <= i and int(am[b, j]) != 0
                            and (cfg.sliding_window is None or j > i - cfg.sliding_window)]
                    scores = []
                    for j in keys:
                        kj = rope(k[b, j, kvh * hd:(kvh + 1) * hd], j)
                        scores.append(float(qi @ kj) / math.sqrt(hd))
                    m = max(scores)
                    ex = [math.exp(s - m) for s in scores]
                    z = sum(ex)
                    acc = torch.zeros(hd, dtype=torch.float64)
                    for e, j in zip(ex, keys):
                        acc += (e / z) * v[b, j, kvh * hd:(kvh + 1) * hd]
                    o[b, i, head * hd:(head + 1) * hd] = acc
        h = h + o @ P[p + "self_attn.o_proj.weight"].T
        x = norm(h, P[p + "post_attention_layernorm.weight"])
        g = x @ P[p + "mlp.gate_proj.weight"].T
        u = x @ P[p + "mlp.up_proj.weight"].T
        act = g / (1.0 + torch.exp(-g))
        h = h + (act * u) @ P[p + "mlp.down_proj.weight"].T
    h = norm(h, P["model.norm.weight"])
    head = P["model.embed_tokens.weight"] if cfg.tie else P["lm_head.weight"]
    return h @ head.T


def naive_loss(logits, labels):
    tot, cnt = 0.0, 0
    for b in range(logits.shape[0]):
        for s in range(logits.shape[1] - 1):
            y = int(labels[b, s + 1])
            if y == IGNORE:
                continue
            row = [float(v) for v in logits[b, s]]
            m = max(row)
            lse = m + math.log(sum(math.exp(v - m) for v in row))
            tot += lse - row[y]
            cnt += 1
    return tot / cnt


def selftest():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    ok = True

    def report(name, cond, detail=""):
        nonlocal ok
        ok = ok and bool(cond)
        print("%s %-58s %s" % ("PASS" if cond else "FAIL", name, detail))

    # (a) math against loop implementations, and finite-difference gradients
    for case in CASES:
        torch.manual_seed(case["seed"])
        cfg = Cfg(case)
        P0 = init_base(cfg)
        L0 = init_lora(cfg, P0)
        ids, am, labels = make_batch(make_language(cfg))
        P64 = {k: v.double() for k, v in P0.items()}
        vec = forward(cfg, P64, ids, am)
        nai = naive_forward(cfg, P0, ids, am)
        d = (vec - nai).abs().max().item()
        report("%s: vectorized fp64 vs naive loop logits" % cfg.name, d < 1e-5, "maxdiff %.2e" % d)
        l_vec = causal_lm_loss(vec, labels).item()
        l_nai = naive_loss(nai, labels)
        report("%s: loss vs naive CE" % cfg.name, abs(l_vec - l_nai) < 1e-6,
               "%.8f vs %.8f" % (l_vec, l_nai))
        v32 = forward(cfg, P0, ids, am).double()
        d32 = (v32 - vec).abs().max().item()
        report("%s: fp32 vs fp64 logits" % cfg.name, d32 < 1e-4, "maxdiff %.2e" % d32)
        # LoRA unmerged (fp64) vs naive with merged weights
        L64 = {k: v.double() for k, v in L0.items()}
        lora64 = Lora(cfg, L64)
        lv = forward(cfg, P64, ids, am, lora64)
        Pm = dict(P64)
        for mod, (a, b) in lora64.modules.items():
            Pm[mod + ".weight"] = Pm[mod + ".weight"] + lora64.scaling * (b @ a)
        ln = naive_forward(cfg, Pm, ids, am)
        d = (lv - ln).abs().max().item()
        report("%s: LoRA fp64 vs naive merged" % cfg.name, d < 1e-5, "maxdiff %.2e" % d)
        # finite differences on a few entries of every parameter kind (fp64)
        gen = torch.Generator().manual_seed(7)
        Pg = {k: v.clone().requires_grad_(True) for k, v in P64.items()}
        Lg = {k: v.clone().requires_grad_(True) for k, v in L64.items()}
        causal_lm_loss(forward(cfg, Pg, ids, am, Lora(cfg, Lg)), labels).backward()
        worst = 0.0
        for store, grads in ((P64, Pg), (L64, Lg)):
            for name in store:
                for _ in range(2):
                    idx = int(torch.randint(0, store[name].numel(), (1,), generator=gen))
                    hstep = 1e-5
                    vals = []
                    for sgn in (1, -1):
                        Q = {k: v.clone() for k, v in P64.items()}
                        Lq = {k: v.clone() for k, v in L64.items()}
                        tgt = Q if store is P64 else Lq
                        tgt[name].view(-1)[idx] += sgn * hstep
                        vals.append(causal_lm_loss(forward(cfg, Q, ids, am, Lora(cfg, Lq)), labels).item())
                    fd = (vals[0] - vals[1]) / (2 * hstep)
                    an = grads[name].grad.view(-1)[idx].item()
                    worst = max(worst, abs(fd - an) / max(1e-3, abs(an)))
        report("%s: autograd vs finite differences (fp64)" % cfg.name, worst < 1e-5,
               "worst rel err %.2e" % worst)

    # llama3 frequencies: every band present in llama_tied
    cfg = Cfg(CASES[2])
    inv = rope_inv_freq(cfg)
    base = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim))
    ratio = (base / inv).tolist()
    bands = ["high" if abs(x - 1) < 1e-6 else "low" if abs(x - 8) < 1e-5 else "medium" for x in ratio]
    report("llama_tied: llama3 rope has high/medium/low bands", set(bands) == {"high", "medium", "low"},
           ",".join(bands))

    # AdamW / clip semantics spelled out in the README
    torch.manual_seed(0)
    w0 = torch.randn(5, 3)
    grads = [torch.randn(5, 3) for _ in range(3)]
    p = torch.nn.Parameter(w0.clone())
    opt = torch.optim.AdamW([p], lr=0.01, betas=BETAS, eps=ADAM_EPS, weight_decay=WEIGHT_DECAY, foreach=False)
    m = torch.zeros_like(w0)
    v = torch.zeros_like(w0)
    w = w0.clone()
    for step, g in enumerate(grads, 1):
        p.grad = g.clone()
        tn = torch.nn.utils.clip_grad_norm_([p], 0.5)
        opt.step()
        gn = g.norm()
        gc = g * min(0.5 / (gn + 1e-6), 1.0)
        w = w * (1 - 0.01 * WEIGHT_DECAY)
        m = BETAS[0] * m + (1 - BETAS[0]) * gc
        v = BETAS[1] * v + (1 - BETAS[1]) * gc * gc
        denom = (v.sqrt() / math.sqrt(1 - BETAS[1] ** step)) + ADAM_EPS
        w = w - (0.01 / (1 - BETAS[0] ** step)) * m / denom
        assert abs(tn.item() - gn.item()) < 1e-6
    d = (w - p.detach()).abs().max().item()
    report("AdamW + clip_grad_norm_ match the documented formulas", d < 1e-6, "maxdiff %.2e" % d)

    # (b)(c)(d) generate twice, compare bytes, re-read with the independent parser
    tmp1 = tempfile.mkdtemp(prefix="llmtune_ref_a_")
    tmp2 = tempfile.mkdtemp(prefix="llmtune_ref_b_")
    try:
        infos = generate(tmp1)
        generate(tmp2, quiet=True)
        f1, f2 = list_files(tmp1), list_files(tmp2)
        same = f1 == f2 and all(open(os.path.join(tmp1, r), "rb").read()
                                == open(os.path.join(tmp2, r), "rb").read() for r in f1)
        report("two runs byte-identical", same, "%d files" % len(f1))
        for case in CASES:
            name = case["name"]
            info = infos[name]
            cdir = os.path.join(tmp1, name)
            report("%s: merged.logits vs lora.logits" % name, info["merge_diff"] < 1e-5,
                   "maxdiff %.2e" % info["merge_diff"])
            report("%s: clipping triggers (full %d/%d, lora %d/%d)"
                   % (name, info["f_clip"], STEPS, info["l_clip"], STEPS),
                   info["f_clip"] > 0 and info["f_clip"] + info["l_clip"] > 0)
            logv = math.log(info["vocab"])
            report("%s: loss differs from log(V)" % name, abs(info["loss"] - logv) > 0.25,
                   "%.4f vs %.4f" % (info["loss"], logv))
            fl, ll = info["f_losses"], info["l_losses"]
            fd = (fl[:3].mean() - fl[-3:].mean()).item()
            ld = (ll[:3].mean() - ll[-3:].mean()).item()
            report("%s: losses move (first3-last3 mean: full %.3f, lora %.3f)" % (name, fd, ld),
                   fd > 0.3 and ld > 0.05)
            st = {}
            for rel in ("model.safetensors", "data.safetensors", "expected.safetensors",
                        "adapter/adapter_model.safetensors"):
                st[rel] = parse_safetensors(os.path.join(cdir, rel))
            report("%s: safetensors header rules" % name, True)
            with open(os.path.join(cdir, "config.json")) as f:
                cj = json.load(f)
            with open(os.path.join(cdir, "adapter/adapter_config.json")) as f:
                araw = f.read()
            aj = json.loads(araw)
            report("%s: adapter_config has exactly the peft 0.8.2 keys" % name,
                   len(aj) == 22 and not araw.endswith("\n")
                   and araw == json.dumps(aj, indent=2, sort_keys=True))
            # Round trip: re-run the model from the parsed files
            cfg = Cfg(dict(case))
            assert cj["hidden_size"] == cfg.hidden and cj["tie_word_embeddings"] == cfg.tie
            P = st["model.safetensors"]
            data = st["data.safetensors"]
            exp = st["expected.safetensors"]
            with torch.no_grad():
                lg = forward(cfg, P, data["input_ids"], data["attention_mask"])
                ls = causal_lm_loss(lg, data["labels"])
                lora = Lora(cfg, st["adapter/adapter_model.safetensors"])
                llg = forward(cfg, P, data["input_ids"], data["attention_mask"], lora)
            exact = (torch.equal(lg, exp["logits"]) and torch.equal(ls, exp["loss"])
                     and torch.equal(llg, exp["lora.logits"]))
            report("%s: re-read files reproduce expected logits exactly" % name, exact)
            n_grad = sum(1 for k in exp if k.startswith("grad."))
            n_lgrad = sum(1 for k in exp if k.startswith("lora.grad."))
            report("%s: grad tensors for every parameter" % name,
                   n_grad == len(P) and n_lgrad == len(lora.params)
                   and ("lm_head.weight" in P) == (not cfg.tie))
            tr = data["train.labels"]
            report("%s: stream shape and labels per micro-batch" % name,
                   list(tr.shape) == [STEPS, ACCUM, MICRO, SEQ]
                   and bool((tr[:, :, :, 1:] != IGNORE).flatten(2).any(-1).all())
                   and bool((data["train.attention_mask"] == 0).any()))
        clipped = sum(i["f_clip"] + i["l_clip"] for i in infos.values())
        report("clipped and unclipped steps both occur", 0 < clipped < 2 * STEPS * len(CASES),
               "%d of %d steps clipped" % (clipped, 2 * STEPS * len(CASES)))
    finally:
        shutil.rmtree(tmp1, ignore_errors=True)
        shutil.rmtree(tmp2, ignore_errors=True)
    print("selftest %s" % ("OK" if ok else "FAILED"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", help="write the reference cases into this directory")
    g.add_argument("--check", help="regenerate and compare byte-for-byte with this directory")
    g.add_argument("--selftest", action="store_true", help="verify the math and the writer")
    args = ap.parse_args()
    if args.selftest:
        return selftest()
    if args.check:
        return check(args.check)
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
