"""The PyTorch peer of bench/train_step: the same Llama model and training step written the way
Hugging Face Transformers 4.37 (eager attention) and PEFT 0.8.2 compute them, in plain PyTorch.

Driven over stdin/stdout by bench/train_step so the two alternate in one run:
  argv: --mode full|lora --hidden ... (see below)
  prints "ready" once built; then for each input line:
    "step"  -> one training step (forward, backward, AdamW, zero_grad); prints "<seconds> <loss>"
    "mem"   -> prints the process's peak RSS in bytes since the last "mem" (VmHWM, then reset)
    "quit"  -> exits
"""
import argparse
import math
import sys
import time

import torch
import torch.nn.functional as F


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["full", "lora"], required=True)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=1408)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-alpha", type=float, default=32)
    p.add_argument("--lora-dropout", type=float, default=0.1)
    return p.parse_args()


class RMSNorm(torch.nn.Module):
    def __init__(self, n, eps=1e-5):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


class LoraLinear(torch.nn.Module):
    """nn.Linear, optionally wrapped as PEFT's lora.Linear (base frozen)."""

    def __init__(self, fan_in, fan_out, lora=None):
        super().__init__()
        self.base = torch.nn.Linear(fan_in, fan_out, bias=False)
        self.lora = lora
        if lora:
            r, alpha, p = lora
            self.lora_A = torch.nn.Linear(fan_in, r, bias=False)
            self.lora_B = torch.nn.Linear(r, fan_out, bias=False)
            torch.nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
            torch.nn.init.zeros_(self.lora_B.weight)
            self.dropout = torch.nn.Dropout(p)
            self.scaling = alpha / r

    def forward(self, x):
        y = self.base(x)
        if self.lora:
            y = y + self.lora_B(self.lora_A(self.dropout(x))) * self.scaling
        return y


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Layer(torch.nn.Module):
    def __init__(self, a, lora_qv):
        super().__init__()
        self.a = a
        hd = a.hidden // a.heads
        self.input_layernorm = RMSNorm(a.hidden)
        self.post_attention_layernorm = RMSNorm(a.hidden)
        self.q_proj = LoraLinear(a.hidden, a.heads * hd, lora_qv)
        self.k_proj = LoraLinear(a.hidden, a.kv_heads * hd)
        self.v_proj = LoraLinear(a.hidden, a.kv_heads * hd, lora_qv)
        self.o_proj = LoraLinear(a.heads * hd, a.hidden)
        self.gate_proj = LoraLinear(a.hidden, a.intermediate)
        self.up_proj = LoraLinear(a.hidden, a.intermediate)
        self.down_proj = LoraLinear(a.intermediate, a.hidden)

    def forward(self, x, cos, sin, mask):
        a = self.a
        b, t, _ = x.shape
        hd = a.hidden // a.heads
        rep = a.heads // a.kv_heads
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, a.heads, hd).transpose(1, 2)
        k = self.k_proj(h).view(b, t, a.kv_heads, hd).transpose(1, 2)
        v = self.v_proj(h).view(b, t, a.kv_heads, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k[:, :, None].expand(b, a.kv_heads, rep, t, hd).reshape(b, a.heads, t, hd)
        v = v[:, :, None].expand(b, a.kv_heads, rep, t, hd).reshape(b, a.heads, t, hd)
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd) + mask
        w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        o = torch.matmul(w, v).transpose(1, 2).reshape(b, t, a.hidden)
        x = x + self.o_proj(o)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Model(torch.nn.Module):
    def __init__(self, a, lora):
        super().__init__()
        self.a = a
        lora_qv = (a.lora_r, a.lora_alpha, a.lora_dropout) if lora else None
        self.embed_tokens = torch.nn.Embedding(a.vocab, a.hidden)
        self.layers = torch.nn.ModuleList(Layer(a, lora_qv) for _ in range(a.layers))
        self.norm = RMSNorm(a.hidden)
        self.lm_head = torch.nn.Linear(a.hidden, a.vocab, bias=False)
        hd = a.hidden // a.heads
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        f = torch.outer(torch.arange(a.seq).float(), inv)
        emb = torch.cat((f, f), dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()
        self.mask = torch.full((a.seq, a.seq), torch.finfo(torch.float32).min).triu(1)

    def forward(self, ids, labels):
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin, self.mask)
        logits = self.lm_head(self.norm(x)).float()
        return F.cross_entropy(logits[:, :-1].reshape(-1, self.a.vocab), labels[:, 1:].reshape(-1))


def peak_rss_and_reset():
    peak = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return peak


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    lora = a.mode == "lora"
    model = Model(a, lora)
    if lora:  # PEFT: everything but the adapters is frozen
        for name, p in model.named_parameters():
            p.requires_grad_("lora_" in name)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)
    model.train()
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "step":
            t0 = time.perf_counter()
            loss = model(ids, ids)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0
            print(f"{dt:.6f} {loss.item():.6f}", flush=True)
        elif cmd == "mem":
            print(peak_rss_and_reset(), flush=True)
        elif cmd == "quit":
            return


if __name__ == "__main__":
    main()
