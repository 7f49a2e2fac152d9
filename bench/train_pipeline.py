"""Data pipeline vs model: can the input side keep the trainer fed?

Measures, in one run and on the same config:

* **pipeline**: micro-batches/s out of ``DataLoader`` (the trainer's deterministic batch sampler,
  ``collate`` to ``seq_len``) plus the configured masker, with no model at all;
* **model**: optimizer steps/s of the denoiser (forward, masked-diffusion loss, backward, AdamW)
  on pre-built masked batches, i.e. the rate at which training consumes micro-batches, as the trainer
  runs it (the output projection at the masked positions only) and, side by side on the same batches,
  with logits at every position (how the trainer ran before; ``masked_only_speedup``);

and prints pipeline / model (goal: >= 10x, so input never limits training).  With ``--device cuda``
it also reports tokens/s and MFU (``treediff.model.flops``) with bf16 autocast, by default for the
~50M-parameter ``base50m`` preset; without CUDA that mode exits with a note.

    python bench/train_pipeline.py [--config examples/configs/tiny.toml] [--batches 200] [--steps 30]
    python bench/train_pipeline.py --device cuda --preset base50m --set data.batch_size=32 --set data.seq_len=512
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from treediff.train.config import apply_overrides, load_config
from treediff.train.distributed import DistEnv
from treediff.train.loop import (
    _Collate,
    _loader,
    build_masker_from,
    build_model,
    forward_logits,
    load_datasets,
    mask_seed,
)
from treediff.train.runner import _param_groups, peak_flops
from treediff.train.runner import autocast_for as _autocast
from treediff.train.objective import masked_diffusion_loss
from treediff.train.sampler import DataOrder, DataPosition

ROOT = Path(__file__).resolve().parents[1]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_pipeline(cfg, train_ds, collate, masker, mask_id: int, num_batches: int) -> float:
    """Micro-batches/s: DataLoader + collate + masking (the masking runs where the trainer runs it)."""
    order = DataOrder(len(train_ds), cfg.data.batch_size, 1, 1, cfg.seed)
    it = _loader(train_ds, order, DataPosition(), 0, collate, cfg.data.num_workers)
    gen = torch.Generator()
    from treediff.noise.warmup import sample_t

    def one(k: int) -> None:
        batch = next(it)
        gen.manual_seed(mask_seed(cfg.seed, k, 0))
        t = sample_t(batch.batch_size, k, gen, 0)
        masker(batch, t, gen, mask_id)

    for k in range(min(5, num_batches)):  # start workers, warm caches
        one(k)
    t0 = time.perf_counter()
    for k in range(num_batches):
        one(k)
    return num_batches / (time.perf_counter() - t0)


def measure_model(cfg, model, batches, device: torch.device, steps: int, *, masked_only: bool = True) -> float:
    """Optimizer steps/s (one micro-batch per step) on pre-built masked batches (``masked_only``: logits at the
    masked positions alone, as the trainer computes them)."""
    model.to(device).train()
    opt = torch.optim.AdamW(_param_groups(model, 0.1), lr=1e-4, fused=device.type == "cuda")
    use_structure = bool(getattr(model.config, "use_structure_encoder", False))

    def step(k: int) -> None:
        batch, masked = batches[k % len(batches)]
        with _autocast(device, cfg.precision):
            logits = forward_logits(model, masked, batch, use_structure, masked_only=masked_only)
        n_tok = (batch.attention_mask & ~batch.special_mask).sum()
        loss = masked_diffusion_loss(logits, masked.targets, masked.mask, masked.loss_weight, n_tok)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for k in range(3):
        step(k)
    _sync(device)
    t0 = time.perf_counter()
    for k in range(steps):
        step(k)
    _sync(device)
    return steps / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "examples" / "configs" / "tiny.toml"))
    ap.add_argument("--set", dest="sets", action="append", default=[], help="config override key=value")
    ap.add_argument("--batches", type=int, default=200, help="pipeline micro-batches to time")
    ap.add_argument("--steps", type=int, default=30, help="model steps to time")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--preset", default=None, help="model preset (default: the config's; base50m with --device cuda)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads on CPU")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: --device cuda needs a CUDA GPU", file=sys.stderr)
        return {"skipped": "no CUDA"}
    if args.threads:
        torch.set_num_threads(args.threads)
    from treediff.tokens.tokenizer import SyntaxTokenizer
    from treediff.data import collate as collate_fn

    cfg = load_config(args.config)
    sets = [f"device={args.device}", *args.sets]
    preset = args.preset or ("base50m" if args.device == "cuda" else None)
    if preset:
        sets.append(f"model.preset={preset}")
    with tempfile.TemporaryDirectory() as tmp:
        if not any(s.startswith("out_dir=") for s in sets):
            sets.append(f"out_dir={tmp}")
        cfg = apply_overrides(cfg, sets)
        device = torch.device(args.device)
        tok = SyntaxTokenizer.from_pretrained(cfg.data.tokenizer)
        train_ds, _ = load_datasets(cfg, tok, DistEnv(device=device))
        collate = _Collate(collate_fn, tok, cfg.data.seq_len)
        masker = build_masker_from(cfg)

        pipe = measure_pipeline(cfg, train_ds, collate, masker, tok.mask_id, args.batches)

        torch.manual_seed(cfg.seed)
        model = build_model(cfg, tok)
        gen = torch.Generator().manual_seed(0)
        batches = []
        for k in range(8):
            idx = range(k * cfg.data.batch_size, (k + 1) * cfg.data.batch_size)
            batch = collate([train_ds[i % len(train_ds)] for i in idx])
            masked = masker(batch, torch.rand(batch.batch_size, generator=gen), gen, tok.mask_id)
            batches.append((batch.to(device), masked.to(device)))
        state = {k: v.clone() for k, v in model.state_dict().items()}
        all_logits = measure_model(cfg, model, batches, device, args.steps, masked_only=False)
        model.load_state_dict(state)
        steps_per_s = measure_model(cfg, model, batches, device, args.steps)

    tokens_per_step = cfg.data.batch_size * cfg.data.seq_len
    out = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "preset": cfg.model.preset,
        "params": sum(p.numel() for p in model.parameters()),
        "masker": cfg.noise.masker,
        "batch_size": cfg.data.batch_size,
        "seq_len": cfg.data.seq_len,
        "num_workers": cfg.data.num_workers,
        "pipeline_batches_per_s": pipe,
        "model_steps_per_s": steps_per_s,
        "ratio": pipe / steps_per_s,
        "model_tokens_per_s": steps_per_s * tokens_per_step,
        "all_logits_steps_per_s": all_logits,
        "masked_only_speedup": steps_per_s / all_logits,
    }
    if device.type == "cuda":
        from treediff.model.flops import PEAK_FLOPS, mfu

        peak = peak_flops(out["device"], PEAK_FLOPS)
        share = sum(int(m.mask.sum()) for _, m in batches) / max(1, sum(int(b.attention_mask.sum()) for b, _ in batches))
        out["mfu"] = None if peak is None else mfu(out["model_tokens_per_s"], model.config, cfg.data.seq_len, peak,
                                                   head_share=share)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"device {out['device']} ({out['threads']} threads), preset {out['preset']} ({out['params']:,} params), "
              f"masker {out['masker']}, batch {out['batch_size']} x {out['seq_len']}, workers {out['num_workers']}")
        print(f"pipeline (DataLoader + collate + masker): {pipe:10.1f} micro-batches/s")
        print(f"model (fwd + bwd + AdamW):                {steps_per_s:10.2f} steps/s "
              f"({out['model_tokens_per_s']:,.0f} tokens/s)")
        print(f"  same, logits at every position:         {all_logits:10.2f} steps/s "
              f"(masked-only is {out['masked_only_speedup']:.2f}x)")
        print(f"ratio pipeline / model:                   {out['ratio']:10.1f}x (goal >= 10x)")
        if "mfu" in out:
            print("MFU: " + ("unknown GPU peak" if out["mfu"] is None else f"{out['mfu']:.1%}"))
    return out


if __name__ == "__main__":
    main()
