"""The PyTorch peer of bench/generate: greedy generation with a key/value cache for the bench
model, written as Transformers computes it (eager attention, repeat_kv, RoPE rotate_half).

argv: --batch B --prompt P --new N [model shape options]. Prints "ready"; then for each "run"
line generates N tokens for B random prompts of P tokens and prints "<seconds> <tokens>".
"""
import argparse
import math
import sys
import time

import torch
import torch.nn.functional as F


def parse():
    p = argparse.ArgumentParser()
    for name, default in (("hidden", 512), ("layers", 8), ("heads", 8), ("kv-heads", 4),
                          ("intermediate", 1408), ("vocab", 32000), ("batch", 1), ("prompt", 64),
                          ("new", 64), ("threads", 2)):
        p.add_argument("--" + name, type=int, default=default)
    return p.parse_args()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Model(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a, hd = a, a.hidden // a.heads
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.embed = torch.nn.Embedding(a.vocab, a.hidden)
        self.layers = torch.nn.ModuleList()
        for _ in range(a.layers):
            m = torch.nn.ModuleDict(dict(q=lin(a.hidden, a.heads * hd), k=lin(a.hidden, a.kv_heads * hd),
                                         v=lin(a.hidden, a.kv_heads * hd), o=lin(a.heads * hd, a.hidden),
                                         g=lin(a.hidden, a.intermediate), u=lin(a.hidden, a.intermediate),
                                         d=lin(a.intermediate, a.hidden)))
            m.n1 = torch.nn.Parameter(torch.ones(a.hidden))
            m.n2 = torch.nn.Parameter(torch.ones(a.hidden))
            self.layers.append(m)
        self.norm = torch.nn.Parameter(torch.ones(a.hidden))
        self.head = lin(a.hidden, a.vocab)
        self.inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))

    @staticmethod
    def rms(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))

    def forward(self, ids, start, cache):
        a, hd = self.a, self.a.hidden // self.a.heads
        b, t = ids.shape
        pos = torch.arange(start, start + t).float()
        emb = torch.cat([torch.outer(pos, self.inv)] * 2, dim=-1)
        cos, sin = emb.cos(), emb.sin()
        rep = a.heads // a.kv_heads
        x = self.embed(ids)
        for i, m in enumerate(self.layers):
            h = self.rms(x, m.n1)
            q = m["q"](h).view(b, t, a.heads, hd).transpose(1, 2)
            k = m["k"](h).view(b, t, a.kv_heads, hd).transpose(1, 2)
            v = m["v"](h).view(b, t, a.kv_heads, hd).transpose(1, 2)
            q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
            if cache[i] is not None:
                k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
            cache[i] = (k, v)
            tk = k.shape[2]
            k = k[:, :, None].expand(b, a.kv_heads, rep, tk, hd).reshape(b, a.heads, tk, hd)
            v = v[:, :, None].expand(b, a.kv_heads, rep, tk, hd).reshape(b, a.heads, tk, hd)
            w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd)
            if t > 1:
                w = w + torch.full((t, tk), torch.finfo(torch.float32).min).triu(tk - t + 1)
            o = torch.matmul(F.softmax(w, dim=-1, dtype=torch.float32), v).transpose(1, 2).reshape(b, t, -1)
            x = x + m["o"](o)
            h = self.rms(x, m.n2)
            x = x + m["d"](F.silu(m["g"](h)) * m["u"](h))
        return self.head(self.rms(x[:, -1], self.norm)).float()


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Model(a).eval()
    ids = torch.randint(0, a.vocab, (a.batch, a.prompt), generator=torch.Generator().manual_seed(1))
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            return
        with torch.no_grad():
            t0 = time.perf_counter()
            cache = [None] * a.layers
            logits = model(ids, 0, cache)
            for step in range(a.new):
                nxt = logits.argmax(-1, keepdim=True)
                if step + 1 == a.new:
                    break
                logits = model(nxt, a.prompt + step, cache)
            dt = time.perf_counter() - t0
        print(f"{dt:.6f} {a.batch * a.new}", flush=True)


if __name__ == "__main__":
    main()
