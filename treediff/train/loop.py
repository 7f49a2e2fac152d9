"""Masked-diffusion training: the objective the loop of :mod:`treediff.train.runner` runs (:func:`train`).

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
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from treediff.errors import CheckpointError, ConfigError
from treediff.model.run_dirs import latest_checkpoint
from treediff.train.checkpoint import load_model_weights, lock_run_dir
from treediff.train.config import TrainConfig, masker_growth
from treediff.train.distributed import DistEnv, setup_distributed, teardown_distributed
from treediff.train.objective import CategoryAccuracy, masked_diffusion_loss, token_categories
from treediff.train.runner import LoopSettings, Objective, TrainResult, autocast_for, peak_flops, run_loop
from treediff.train.sampler import DataOrder, DataPosition, RankBatchSampler

__all__ = ["TrainResult", "train", "check_fresh_start", "build_model", "build_masker_from", "load_datasets", "mask_seed", "forward_logits",
           "DiffusionObjective", "loop_settings", "evaluate", "peak_flops"]


# ----------------------------------------------------------------------------- building blocks

def load_datasets(config: TrainConfig, tokenizer, env: DistEnv | None = None, *,
                  overwrite: bool = False) -> tuple[Any, Any]:
    """Train and validation windows of ``data.corpus``, prepared once into ``data.cache_dir``.

    The main process prepares (or finds cached) shards; the others wait at a barrier, then open them.  Shards
    of another corpus or other settings in the cache are replaced only with ``overwrite`` (``train --overwrite``).
    """
    from treediff.data import CorpusDataset, prepare_corpus

    data = config.data
    cache = Path(data.cache_dir or Path(config.out_dir) / "data")
    if env is None or env.is_main:
        prepare_corpus(data.corpus, tokenizer, cache, val_fraction=data.val_fraction, seq_len=data.seq_len,
                       overwrite=overwrite, show_progress=False)
    if env is not None and env.is_distributed:
        import torch.distributed as dist

        dist.barrier()
    return CorpusDataset(cache, "train", seq_len=data.seq_len), CorpusDataset(cache, "validation", seq_len=data.seq_len)


def build_model(config: TrainConfig, tokenizer) -> torch.nn.Module:
    """A freshly initialised denoiser sized by ``model.preset`` + ``model.overrides``."""
    from treediff.model import TreediffConfig, TreediffForMaskedDiffusion

    overrides = dict(config.model.overrides)
    # a masker that grows windows (variable-length holes) needs room for the longest one
    overrides.setdefault("max_position", max(config.data.seq_len + masker_growth(config.noise), 8))
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


def init_weights(model: torch.nn.Module, model_dir: str | Path, tokenizer) -> None:
    """Load the weights of ``model_dir`` (``model.init_from``) into a freshly built ``model``; a clear
    CheckpointError when the directory is missing, holds another tokenizer's model or another shape."""
    from treediff.tokens.tokenizer import SyntaxTokenizer

    path = Path(model_dir)
    if not path.is_dir():
        raise CheckpointError(f"model.init_from: {str(path)!r} is not a directory")
    if (path / "tokenizer.json").is_file():
        try:
            theirs = SyntaxTokenizer.from_pretrained(str(path)).fingerprint
        except Exception as exc:  # a bundle whose tokenizer does not load is not a usable start
            raise CheckpointError(f"model.init_from: the tokenizer in {str(path)!r} cannot be read: {exc}") from None
        if theirs != tokenizer.fingerprint:
            raise CheckpointError(f"model.init_from: {str(path)!r} was trained with another tokenizer than data.tokenizer")
    try:
        load_model_weights(model, path)
    except CheckpointError as exc:  # names the model lacks or misses: a tied head against an untied one, say
        hint = ""
        if "lm_head.weight" in str(exc):
            own = "unexpected ['lm_head.weight'" in str(exc)
            hint = (f" (the bundle's output head is {'its own matrix' if own else 'tied to the embeddings'}: "
                    f"add --set model.overrides.tie_embeddings={'false' if own else 'true'})")
        raise CheckpointError(f"model.init_from: {exc}{hint}") from None
    except RuntimeError as exc:  # size mismatch: another d_model, layer count or vocabulary
        first = str(exc).strip().splitlines()
        raise CheckpointError(f"model.init_from: weights in {str(path)!r} do not fit the configured model: "
                              f"{first[-1].strip() if first else exc}") from None


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


def forward_logits(model: torch.nn.Module, masked, batch, use_structure, *, masked_only: bool = False) -> torch.Tensor:
    """Run the denoiser on a masked batch; ``[B, L, V]`` logits (``masked_only``: ``[N, V]`` at the masked
    positions alone, where the model can skip the rest, see ``logits_at`` of
    :meth:`~treediff.model.TreediffForMaskedDiffusion.forward`; else the full logits picked there).

    ``use_structure`` is :func:`~treediff.model.structure_source`'s answer.  ``True``: the AST graph
    of the batch's spans drops fully masked nodes (``structure_from_batch(..., drop_masked=True)``):
    the model must not see the kinds or shape of the subtrees it is asked to fill.  A callable
    (``ast``, ``ast+cfg``) builds the graph from the visible program, as sampling does.
    """
    kwargs: dict[str, Any] = {"attention_mask": masked.attention_mask}
    if callable(use_structure):
        kwargs["structure"] = use_structure(masked.input_ids, masked.mask, masked.attention_mask)
    elif use_structure:
        from treediff.model import structure_from_batch

        kwargs["structure"] = structure_from_batch(batch, mask=masked.mask, drop_masked=True)
    if masked_only and _takes_logits_at(model):
        kwargs["logits_at"] = masked.mask
    out = model(masked.input_ids, **kwargs)
    logits = out.logits if hasattr(out, "logits") else out
    return logits[masked.mask] if masked_only and logits.dim() == 3 else logits


def _takes_logits_at(model: torch.nn.Module) -> bool:
    from treediff.model import TreediffForMaskedDiffusion

    inner = getattr(model, "module", model)  # DDP
    inner = getattr(inner, "_orig_mod", inner)  # torch.compile
    return isinstance(inner, TreediffForMaskedDiffusion)


def _loader(dataset, order: DataOrder, pos: DataPosition, rank: int, collate, num_workers: int) -> Iterator:
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=RankBatchSampler(order, pos, rank), collate_fn=collate,
        num_workers=num_workers, persistent_workers=False, prefetch_factor=4 if num_workers else None,
    )
    return iter(loader)


@torch.no_grad()
def evaluate(model, dataset, collate, masker, tokenizer, config: TrainConfig, env: DistEnv,
             use_structure) -> dict[str, float]:
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
        with autocast_for(env.device, config.precision):
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


# ----------------------------------------------------------------------------- the run

def check_fresh_start(ckpt_dir: str | Path, *, resume: bool, overwrite: bool, is_main: bool = True) -> None:
    """A fresh run must not mix its checkpoints with another run's: refuse a directory that holds some
    unless ``resume`` (continue that run) or ``overwrite`` (the main process deletes them first).

    >>> import tempfile; d = Path(tempfile.mkdtemp()); (d / "step_00000150").mkdir()
    >>> check_fresh_start(d, resume=False, overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    treediff.errors.CheckpointError: ... holds another run's checkpoints (step_00000150); pass --resume to continue it or --overwrite to delete them and start again
    >>> check_fresh_start(d, resume=False, overwrite=True); sorted(d.iterdir())
    []
    """
    ckpt_dir = Path(ckpt_dir)
    if resume or not ckpt_dir.is_dir():
        return
    old = sorted(p for p in ckpt_dir.iterdir() if p.name.startswith("step_") or p.name == "latest")
    if not old:
        return
    if not overwrite:
        steps = [p.name for p in old if p.name.startswith("step_")]
        raise CheckpointError(f"{str(ckpt_dir)!r} holds another run's checkpoints ({', '.join(steps[-3:]) or 'latest'});"
                              " pass --resume to continue it or --overwrite to delete them and start again")
    if is_main:
        import shutil

        for p in old:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def train(config: TrainConfig, *, resume: bool = False, overwrite: bool = False) -> TrainResult:
    """Train as configured (DDP when launched by torchrun); returns the run's losses.

    A fresh run (no ``resume``) in a checkpoint directory that holds another run's checkpoints raises a
    :class:`~treediff.errors.CheckpointError` unless ``overwrite`` (:func:`check_fresh_start`).
    """
    from treediff.threads import default_num_threads

    env = setup_distributed(config.device)
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads or default_num_threads())
    try:
        with contextlib.ExitStack() as locks:
            if env.is_main:  # one run per directory: a second one fails at once (CheckpointError)
                for folder in dict.fromkeys([Path(config.checkpoint.dir).resolve(), Path(config.out_dir).resolve()]):
                    locks.enter_context(lock_run_dir(folder))
            check_fresh_start(config.checkpoint.dir, resume=resume, overwrite=overwrite, is_main=env.is_main)
            return _train(config, env, resume, overwrite)
    finally:
        torch.set_num_threads(threads)
        teardown_distributed()


class DiffusionObjective(Objective):
    """The masked-diffusion objective: ``grad_accum`` micro-batches per process (``sampler.py`` says which
    samples), each masked with a generator seeded from ``(seed, step, micro-batch index)`` and scored with
    :func:`~treediff.train.objective.masked_diffusion_loss` (unweighted while the corruption level warms up)."""

    def __init__(self, config: TrainConfig, env: DistEnv, tokenizer, train_ds, val_ds, masker,
                 use_structure) -> None:
        from treediff.data import collate as collate_fn

        self.config, self.env, self.tokenizer = config, env, tokenizer
        self.train_ds, self.val_ds, self.masker, self.use_structure = train_ds, val_ds, masker, use_structure
        flow_text = None
        if getattr(masker, "name", None) == "cfg":  # the control-flow masker reads CFG units
            from treediff.syntax.cfg_flow import TokenText

            flow_text = TokenText.from_tokenizer(tokenizer)
        self.collate = _Collate(collate_fn, tokenizer, config.data.seq_len, flow_text)
        self.order = DataOrder(len(train_ds), config.data.batch_size, config.optim.grad_accum, env.world_size,
                               config.seed)
        self.pos = DataPosition()
        self.mask_gen = torch.Generator()
        self._batches: Iterator | None = None
        self._scored = [0, 0]  # (masked positions projected to the vocabulary, tokens), this process

    def micro_loss(self, model: torch.nn.Module, step: int, micro: int) -> tuple[torch.Tensor, int]:
        config, env = self.config, self.env
        if self._batches is None:  # opened at the first step, where the data position is (after a resume)
            self._batches = _loader(self.train_ds, self.order, self.pos, env.rank, self.collate,
                                    config.data.num_workers)
        batch = next(self._batches).to(env.device)
        self.mask_gen.manual_seed(mask_seed(config.seed, step, micro * env.world_size + env.rank))
        t = _sample_t(batch.batch_size, step, self.mask_gen, config)
        masked = self.masker(batch, t, self.mask_gen, self.tokenizer.mask_id).to(env.device)
        n_tok = (batch.attention_mask.bool() & ~batch.special_mask.bool()).sum()
        with autocast_for(env.device, config.precision):
            logits = forward_logits(model, masked, batch, self.use_structure, masked_only=True)
        loss = masked_diffusion_loss(logits, masked.targets, masked.mask, masked.loss_weight, n_tok,
                                     weighted=step >= config.noise.warmup_steps)
        tokens = int(batch.attention_mask.sum())
        self._scored[0] += logits.shape[0] if _takes_logits_at(model) else tokens  # rows the head ran at
        self._scored[1] += tokens
        return loss, tokens

    def advance(self) -> None:
        self.pos = self.order.advance(self.pos)

    def validate(self, model: torch.nn.Module) -> dict[str, float]:
        return evaluate(model, self.val_ds, self.collate, self.masker, self.tokenizer, self.config, self.env,
                        self.use_structure)

    def validates_at_start(self) -> bool:
        return len(self.val_ds) > 0

    def state_dict(self) -> dict[str, Any]:
        return {"data_position": self.pos.to_dict()}

    def rng_state(self) -> dict[str, Any]:
        return {"mask_generator": self.mask_gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pos = self.order.resume_at(DataPosition.from_dict(state["data_position"]))
        self.mask_gen.set_state(state["rng"]["mask_generator"])

    def head_share(self) -> float:
        return self._scored[0] / self._scored[1] if self._scored[1] else 1.0

    def log_fields(self, step: int) -> dict[str, Any]:
        return {"epoch": self.pos.epoch, "warmup": step < self.config.noise.warmup_steps}

    def describe(self, model: torch.nn.Module, env: DistEnv) -> str:
        return (f"training {sum(p.numel() for p in model.parameters()):,} parameters on {env.device} "
                f"x{env.world_size}, {len(self.train_ds)} train / {len(self.val_ds)} val samples")


def loop_settings(config: TrainConfig) -> LoopSettings:
    """The loop's settings from a :class:`~treediff.train.config.TrainConfig`."""
    optim, log = config.optim, config.log
    return LoopSettings(
        out_dir=config.out_dir, ckpt_dir=config.checkpoint.dir, lr=optim.lr, min_lr=optim.min_lr,
        warmup_steps=optim.warmup_steps, max_steps=optim.max_steps, weight_decay=optim.weight_decay,
        config=config.to_dict(), beta1=optim.beta1, beta2=optim.beta2, eps=optim.eps, grad_clip=optim.grad_clip,
        grad_accum=optim.grad_accum, log_every=log.every, val_every=log.val_every, ckpt_every=config.checkpoint.every,
        keep_last=config.checkpoint.keep_last, tensorboard=log.tensorboard, progress=log.progress,
        precision=config.precision, seq_len=config.data.seq_len,
    )


def _train(config: TrainConfig, env: DistEnv, resume: bool, overwrite: bool) -> TrainResult:
    from treediff.tokens.tokenizer import SyntaxTokenizer

    random.seed(config.seed)
    np.random.seed(config.seed % 2**32)
    torch.manual_seed(config.seed)  # same init on every rank (DDP also broadcasts rank 0's weights)
    tokenizer = SyntaxTokenizer.from_pretrained(config.data.tokenizer)
    train_ds, val_ds = load_datasets(config, tokenizer, env, overwrite=overwrite)
    model = build_model(config, tokenizer)
    if config.model.init_from and not (resume and latest_checkpoint(config.checkpoint.dir) is not None):
        init_weights(model, config.model.init_from, tokenizer)
    from treediff.model import structure_source

    use_structure = structure_source(model.config, tokenizer)
    objective = DiffusionObjective(config, env, tokenizer, train_ds, val_ds, build_masker_from(config), use_structure)
    return run_loop(model, objective, loop_settings(config), env, resume=resume)


def _sample_t(batch_size: int, step: int, generator: torch.Generator, config: TrainConfig) -> torch.Tensor:
    from treediff.noise.warmup import sample_t

    return sample_t(batch_size, step, generator, config.noise.warmup_steps, config.noise.u_init)


class _Collate:
    """Picklable ``collate_fn``: pad every micro-batch to ``seq_len`` (static shapes)."""

    def __init__(self, fn, tokenizer, seq_len: int, flow_text=None) -> None:
        self.fn, self.pad_id, self.seq_len = fn, tokenizer.pad_id, seq_len
        self.flow_text = flow_text  # a TokenText when the masker needs control-flow units

    def __call__(self, items):
        batch = self.fn(items, pad_id=self.pad_id, pad_to=self.seq_len)
        if self.flow_text is not None:
            from treediff.noise.cfg_mask import attach_flow_units

            batch = attach_flow_units(batch, self.flow_text)
        return batch
