"""The one optimisation loop every training objective runs in: read it top to bottom in :func:`run_loop`.

An :class:`Objective` says what a micro-batch's loss is, how to validate, and what it must keep for a
resume; the loop owns the rest, once: AdamW with nanoGPT's parameter groups, the linear-warmup cosine
schedule (:func:`~treediff.train.schedule.cosine_lr`), gradient accumulation and clipping, DDP (torchrun's
environment, gradients synchronised on the last micro-batch only), logging on the main process
(:class:`~treediff.train.logging.RunLogger`), atomic checkpoints, and ``resume=True`` from the newest
valid checkpoint with the optimizer, schedule, RNG and the objective's own state.  The masked-diffusion
trainer (:func:`treediff.train.train`) and certainty-forcing distillation (:mod:`treediff.distill`) are
two objectives of this loop.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from treediff.errors import CheckpointError
from treediff.train.checkpoint import latest_checkpoint, load_checkpoint, load_model_weights, save_checkpoint
from treediff.train.distributed import DistEnv, all_reduce_mean
from treediff.train.logging import RunLogger
from treediff.train.schedule import build_scheduler, cosine_lr

__all__ = ["LoopSettings", "Objective", "TrainResult", "run_loop", "autocast_for", "peak_flops"]


@dataclass(frozen=True)
class LoopSettings:
    """What the loop takes from a run's config: where it writes (``out_dir``, ``ckpt_dir``), the optimizer
    (``lr`` → ``min_lr`` after ``warmup_steps``, ``max_steps``, ``weight_decay``, ``beta1``, ``beta2``, ``eps``,
    ``grad_clip``, ``grad_accum`` micro-batches), the cadence (``log_every``, ``val_every``, ``ckpt_every``,
    0 = only at the end; ``keep_last`` checkpoints), ``tensorboard``, ``progress``, ``precision`` and
    ``config`` (the run's whole config as a dict, stored in every checkpoint and compared on resume).
    ``seq_len``: tokens per sample, for the MFU on CUDA (``None``: not measured); ``lr_key``: the config key
    of the learning rate, named when the loss is not finite."""

    out_dir: str
    ckpt_dir: str
    lr: float
    min_lr: float
    warmup_steps: int
    max_steps: int
    weight_decay: float
    config: dict[str, Any]
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0
    grad_accum: int = 1
    log_every: int = 1
    val_every: int = 0
    ckpt_every: int = 0
    keep_last: int = 1
    tensorboard: bool = False
    progress: bool = False
    precision: str = "auto"
    seq_len: int | None = None
    lr_key: str = "optim.lr"


class Objective:
    """What a training run optimises; the loop calls these, in this order per optimizer step:
    :meth:`micro_loss` for each micro-batch, then :meth:`advance`.  Subclasses define all four methods
    (``describe`` and ``log_fields`` have defaults)."""

    def micro_loss(self, model: torch.nn.Module, step: int, micro: int) -> tuple[torch.Tensor, int]:
        """The loss of micro-batch ``micro`` of optimizer step ``step`` (0-based, before the step), and its
        number of tokens (for the throughput)."""
        raise NotImplementedError

    def advance(self) -> None:
        """After each optimizer step (move the data position on)."""

    def validate(self, model: torch.nn.Module) -> dict[str, float] | None:
        """Validation metrics of ``model`` (``None``: none to report)."""
        return None

    def validates_at_start(self) -> bool:
        """Whether a fresh run validates before its first step."""
        return True

    def state_dict(self) -> dict[str, Any]:
        """What a resume needs, saved at the top level of the trainer state (tensors and plain values)."""
        return {}

    def rng_state(self) -> dict[str, Any]:
        """Generator states saved beside the global RNG states."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint's whole trainer state (:meth:`state_dict` and :meth:`rng_state` inside)."""

    def log_fields(self, step: int) -> dict[str, Any]:
        """Extra fields of the ``train`` log record of optimizer step ``step`` (0-based), after it."""
        return {}

    def head_share(self) -> float:
        """The share of the trained tokens the output projection ran at (for the MFU; 1 = every token)."""
        return 1.0

    def describe(self, model: torch.nn.Module, env: DistEnv) -> str:
        """The first line of a fresh run's log."""
        return f"training {sum(p.numel() for p in model.parameters()):,} parameters on {env.device} x{env.world_size}"


@dataclass
class TrainResult:
    """What a run did: the per-step training losses (global means) and validation records."""

    start_step: int
    step: int
    losses: list[float] = field(default_factory=list)
    val: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Path | None = None
    tokens_per_s: float = float("nan")
    mfu: float | None = None


def autocast_for(device: torch.device, precision: str):
    """bf16 autocast on CUDA (``precision`` ``auto`` or ``bf16``) and on the CPU when asked for (``bf16``:
    about 1.8x faster per step where the CPU has bf16 matrix units, AMX/AVX-512-BF16); nothing elsewhere."""
    if device.type == "cuda" and precision in ("auto", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cpu" and precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def run_loop(model: torch.nn.Module, objective: Objective, settings: LoopSettings, env: DistEnv, *,  # long: the loop
             resume: bool = False, on_log: Callable[[int, dict[str, Any]], None] | None = None) -> TrainResult:
    """Optimise ``model`` (already initialised, on the CPU or ``env.device``) for ``objective`` up to
    ``settings.max_steps``; see the module docstring.  ``on_log(step, metrics)``: called with every ``train``
    record on the main process."""
    ckpt_dir = Path(settings.ckpt_dir)
    lr_at = cosine_lr(settings.lr, settings.min_lr, settings.warmup_steps, settings.max_steps)
    step, ckpt, untied = 0, None, {}
    if resume:
        path = latest_checkpoint(ckpt_dir)
        if path is None and any(ckpt_dir.glob("step_*")):
            raise CheckpointError(f"no valid checkpoint under {str(ckpt_dir)!r} to resume from (all corrupt)")
        if path is not None:
            ckpt = load_checkpoint(path)
            untied = load_model_weights(model, ckpt.model_dir, untie=True)
            step = ckpt.step
    model.to(env.device)
    optimizer = torch.optim.AdamW(
        _param_groups(model, settings.weight_decay), lr=settings.lr, betas=(settings.beta1, settings.beta2),
        eps=settings.eps, fused=env.device.type == "cuda",
    )
    scheduler = build_scheduler(optimizer, lr_at)
    if ckpt is not None:
        optimizer.load_state_dict(_untied_state(ckpt.state["optimizer"], model, untied, settings.weight_decay)
                                  if untied else ckpt.state["optimizer"])
        scheduler.load_state_dict(ckpt.state["scheduler"])
        _rebase_lr(optimizer, scheduler, lr_at, step)
        _set_rng_state(ckpt.state["rng"])
        objective.load_state_dict(ckpt.state)
    ddp_model = model
    if env.is_distributed:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[env.local_rank] if env.device.type == "cuda" else None
        )

    log = RunLogger(settings.out_dir, total_steps=settings.max_steps, start_step=step, enabled=env.is_main,
                    tensorboard=settings.tensorboard, progress=settings.progress)
    result = TrainResult(start_step=step, step=step)
    if ckpt is not None:
        log.event(step, f"resumed from {ckpt.path} at step {step}" + _where(ckpt.state), checkpoint=str(ckpt.path))
        _warn_config_drift(log, step, ckpt.config, settings.config)
        if untied:
            log.event(step, f"untied the output head ({', '.join(untied)}): it starts as a copy of the input "
                            "embeddings, with their optimizer moments")
    elif env.is_main:
        log.event(step, objective.describe(model, env), config=settings.config)

    def validate_and_log(at: int) -> None:
        metrics = objective.validate(ddp_model)
        if metrics is not None:
            result.val.append({"step": at, **metrics})
            log.log(at, "val", metrics)

    def save(at: int) -> None:
        if env.is_main:
            state = {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": {**_rng_state(), **objective.rng_state()},
                **objective.state_dict(),
            }
            result.checkpoint = save_checkpoint(ckpt_dir, at, model=model, trainer_state=state,
                                                config=settings.config, keep_last=settings.keep_last)
            log.event(at, f"checkpoint {result.checkpoint}", checkpoint=str(result.checkpoint))
        if env.is_distributed:
            import torch.distributed as dist

            dist.barrier()

    if step == 0 and objective.validates_at_start():
        validate_and_log(0)

    model.train()
    t_log, tokens_since_log = time.perf_counter(), 0
    t_start, tokens_total = time.perf_counter(), 0
    while step < settings.max_steps:
        loss_acc = torch.zeros((), device=env.device)
        tokens = 0
        for micro in range(settings.grad_accum):
            last = micro == settings.grad_accum - 1
            sync = contextlib.nullcontext() if (last or not env.is_distributed) else ddp_model.no_sync()
            with sync:
                loss, n_tokens = objective.micro_loss(ddp_model, step, micro)
                loss = loss / settings.grad_accum
                loss.backward()
            tokens += n_tokens
            loss_acc += loss.detach()
        grad_norm = (torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
                     if settings.grad_clip > 0 else None)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        objective.advance()

        loss_value = float(all_reduce_mean(loss_acc, env))
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"loss is {loss_value} at step {step}; lower {settings.lr_key} or check the data")
        result.losses.append(loss_value)
        tokens_since_log += tokens * env.world_size
        tokens_total += tokens * env.world_size
        if step % settings.log_every == 0 or step == settings.max_steps:
            now = time.perf_counter()
            tps = tokens_since_log / max(now - t_log, 1e-9)
            metrics = {"loss": loss_value, "lr": lr, "tokens_per_s": tps, **objective.log_fields(step - 1)}
            if grad_norm is not None:
                metrics["grad_norm"] = float(grad_norm)
            log.log(step, "train", metrics)
            if on_log is not None and env.is_main:
                on_log(step, metrics)
            t_log, tokens_since_log = now, 0
        if settings.val_every and step % settings.val_every == 0 and step != settings.max_steps:
            validate_and_log(step)
        if settings.ckpt_every and step % settings.ckpt_every == 0 and step != settings.max_steps:
            save(step)

    elapsed = time.perf_counter() - t_start
    result.step = step
    result.tokens_per_s = tokens_total / max(elapsed, 1e-9)
    if result.start_step < settings.max_steps or not result.val:
        validate_and_log(step)
        save(step)
    result.mfu = _mfu(model, settings, env, result.tokens_per_s, objective.head_share())
    if result.mfu is not None:
        log.log(step, "event", {"message": "throughput", "tokens_per_s": result.tokens_per_s, "mfu": result.mfu})
    log.close()
    return result


def _where(state: dict[str, Any]) -> str:
    pos = state.get("data_position")
    return f" (epoch {pos['epoch']}, sample {pos['index']})" if isinstance(pos, dict) and "epoch" in pos else ""


def _rng_state() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": _numpy_state_to_torch(np.random.get_state()),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_state_to_torch(state: tuple) -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = state
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached": float(cached)}


def _set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """nanoGPT's split: decay matrices (ndim >= 2), not norms / biases."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def _untied_state(saved: dict[str, Any], model: torch.nn.Module, untied: dict[str, str],
                  weight_decay: float) -> dict[str, Any]:
    """The optimizer state saved while the output head was tied, for ``model`` with its own head (``untied``:
    ``{head: embedding}``): every saved parameter keeps its moments, the head takes the embedding's."""
    names = {id(p): n for n, p in model.named_parameters()}
    groups = _param_groups(model, weight_decay)
    order = [names[id(p)] for g in groups for p in g["params"]]
    saved_order = [n for n in order if n not in untied]  # the tied model's parameters, in its own order
    if sum(len(g["params"]) for g in saved["param_groups"]) != len(saved_order):
        raise CheckpointError("the checkpoint's optimizer state does not fit the model with an untied head")
    where = {n: i for i, n in enumerate(saved_order)}
    state = {}
    for j, name in enumerate(order):
        moments = saved["state"].get(where[untied.get(name, name)])
        if moments is not None:
            state[j] = {k: v.clone() if torch.is_tensor(v) else v for k, v in moments.items()}
    out, k = [], 0
    for group_saved, group in zip(saved["param_groups"], groups):
        out.append({**group_saved, "params": list(range(k, k + len(group["params"])))})
        k += len(group["params"])
    return {"state": state, "param_groups": out}


def _mfu(model, settings: LoopSettings, env: DistEnv, tokens_per_s: float, head_share: float = 1.0) -> float | None:
    """Model FLOPs utilisation on CUDA (:func:`treediff.model.flops.mfu`; ``head_share``: the share of tokens
    the output projection ran at); ``None`` on CPU or an unknown GPU."""
    if env.device.type != "cuda" or settings.seq_len is None:
        return None
    from treediff.model.flops import PEAK_FLOPS, mfu

    peak = peak_flops(torch.cuda.get_device_name(env.device), PEAK_FLOPS)
    if peak is None:
        return None
    return float(mfu(tokens_per_s, model.config, settings.seq_len, peak * env.world_size, head_share))


def peak_flops(device_name: str, table: dict[str, float]) -> float | None:
    """The bf16 peak of a GPU named like ``torch.cuda.get_device_name`` (``None`` if not in ``table``).

    >>> peak_flops("NVIDIA H100 80GB HBM3", {"h100_sxm": 1.0, "h100_pcie": 2.0})
    1.0
    """
    name = device_name.lower()
    if "h200" in name:
        return table.get("h200")
    if "h100" in name:
        return table.get("h100_pcie" if "pcie" in name else "h100_sxm")
    if "a100" in name:
        return table.get("a100")
    return None


def _rebase_lr(optimizer: torch.optim.Optimizer, scheduler, lr_at: cosine_lr, step: int) -> None:
    """After loading a checkpoint's optimizer and scheduler, schedule from this run's ``lr`` (the loaded
    states carry the old run's base rate, so ``--set optim.lr=...`` on a resume would otherwise scale the
    new schedule by the old peak)."""
    for group in optimizer.param_groups:
        group["initial_lr"] = lr_at.lr
        group["lr"] = lr_at(step)
    scheduler.base_lrs = [lr_at.lr] * len(optimizer.param_groups)


def _warn_config_drift(log: RunLogger, step: int, saved: dict[str, Any], now: dict[str, Any]) -> None:
    diffs = []
    for section in now:
        a, b = saved.get(section), now[section]
        if isinstance(b, dict) and isinstance(a, dict):
            diffs += [f"{section}.{k}" for k in b if a.get(k) != b[k]]
        elif a != b:
            diffs.append(section)
    if diffs:
        log.event(step, f"warning: config differs from the checkpoint's in {', '.join(diffs)}", changed=diffs)
