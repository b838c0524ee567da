"""PyTorch reference for `npm run bench:model` (test/bench/model.ts).

Plain torch.nn implementations of the two benchmark architectures, float32, on the CPU:

- GPT-2 (GPT2LMHeadModel): token + learned position embeddings, pre-LayerNorm blocks of causal
  self-attention and a gelu_new (tanh) MLP, final LayerNorm, output head tied to the embeddings;
- Llama (LlamaForCausalLM): token embeddings, pre-RMSNorm blocks of grouped-query causal
  self-attention with rotary embeddings (rotate-half) and a SwiGLU MLP, final RMSNorm, untied head.

For each it times the forward pass (logits, under no_grad) and forward + backward (mean
next-token cross-entropy, then backward for every parameter's gradient; no optimiser step), one
warm-up step and then the median of --steps timed steps, on the same random ids shape as the
tfjs run. Prints one JSON line on stdout:

  {"torch": "1.13.0", "intra_op_threads": 1, "blas": "...libopenblasp-r0.3.21.so", "blas_threads": 2,
   "models": {"gpt2": {...}, "llama": {...}}}

Threads: Debian's torch is built without MKL and does its matrix products in OpenBLAS, which has
its own thread pool (OPENBLAS_NUM_THREADS, set by the caller to the number of CPUs). torch's own
intra-op threads (OpenMP) default to 1 here and stay 1 (--intra-op-threads): on a 2-CPU machine
torch.set_num_threads(2) on top of a 2-thread OpenBLAS oversubscribes the cores and measured about
2× slower than 1 + 2, and 2 + 1 about 25% slower.

The caller unsets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (Debian's OpenBLAS otherwise falls back to
a slow kernel; see docs/performance.md, "The reference: PyTorch on the same machine").
"""

import argparse
import ctypes
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The benchmark's configurations (config.json fields); model.ts passes its own with --configs.
DEFAULT_CONFIGS = {
    "gpt2": dict(model_type="gpt2", n_embd=256, n_layer=4, n_head=4, n_positions=256, vocab_size=4096),
    "llama": dict(model_type="llama", hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=2, vocab_size=4096, tie_word_embeddings=False),
}


def causal_mask(t):
    return torch.triu(torch.full((t, t), float("-inf")), diagonal=1)


# ---- GPT-2 ---------------------------------------------------------------------------------------

class Gpt2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["n_embd"]
        inner = c.get("n_inner") or 4 * d
        eps = c.get("layer_norm_epsilon", 1e-5)
        self.h = c["n_head"]
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.c_fc = nn.Linear(d, inner)
        self.mlp_proj = nn.Linear(inner, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        hd = d // self.h
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.h, hd).transpose(1, 2) for z in (q, k, v))
        att = torch.softmax(q @ k.transpose(-2, -1) * (1.0 / math.sqrt(hd)) + mask, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt2(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["n_embd"]
        self.wte = nn.Embedding(c["vocab_size"], d)
        self.wpe = nn.Embedding(c["n_positions"], d)
        self.h = nn.ModuleList(Gpt2Block(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=c.get("layer_norm_epsilon", 1e-5))

    def forward(self, ids):
        t = ids.shape[1]
        x = self.wte(ids) + self.wpe.weight[:t]
        mask = causal_mask(t)
        for block in self.h:
            x = block(x, mask)
        return self.ln_f(x) @ self.wte.weight.t()  # tied head


# ---- Llama ---------------------------------------------------------------------------------------

class RmsNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class LlamaBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.h = c["num_attention_heads"]
        self.hkv = c.get("num_key_value_heads", self.h)
        self.hd = d // self.h
        i = c["intermediate_size"]
        eps = c.get("rms_norm_eps", 1e-6)
        self.input_layernorm = RmsNorm(d, eps)
        self.q_proj = nn.Linear(d, self.h * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.hkv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.hkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.h * self.hd, d, bias=False)
        self.post_attention_layernorm = RmsNorm(d, eps)
        self.gate_proj = nn.Linear(d, i, bias=False)
        self.up_proj = nn.Linear(d, i, bias=False)
        self.down_proj = nn.Linear(i, d, bias=False)

    def forward(self, x, mask, cos, sin):
        b, t, d = x.shape
        n = self.input_layernorm(x)
        q = self.q_proj(n).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(n).view(b, t, self.hkv, self.hd).transpose(1, 2)
        v = self.v_proj(n).view(b, t, self.hkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        g = self.h // self.hkv
        k = k.repeat_interleave(g, dim=1)  # transformers' repeat_kv
        v = v.repeat_interleave(g, dim=1)
        att = torch.softmax(q @ k.transpose(-2, -1) * (1.0 / math.sqrt(self.hd)) + mask, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, self.h * self.hd)
        x = x + self.o_proj(y)
        m = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], d)
        self.layers = nn.ModuleList(LlamaBlock(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RmsNorm(d, c.get("rms_norm_eps", 1e-6))
        self.tied = c.get("tie_word_embeddings", False)
        if not self.tied:
            self.lm_head = nn.Linear(d, c["vocab_size"], bias=False)

    def forward(self, ids):
        t = ids.shape[1]
        hd = self.c["hidden_size"] // self.c["num_attention_heads"]
        inv = 1.0 / (self.c.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        freqs = torch.outer(torch.arange(t, dtype=torch.float32), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = causal_mask(t)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, mask, cos, sin)
        x = self.norm(x)
        return x @ self.embed_tokens.weight.t() if self.tied else self.lm_head(x)


# ---- timing --------------------------------------------------------------------------------------

def init_like_transformers(model):
    for mod in model.modules():
        if isinstance(mod, (nn.Linear, nn.Embedding)):
            nn.init.normal_(mod.weight, std=0.02)
            if getattr(mod, "bias", None) is not None:
                nn.init.zeros_(mod.bias)


def time_steps(fn, steps):
    fn()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def bench(model, vocab, batch, seq, steps):
    init_like_transformers(model)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (batch, seq + 1), generator=g)
    inputs, targets = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()

    def forward():
        with torch.no_grad():
            model(inputs)

    def forward_backward():
        for p in model.parameters():
            p.grad = None
        logits = model(inputs)
        loss = F.cross_entropy(logits.view(-1, vocab), targets.view(-1))
        loss.backward()
        return loss

    fwd = time_steps(forward, steps)
    fb = time_steps(forward_backward, steps)
    tokens = batch * seq
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "fwd_tok_s": tokens / statistics.median(fwd),
        "fwdbwd_tok_s": tokens / statistics.median(fb),
        "fwd_s": fwd,
        "fwdbwd_s": fb,
    }


def blas_library():
    """The BLAS shared library this process loaded (Debian switches it with alternatives), and its thread count."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "blas" in line.lower() and "/" in line})
    except OSError:
        return "unknown", None
    # Debian's libblas.so.3 is whichever implementation the alternatives system points at.
    openblas = [x for x in libs if "openblas" in x.rsplit("/", 1)[-1]]
    threads = None
    if openblas:
        try:
            threads = ctypes.CDLL(openblas[0]).openblas_get_num_threads()
        except (OSError, AttributeError):
            pass
    return ", ".join(openblas or libs) or "none found", threads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--intra-op-threads", type=int, default=1, help="torch.set_num_threads; OpenBLAS's own threads come from OPENBLAS_NUM_THREADS")
    ap.add_argument("--models", default="gpt2,llama")
    ap.add_argument("--configs", default=None, help="JSON object: model name -> config.json fields")
    a = ap.parse_args()
    torch.set_num_threads(a.intra_op_threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "intra_op_threads": torch.get_num_threads(), "models": {}}
    configs = json.loads(a.configs) if a.configs else DEFAULT_CONFIGS
    for name in a.models.split(","):
        c = configs[name]
        kind = c.get("model_type")
        if kind == "gpt2":
            model = Gpt2(c)
        elif kind == "llama":
            model = Llama(c)
        else:
            sys.exit(f"{name}: model_type {kind!r} is not one this reference implements")
        out["models"][name] = bench(model, c["vocab_size"], a.batch, a.seq, a.steps)
    out["blas"], out["blas_threads"] = blas_library()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
