"""PyTorch reference for `npm run bench:eval` (test/bench/eval.ts).

Scores the very windows the engine's held-out scorer scores, batched as it batches them, with the
same GPT-2 and the same weights:

- the model is bench:model's GPT-2 (`Gpt2` and its `Gpt2Block` from model_reference.py: token +
  learned position embeddings, pre-LayerNorm blocks, gelu_new MLP, final LayerNorm, tied head),
  float32, eval mode, under no_grad;
- its weights are read from the model folder's model.safetensors (a Hugging Face GPT2LMHeadModel
  folder) with numpy: Conv1D weights ([in, out]) transposed into nn.Linear's [out, in];
- --windows is a JSON file written by eval.ts: {"batches": [{"rows": [[ids…], …], "skips": [...],
  "index": [...]}]}: each batch's windows, padded here with 0 to its longest as the engine pads;
  the model reads every column but the last;
- score: logits → log_softmax → gather of the next ids (lm-evaluation-harness's way), summed per
  window over its predictions from `skip` to its end; forward: the logits alone.

Each of score and forward runs one warm-up pass over all batches, then --reps timed passes. One JSON
line on stdout:

  {"torch": "1.13.0", "intra_op_threads": 1, "blas": "...", "blas_threads": 2, "params": ...,
   "tokens": ..., "nll": ..., "per_window": [...], "score_s": [...], "forward_s": [...]}

Threads and allocator as the other references: --intra-op-threads is torch.set_num_threads,
OpenBLAS's threads come from OPENBLAS_NUM_THREADS, and the caller unsets OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE and preloads jemalloc when it is installed (docs/performance.md).
"""

import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_reference import Gpt2, blas_library  # noqa: E402


def read_safetensors(path):
    """name → float32 numpy array, for F32, F16 and BF16 tensors."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[base + start:base + end]
        kind = info["dtype"]
        if kind == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif kind == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif kind == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            sys.exit(f"{path}: tensor {name} has dtype {kind}, which this reference does not read")
        out[name] = arr.reshape(info["shape"]).copy()
    return out


def load_gpt2(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    if c.get("model_type") != "gpt2":
        sys.exit(f"{model_dir}: model_type {c.get('model_type')!r}; this reference implements gpt2 only")
    stored = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    state = {}
    conv1d = {"attn.c_attn": "c_attn", "attn.c_proj": "c_proj", "mlp.c_fc": "c_fc", "mlp.c_proj": "mlp_proj"}
    for name, arr in stored.items():
        key = name[len("transformer."):] if name.startswith("transformer.") else name
        parts = key.split(".")
        if len(parts) == 4 and parts[0] == "h" and parts[2] == "attn" and parts[3] in ("bias", "masked_bias"):
            continue  # older transformers' causal-mask buffers (h.N.attn.bias), not parameters
        if key == "lm_head.weight":
            wte = stored.get("transformer.wte.weight", stored.get("wte.weight"))
            if wte is None or not np.array_equal(arr, wte):
                sys.exit(f"{model_dir}: an untied lm_head; this reference implements the tied head only")
            continue
        if parts[0] == "h":
            rest = ".".join(parts[2:4])
            if rest in conv1d:
                key = f"h.{parts[1]}.{conv1d[rest]}.{parts[4]}"
                if parts[4] == "weight":
                    arr = arr.T  # Conv1D [in, out] → Linear [out, in]
        state[key] = torch.from_numpy(np.ascontiguousarray(arr))
    model = Gpt2(c)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a Hugging Face GPT-2 folder (config.json, model.safetensors)")
    ap.add_argument("--windows", required=True, help="the JSON file of batched windows eval.ts writes")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--intra-op-threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.intra_op_threads)
    model, c = load_gpt2(a.model)
    with open(a.windows) as f:
        spec = json.load(f)

    batches = []
    n_windows = 0
    tokens = 0
    for b in spec["batches"]:
        rows, skips = b["rows"], b["skips"]
        t = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), t, dtype=torch.long)
        weights = torch.zeros(len(rows), t - 1, dtype=torch.float64)
        for r, (row, skip) in enumerate(zip(rows, skips)):
            ids[r, :len(row)] = torch.tensor(row, dtype=torch.long)
            n = len(row) - 1
            lo = min(n, max(0, skip))
            weights[r, lo:n] = 1.0
            tokens += n - lo
        batches.append({"inputs": ids[:, :-1].contiguous(), "targets": ids[:, 1:].unsqueeze(-1).contiguous(), "weights": weights, "index": b["index"]})
        n_windows = max(n_windows, max(b["index"]) + 1)

    def score():
        per_window = [0.0] * n_windows
        with torch.no_grad():
            for b in batches:
                logp = F.log_softmax(model(b["inputs"]), dim=-1)
                nll = -logp.gather(-1, b["targets"]).squeeze(-1)
                sums = (nll.double() * b["weights"]).sum(dim=1).tolist()
                for w, s in zip(b["index"], sums):
                    per_window[w] = s
        return per_window

    def forward():
        with torch.no_grad():
            for b in batches:
                model(b["inputs"])

    def timed(fn):
        fn()  # warm-up
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return times

    per_window = score()
    out = {
        "torch": torch.__version__,
        "intra_op_threads": torch.get_num_threads(),
        "params": sum(p.numel() for p in model.parameters()),
        "tokens": tokens,
        "nll": sum(per_window),
        "per_window": per_window,
        "score_s": timed(score),
        "forward_s": timed(forward),
    }
    out["blas"], out["blas_threads"] = blas_library()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
