"""PyTorch reference for `npm run bench:train` (test/bench/train.ts).

Whole training steps of a GPT-2 (GPT2LMHeadModel's architecture: token + learned position
embeddings, pre-LayerNorm blocks of causal self-attention and a gelu_new MLP, final LayerNorm,
output head tied to the embeddings) in plain torch.nn, float32, train mode, on the CPU, on the very
batches the engine's trainer trained on (train.ts writes them to --batches):

  zero_grad → forward → (weighted) mean next-token cross-entropy → backward →
  clip_grad_norm_(1.0) → AdamW step (torch.optim.AdamW, the engine's parameter groups: matrices
  decay, biases, norms and embeddings do not) → the loss and the per-row losses read back.

Document masking (--masking document, the default, as the trainer trains): the same block-diagonal
causal mask the engine builds (a token attends to earlier tokens of its own document only), built
each step from the batch's segment numbers as a [B, 1, T, T] additive mask; position embeddings
gathered by the batch's position ids (restarting at 0 where a document begins); the loss weighted
by the batch's weights (0 where an EOS would predict the next document's first token). With
--masking causal: one causal [T, T] mask, positions 0 … T−1, unweighted mean (the plain GPT-2
step). The learning rate is constant (the engine's warm-up/cosine schedule costs nothing either way).

Dropout is off (the engine trains without dropout). One JSON line on stdout:

  {"torch": "1.13.0", "intra_op_threads": 2, "blas": "...", "blas_threads": 2,
   "params": 3291968, "masking": "document", "tok_s": ..., "step_s": [...], "losses": [...]}

--batches is a little-endian int32 file of K batches, each five [B, T] arrays one after the other:
inputs, targets, segments, positions, weights (0 or 1). The timed steps cycle through them.

Threads: --intra-op-threads is torch.set_num_threads; Debian's torch does its matrix products in
OpenBLAS, whose threads come from OPENBLAS_NUM_THREADS (set by the caller). The caller also unsets
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (docs/performance.md, "The reference: PyTorch on the same
machine").
"""

import argparse
import ctypes
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The same GPT-2 block as bench:model's reference (its forward takes an additive mask, here block-diagonal).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_reference import Gpt2Block  # noqa: E402


class Gpt2(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["n_embd"]
        self.wte = nn.Embedding(c["vocab_size"], d)
        self.wpe = nn.Embedding(c["n_positions"], d)
        self.h = nn.ModuleList(Gpt2Block(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=c.get("layer_norm_epsilon", 1e-5))
        std = c.get("initializer_range", 0.02)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".ln_" in name or name.startswith("ln_"):
                nn.init.ones_(p)
            else:
                # GPT-2's residual projections get std / sqrt(2 · layers), as the engine's init.
                proj = name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight")
                nn.init.normal_(p, std=std / math.sqrt(2 * c["n_layer"]) if proj else std)

    def forward(self, ids, positions, mask):
        x = self.wte(ids) + self.wpe(positions)
        for block in self.h:
            x = block(x, mask)
        return self.ln_f(x) @ self.wte.weight.t()  # tied head


def document_mask(segments):
    """[B, T] segment numbers → [B, 1, T, T] additive mask: causal within a segment."""
    t = segments.shape[1]
    same = segments[:, :, None] == segments[:, None, :]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    return torch.zeros(same.shape).masked_fill_(~(same & causal), -1e30).unsqueeze(1)


def causal_mask(t):
    return torch.zeros(t, t).masked_fill_(~torch.ones(t, t, dtype=torch.bool).tril(), -1e30)


def blas_library():
    """The BLAS shared library this process loaded (Debian switches it with alternatives), and its thread count."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "blas" in line.lower() and "/" in line})
    except OSError:
        return "unknown", None
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
    ap.add_argument("--config", required=True, help="JSON: the model's config.json fields (model_type gpt2)")
    ap.add_argument("--batches", required=True, help="int32 file of K batches (see the top of this file)")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--masking", choices=["document", "causal"], default="document")
    ap.add_argument("--intra-op-threads", type=int, default=2)
    a = ap.parse_args()
    c = json.loads(a.config)
    if c.get("model_type") != "gpt2":
        sys.exit(f"model_type {c.get('model_type')!r}: this reference implements gpt2 only")
    torch.set_num_threads(a.intra_op_threads)
    torch.manual_seed(0)

    B, T = a.batch, a.seq
    with open(a.batches, "rb") as f:
        raw = torch.frombuffer(bytearray(f.read()), dtype=torch.int32)
    per = 5 * B * T
    if raw.numel() == 0 or raw.numel() % per:
        sys.exit(f"{a.batches}: {raw.numel()} int32 values is not a whole number of {B} × {T} batches")
    batches = []
    for k in range(raw.numel() // per):
        x = raw[k * per:(k + 1) * per].view(5, B, T).long()
        batches.append({"inputs": x[0].contiguous(), "targets": x[1].contiguous(), "segments": x[2].contiguous(), "positions": x[3].contiguous(), "weights": x[4].float().contiguous()})
    plain_positions = torch.arange(T).expand(B, T)

    model = Gpt2(c)
    model.train()
    decay = [p for n, p in model.named_parameters() if n.endswith(".weight") and p.dim() == 2 and not n.startswith(("wte", "wpe"))]
    no_decay = [p for n, p in model.named_parameters() if not (n.endswith(".weight") and p.dim() == 2 and not n.startswith(("wte", "wpe")))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    params = list(model.parameters())
    vocab = c["vocab_size"]

    def step(b):
        opt.zero_grad(set_to_none=True)
        if a.masking == "document":
            logits = model(b["inputs"], b["positions"], document_mask(b["segments"]))
            ce = F.cross_entropy(logits.view(-1, vocab), b["targets"].view(-1), reduction="none").view(B, T)
            w = b["weights"]
        else:
            logits = model(b["inputs"], plain_positions, causal_mask(T))
            ce = F.cross_entropy(logits.view(-1, vocab), b["targets"].view(-1), reduction="none").view(B, T)
            w = torch.ones(B, T)
        loss = (ce * w).sum() / w.sum()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        rows = ((ce.detach() * w).sum(1) / w.sum(1).clamp(min=1)).tolist()
        return loss.item(), float(norm), rows

    losses = []
    for i in range(a.warmup):
        losses.append(step(batches[i % len(batches)])[0])
    times = []
    for i in range(a.steps):
        t0 = time.perf_counter()
        losses.append(step(batches[(a.warmup + i) % len(batches)])[0])
        times.append(time.perf_counter() - t0)
    blas, blas_threads = blas_library()
    mean = sum(times) / len(times)
    print(json.dumps({
        "torch": torch.__version__,
        "intra_op_threads": torch.get_num_threads(),
        "blas": blas,
        "blas_threads": blas_threads,
        "params": sum(p.numel() for p in params),
        "masking": a.masking,
        "tok_s": B * T / mean,
        "median_tok_s": B * T / statistics.median(times),
        "step_s": times,
        "losses": losses,
    }))


if __name__ == "__main__":
    main()
