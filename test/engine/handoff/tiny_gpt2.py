"""Test only (never in a bundle): a minimal torch GPT-2 with Hugging Face's parameter names, the
`--model-module` of train.py in trainpy.test.ts. GPT2LMHeadModel's architecture: token + learned
position embeddings, pre-LayerNorm blocks (Conv1D weights stored [in, out]), gelu_new MLP, final
LayerNorm, head tied to the embeddings; no dropout. forward(input_ids, position_ids, mask) with an
additive [B, 1, L, L] float mask returns the logits.
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        buf = raw[8 + n + b:8 + n + e]
        if info["dtype"] == "BF16":
            arr = (np.frombuffer(buf, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(buf, {"F32": "<f4", "F16": "<f2"}[info["dtype"]]).astype(np.float32)
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


class Conv1D(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        hd = d // self.heads
        q, k, v = (z.view(b, t, self.heads, hd).transpose(1, 2) for z in self.c_attn(x).split(d, dim=2))
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hd) + mask, dim=-1)
        return self.c_proj((att @ v).transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, d, inner):
        super().__init__()
        self.c_fc = Conv1D(d, inner)
        self.c_proj = Conv1D(inner, d)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["n_embd"], c.get("layer_norm_epsilon", 1e-5)
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, c["n_head"])
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = Mlp(d, c.get("n_inner") or 4 * d)

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.wpe = nn.Embedding(c["n_positions"], c["n_embd"])
        self.h = nn.ModuleList(Block(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(c["n_embd"], eps=c.get("layer_norm_epsilon", 1e-5))


class Gpt2(nn.Module):
    _no_split_modules = ["Block"]

    def __init__(self, c):
        super().__init__()
        self.transformer = Transformer(c)

    def forward(self, input_ids, position_ids, mask):
        t = self.transformer
        x = t.wte(input_ids) + t.wpe(position_ids)
        for block in t.h:
            x = block(x, mask)
        return t.ln_f(x) @ t.wte.weight.t()


def load(folder):
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    model = Gpt2(config)
    weights = {k: v for k, v in read_safetensors(os.path.join(folder, "model.safetensors")).items() if k != "lm_head.weight"}
    model.load_state_dict({k if k.startswith("transformer.") else "transformer." + k: v for k, v in weights.items()})
    torch.set_num_threads(1)
    return model
