"""AST-span masking (TreeDiff, arXiv 2508.01473): the noise corrupts whole syntax nodes.

For sample ``i`` with ``L_i`` maskable tokens at level ``u = (1 − ε)·u(t) + ε``:

1. **Budget.** ``N_i = ⌊u·L_i + U⌋`` with ``U ~ U(0, 1)`` (stochastic rounding, so
   ``E[N_i] = u·L_i``).  A share ``r = mix_random`` goes to random tokens (see ``mix_mode``);
   the span budget is ``n_i = N_i`` (or ``round((1 − r)·N_i)`` in ``token`` mode, ``0`` for
   a sample that drew random masking in ``sample`` mode).
2. **Candidates.** Rows of ``batch.spans`` whose category is enabled, with weight
   ``w_k > 0``, at least one maskable token, and at most ``n_i`` of them; identical
   extents (a statement and its only expression) are merged, keeping the larger weight.
3. **First pass.** Each candidate is drawn independently with ``p_k = min(1, λ_i·w_k)``.
   A token is masked iff some drawn span covers it, so for *any* family of spans
   (nested or not) ``E|∪| = Σ_j 1 − Π_{k ∋ j} (1 − p_k)`` exactly.  ``λ_i`` is solved by
   bisection so that ``E|∪| = n_i`` (or all ``p_k = 1`` when the candidates cover fewer
   than ``n_i`` tokens).
4. **Second pass (exact budget).** Drawn spans are accepted in a random order when they
   fit (``|∪| ≤ n_i``); the remaining room is filled with further whole candidate spans
   (weighted random order, Efraimidis–Spirakis keys ``U^{1/w}``) that fit, and finally with
   single random maskable tokens until exactly ``N_i`` are masked.  Only these single
   tokens are marked in ``fill_mask``; everything else is a union of whole candidate spans.

The loss weight is the MDLM ELBO weight ``u'(t) / u`` (``1/((1 − ε)t + ε) ≈ 1/t`` for
the linear schedule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np
import torch

from treediff.noise.base import (
    MaskedBatch,
    Masker,
    MaskerConfig,
    require,
    check_t,
    maskable_positions,
    rand,
    register_masker,
)
from treediff.noise.random_mask import check_schedule, mask_probability
from treediff.noise.schedules import build_schedule
from treediff.syntax.language import CATEGORIES, HOLE_CATEGORIES
from treediff.tokens.batch import AlignedBatch

__all__ = [
    "DEFAULT_CATEGORY_WEIGHTS",
    "AstSpanMaskerConfig",
    "AstSpanMasker",
    "SpanCandidates",
    "SpanDraw",
    "candidate_spans",
    "expected_masked",
    "span_probabilities",
]

# Skeleton nodes (definitions, whole blocks) are masked less often than control flow and data.
DEFAULT_CATEGORY_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "definition": 0.25,
        "block": 0.5,
        "statement": 1.0,
        "expression": 1.0,
        "identifier": 1.0,
        "literal": 1.0,
        "comment": 0.5,
    }
)
MIX_MODES = ("sample", "token")


@dataclass(frozen=True)
class AstSpanMaskerConfig(MaskerConfig):
    """Settings of :class:`AstSpanMasker`.

    * ``categories``: enabled node categories (subset of :data:`treediff.syntax.CATEGORIES`);
    * ``weights``: category → relative draw weight ``≥ 0`` (missing categories weigh 1);
    * ``mix_random``: share of random masking in ``[0, 1]``;
    * ``mix_mode``: ``sample`` (a sample is masked at random with probability ``mix_random``,
      else by spans) or ``token`` (each sample's budget is split: spans cover
      ``(1 − mix_random)`` of it, random tokens the rest — a per-token union);
    * ``eps``: floor of the masking level; ``schedule``: ``linear`` or ``cosine``.
    """

    masker = "ast_span"
    categories: tuple[str, ...] = HOLE_CATEGORIES
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CATEGORY_WEIGHTS))
    mix_random: float = 0.0
    mix_mode: str = "sample"
    eps: float = 1e-3
    schedule: str = "linear"

    def __post_init__(self) -> None:
        cats = self.categories
        require(
            isinstance(cats, (list, tuple)) and len(cats) > 0 and all(isinstance(c, str) for c in cats),
            "categories",
            f"must be a non-empty list of category names from {', '.join(CATEGORIES)}; got {cats!r}",
        )
        bad = [c for c in cats if c not in CATEGORIES]
        require(not bad, "categories", f"unknown {bad[0] if bad else ''!r}; allowed: {', '.join(CATEGORIES)}")
        require(len(set(cats)) == len(cats), "categories", f"has duplicates: {list(cats)!r}")
        object.__setattr__(self, "categories", tuple(cats))
        require(isinstance(self.weights, Mapping), "weights", f"must map category → weight, got {self.weights!r}")
        for key, value in self.weights.items():
            require(key in CATEGORIES, "weights", f"unknown category {key!r}; allowed: {', '.join(CATEGORIES)}")
            require(
                isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value < float("inf"),
                "weights",
                f"weight of {key!r} must be a finite float >= 0, got {value!r}",
            )
        require(
            any(self.weight(c) > 0 for c in self.categories), "weights", "every enabled category has weight 0"
        )
        object.__setattr__(self, "weights", MappingProxyType({k: float(v) for k, v in self.weights.items()}))
        require(
            isinstance(self.mix_random, (int, float)) and not isinstance(self.mix_random, bool)
            and 0.0 <= self.mix_random <= 1.0,
            "mix_random",
            f"must be a float in [0, 1], got {self.mix_random!r}",
        )
        require(self.mix_mode in MIX_MODES, "mix_mode", f"got {self.mix_mode!r}; allowed: {', '.join(MIX_MODES)}")
        require(
            isinstance(self.eps, (int, float)) and not isinstance(self.eps, bool) and 0.0 <= self.eps < 1.0,
            "eps",
            f"must be a float in [0, 1), got {self.eps!r}",
        )
        check_schedule(self.schedule)

    def weight(self, category: str) -> float:
        return float(self.weights.get(category, 1.0))

    def category_weights(self) -> torch.Tensor:
        """``[len(CATEGORIES) + 1]`` float64; the last entry (category −1) and disabled ones are 0."""
        out = torch.zeros(len(CATEGORIES) + 1, dtype=torch.float64)
        for c in self.categories:
            out[CATEGORIES.index(c)] = self.weight(c)
        return out


@dataclass(frozen=True)
class SpanCandidates:
    """Deduplicated candidate spans of a batch, one entry per ``(sample, start, end)``."""

    sample: torch.Tensor  # [K] long
    start: torch.Tensor  # [K] long
    end: torch.Tensor  # [K] long
    weight: torch.Tensor  # [K] float64, > 0
    size: torch.Tensor  # [K] long, maskable tokens inside

    def __len__(self) -> int:
        return int(self.sample.shape[0])

    def select(self, keep: torch.Tensor) -> "SpanCandidates":
        return SpanCandidates(self.sample[keep], self.start[keep], self.end[keep], self.weight[keep], self.size[keep])


@dataclass(frozen=True)
class SpanDraw:
    """What :meth:`AstSpanMasker.draw` decided: masks plus the whole spans it accepted."""

    mask: torch.Tensor  # [B, L] bool
    fill_mask: torch.Tensor  # [B, L] bool, single tokens of the second pass
    spans: torch.Tensor  # [M, 3] long rows (sample, start, end) of accepted whole spans
    level: torch.Tensor  # [B] float, u = (1 − ε)·u(t) + ε
    budget: torch.Tensor  # [B] long, N_i


def _prefix(maskable: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros((maskable.shape[0], 1), dtype=torch.long, device=maskable.device)
    return torch.cat([zero, maskable.long().cumsum(1)], dim=1)


def candidate_spans(batch: AlignedBatch, category_weights: torch.Tensor) -> SpanCandidates:
    """Candidate spans of ``batch``: enabled category, positive weight, ≥ 1 maskable token, deduplicated."""
    spans = batch.spans.long().cpu()
    maskable = maskable_positions(batch).cpu()
    length = batch.seq_len
    if spans.numel() == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return SpanCandidates(empty, empty, empty, empty.double(), empty)
    b, s, e, cat = spans.unbind(1)
    cat = torch.where(cat < 0, torch.full_like(cat, len(CATEGORIES)), cat.clamp(max=len(CATEGORIES)))
    w = category_weights[cat]
    prefix = _prefix(maskable)
    size = prefix[b, e] - prefix[b, s]
    keep = (w > 0) & (size > 0) & (e > s)
    b, s, e, w = b[keep], s[keep], e[keep], w[keep]
    key = (b * (length + 1) + s) * (length + 1) + e
    uniq, inverse = torch.unique(key, return_inverse=True)
    weight = torch.zeros(uniq.shape[0], dtype=torch.float64).scatter_reduce(0, inverse, w, "amax", include_self=False)
    ub = uniq // ((length + 1) ** 2)
    us = (uniq // (length + 1)) % (length + 1)
    ue = uniq % (length + 1)
    return SpanCandidates(ub, us, ue, weight, prefix[ub, ue] - prefix[ub, us])


def expected_masked(p: torch.Tensor, cand: SpanCandidates, maskable: torch.Tensor) -> torch.Tensor:
    """``[B]`` float64 ``E|∪ drawn spans|`` over maskable tokens when span ``k`` is drawn with ``p[k]``.

    Exact for independent draws: token ``j`` stays clean iff no span covering it is drawn.
    """
    bsz, length = maskable.shape
    logq = torch.log1p(-p.double().clamp(0.0, 1.0 - 1e-12))
    diff = torch.zeros((bsz, length + 1), dtype=torch.float64)
    diff.index_put_((cand.sample, cand.start), logq, accumulate=True)
    diff.index_put_((cand.sample, cand.end), -logq, accumulate=True)
    log_clean = diff.cumsum(1)[:, :length].clamp(max=0.0)
    return ((1.0 - torch.exp(log_clean)) * maskable.double()).sum(1)


def span_probabilities(
    cand: SpanCandidates, target: torch.Tensor, maskable: torch.Tensor, iterations: int = 50
) -> torch.Tensor:
    """Per-candidate draw probabilities ``min(1, λ_i·w_k)`` with ``E|∪| = target[i]`` (bisection on ``λ_i``).

    When the candidates of sample ``i`` cover fewer than ``target[i]`` tokens, all get ``p = 1``.
    """
    bsz = maskable.shape[0]
    if len(cand) == 0:
        return torch.zeros(0, dtype=torch.float64)
    target = target.double().cpu()
    min_w = torch.full((bsz,), float("inf"), dtype=torch.float64).scatter_reduce(
        0, cand.sample, cand.weight, "amin", include_self=True
    )
    hi = torch.where(torch.isfinite(min_w), 1.0 / min_w, torch.ones_like(min_w))
    lo = torch.zeros_like(hi)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        exp = expected_masked((mid[cand.sample] * cand.weight).clamp(max=1.0), cand, maskable)
        below = exp < target
        lo = torch.where(below, mid, lo)
        hi = torch.where(below, hi, mid)
    lam = torch.where(target > 0, hi, torch.zeros_like(hi))
    return (lam[cand.sample] * cand.weight).clamp(max=1.0)


def _accept_if_fits(
    order: np.ndarray, starts: np.ndarray, ends: np.ndarray, masked: np.ndarray, free: np.ndarray,
    count: int, budget: int, accepted: list[tuple[int, int]],
) -> int:
    """Mark spans (in ``order``) whose free tokens still fit in ``budget``; return the new count."""
    for k in order:
        if count >= budget:
            break
        s, e = int(starts[k]), int(ends[k])
        new = int(free[s:e].sum())
        if count + new > budget:
            continue
        if new:
            accepted.append((s, e))
            masked[s:e] |= free[s:e]
            free[s:e] = False
            count += new
    return count


@register_masker
class AstSpanMasker(Masker):
    """Mask whole AST nodes with an exact per-sample budget (see the module docstring).

    >>> import torch
    >>> from treediff.noise.testing import batch_from_sources
    >>> batch = batch_from_sources(["def f(a):\\n    return a + 1\\n"], "python")
    >>> out = AstSpanMasker()(batch, torch.tensor([0.5]), torch.Generator().manual_seed(0), mask_id=3)
    >>> int(out.mask.sum())  # 16 maskable tokens, budget ⌊(1 − ε)·0.5·16 + ε·16 + U⌋
    8
    """

    name = "ast_span"
    config_class = AstSpanMaskerConfig
    config: AstSpanMaskerConfig

    def candidates(self, batch: AlignedBatch) -> SpanCandidates:
        """The spans this masker draws from (the AST nodes of enabled categories)."""
        return candidate_spans(batch, self.config.category_weights())

    def draw(self, batch: AlignedBatch, t: torch.Tensor, generator: torch.Generator) -> SpanDraw:
        """Decide the mask (on the CPU); :meth:`__call__` turns it into a :class:`MaskedBatch`."""
        cfg = self.config
        bsz, length = batch.input_ids.shape
        t = check_t(t, bsz, torch.device("cpu"))
        schedule = build_schedule(cfg.schedule)
        level = mask_probability(schedule(t), cfg.eps)
        maskable = maskable_positions(batch).cpu()
        num_maskable = maskable.sum(1)
        cpu = torch.device("cpu")
        # All randomness is drawn up front, in a fixed order, so a seed fixes the mask.
        u_round = rand((bsz,), generator, cpu)
        u_mix = rand((bsz,), generator, cpu)
        cand = self.candidates(batch)
        u_draw = rand((len(cand),), generator, cpu)
        u_order = rand((len(cand),), generator, cpu)
        u_extra = rand((len(cand),), generator, cpu)
        u_tokens = rand((bsz, length), generator, cpu)

        budget = torch.minimum(torch.floor(level.double() * num_maskable + u_round.double()).long(), num_maskable)
        if cfg.mix_mode == "token":
            span_budget = torch.round((1.0 - cfg.mix_random) * budget.double()).long()
        else:
            span_budget = torch.where(u_mix < cfg.mix_random, torch.zeros_like(budget), budget)
        # Spans larger than the span budget could only be trimmed, breaking whole nodes: drop them.
        fits = cand.size <= span_budget[cand.sample]
        cand = cand.select(fits)
        u_draw, u_order, u_extra = u_draw[fits], u_order[fits], u_extra[fits]

        p = span_probabilities(cand, span_budget, maskable)
        drawn = (u_draw.double() < p).numpy()
        # Efraimidis–Spirakis: sorting by U^(1/w) descending is weighted sampling without replacement.
        extra_key = (torch.log(u_extra.double().clamp(min=1e-300)) / cand.weight).numpy()

        mask = np.zeros((bsz, length), dtype=bool)
        fill = np.zeros((bsz, length), dtype=bool)
        free_all = maskable.numpy().copy()
        samples, starts, ends = cand.sample.numpy(), cand.start.numpy(), cand.end.numpy()
        order_key, token_key = u_order.numpy(), u_tokens.numpy()
        accepted_rows: list[tuple[int, int, int]] = []
        bounds = np.searchsorted(samples, np.arange(bsz + 1))  # candidates are sorted by sample
        for i in range(bsz):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            free, row = free_all[i], mask[i]
            n_span, n_total = int(span_budget[i]), int(budget[i])
            accepted: list[tuple[int, int]] = []
            count = 0
            if n_span > 0 and hi > lo:
                idx = np.arange(lo, hi)
                first = idx[drawn[lo:hi]]
                count = _accept_if_fits(first[np.argsort(order_key[first])], starts, ends, row, free, 0, n_span, accepted)
                if count < n_span:
                    rest = idx[~drawn[lo:hi]]
                    rest = rest[np.argsort(-extra_key[rest])]
                    count = _accept_if_fits(rest, starts, ends, row, free, count, n_span, accepted)
            deficit = n_total - count
            if deficit > 0:
                pool = np.flatnonzero(free)
                chosen = pool[np.argsort(token_key[i, pool], kind="stable")[:deficit]]
                row[chosen] = True
                fill[i, chosen] = True
            accepted_rows.extend((i, s, e) for s, e in accepted)
        spans = torch.tensor(accepted_rows, dtype=torch.long).reshape(-1, 3)
        return SpanDraw(torch.from_numpy(mask), torch.from_numpy(fill), spans, level.float(), budget)

    def __call__(
        self, batch: AlignedBatch, t: torch.Tensor, generator: torch.Generator, mask_id: int
    ) -> MaskedBatch:
        device = batch.input_ids.device
        t = check_t(t, batch.batch_size, device)
        drawn = self.draw(batch, t.cpu(), generator)
        mask = drawn.mask.to(device)
        schedule = build_schedule(self.config.schedule)
        return MaskedBatch(
            input_ids=torch.where(mask, torch.full_like(batch.input_ids, mask_id), batch.input_ids),
            targets=batch.input_ids.clone(),
            mask=mask,
            loss_weight=(schedule.rate(t) / drawn.level.to(device)).float(),
            t=t,
            attention_mask=batch.attention_mask.bool().clone(),
            fill_mask=drawn.fill_mask.to(device),
        )
