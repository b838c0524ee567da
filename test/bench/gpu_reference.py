"""PyTorch CUDA side of bench:gpu (test/bench/gpu.ts): training tokens per second of the same shapes.

model_reference.py's plain torch.nn GPT-2 and Llama, random weights (std 0.02), float32 with TF32
off (tfjs computes in float32 without tensor cores), AdamW (lr 1e-4, weight decay 0.1), gradient
clipping at 1.0, random token batches of --batch x --seq; --warmup untimed steps, then --steps timed
ones, synchronised. Prints one JSON line: {"device": ..., "rows": [{"config", "tokensPerSecond"} |
{"config", "error"}]}.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_reference import Gpt2, Llama, init_like_transformers  # noqa: E402


def bench(name, config, batch, seq, warmup, steps):
    model = (Gpt2 if config["model_type"] == "gpt2" else Llama)(config)
    init_like_transformers(model)
    model = model.cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
    vocab = config["vocab_size"]
    g = torch.Generator(device="cuda").manual_seed(1)
    times = []
    for i in range(warmup + steps):
        ids = torch.randint(0, min(vocab, 50257), (batch, seq + 1), device="cuda", generator=g)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
        print(f"  torch {name} step {i + 1}: {time.perf_counter() - t0:.3f} s, loss {loss.item():.4f}", file=sys.stderr)
    del model, opt
    torch.cuda.empty_cache()
    return batch * seq / (sum(times) / len(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", required=True, help="JSON object: name -> config.json fields")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    # model_reference.py's modules make their masks and rope tables with plain torch calls.
    torch.set_default_device("cuda")
    rows = []
    for name, config in json.loads(a.configs).items():
        try:
            rows.append({"config": name, "tokensPerSecond": bench(name, config, a.batch, a.seq, a.warmup, a.steps)})
        except Exception as e:  # noqa: BLE001 - an out-of-memory shape is reported, not fatal
            rows.append({"config": name, "error": f"{type(e).__name__}: {str(e).splitlines()[0]}"})
            torch.cuda.empty_cache()
    print(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
