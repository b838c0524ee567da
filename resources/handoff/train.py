"""Continual pretraining of a Vernacular run with PyTorch: the same batches, loss, optimizer and
schedule as Vernacular's own trainer, on one GPU, many GPUs (FSDP under torchrun) or the CPU.

    torchrun --nproc-per-node 8 train.py                 # or ./launch.sh --nproc-per-node 8
    python3 train.py --no-fsdp --device cpu --steps 5    # a smoke test on one process

Reads vernacular-run.json next to it (or --bundle): the model in model/, the token files in data/,
the settings. Writes OUT/metrics.jsonl (one line per optimizer step, as Vernacular's metrics) and
OUT/checkpoints/step-<n>/ (Hugging Face folders) every checkpointEvery steps and at the end.

What each step computes, as Vernacular does:
- the step's micro-batches come from vernacular_data.step_batches (identical data order);
- each micro-batch's loss is the weighted mean next-token cross-entropy sum(w * nll) / sum(w), the
  step's loss the mean over its micro-batches, and so is its gradient;
- with document masking, attention is causal within each packed document and position ids restart
  at 0 where a document begins;
- the gradient's global norm is clipped to maxGradNorm; AdamW (torch's) with two groups: matrices
  decay, biases, norms and embeddings do not (embeddings do with decayEmbeddings); a linear
  warm-up then a cosine down to floorRatio of the peak (LambdaLR);
- a first stage of embeddingOnlySteps trains only the token embeddings and the output head;
- a step whose loss or gradient is not finite changes nothing (the schedule does not move either).

Many GPUs: a step's micro-batch a goes to rank a % WORLD_SIZE, so the tokens per step and the data
order are those of the plan on any number of GPUs (gradientAccumulation must be a multiple of
the world size). Each rank scales its loss by WORLD_SIZE / gradientAccumulation, so that FSDP's
averaged gradient is the mean over all micro-batches.

Written against torch 2.4/2.5 and transformers 4.46 (requirements.txt). The transformers and FSDP
paths were not run where this script was written; the single-process path (--no-fsdp, with a
model module) is tested against Vernacular's trainer on torch 1.13.
"""

import argparse
import importlib.util
import json
import math
import os
import shutil
import struct
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vernacular_data  # noqa: E402

WRAPPER_PREFIXES = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.", "_orig_mod.")
EMBEDDINGS = ("wte.weight", "embed_tokens.weight")


def clean_name(name):
    for p in WRAPPER_PREFIXES:
        name = name.replace(p, "")
    return name


def param_kind(name, ndim):
    """The kind Vernacular gives a parameter (main/engine/model/names.ts), from its Hugging Face name."""
    if name.endswith(EMBEDDINGS):
        return "embedding"
    if name == "lm_head.weight":
        return "head"
    if name.endswith("wpe.weight"):
        return "position"
    return "matrix" if ndim >= 2 else "norm-or-bias"


def lr_factor(schedule):
    """Vernacular's warmupCosine as a LambdaLR factor: update `step` (from 0) uses factor(step)."""
    total = schedule["totalSteps"]
    warmup = min(schedule["warmupSteps"], total)
    floor = schedule.get("floorRatio", 0.1)

    def factor(step):
        if step < warmup:
            return step / warmup
        p = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p))
    return factor


# ---- attention masks ------------------------------------------------------------------------------

def allowed_pairs(segments):
    """[B, L] segment numbers -> [B, 1, L, L] bool: position i may attend to j <= i of its own document."""
    L = segments.shape[1]
    causal = torch.ones(L, L, dtype=torch.bool, device=segments.device).tril()
    return ((segments[:, :, None] == segments[:, None, :]) & causal).unsqueeze(1)


def additive(allowed, dtype):
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)


class MaskInjector:
    """Hands each attention module of a transformers model the 4-D document mask.

    transformers 4.46's GPT-2 flattens a 4-D attention_mask given to the model, so the model is
    called with attention_mask=None and a forward pre-hook replaces each attention module's
    `attention_mask` argument with the block-diagonal causal mask, in the dtype of its input.
    """

    def __init__(self, model):
        self.allowed = None
        for name, module in model.named_modules():
            if name.endswith((".attn", ".self_attn")):
                module.register_forward_pre_hook(self.hook, with_kwargs=True)

    def hook(self, module, args, kwargs):
        if self.allowed is not None:
            hidden = args[0] if args else kwargs["hidden_states"]
            kwargs["attention_mask"] = additive(self.allowed, hidden.dtype)
        return args, kwargs


# ---- the model ------------------------------------------------------------------------------------

def load_model(a, folder):
    """(model, forward(net, inputs, positions, segments or None) -> logits).

    `net` is the model as wrapped for training (FSDP calls must go through the wrapper)."""
    if a.model_module:
        spec = importlib.util.spec_from_file_location("vernacular_model_module", a.model_module)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        model = module.load(folder)

        def forward(net, inputs, positions, segments):
            seg = segments if segments is not None else torch.zeros_like(inputs)
            return net(inputs, positions, additive(allowed_pairs(seg), torch.float32))
        return model, forward
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="sdpa")
    for m in model.modules():  # Vernacular trains without dropout
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    injector = MaskInjector(model)

    def forward(net, inputs, positions, segments):
        injector.allowed = allowed_pairs(segments) if segments is not None else None
        return net(input_ids=inputs, position_ids=positions, attention_mask=None, use_cache=False).logits
    return model, forward


def decoder_block(model):
    """The class of the model's decoder blocks (the first of model._no_split_modules it has), or None."""
    for cls_name in getattr(model, "_no_split_modules", None) or []:
        for m in model.modules():
            if type(m).__name__ == cls_name:
                return type(m)
    return None


def wrap_fsdp(model, block, local_rank, recompute):
    """FULL_SHARD by decoder block, bf16 compute with fp32 gradient reduction, optional activation checkpointing."""
    import functools
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP, MixedPrecision, ShardingStrategy
    from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy
    if block is None:
        raise SystemExit("Cannot find the model's decoder block class (model._no_split_modules) to shard by.")
    model = FSDP(model, sharding_strategy=ShardingStrategy.FULL_SHARD,
                 auto_wrap_policy=functools.partial(transformer_auto_wrap_policy, transformer_layer_cls={block}),
                 mixed_precision=MixedPrecision(param_dtype=torch.bfloat16, reduce_dtype=torch.float32),
                 use_orig_params=True, device_id=local_rank)
    if recompute:
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
            CheckpointImpl, apply_activation_checkpointing, checkpoint_wrapper)
        apply_activation_checkpointing(
            model, checkpoint_wrapper_fn=functools.partial(checkpoint_wrapper, checkpoint_impl=CheckpointImpl.NO_REENTRANT),
            check_fn=lambda m: isinstance(m, block))
    return model


# ---- checkpoints ----------------------------------------------------------------------------------

SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
CONFIG_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def write_safetensors(path, tensors):
    """A minimal safetensors writer: {name: tensor} -> header length (u64 LE), JSON header, raw bytes."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for raw in blobs:
            f.write(raw)
    os.replace(path + ".tmp", path)


def full_state_dict(model, fsdp):
    if not fsdp:
        return model.state_dict()
    from torch.distributed.fsdp import FullStateDictConfig, FullyShardedDataParallel as FSDP, StateDictType
    with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, FullStateDictConfig(offload_to_cpu=True, rank0_only=True)):
        return model.state_dict()


def save_checkpoint(out, step, state, names, model_dir, dtype, keep):
    """OUT/checkpoints/step-<n>/: model.safetensors (the parameters, a tied head once), config and tokenizer files."""
    root = os.path.join(out, "checkpoints")
    final = os.path.join(root, f"step-{step}")
    staging = final + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    tensors = {clean_name(k): v.to(dtype) for k, v in state.items() if clean_name(k) in names}
    write_safetensors(os.path.join(staging, "model.safetensors"), dict(sorted(tensors.items())))
    for f in os.listdir(model_dir):
        if not f.endswith((".safetensors", ".bin", ".index.json", ".pt", ".pth")) and os.path.isfile(os.path.join(model_dir, f)):
            shutil.copy(os.path.join(model_dir, f), staging)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)
    steps = sorted(int(d[5:]) for d in os.listdir(root) if d.startswith("step-") and d[5:].isdigit())
    for old in steps[:-keep] if keep > 0 else []:
        shutil.rmtree(os.path.join(root, f"step-{old}"), ignore_errors=True)
    return final


# ---- training -------------------------------------------------------------------------------------

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Train a Vernacular run handed off to PyTorch.")
    ap.add_argument("--bundle", default=here, help="the bundle folder (default: this script's)")
    ap.add_argument("--out", help="where metrics and checkpoints go (default: BUNDLE/output)")
    ap.add_argument("--steps", type=int, help="stop after this many steps (a smoke test); the schedule stays the plan's")
    ap.add_argument("--model-module", help="a Python file defining load(folder) -> torch.nn.Module (instead of transformers)")
    ap.add_argument("--no-fsdp", action="store_true", help="one process, no sharding")
    ap.add_argument("--device", help="cuda, cpu, ... (default: cuda when present)")
    a = ap.parse_args()

    bundle = os.path.abspath(a.bundle)
    plan = vernacular_data.read_plan(bundle)
    s, opt_cfg = plan["settings"], plan["optimizer"]
    schedule = plan.get("schedule") or {"warmupSteps": s["warmupSteps"], "totalSteps": s["steps"], "floorRatio": 0.1}
    out = os.path.abspath(a.out or os.path.join(bundle, "output"))
    model_dir = os.path.join(bundle, plan["model"]["dir"])
    steps = min(a.steps, s["steps"]) if a.steps else s["steps"]
    A, B, L = s["gradientAccumulation"], s["batchSize"], s["sequenceLength"]

    if a.no_fsdp and int(os.environ.get("WORLD_SIZE", 1)) > 1:
        raise SystemExit("--no-fsdp runs one process; launch it without torchrun (or drop --no-fsdp).")
    use_fsdp = not a.no_fsdp and ("WORLD_SIZE" in os.environ or torch.cuda.is_available())
    rank, world, local_rank = 0, 1, 0
    if use_fsdp:
        import torch.distributed as dist
        rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        os.environ.setdefault("MASTER_ADDR", "localhost")
        os.environ.setdefault("MASTER_PORT", "29500")
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", rank=rank, world_size=world)
    if A % world:
        raise SystemExit(f"gradientAccumulation ({A}) is not a multiple of the {world} processes: each step's micro-batches are shared "
                         f"among them. Run on a number of GPUs that divides {A} (or set gradient accumulation to a multiple of {world} in Vernacular).")
    device = torch.device(a.device or (f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(s["seed"])
    log = print if rank == 0 else (lambda *_, **__: None)

    model, forward = load_model(a, model_dir)
    names = {n: param_kind(n, p.ndim) for n, p in model.named_parameters()}  # before wrapping: true shapes
    with open(os.path.join(model_dir, "config.json")) as f:
        save_dtype = CONFIG_DTYPES.get(json.load(f).get("torch_dtype"), torch.float32)
    recompute = use_fsdp and s.get("recompute", "auto") != "off"
    if use_fsdp:
        model = wrap_fsdp(model, decoder_block(model), local_rank, recompute)
    else:
        model.to(device)
    model.train()

    params = [(clean_name(n), p) for n, p in model.named_parameters()]
    decay_embeddings = opt_cfg.get("decayEmbeddings", False)

    def decays(n):
        return names[n] == "matrix" or (decay_embeddings and names[n] in ("embedding", "head", "position"))
    optimizer = torch.optim.AdamW(
        [{"params": [p for n, p in params if decays(n)], "weight_decay": s["weightDecay"]},
         {"params": [p for n, p in params if not decays(n)], "weight_decay": 0.0}],
        lr=s["learningRate"], betas=(opt_cfg.get("beta1", 0.9), opt_cfg.get("beta2", 0.999)), eps=opt_cfg.get("eps", 1e-8))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(schedule))
    others = [p for n, p in params if names[n] not in ("embedding", "head")]

    def clip(max_norm):
        if use_fsdp:
            return model.clip_grad_norm_(max_norm or float("inf"))
        trained = [p for p in model.parameters() if p.grad is not None]
        return torch.nn.utils.clip_grad_norm_(trained, max_norm or float("inf"))

    def reduce_sum(values):
        t = torch.tensor(values, dtype=torch.float64, device=device)
        if use_fsdp:
            torch.distributed.all_reduce(t)
        return t.tolist()

    os.makedirs(out, exist_ok=True)
    metrics = open(os.path.join(out, "metrics.jsonl"), "w") if rank == 0 else None
    max_norm = opt_cfg.get("maxGradNorm", 1.0)
    batches = vernacular_data.step_batches(bundle, plan)
    tokens = {"target": 0, "english": 0}
    elapsed = 0.0
    log(f"training {steps} steps of {A} x {B} x {L} tokens on {world} process(es), {device}{', FSDP' if use_fsdp else ''}")
    for step in range(steps):
        t0 = time.perf_counter()
        micro = next(batches)
        optimizer.zero_grad(set_to_none=True)
        sums = [0.0] * 5  # loss sum, target row-loss sum, target rows, English row-loss sum, English rows
        for a_i, mb in enumerate(micro):
            if a_i % world != rank:
                continue
            t = {k: torch.from_numpy(mb[k]).to(device) for k in ("inputs", "targets", "segments", "positions", "weights")}
            logits = forward(model, t["inputs"], t["positions"], t["segments"] if s["documentMasking"] else None)
            nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), t["targets"].reshape(-1), reduction="none").view(B, L)
            w = t["weights"]
            loss = (nll * w).sum() / w.sum().clamp(min=1e-30)
            (loss * (world / A)).backward()
            rows = ((nll.detach() * w).sum(1) / w.sum(1).clamp(min=1e-30)).tolist()
            sums[0] += loss.item()
            for lang, row in zip(mb["languages"], rows):
                i = 1 if lang == "target" else 3
                sums[i] += row
                sums[i + 1] += 1
        loss_sum, target_sum, target_rows, english_sum, english_rows = reduce_sum(sums)
        loss = loss_sum / A
        if step < s["embeddingOnlySteps"]:  # a first stage trains only the token embeddings and the head
            for p in others:
                p.grad = None
        grad_norm = float(clip(max_norm))
        lr = optimizer.param_groups[0]["lr"]
        if math.isfinite(loss) and math.isfinite(grad_norm):
            optimizer.step()
            scheduler.step()
        tokens["target"] += int(target_rows) * L
        tokens["english"] += int(english_rows) * L
        seconds = time.perf_counter() - t0
        elapsed += seconds
        m = {"step": step + 1, "loss": loss,
             "lossTarget": target_sum / target_rows if target_rows else None,
             "lossEnglish": english_sum / english_rows if english_rows else None,
             "lr": lr, "gradNorm": grad_norm, "tokensPerSecond": A * B * L / seconds,
             "tokensTarget": tokens["target"], "tokensEnglish": tokens["english"],
             "elapsedSeconds": elapsed, "recompute": recompute}
        if metrics:
            metrics.write(json.dumps(m) + "\n")
            metrics.flush()
        eta = (steps - step - 1) * elapsed / (step + 1)
        log(f"step {step + 1}/{steps}  loss {loss:.4f}  lr {lr:.3g}  {m['tokensPerSecond']:.0f} tok/s  ETA {eta / 60:.1f} min", flush=True)
        if (step + 1) % s["checkpointEvery"] == 0 or step + 1 == steps:
            state = full_state_dict(model, use_fsdp)
            if rank == 0:
                log(f"checkpoint {save_checkpoint(out, step + 1, state, names, model_dir, save_dtype, s.get('keepCheckpoints', 0))}")
            del state
    if metrics:
        metrics.close()
    if use_fsdp:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
