"""Train the default-size denoiser for a fixed wall-clock budget and export a sharded bundle.

Run through ``bench/gpu/train_default.sh`` on one GPU (no network), or directly::

    python bench/gpu/train_default.py --data PREPARED_DIR --out OUT [--budget-s 480]
        [--config examples/configs/gpu_default.toml] [--calibrate-steps 30] [--set section.key=value ...]

``--data`` is a directory made by ``treediff data prepare`` (its ``tokenizer/`` is used; carry it to
the GPU machine, ≤ ~50 MB), or any corpus ``data prepare`` reads plus ``--tokenizer`` (then it is
prepared here first, with every core).

The budget is spent in two calls of the trainer's public :func:`treediff.train.train`:

1. **calibration**: ``--calibrate-steps`` optimizer steps measure tokens/s on this machine
   (they warm up the kernels and the allocator too);
2. **the run**: ``max_steps`` is set so that the run ends inside what is left of ``--budget-s``
   (minus the measured start-up overhead and a 5 % margin), so the cosine learning-rate schedule
   and the corruption warmup run to their end instead of being cut off.

Then :func:`treediff.sample.export_bundle` writes the bundle and the weights are re-saved as
safetensors shards of at most ``--shard-mb`` (< 16 MB each).  Prints one JSON line: steps, tokens
seen, tokens/s, MFU (``treediff.model.flops``; ``null`` on CPU), losses, bundle files; also saved as
``OUT/run.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "examples" / "configs" / "gpu_default.toml"

__all__ = ["main", "plan_steps"]


def plan_steps(budget_s: float, spent_s: float, overhead_s: float, step_s: float, margin: float = 0.05) -> int:
    """Optimizer steps that fit in what is left of the budget (at least 1).

    >>> plan_steps(480, 40, 10, 0.1)
    4085
    """
    left = (budget_s - spent_s - overhead_s) * (1.0 - margin)
    return max(1, int(left / max(step_s, 1e-9)))


def _prepare(args: argparse.Namespace) -> tuple[Path, Path]:
    """(prepared directory, tokenizer directory)."""
    data = Path(args.data)
    if (data / "manifest.json").is_file():
        return data, data / "tokenizer"
    if not args.tokenizer:
        raise SystemExit(f"error: {data} is not a prepared directory; give --tokenizer to prepare it")
    from treediff.data import prepare_corpus

    prepared = Path(args.out) / "data"
    prepare_corpus(data, args.tokenizer, prepared, seq_len=None, workers=os.cpu_count(), show_progress=False)
    return prepared, prepared / "tokenizer"


def _configure(args: argparse.Namespace, prepared: Path, tokenizer: Path):
    from treediff.train import apply_overrides, load_config

    config = apply_overrides(load_config(args.config), list(args.set))
    out = Path(args.out)
    data = replace(config.data, corpus=str(prepared), cache_dir=str(prepared), tokenizer=str(tokenizer))
    return replace(config, data=data, out_dir=str(out / "run"),
                   checkpoint=replace(config.checkpoint, dir=str(out / "run" / "checkpoints")))


def _export(run_dir: Path, bundle: Path, shard_mb: float, note: str) -> list[dict[str, object]]:
    """Export the run's last checkpoint and re-save its weights as safetensors shards of ≤ ``shard_mb``."""
    from transformers.utils import logging as hf_logging

    from treediff.model import load_denoiser
    from treediff.sample import export_bundle

    export_bundle(run_dir, bundle, note=note)
    model = load_denoiser(bundle)
    for old in bundle.glob("model*.safetensors*"):
        old.unlink()
    hf_logging.disable_progress_bar()
    model.save_pretrained(bundle, max_shard_size=f"{int(shard_mb * 1000)}KB")
    files = [{"name": p.name, "mb": round(p.stat().st_size / 1e6, 3)} for p in sorted(bundle.iterdir())]
    big = [f for f in files if f["mb"] >= 16.0]
    if big:
        raise SystemExit(f"error: bundle file {big[0]['name']} is {big[0]['mb']} MB (limit 16)")
    load_denoiser(bundle)  # the sharded bundle loads back
    return files


def _train_in_budget(args: argparse.Namespace, config, t0: float):
    """Calibrate, plan ``max_steps`` for the rest of the budget, train; (calibration, its seconds, run config,
    result, run seconds)."""
    from treediff.train import train

    out = Path(args.out)
    calib = replace(config, out_dir=str(out / "calibrate"),
                    optim=replace(config.optim, max_steps=args.calibrate_steps),
                    checkpoint=replace(config.checkpoint, dir=str(out / "calibrate" / "checkpoints"), every=0),
                    log=replace(config.log, val_every=0, tensorboard=False, progress=False))
    t_cal = time.perf_counter()
    cal = train(calib)
    cal_s = time.perf_counter() - t_cal
    tokens_per_step = config.data.batch_size * config.data.seq_len * config.optim.grad_accum
    step_s = tokens_per_step / cal.tokens_per_s
    overhead = max(0.0, cal_s - args.calibrate_steps * step_s)
    steps = plan_steps(args.budget_s, time.perf_counter() - t0, overhead, step_s)
    if args.max_steps:
        steps = min(steps, args.max_steps)
    run = replace(config, optim=replace(config.optim, max_steps=steps,
                                        warmup_steps=min(config.optim.warmup_steps, max(1, steps // 10))),
                  noise=replace(config.noise, warmup_steps=min(config.noise.warmup_steps, steps // 5)))
    t_run = time.perf_counter()
    result = train(run)
    return cal, cal_s, run, result, time.perf_counter() - t_run


def main(argv: list[str] | None = None) -> dict[str, object]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="a prepared directory (data prepare), or a corpus with --tokenizer")
    p.add_argument("--out", required=True, help="output folder: run/, bundle/, run.json")
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument("--tokenizer", default="", help="tokenizer directory when --data is not prepared yet")
    p.add_argument("--budget-s", type=float, default=480.0, help="wall-clock seconds for calibration + training")
    p.add_argument("--calibrate-steps", type=int, default=30)
    p.add_argument("--max-steps", type=int, default=0, help="cap the planned steps (0 = no cap; for dry runs)")
    p.add_argument("--shard-mb", type=float, default=15.0, help="largest safetensors shard, MB (< 16)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="config override")
    args = p.parse_args(argv)
    if not 0 < args.shard_mb < 16:
        raise SystemExit(f"error: --shard-mb must be in (0, 16), got {args.shard_mb}")
    if args.budget_s <= 0 or args.budget_s > 480:
        raise SystemExit(f"error: --budget-s must be in (0, 480], got {args.budget_s}")

    from treediff.errors import TreediffError

    t0 = time.perf_counter()
    try:
        prepared, tokenizer = _prepare(args)
        config = _configure(args, prepared, tokenizer)
        cal, cal_s, run, result, run_s = _train_in_budget(args, config, t0)
        tokens_per_step = config.data.batch_size * config.data.seq_len * config.optim.grad_accum
        note = (f"bench/gpu/train_default.py: {run.optim.max_steps} steps, {run.optim.max_steps * tokens_per_step:,} "
                f"tokens, {result.tokens_per_s:,.0f} tokens/s on {_device_name()}")
        files = _export(Path(run.out_dir), Path(args.out) / "bundle", args.shard_mb, note)
    except TreediffError as exc:
        raise SystemExit(f"error: {exc}") from None
    from treediff.model.flops import num_params

    report = {
        "device": _device_name(),
        "config": str(args.config),
        "preset": config.model.preset,
        "seq_len": config.data.seq_len,
        "calibration": {"steps": args.calibrate_steps, "seconds": round(cal_s, 1), "tokens_per_s": round(cal.tokens_per_s)},
        "steps": result.step,
        "tokens_seen": result.step * tokens_per_step,
        "train_seconds": round(run_s, 1),
        "tokens_per_s": round(result.tokens_per_s),
        "mfu": None if result.mfu is None or math.isnan(result.mfu) else round(result.mfu, 4),
        "first_loss": result.losses[0] if result.losses else None,
        "last_loss": result.losses[-1] if result.losses else None,
        "val": result.val[-1] if result.val and _num_validation_files(prepared) else None,  # none: no held-out files
        "params": _params(Path(args.out) / "bundle", num_params),
        "bundle": files,
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    (Path(args.out) / "run.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))
    return report


def _num_validation_files(prepared: Path) -> int:
    from treediff.data import read_manifest

    return int(read_manifest(prepared).get("splits", {}).get("validation", {}).get("files", 0))


def _params(bundle: Path, num_params) -> int:
    from treediff.model import load_denoiser

    return num_params(load_denoiser(bundle), non_embedding=False)


def _device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
