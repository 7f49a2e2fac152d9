"""Training command: ``treediff train --config FILE [--set key=value ...] [--resume]``.

Under ``torchrun --nproc-per-node N`` the same command runs data parallel (see docs/training.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from treediff_cli.app import app, fail


@app.command()
def train(
    config: Path = typer.Option(..., "--config", "-c", help="TOML training config (see examples/configs/)."),
    overrides: Optional[List[str]] = typer.Option(
        None, "--set", help="Override one config field, e.g. --set optim.lr=3e-4 (repeatable)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest valid checkpoint in checkpoint.dir."),
    overwrite: bool = typer.Option(False, "--overwrite",
                                   help="Delete the checkpoints of an earlier run in checkpoint.dir (and data.cache_dir's shards of another corpus) and start again."),
    device: Optional[str] = typer.Option(None, "--device", help="Shorthand for --set device=cpu|cuda|auto."),
) -> None:
    """Train a denoiser with masked-diffusion loss; logs to <out_dir>/metrics.jsonl.

    A checkpoint directory that holds another run's checkpoints needs --resume or --overwrite.

    Examples:

      treediff train --config examples/configs/tiny.toml
      treediff train --config examples/configs/tiny.toml --set optim.max_steps=300 --resume
      torchrun --standalone --nproc-per-node 2 -m treediff train --config examples/configs/tiny.toml --overwrite
    """
    from treediff.errors import TreediffError
    from treediff.train import apply_overrides, load_config
    from treediff.train import train as run_training

    sets = list(overrides or [])
    if device is not None:
        sets.append(f"device={device}")
    try:
        cfg = apply_overrides(load_config(config), sets)
        if resume and overwrite:
            raise fail("--resume and --overwrite exclude each other: continue the run, or start it again")
        result = run_training(cfg, resume=resume, overwrite=overwrite)
    except TreediffError as exc:
        raise fail(str(exc), exc.exit_code) from None
    if result.val:
        first, last = result.val[0], result.val[-1]
        typer.echo(
            f"done: step {result.step}, val_loss {first['val_loss']:.4f} -> {last['val_loss']:.4f}, "
            f"val_acc {last['val_acc']:.3f}, {result.tokens_per_s:,.0f} tokens/s"
            + (f", MFU {result.mfu:.1%}" if result.mfu is not None else "")
            + (f", checkpoint {result.checkpoint}" if result.checkpoint else ""),
            err=True,
        )


@app.command()
def distill(
    config: Optional[Path] = typer.Option(None, "--config", "-c",
                                          help="TOML distillation config (examples/configs/distill.toml)."),
    overrides: Optional[List[str]] = typer.Option(
        None, "--set", help="Override one config field, e.g. --set steps=500 (repeatable)."
    ),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="Teacher model directory (default: the embedded model)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Where the student bundle goes (default runs/distill)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars on stderr."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint under OUT/checkpoints."),
) -> None:
    """Certainty-forcing self-distillation: a student that threshold decoding can run in parallel.

    Examples:

      treediff distill --config examples/configs/distill.toml
      treediff distill --set steps=50 --out runs/student --json
    """
    import json

    from treediff.distill import distill as run_distill
    from treediff.distill import load_distill_config

    sets = list(overrides or [])
    sets += [f"teacher={teacher}"] if teacher is not None else []
    sets += [f"out={out}"] if out is not None else []
    cfg = load_distill_config(config, sets)
    result = run_distill(cfg, progress=progress and not as_json, resume=resume)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    b, a, c = result.before, result.after, result.counts
    held = (f"; held-out trajectories: accuracy {b['accuracy']:.3f} -> {a['accuracy']:.3f}, confidence "
            f"{b['confidence']:.3f} -> {a['confidence']:.3f}, >= 0.9 {b['above_0.9']:.1%} -> {a['above_0.9']:.1%}"
            if b and a else "")
    typer.echo(f"done: {c['kept']} of {c['prompts']} prompts kept, {result.steps} steps{held}; student {result.out}",
               err=True)
