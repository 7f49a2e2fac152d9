"""Certainty-forcing self-distillation: a denoiser that commits many tokens per forward pass.

Threshold decoding (Fast-dLLM) commits every position whose confidence passes ``τ``; a model whose
certainty converges one position at a time, left to right, gains nothing from it (the embedded
model: 1.00× at ``τ = 0.9``).  dParallel (arXiv 2509.26488) trains that convergence to happen in
parallel, and treediff does it under its own constraints:

1. **Teacher trajectories.**  The teacher synthesises a body for every prompt, one token per step,
   greedy, with the ``full`` constraint; programs that came back valid *without* the typed fallback
   are kept (:func:`teacher_trajectories`).  The student so learns valid programs only.
2. **Semi-autoregressive masking** of each trajectory (:func:`mask_trajectory`): a block ``n`` of
   the body is drawn uniformly; the blocks before it stay clean (the decoded context), each position
   of block ``n`` is masked with probability ``q ~ U(min_mask, 1)`` (at least one), and the blocks
   after it are all masked, as at that block's steps of decoding.  A ``suffix_mask`` share of the
   examples masks block ``n`` from a uniform cut to its end instead: the state of a block decoded
   left to right, where the model must see that the body ends (end-of-hole) with nothing to its right.
3. **Loss** on the masked positions of the active block (:func:`certainty_forcing_loss`):
   cross-entropy to the teacher's tokens (trajectory consistency) plus ``certainty_weight`` × the
   entropy of ``softmax(logits / certainty_temperature)`` at the positions the student already gets
   right, which drives those to high confidence without reinforcing its mistakes.

The student starts as a copy of the teacher and is saved as a treediff bundle that ``--model``
takes.  :func:`distill` runs all three and returns a :class:`DistillResult` with the held-out
trajectories' consistency accuracy and confidence before and after.

>>> cfg = DistillConfig.from_dict({"steps": 10, "prompts": "examples/python"})
>>> cfg.steps, cfg.block_size
(10, 32)
>>> DistillConfig.from_dict({"min_mask": 2.0})
Traceback (most recent call last):
...
treediff.errors.ConfigError: min_mask must be <= 1.0; got 2.0
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import math
import os
import random
import sysconfig
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Sequence

import torch
import torch.nn.functional as F

from treediff.errors import CheckpointError, InputError
from treediff.files import walk_files
from treediff.progress import ProgressBar
from treediff.train.config import ConfigSection, apply_overrides, bounded_field, read_toml
from treediff.train.runner import Objective

__all__ = [
    "DistillConfig",
    "DistillResult",
    "CertaintyObjective",
    "measure",
    "Trajectory",
    "load_distill_config",
    "collect_prompts",
    "python_stubs",
    "teacher_trajectories",
    "mask_trajectory",
    "certainty_forcing_loss",
    "distill",
]

#: Directories of the standard library that hold no prompts worth learning from (the default
#: model's training corpus leaves the same ones out).
_STDLIB_SKIP = frozenset({"test", "tests", "idle_test", "lib2to3", "tkinter", "turtledemo", "ensurepip",
                          "site-packages", "dist-packages", "__pycache__"})


@dataclass(frozen=True)
class DistillConfig(ConfigSection):
    """One distillation run.

    * ``teacher``: model directory (``""``: the embedded default model); ``init``: the student's starting
      weights (``""``: the teacher's; a student to train further); ``out``: where the student bundle and
      ``metrics.jsonl`` go; ``trajectories``: the teacher's decoded prompts, a jsonl cache read back by
      later runs with the same teacher settings (``""``: ``out/trajectories.jsonl``);
    * ``prompts``: ``"stdlib"`` (this Python's standard library), a ``.py`` file or a directory of
      them (each documented function becomes a signature + docstring stub), or a ``.jsonl`` of specs
      (any language, :func:`~treediff.sample.spec.read_specs`); ``exclude``: comma-separated module
      or file stems to skip (held-out benchmark modules); ``num_prompts``; ``max_prompt_tokens``;
    * teacher decoding: ``max_new_tokens``, ``teacher_block_size`` (0 = one block), ``constraint``;
      ``workers`` processes;
    * training: ``block_size`` (the semi-autoregressive block the student is trained for, and should
      decode with), ``steps``, ``batch_size``, ``lr`` (cosine to ``lr / 10`` after ``warmup_steps``),
      ``weight_decay``, ``grad_clip``, ``min_mask``, ``suffix_mask`` (see the module docstring),
      ``certainty_weight``, ``certainty_temperature``,
      ``val_fraction`` of the trajectories held out to measure the student;
    * ``seed``, ``device`` (``auto|cpu|cuda``), ``threads`` (torch CPU threads, 0 = default);
    * the trainer's loop: ``log_every`` (steps between ``metrics.jsonl`` records), ``checkpoint_every`` (0: at
      the end only; ``treediff distill --resume`` continues from the newest).
    """

    SECTION: ClassVar[str] = ""
    teacher: str = ""
    init: str = ""
    out: str = "runs/distill"
    trajectories: str = ""
    prompts: str = "stdlib"
    exclude: str = ""
    num_prompts: int = bounded_field(800, ge=1)
    max_prompt_tokens: int = bounded_field(320, ge=8)
    max_new_tokens: int = bounded_field(64, ge=1, le=4096)
    block_size: int = bounded_field(32, ge=1)
    teacher_block_size: int = bounded_field(32, ge=0)
    constraint: str = bounded_field("full", choices=("none", "grammar", "remask", "full"))
    workers: int = bounded_field(1, ge=1, le=64)
    steps: int = bounded_field(1500, ge=1)
    batch_size: int = bounded_field(16, ge=1)
    lr: float = bounded_field(2e-4, gt=0.0, le=1.0)
    warmup_steps: int = bounded_field(50, ge=0)
    weight_decay: float = bounded_field(0.0, ge=0.0, le=1.0)
    grad_clip: float = bounded_field(1.0, ge=0.0)
    min_mask: float = bounded_field(0.1, gt=0.0, le=1.0)
    suffix_mask: float = bounded_field(0.0, ge=0.0, le=1.0)
    certainty_weight: float = bounded_field(1.0, ge=0.0)
    certainty_temperature: float = bounded_field(0.5, gt=0.0)
    val_fraction: float = bounded_field(0.05, ge=0.0, lt=1.0)
    seed: int = bounded_field(0, ge=0, lt=2**63)
    device: str = bounded_field("auto", choices=("auto", "cpu", "cuda"))
    threads: int = bounded_field(0, ge=0, le=1024)
    log_every: int = bounded_field(1, ge=1)
    checkpoint_every: int = bounded_field(0, ge=0)

    @property
    def excluded(self) -> frozenset[str]:
        return frozenset(s.strip() for s in self.exclude.split(",") if s.strip())


def load_distill_config(path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()) -> DistillConfig:
    """A :class:`DistillConfig` from a TOML file (or the defaults) with ``key=value`` overrides."""
    data = read_toml(path) if path is not None else {}
    return apply_overrides(DistillConfig.from_dict(data), list(overrides))


# --------------------------------------------------------------------------------------------- prompts


def python_stubs(source: str) -> Iterator[str]:
    """Signature + docstring stubs (HumanEval's prompt form) of the documented functions in ``source``.

    >>> list(python_stubs("def f(x):\\n    'Twice x.'\\n    return 2 * x\\n"))
    ["def f(x):\\n    'Twice x.'\\n"]
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    lines = source.splitlines(keepends=True)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or ast.get_docstring(node) is None:
            continue
        first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        stub = textwrap.dedent("".join(lines[first: node.body[0].end_lineno]))
        if stub.strip():
            yield stub if stub.endswith("\n") else stub + "\n"


def _python_files(root: Path, skip: frozenset[str]) -> list[Path]:
    if root.is_file():
        return [root]
    return [p for p in walk_files(root, skip, hidden=False) if p.name.endswith(".py")]


def collect_prompts(config: DistillConfig) -> list:
    """The run's prompts as :class:`~treediff.sample.spec.Spec` objects, shuffled with the seed (the run
    takes the first ``num_prompts``; the ``max_prompt_tokens`` limit is applied when they are decoded)."""
    from treediff.sample.spec import Spec, read_specs

    source = config.prompts
    if source.endswith(".jsonl"):
        if not Path(source).is_file():
            raise InputError(f"prompts file {source!r} does not exist")
        specs = [s for s in read_specs(source) if s.id not in config.excluded]
    else:
        root = Path(sysconfig.get_paths()["stdlib"]) if source == "stdlib" else Path(source)
        if not root.exists():
            raise InputError(f"prompts path {source!r} does not exist (give 'stdlib', .py files or a .jsonl)")
        skip = _STDLIB_SKIP if source == "stdlib" else frozenset()
        specs, seen = [], set()
        for path in _python_files(root, skip):
            if path.stem in config.excluded:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            for i, stub in enumerate(python_stubs(text)):
                if stub not in seen:
                    seen.add(stub)
                    specs.append(Spec(f"{path.stem}:{i}", "stub", stub, None, "python"))
    if not specs:
        raise InputError(f"no prompts found in {source!r}")
    random.Random(config.seed).shuffle(specs)
    return specs


# ------------------------------------------------------------------------------------------ trajectories


@dataclass(frozen=True)
class Trajectory:
    """A teacher's decoded body in the sampler's token layout: ``ids`` (prefix, prompt, the body padded
    with end-of-hole to ``max_new_tokens``, the rest, suffix) and the body's ``[start, end)``."""

    spec_id: str
    ids: tuple[int, ...]
    start: int
    end: int


def _teacher_settings(config: DistillConfig) -> dict[str, Any]:
    return {"max_new_tokens": config.max_new_tokens, "block_size": config.teacher_block_size,
            "constraint": config.constraint, "seed": config.seed, "device": config.device, "temperature": 0.0,
            "steps": None, "threshold": None}


def _decode_one(lm, spec, config: DistillConfig) -> dict[str, Any] | None:
    """The teacher's body for one spec as a JSON-able row, or None when it needs the fallback or is too long."""
    from treediff.sample.api import make_config, synth_template
    from treediff.sample.pipeline import fill_template

    settings = _teacher_settings(config)
    cfg = make_config(None, **settings)
    template, lengths = synth_template(spec, cfg)
    if len(template.holes) != 1:
        return None
    src = template.source
    hole = template.holes[0]
    before, after = src[: hole.start].decode("utf-8"), src[hole.end:].decode("utf-8")
    if len(lm.encode(before + after, spec.language)) > config.max_prompt_tokens:
        return None
    result = fill_template(lm, template, cfg, lengths=lengths)[0]
    rec = result.record
    if not rec.ok or rec.fallback:
        return None
    return {"id": spec.id, "language": spec.language, "before": before, "body": result.holes[0].text,
            "after": after, "nfe": rec.nfe}


def _worker_rows(args: tuple) -> list[dict[str, Any] | None]:
    config_dict, specs = args
    from treediff.sample.api import get_model

    torch.set_num_threads(1)
    config = DistillConfig.from_dict(config_dict)
    lm = get_model(config.teacher or None, device="cpu" if config.device == "auto" else config.device)
    return [_decode_one(lm, s, config) for s in specs]


def _layout(lm, row: dict[str, Any], max_new_tokens: int) -> Trajectory | None:
    lang = row["language"]
    head = lm.prefix_ids(lang) + lm.encode(row["before"], lang)
    body = lm.encode(row["body"], lang)
    if len(body) > max_new_tokens:
        return None
    ids = head + body + [lm.end_id] * (max_new_tokens - len(body)) + lm.encode(row["after"], lang) + lm.suffix_ids()
    if len(ids) > lm.max_length:
        return None
    return Trajectory(row["id"], tuple(ids), len(head), len(head) + max_new_tokens)


def teacher_trajectories(lm, specs: Sequence, config: DistillConfig, *, progress: bool = False,
                         cache: str | os.PathLike[str] | None = None) -> tuple[list[Trajectory], dict[str, int]]:
    """Decode every spec with the teacher; ``(trajectories, counts)``.  With ``cache`` (a jsonl path), rows
    decoded by an earlier run with the same teacher and decoding settings are read back, not decoded again."""
    key = hashlib.sha256(json.dumps([config.teacher, _teacher_settings(config), config.max_prompt_tokens],
                                    sort_keys=True).encode()).hexdigest()[:16]
    done: dict[str, dict[str, Any] | None] = {}
    path = Path(cache) if cache is not None else None
    if path is not None and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by an interrupted run
            if rec.get("key") == key:
                done[rec["spec"]] = rec.get("row")
    todo = [s for s in specs if s.id not in done]
    out = path.open("a", encoding="utf-8") if path is not None else None
    bar = ProgressBar(len(todo), "teacher", progress)
    try:
        for spec, row in _decode_all(lm, todo, config):
            done[spec.id] = row
            if out is not None:
                out.write(json.dumps({"key": key, "spec": spec.id, "row": row}) + "\n")
                out.flush()
            bar.advance()
    finally:
        bar.close()
        if out is not None:
            out.close()
    trajectories = []
    counts = {"prompts": len(specs), "kept": 0, "rejected": 0}
    for spec in specs:
        row = done.get(spec.id)
        traj = _layout(lm, row, config.max_new_tokens) if row is not None else None
        if traj is None:
            counts["rejected"] += 1
        else:
            trajectories.append(traj)
            counts["kept"] += 1
    return trajectories, counts


def _decode_all(lm, specs: Sequence, config: DistillConfig) -> Iterator[tuple[Any, dict[str, Any] | None]]:
    if config.workers <= 1 or len(specs) < 2 * config.workers:
        for spec in specs:
            yield spec, _decode_one(lm, spec, config)
        return
    import concurrent.futures as cf
    import multiprocessing

    chunk = 8
    jobs = [specs[i: i + chunk] for i in range(0, len(specs), chunk)]
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(config.workers, mp_context=ctx) as pool:
        futures = {pool.submit(_worker_rows, (config.to_dict(), job)): job for job in jobs}
        for fut in cf.as_completed(futures):
            for spec, row in zip(futures[fut], fut.result()):
                yield spec, row


# ------------------------------------------------------------------------------------- masking and loss


def mask_trajectory(traj: Trajectory, block_size: int, mask_id: int, min_mask: float,
                    generator: random.Random, suffix_mask: float = 0.0) -> tuple[list[int], list[bool]]:
    """``(input ids, loss positions)``: one block of the body drawn uniformly; blocks before it clean,
    each of its positions masked with probability ``q ~ U(min_mask, 1)`` (at least one), or with
    probability ``suffix_mask`` every position from a uniform cut on, blocks after it masked.  The loss
    positions are the active block's masked ones.

    >>> ids, active = mask_trajectory(Trajectory("x", tuple(range(10, 20)), 2, 8), 3, 1, 1.0, random.Random(0))
    >>> len(ids) == 10 and sum(active) >= 1 and all(ids[i] == 1 for i in range(10) if active[i])
    True
    """
    length = traj.end - traj.start
    n_blocks = math.ceil(length / block_size)
    b = generator.randrange(n_blocks)
    lo = traj.start + b * block_size
    hi = min(lo + block_size, traj.end)
    ids = list(traj.ids)
    active = [False] * len(ids)
    if suffix_mask and generator.random() < suffix_mask:
        picked = list(range(generator.randrange(lo, hi), hi))
    else:
        q = generator.uniform(min_mask, 1.0)
        picked = [i for i in range(lo, hi) if generator.random() < q] or [generator.randrange(lo, hi)]
    for i in picked:
        ids[i] = mask_id
        active[i] = True
    for i in range(hi, traj.end):
        ids[i] = mask_id
    return ids, active


def certainty_forcing_loss(logits: torch.Tensor, targets: torch.Tensor, active: torch.Tensor, *,
                           weight: float, temperature: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy to the teacher at ``active`` positions plus ``weight`` × the entropy of
    ``softmax(logits / temperature)`` where the student's top-1 already is the teacher's token.

    >>> logits = torch.zeros(1, 3, 5); logits[0, 1, 2] = 3.0
    >>> loss, stats = certainty_forcing_loss(logits, torch.tensor([[0, 2, 0]]), torch.tensor([[False, True, False]]),
    ...                                      weight=1.0, temperature=0.5)
    >>> round(stats["accuracy"], 2), loss.item() > 0
    (1.0, True)
    """
    sel = logits[active].float()
    tgt = targets[active]
    ce = F.cross_entropy(sel, tgt)
    with torch.no_grad():
        probs = sel.softmax(-1)
        conf, top = probs.max(-1)
        right = top == tgt
    loss = ce
    entropy = torch.zeros((), device=sel.device)
    if weight > 0 and bool(right.any()):
        logp = F.log_softmax(sel[right] / temperature, dim=-1)
        entropy = -(logp.exp() * logp).sum(-1).mean()
        loss = ce + weight * entropy
    stats = {"ce": ce.item(), "entropy": entropy.item(), "accuracy": right.float().mean().item(),
             "confidence": conf.mean().item(), "above_0.9": (conf >= 0.9).float().mean().item()}
    return loss, stats


def _batch(trajs: Sequence[Trajectory], config: DistillConfig, mask_id: int, pad_id: int, rng: random.Random,
           device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(t.ids) for t in trajs)
    ids = torch.full((len(trajs), width), pad_id, dtype=torch.long)
    targets = torch.full((len(trajs), width), pad_id, dtype=torch.long)
    active = torch.zeros(len(trajs), width, dtype=torch.bool)
    attn = torch.zeros(len(trajs), width, dtype=torch.long)
    for r, t in enumerate(trajs):
        x, a = mask_trajectory(t, config.block_size, mask_id, config.min_mask, rng, config.suffix_mask)
        n = len(x)
        ids[r, :n] = torch.tensor(x)
        targets[r, :n] = torch.tensor(t.ids)
        active[r, :n] = torch.tensor(a)
        attn[r, :n] = 1
    return ids.to(device), targets.to(device), active.to(device), attn.to(device)


@torch.no_grad()
def measure(model, trajs: Sequence[Trajectory], config: DistillConfig, mask_id: int, pad_id: int,
            device: torch.device) -> dict[str, float]:
    """Mean consistency stats of the model on ``trajs`` under a fixed masking (seeded)."""
    if not trajs:
        return {}
    model.eval()
    rng = random.Random(12345)
    totals: dict[str, float] = {}
    count = 0
    for i in range(0, len(trajs), config.batch_size):
        chunk = trajs[i: i + config.batch_size]
        ids, targets, active, attn = _batch(chunk, config, mask_id, pad_id, rng, device)
        logits = model(ids, attention_mask=attn).logits
        _, stats = certainty_forcing_loss(logits, targets, active, weight=config.certainty_weight,
                                          temperature=config.certainty_temperature)
        for k, v in stats.items():
            totals[k] = totals.get(k, 0.0) + v * len(chunk)
        count += len(chunk)
    model.train()
    return {k: v / count for k, v in totals.items()}


class CertaintyObjective(Objective):
    """Certainty forcing as an objective of the trainer's loop: each micro-batch is ``batch_size`` trajectories
    drawn with the run's generator and masked semi-autoregressively (:func:`mask_trajectory`), scored with
    :func:`certainty_forcing_loss`; validation is :func:`measure` on the held-out trajectories."""

    def __init__(self, config: DistillConfig, env, train_set: Sequence[Trajectory], val: Sequence[Trajectory],
                 mask_id: int, pad_id: int, rng: random.Random) -> None:
        self.config, self.env, self.train_set, self.val = config, env, list(train_set), list(val)
        self.mask_id, self.pad_id, self.rng = mask_id, pad_id, rng
        self._stats: dict[str, float] = {}

    def micro_loss(self, model: torch.nn.Module, step: int, micro: int) -> tuple[torch.Tensor, int]:
        config = self.config
        batch = [self.train_set[self.rng.randrange(len(self.train_set))] for _ in range(config.batch_size)]
        ids, targets, active, attn = _batch(batch, config, self.mask_id, self.pad_id, self.rng, self.env.device)
        logits = model(ids, attention_mask=attn).logits
        loss, self._stats = certainty_forcing_loss(logits, targets, active, weight=config.certainty_weight,
                                                   temperature=config.certainty_temperature)
        return loss, int(attn.sum())

    def validate(self, model: torch.nn.Module) -> dict[str, float] | None:
        return measure(model, self.val, self.config, self.mask_id, self.pad_id, self.env.device) or None

    def state_dict(self) -> dict[str, Any]:
        return {"distill_rng": self.rng.getstate()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version, inner, gauss = state["distill_rng"]
        self.rng.setstate((version, tuple(inner), gauss))

    def log_fields(self, step: int) -> dict[str, Any]:
        return dict(self._stats)

    def describe(self, model: torch.nn.Module, env) -> str:
        return (f"distilling {sum(p.numel() for p in model.parameters()):,} parameters on {env.device} "
                f"x{env.world_size}, {len(self.train_set)} train / {len(self.val)} held-out trajectories")


# --------------------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class DistillResult:
    """What a run did: the student bundle ``out``, prompt/trajectory ``counts``, the held-out
    trajectories' stats ``before`` and ``after`` (``accuracy``, ``confidence``, ``above_0.9``, ``ce``;
    ``before`` is empty for a resumed run), optimizer ``steps`` and wall ``seconds`` spent decoding the
    teacher and training."""

    out: Path
    counts: dict[str, int]
    before: dict[str, float]
    after: dict[str, float]
    steps: int
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "counts": self.counts, "before": self.before, "after": self.after,
                "steps": self.steps, "seconds": self.seconds}


def distill(config: DistillConfig, *, progress: bool = False, resume: bool = False,
            log: Callable[[dict[str, Any]], None] | None = None) -> DistillResult:
    """Teacher trajectories → certainty-forcing training in the trainer's loop (:func:`~treediff.train.runner.
    run_loop`: AdamW, cosine schedule to ``lr / 10``, DDP under torchrun, ``metrics.jsonl``, checkpoints in
    ``out/checkpoints``, ``resume`` from the newest) → a student bundle in ``config.out``.  ``log`` gets
    every 50th step's metrics."""
    from treediff.train.distributed import setup_distributed, teardown_distributed

    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    env = setup_distributed(config.device)
    try:
        return _distill(config, env, progress, resume, log)
    finally:
        torch.set_num_threads(threads)
        teardown_distributed()


def _distill(config: DistillConfig, env, progress: bool, resume: bool,
             log: Callable[[dict[str, Any]], None] | None) -> DistillResult:
    from treediff.model.formats import TreediffLM
    from treediff.sample.api import get_model
    from treediff.train.distributed import broadcast_object
    from treediff.train.runner import LoopSettings, run_loop

    teacher = get_model(config.teacher or None, device="cpu")
    if not isinstance(teacher, TreediffLM):
        raise CheckpointError(f"{config.teacher}: distillation needs a treediff model (bundle or run); "
                              "external transformers models are not supported")
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    specs = collect_prompts(config)[: config.num_prompts]
    t0 = time.perf_counter()
    decoded = None
    if env.is_main:  # the other ranks take rank 0's trajectories
        cache = Path(config.trajectories) if config.trajectories else out / "trajectories.jsonl"
        decoded = teacher_trajectories(teacher, specs, config, progress=progress, cache=cache)
    trajs, counts = broadcast_object(decoded, env)
    t_teacher = time.perf_counter() - t0
    if len(trajs) < 2:
        raise InputError(f"the teacher kept {len(trajs)} of {len(specs)} prompts: too few trajectories to train on")
    rng = random.Random(config.seed)
    order = list(trajs)
    rng.shuffle(order)
    n_val = min(len(order) - 1, max(1, round(config.val_fraction * len(order)))) if config.val_fraction else 0
    val, train_set = order[:n_val], order[n_val:]
    counts = {**counts, "train": len(train_set), "val": len(val)}
    if env.rank:  # each rank draws its own batches
        rng.seed(config.seed * 1_000_003 + env.rank)
    torch.manual_seed(config.seed)
    start = teacher if not config.init else get_model(config.init, device="cpu")
    if not isinstance(start, TreediffLM) or start.vocab_size != teacher.vocab_size:
        raise CheckpointError(f"{config.init}: the student must start from a treediff model with the teacher's vocabulary")
    student = copy.deepcopy(start.model).train()
    objective = CertaintyObjective(config, env, train_set, val, teacher.mask_id, teacher.tokenizer.pad_id, rng)
    settings = LoopSettings(
        out_dir=str(out), ckpt_dir=str(out / "checkpoints"), lr=config.lr, min_lr=config.lr / 10,
        warmup_steps=config.warmup_steps, max_steps=config.steps, weight_decay=config.weight_decay,
        config=config.to_dict(), beta1=0.9, beta2=0.95, grad_clip=config.grad_clip, log_every=config.log_every,
        ckpt_every=config.checkpoint_every, keep_last=1, progress=progress, precision="fp32", lr_key="lr",
    )

    def on_log(step: int, metrics: dict[str, Any]) -> None:
        if log is not None and (step % 50 == 0 or step == config.steps):
            log({"step": step, **metrics})

    t1 = time.perf_counter()
    result = run_loop(student, objective, settings, env, resume=resume, on_log=on_log)
    t_train = time.perf_counter() - t1
    strip = lambda rec: {k: v for k, v in rec.items() if k != "step"}  # noqa: E731
    before = strip(result.val[0]) if result.val and result.val[0]["step"] == 0 else {}
    after = strip(result.val[-1]) if result.val else {}
    if env.is_main:
        _save_student(student.cpu().eval(), teacher, out, config, counts, before, after)
    return DistillResult(out, counts, before, after, config.steps, {"teacher": t_teacher, "train": t_train})


def _save_student(model, teacher, out: Path, config: DistillConfig, counts, before, after) -> None:
    from treediff.model.run_dirs import save_pretrained_quietly

    save_pretrained_quietly(model, out)
    teacher.tokenizer.save(out)
    meta = {"source": config.init or config.teacher or "embedded default model", "languages": teacher.tokenizer.languages,
            "note": "certainty-forcing distillation (treediff distill)",
            "distill": {"config": config.to_dict(), "counts": counts, "before": before, "after": after}}
    (out / "treediff_model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
