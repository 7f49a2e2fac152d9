"""The training loop: read it top to bottom in :func:`train`.

One optimizer step = ``optim.grad_accum`` micro-batches per process (see ``sampler.py`` for
which samples), each masked by the configured masker with a generator seeded from
``(seed, step, micro-batch index)`` — so the noise of a micro-batch does not depend on the
world size or on whether the run was resumed — and scored with
:func:`~treediff.train.objective.masked_diffusion_loss` (unweighted while the corruption level
warms up).  AdamW, linear-warmup cosine LR, gradient clipping, bf16 autocast on CUDA only.
The main process logs, validates and writes atomic checkpoints; ``resume=True`` continues
from the newest valid checkpoint with the same loss sequence as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from treediff.errors import CheckpointError, ConfigError
from treediff.train.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_model_weights,
    lock_run_dir,
    save_checkpoint,
)
from treediff.train.config import TrainConfig
from treediff.train.distributed import DistEnv, all_reduce_mean, setup_distributed, teardown_distributed
from treediff.train.logging import RunLogger
from treediff.train.objective import CategoryAccuracy, masked_diffusion_loss, token_categories
from treediff.train.sampler import DataOrder, DataPosition, RankBatchSampler
from treediff.train.schedule import build_scheduler, cosine_lr

__all__ = ["TrainResult", "train", "build_model", "build_masker_from", "load_datasets", "mask_seed", "forward_logits"]


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


# ----------------------------------------------------------------------------- building blocks

def load_datasets(config: TrainConfig, tokenizer, env: DistEnv | None = None) -> tuple[Any, Any]:
    """Train and validation windows of ``data.corpus``, prepared once into ``data.cache_dir``.

    The main process prepares (or finds cached) shards; the others wait at a barrier, then open them.
    """
    from treediff.data import CorpusDataset, prepare_corpus

    data = config.data
    cache = Path(data.cache_dir or Path(config.out_dir) / "data")
    if env is None or env.is_main:
        prepare_corpus(data.corpus, tokenizer, cache, val_fraction=data.val_fraction, seq_len=data.seq_len,
                       show_progress=False)
    if env is not None and env.is_distributed:
        import torch.distributed as dist

        dist.barrier()
    return CorpusDataset(cache, "train", seq_len=data.seq_len), CorpusDataset(cache, "validation", seq_len=data.seq_len)


def build_model(config: TrainConfig, tokenizer) -> torch.nn.Module:
    """A freshly initialised denoiser sized by ``model.preset`` + ``model.overrides``."""
    from treediff.model import TreediffConfig, TreediffForMaskedDiffusion

    overrides = dict(config.model.overrides)
    overrides.setdefault("max_position", max(config.data.seq_len, 8))
    try:
        mcfg = TreediffConfig.from_preset(
            config.model.preset, vocab_size=tokenizer.vocab_size, mask_token_id=tokenizer.mask_id,
            pad_token_id=tokenizer.pad_id, **overrides,
        )
    except ConfigError as exc:
        raise ConfigError(f"model: {exc}") from None
    except TypeError as exc:
        raise ConfigError(f"model.overrides: {exc}") from None
    return TreediffForMaskedDiffusion(mcfg)


def build_masker_from(config: TrainConfig):
    """The masker named by ``noise.masker`` with ``noise.options``."""
    from treediff.noise import build_masker

    try:
        return build_masker({"name": config.noise.masker, **config.noise.options})
    except ConfigError as exc:
        raise ConfigError(f"noise: {exc}") from None


def mask_seed(seed: int, step: int, micro: int) -> int:
    """The masking generator's seed for micro-batch ``micro`` (global index) of optimizer step ``step``."""
    return (seed * 1_000_003 + step * 10_007 + micro) % (2**63 - 1)


def forward_logits(model: torch.nn.Module, masked, batch, use_structure: bool) -> torch.Tensor:
    """Run the denoiser on a masked batch; ``[B, L, V]`` logits.

    With the structure encoder on, the AST graph drops fully masked nodes
    (``structure_from_batch(..., drop_masked=True)``): the model must not see the kinds or shape
    of the subtrees it is asked to fill, as it will not at inference.
    """
    kwargs: dict[str, Any] = {"attention_mask": masked.attention_mask}
    if use_structure:
        from treediff.model import structure_from_batch

        kwargs["structure"] = structure_from_batch(batch, mask=masked.mask, drop_masked=True)
    out = model(masked.input_ids, **kwargs)
    return out.logits if hasattr(out, "logits") else out


def _autocast(device: torch.device, precision: str):
    if device.type == "cuda" and precision in ("auto", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


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


def _loader(dataset, order: DataOrder, pos: DataPosition, rank: int, collate, num_workers: int) -> Iterator:
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=RankBatchSampler(order, pos, rank), collate_fn=collate,
        num_workers=num_workers, persistent_workers=False, prefetch_factor=4 if num_workers else None,
    )
    return iter(loader)


@torch.no_grad()
def evaluate(model, dataset, collate, masker, tokenizer, config: TrainConfig, env: DistEnv,
             use_structure: bool) -> dict[str, float]:
    """Validation loss (the weighted objective), ``val_ce`` (plain mean cross-entropy over masked
    tokens) and masked-token accuracy, overall and per AST category.

    The same first ``log.val_batches`` micro-batches of the validation split, noised with fixed
    seeds, are scored at every validation (split over the ranks), so the numbers are comparable
    across steps, resumes and world sizes.
    """
    model.eval()
    bsz = config.data.batch_size
    num = min(config.log.val_batches, math.ceil(len(dataset) / bsz))  # in total, split over the ranks
    loss_sum = torch.zeros(4, dtype=torch.float64)  # (Σ batch losses, batches, Σ masked CE, masked tokens)
    acc = CategoryAccuracy()
    for k in range(env.rank, num, env.world_size):
        batch = collate([dataset[i] for i in range(k * bsz, min(len(dataset), (k + 1) * bsz))]).to(env.device)
        gen = torch.Generator().manual_seed(mask_seed(config.seed, 2**40, k))
        t = torch.rand(batch.batch_size, generator=gen)
        masked = masker(batch, t, gen, tokenizer.mask_id).to(env.device)
        with _autocast(env.device, config.precision):
            logits = forward_logits(model, masked, batch, use_structure)
        n_tok = (batch.attention_mask.bool() & ~batch.special_mask.bool()).sum()
        loss = masked_diffusion_loss(logits, masked.targets, masked.mask, masked.loss_weight, n_tok)
        ce = masked_diffusion_loss(logits, masked.targets, masked.mask, masked.loss_weight, n_tok, weighted=False)
        n_masked = float(masked.mask.sum())
        loss_sum += torch.tensor([float(loss), 1.0, float(ce) * n_masked, n_masked], dtype=torch.float64)
        cats = token_categories(batch.spans, batch.span_depth, batch.batch_size, batch.seq_len)
        if masked.input_ids.shape[1] != batch.seq_len or masked.hole_spans is not None:
            # variable-length holes moved positions: read each new position's category at its source
            from treediff.noise.holes import source_index

            src = source_index(masked, batch.seq_len)
            cats = torch.where(src >= 0, cats.gather(1, src.clamp(min=0)), torch.full_like(src, -1))
        acc.update(logits.float(), masked.targets, masked.mask, cats)
    counts = acc.counts()
    if env.is_distributed:
        import torch.distributed as dist

        loss_sum = loss_sum.to(env.device) if env.device.type == "cuda" else loss_sum
        counts = counts.to(loss_sum.device)
        dist.all_reduce(loss_sum)
        dist.all_reduce(counts)
    model.train()
    loss_sum, counts = loss_sum.cpu(), counts.cpu()
    return {"val_loss": float(loss_sum[0] / loss_sum[1].clamp(min=1)),
            "val_ce": float(loss_sum[2] / loss_sum[3].clamp(min=1)), **CategoryAccuracy.summarize(counts)}


# ----------------------------------------------------------------------------- the loop

def train(config: TrainConfig, *, resume: bool = False) -> TrainResult:
    """Train as configured (DDP when launched by torchrun); returns the run's losses."""
    env = setup_distributed(config.device)
    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        with contextlib.ExitStack() as locks:
            if env.is_main:  # one run per directory: a second one fails at once (CheckpointError)
                for folder in dict.fromkeys([Path(config.checkpoint.dir).resolve(), Path(config.out_dir).resolve()]):
                    locks.enter_context(lock_run_dir(folder))
            return _train(config, env, resume)
    finally:
        torch.set_num_threads(threads)
        teardown_distributed()


def _train(config: TrainConfig, env: DistEnv, resume: bool) -> TrainResult:
    from treediff.data import collate as collate_fn
    from treediff.tokens.tokenizer import SyntaxTokenizer

    out_dir, ckpt_dir = Path(config.out_dir), Path(config.checkpoint.dir)
    random.seed(config.seed)
    np.random.seed(config.seed % 2**32)
    torch.manual_seed(config.seed)  # same init on every rank (DDP also broadcasts rank 0's weights)

    # data, model, noise
    tokenizer = SyntaxTokenizer.from_pretrained(config.data.tokenizer)
    train_ds, val_ds = load_datasets(config, tokenizer, env)
    collate = _Collate(collate_fn, tokenizer, config.data.seq_len)
    order = DataOrder(len(train_ds), config.data.batch_size, config.optim.grad_accum, env.world_size, config.seed)
    model = build_model(config, tokenizer)
    use_structure = bool(getattr(model.config, "use_structure_encoder", False))
    masker = build_masker_from(config)
    mask_gen = torch.Generator()

    # optimizer and LR schedule
    optim = config.optim
    lr_at = cosine_lr(optim.lr, optim.min_lr, optim.warmup_steps, optim.max_steps)
    step, pos = 0, DataPosition()
    ckpt = None
    if resume:
        path = latest_checkpoint(ckpt_dir)
        if path is None and any(ckpt_dir.glob("step_*")):
            raise CheckpointError(f"no valid checkpoint under {str(ckpt_dir)!r} to resume from (all corrupt)")
        if path is not None:
            ckpt = load_checkpoint(path)
            load_model_weights(model, ckpt.model_dir)
            step, pos = ckpt.step, DataPosition.from_dict(ckpt.state["data_position"])
    model.to(env.device)
    optimizer = torch.optim.AdamW(
        _param_groups(model, optim.weight_decay), lr=optim.lr, betas=(optim.beta1, optim.beta2), eps=optim.eps,
        fused=env.device.type == "cuda",
    )
    scheduler = build_scheduler(optimizer, lr_at)
    if ckpt is not None:
        optimizer.load_state_dict(ckpt.state["optimizer"])
        scheduler.load_state_dict(ckpt.state["scheduler"])
        _set_rng_state(ckpt.state["rng"])
        mask_gen.set_state(ckpt.state["rng"]["mask_generator"])
    ddp_model = model
    if env.is_distributed:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[env.local_rank] if env.device.type == "cuda" else None
        )

    log = RunLogger(out_dir, total_steps=optim.max_steps, start_step=step, enabled=env.is_main,
                    tensorboard=config.log.tensorboard, progress=config.log.progress)
    result = TrainResult(start_step=step, step=step)
    if ckpt is not None:
        log.event(step, f"resumed from {ckpt.path} at step {step} (epoch {pos.epoch}, sample {pos.index})",
                  checkpoint=str(ckpt.path))
        _warn_config_drift(log, step, ckpt.config, config)
    elif env.is_main:
        log.event(step, f"training {sum(p.numel() for p in model.parameters()):,} parameters on {env.device} "
                        f"x{env.world_size}, {len(train_ds)} train / {len(val_ds)} val samples", config=config.to_dict())

    def validate_and_log(at: int) -> None:
        metrics = evaluate(ddp_model, val_ds, collate, masker, tokenizer, config, env, use_structure)
        result.val.append({"step": at, **metrics})
        log.log(at, "val", metrics)

    def save(at: int) -> None:
        if env.is_main:
            state = {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": {**_rng_state(), "mask_generator": mask_gen.get_state()},
                "data_position": pos.to_dict(),
            }
            result.checkpoint = save_checkpoint(ckpt_dir, at, model=model, trainer_state=state,
                                                config=config.to_dict(), keep_last=config.checkpoint.keep_last)
            log.event(at, f"checkpoint {result.checkpoint}", checkpoint=str(result.checkpoint))
        if env.is_distributed:
            import torch.distributed as dist

            dist.barrier()

    if step == 0 and len(val_ds):
        validate_and_log(0)

    batches = _loader(train_ds, order, pos, env.rank, collate, config.data.num_workers)
    model.train()
    t_log, tokens_since_log = time.perf_counter(), 0
    t_start, tokens_total = time.perf_counter(), 0
    while step < optim.max_steps:
        warm = step < config.noise.warmup_steps
        loss_acc = torch.zeros((), device=env.device)
        tokens = 0
        for micro in range(optim.grad_accum):
            batch = next(batches).to(env.device)
            mask_gen.manual_seed(mask_seed(config.seed, step, micro * env.world_size + env.rank))
            t = _sample_t(batch.batch_size, step, mask_gen, config)
            masked = masker(batch, t, mask_gen, tokenizer.mask_id).to(env.device)
            n_tok = (batch.attention_mask.bool() & ~batch.special_mask.bool()).sum()
            tokens += int(batch.attention_mask.sum())
            last = micro == optim.grad_accum - 1
            sync = contextlib.nullcontext() if (last or not env.is_distributed) else ddp_model.no_sync()
            with sync:
                with _autocast(env.device, config.precision):
                    logits = forward_logits(ddp_model, masked, batch, use_structure)
                loss = masked_diffusion_loss(logits, masked.targets, masked.mask, masked.loss_weight, n_tok,
                                             weighted=not warm) / optim.grad_accum
                loss.backward()
            loss_acc += loss.detach()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip) if optim.grad_clip > 0 else None
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        pos = order.advance(pos)

        loss_value = float(all_reduce_mean(loss_acc, env))
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"loss is {loss_value} at step {step}; lower optim.lr or check the data")
        result.losses.append(loss_value)
        tokens_since_log += tokens * env.world_size
        tokens_total += tokens * env.world_size
        if step % config.log.every == 0 or step == optim.max_steps:
            now = time.perf_counter()
            tps = tokens_since_log / max(now - t_log, 1e-9)
            metrics = {"loss": loss_value, "lr": lr, "tokens_per_s": tps, "epoch": pos.epoch, "warmup": warm}
            if grad_norm is not None:
                metrics["grad_norm"] = float(grad_norm)
            log.log(step, "train", metrics)
            t_log, tokens_since_log = now, 0
        if config.log.val_every and step % config.log.val_every == 0 and step != optim.max_steps:
            validate_and_log(step)
        if config.checkpoint.every and step % config.checkpoint.every == 0 and step != optim.max_steps:
            save(step)

    elapsed = time.perf_counter() - t_start
    result.step = step
    result.tokens_per_s = tokens_total / max(elapsed, 1e-9)
    if result.start_step < optim.max_steps or not result.val:
        validate_and_log(step)
        save(step)
    result.mfu = _mfu(model, config, env, result.tokens_per_s)
    if result.mfu is not None:
        log.log(step, "event", {"message": "throughput", "tokens_per_s": result.tokens_per_s, "mfu": result.mfu})
    log.close()
    return result


def _sample_t(batch_size: int, step: int, generator: torch.Generator, config: TrainConfig) -> torch.Tensor:
    from treediff.noise.warmup import sample_t

    return sample_t(batch_size, step, generator, config.noise.warmup_steps, config.noise.u_init)


def _mfu(model, config: TrainConfig, env: DistEnv, tokens_per_s: float) -> float | None:
    """Model FLOPs utilisation on CUDA (:func:`treediff.model.flops.mfu`); ``None`` on CPU or an unknown GPU."""
    if env.device.type != "cuda":
        return None
    from treediff.model.flops import PEAK_FLOPS, mfu

    peak = peak_flops(torch.cuda.get_device_name(env.device), PEAK_FLOPS)
    if peak is None:
        return None
    return float(mfu(tokens_per_s, model.config, config.data.seq_len, peak * env.world_size))


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


class _Collate:
    """Picklable ``collate_fn``: pad every micro-batch to ``seq_len`` (static shapes)."""

    def __init__(self, fn, tokenizer, seq_len: int) -> None:
        self.fn, self.pad_id, self.seq_len = fn, tokenizer.pad_id, seq_len

    def __call__(self, items):
        return self.fn(items, pad_id=self.pad_id, pad_to=self.seq_len)


def _warn_config_drift(log: RunLogger, step: int, saved: dict[str, Any], config: TrainConfig) -> None:
    now = config.to_dict()
    diffs = []
    for section in now:
        a, b = saved.get(section), now[section]
        if isinstance(b, dict) and isinstance(a, dict):
            diffs += [f"{section}.{k}" for k in b if a.get(k) != b[k]]
        elif a != b:
            diffs.append(section)
    if diffs:
        log.event(step, f"warning: config differs from the checkpoint's in {', '.join(diffs)}", changed=diffs)
