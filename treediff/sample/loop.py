"""The denoising loop: blocks left to right, a stepper inside each block, the model called once per step.

:func:`denoise` takes a batch of sequences whose ``masked`` positions are to be generated and
decodes them semi-autoregressively: the masked positions of each row, in order, are cut into
blocks of ``config.block_size``; inside a block the stepper commits positions in its unmasking
order.  With a KV-capable model (our own denoiser) and ``use_cache``, the first step of a block
runs the full sequence and caches the prefix before the block; the block's other steps run only
the tail (Fast-dLLM's block-wise approximate prefix cache).

The loop counts forward passes (NFE).  A position a guard could not fill with any viable token is
set to the model's ``end_id`` (empty text) and counted as dropped, so decoding never stalls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from treediff.sample.config import SamplerConfig
from treediff.model.formats import DiffusionLM
from treediff.sample.prior import PriorState, prior_weight_of
from treediff.sample.spacing import SpacingRule
from treediff.sample.steppers import Guard, SamplerState, build_stepper

__all__ = ["DenoiseResult", "RowGroup", "denoise", "plan_blocks"]


@dataclass(frozen=True)
class DenoiseResult:
    """``ids [B, L]`` decoded; ``nfe`` forward passes; ``num_steps``; ``num_rejected`` guard refusals;
    ``num_dropped`` positions left empty because no candidate was viable (``dropped_per_row``: per row);
    ``nfe_per_group``: the forward passes each :class:`RowGroup` took part in (its NFE had it decoded alone)."""

    ids: Tensor
    nfe: int
    num_steps: int
    num_rejected: int
    num_dropped: int
    dropped_per_row: tuple[int, ...] = ()
    nfe_per_group: tuple[int, ...] = ()


def plan_blocks(masked: Tensor, block_size: int) -> list[Tensor]:
    """``[B, L]`` bool block masks: each row's masked positions, in order, cut into ``block_size`` chunks."""
    bsz, length = masked.shape
    counts = masked.sum(1)
    total = int(counts.max()) if bsz else 0
    if total == 0:
        return []
    size = block_size or total
    rank = masked.long().cumsum(1) - 1  # rank of each masked position within its row
    return [masked & (rank // size == b) for b in range(math.ceil(total / size))]


def _use_cache(lm: DiffusionLM, config: SamplerConfig) -> bool:
    """``use_cache``: ``on``/``off``; ``auto`` is on for a model with the dual cache (``supports_window``: a block's
    later steps run only its window, on any device), and on CUDA for one with the prefix cache alone."""
    if not lm.supports_cache or config.use_cache == "off":
        return False
    return config.use_cache == "on" or lm.supports_window or lm.device.type == "cuda"


@dataclass(frozen=True)
class RowGroup:
    """Rows ``[start, stop)`` of a batch that decode one request (one spec's samples), with its own
    ``generator``: budgets, NFE and random draws are per group, so a request decodes the same in a batch
    as alone."""

    start: int
    stop: int
    generator: torch.Generator


def _group_max(values: Tensor, groups: Sequence[RowGroup]) -> Tensor:
    """Each row's value replaced by its group's maximum."""
    out = values.clone()
    for g in groups:
        if g.stop > g.start:
            out[g.start:g.stop] = values[g.start:g.stop].max()
    return out


def _block_budget(config: SamplerConfig, per_row: Tensor, num_blocks: Tensor, redone: bool,
                  guarded: bool, groups: Sequence[RowGroup]) -> tuple[Tensor, Tensor]:
    """Per row: tokens committed per step ``k`` at least, and the block's step budget (with the guard's
    extra steps), the budget taken over the row's group."""
    if config.steps is None:  # one token per step
        per_step = None
    else:  # the steps are shared evenly by the row's blocks
        per_step = torch.clamp(-(-config.steps // num_blocks.clamp(min=1)), min=1)
    if redone and config.remask_parallel > 1:  # a block's remasked statements are redone in parallel
        redo_step = torch.clamp(-(-_group_max(per_row, groups) // config.remask_parallel), min=1)
        per_step = redo_step if per_step is None else torch.minimum(redo_step, per_step)
    if per_step is None:
        k, budget = torch.ones_like(per_row), _group_max(per_row, groups)
    else:
        k, budget = (per_row + per_step - 1) // per_step, per_step
    extra = torch.ceil(config.extra_steps * budget.double()).long() if guarded else torch.zeros_like(budget)
    return k, budget + extra


def denoise(  # long: the sampling loop reads top to bottom in one place (blocks, steps, guard, redo)
    lm: DiffusionLM,
    ids: Tensor,
    masked: Tensor,
    config: SamplerConfig,
    *,
    guard: Guard | None = None,
    generator: torch.Generator | None = None,
    on_block: Callable[[int, Tensor, Tensor], Tensor | None] | None = None,
    attention_mask: Tensor | None = None,
    groups: Sequence[RowGroup] | None = None,
    lead: Tensor | None = None,
) -> DenoiseResult:
    """Decode the ``masked`` positions of ``ids`` (``[B, L]``; masked ids should hold ``lm.mask_id``).

    ``on_block(b, ids, masked)`` runs after block ``b``; it may return a ``[B, L]`` bool of positions
    to remask (compiler remasking of the block), which are decoded again before the next block.
    ``attention_mask`` (``[B, L]``, 1 = real token) marks right padding of a batch of requests;
    ``groups`` splits the rows into requests (:class:`RowGroup`; default: one group, ``generator``);
    ``lead`` (``[B, L]`` bool): the holes' first positions, where whitespace and the end token are never proposed.
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    if groups is None:
        groups = (RowGroup(0, ids.shape[0], generator),)
    ids = ids.to(lm.device).clone()
    masked = masked.to(lm.device).clone()
    mask_attn = None if attention_mask is None else attention_mask.to(lm.device)
    ids[masked] = lm.mask_id
    stepper = build_stepper(config.order, temperature=config.temperature, top_p=config.top_p,
                            num_candidates=config.num_candidates if guard is not None else 1)
    banned = torch.tensor(lm.banned_ids, dtype=torch.long, device=lm.device)
    lead = None if lead is None or not bool(lead.any()) else lead.to(lm.device)
    lead_banned = (torch.tensor(sorted({*lm.whitespace_ids(), lm.end_id}), dtype=torch.long, device=lm.device)
                   if lead is not None else None)
    spacing = SpacingRule.for_model(lm, lm.device) if config.tidy_spaces else None
    blocks = plan_blocks(masked, config.block_size)
    counts = masked.sum(1).cpu()
    size = config.block_size or int(counts.max() if counts.numel() else 0) or 1
    num_blocks = _group_max(-(-counts // size), groups)
    cache_on = _use_cache(lm, config)
    weight = prior_weight_of(lm, config.prior_weight)
    prior = PriorState(lm, ids, masked, weight) if weight > 0 else None
    nfe = num_steps = num_rejected = num_dropped = 0
    group_nfe = [0] * len(groups)
    dropped = torch.zeros(ids.shape[0], dtype=torch.long)
    b, redone = 0, False
    pending: Tensor | None = None  # remasked positions to redo with the current block
    while b < len(blocks):
        block = blocks[b] if pending is None else (blocks[b] | pending)
        pending = None
        eligible = block & masked
        per_row = eligible.sum(1).cpu()
        k, row_total = _block_budget(config, per_row, num_blocks, redone, guard is not None, groups)
        cache, start, stop, rows = None, 0, ids.shape[1], None
        if cache_on:
            start, stop, rows = _cache_window(lm, eligible)
        for s in range(int(row_total.max()) if row_total.numel() else 0):
            live = (row_total > s).to(masked.device)  # a row stops when its group's budget is spent
            eligible = block & masked & live[:, None]
            if not bool(eligible.any()):
                break
            left_steps = (row_total - s).clamp(min=1)
            k = torch.maximum(k, (eligible.sum(1).cpu() + left_steps - 1) // left_steps)
            if cache_on and cache is not None:
                logits, _ = lm.logits(ids[:, start:stop], cache=cache, window_rows=rows,
                                      attention_mask=None if mask_attn is None else mask_attn[:, start:stop])
                offset, view = start, stop
            else:
                wanted = cache_on and (start > 0 or stop < ids.shape[1] or rows is not None)
                logits, cache = lm.logits(ids, prefix_length=start if wanted else None,
                                          suffix_start=stop if wanted and lm.supports_window else None,
                                          attention_mask=mask_attn)
                offset, view = 0, ids.shape[1]
            nfe += 1
            logits = logits.float()
            if prior is not None:
                logits = prior.apply(logits, ids, masked, eligible, offset)
            logits[..., banned] = float("-inf")
            if lead is not None:
                at = (lead & masked)[:, offset:view]
                if bool(at.any()):
                    rows_at = logits[at]
                    rows_at[:, lead_banned] = float("-inf")
                    logits[at] = rows_at
            if spacing is not None:
                logits = spacing.apply(logits, ids, masked, offset, view)
            windowed = offset > 0 or view < ids.shape[1]
            sub_guard = _shifted(guard, offset, ids, masked, view) if guard is not None and windowed else guard
            new_ids, new_masked, rejected = _step_groups(stepper, logits, ids[:, :view], masked[:, :view],
                                                         eligible[:, :view], offset, k, config, groups, sub_guard,
                                                         group_nfe)
            if view < ids.shape[1]:  # the positions after the window, as the guard may have left them
                new_ids = torch.cat([new_ids, ids[:, view:]], 1)
                new_masked = torch.cat([new_masked, masked[:, view:]], 1)
            ids, masked = new_ids, new_masked
            num_rejected += rejected
            num_steps += 1
        left = block & masked
        if bool(left.any()):  # budget spent: leave these positions empty
            num_dropped += int(left.sum())
            dropped += left.sum(1).cpu()
            ids, masked = _close(lm, ids, masked, left, guard)
        if on_block is not None and not redone:
            redo = on_block(b, ids, masked)
            if redo is not None and bool(redo.any()):
                redo = redo.to(masked.device) & ~masked
                ids[redo] = lm.mask_id
                masked |= redo
                pending, redone = redo, True  # decode them once more, then move on
                continue
        b, redone = b + 1, False
    if bool(masked.any()):  # remasked by a guard outside any remaining block
        num_dropped += int(masked.sum())
        dropped += masked.sum(1).cpu()
        ids, masked = _close(lm, ids, masked, masked.clone(), guard)
    return DenoiseResult(ids=ids, nfe=nfe, num_steps=num_steps, num_rejected=num_rejected, num_dropped=num_dropped,
                         dropped_per_row=tuple(dropped.tolist()), nfe_per_group=tuple(group_nfe))


def _step_groups(stepper, logits: Tensor, ids: Tensor, masked: Tensor, eligible: Tensor, offset: int, k: Tensor,
                 config: SamplerConfig, groups: Sequence[RowGroup], guard: Guard | None,
                 group_nfe: list[int]) -> tuple[Tensor, Tensor, int]:
    """One step of every group with eligible rows (on the window ``[offset, L)``); counts each group's NFE.
    A stepper that draws random numbers steps each group with its own generator, in group order."""
    live = eligible.any(1).cpu()
    for i, g in enumerate(groups):
        group_nfe[i] += int(bool(live[g.start:g.stop].any()))
    random_draws = config.temperature > 0 or config.order == "random"
    parts = groups if random_draws and len(groups) > 1 else (RowGroup(0, ids.shape[0], groups[0].generator),)
    ids, masked = ids.clone(), masked.clone()
    rejected = 0
    for g in parts:
        lo, hi = g.start, g.stop
        if not bool(live[lo:hi].any()):
            continue
        state = SamplerState(ids=ids[lo:hi, offset:], masked=masked[lo:hi, offset:],
                             eligible=eligible[lo:hi, offset:])
        row_guard = guard if guard is None or lo == 0 else _row_offset(guard, lo)
        out = stepper.step(logits[lo:hi], state, num_commit=k[lo:hi], threshold=config.threshold,
                           generator=g.generator, guard=row_guard)
        ids[lo:hi, offset:] = out.state.ids
        masked[lo:hi, offset:] = out.state.masked
        rejected += out.num_rejected
    return ids, masked, rejected


def _row_offset(guard: Guard, offset: int) -> Guard:
    """The guard of a batch seen from a slice of its rows starting at ``offset``."""
    return lambda row, pos, candidates, ids_row, masked_row: guard(row + offset, pos, candidates, ids_row, masked_row)


def _close(lm: DiffusionLM, ids: Tensor, masked: Tensor, left: Tensor, guard: Guard | None) -> tuple[Tensor, Tensor]:
    """Make the ``left`` positions empty (``end_id``).  With a guard they are offered to it one by one,
    frontier first, so provisional tokens behind them are checked (and emptied too when they fail):
    the frontier only moves right, so this ends."""
    if guard is None:
        ids, masked = ids.clone(), masked.clone()
        ids[left] = lm.end_id
        masked &= ~left
        return ids, masked
    ids_np, masked_np = ids.cpu().numpy().copy(), masked.cpu().numpy().copy()
    todo = left.cpu().numpy().copy()
    for r in range(ids_np.shape[0]):
        while True:
            pending = np.flatnonzero(todo[r] & masked_np[r])
            if pending.size == 0:
                break
            pos = int(pending[0])
            before = masked_np[r].copy()
            guard(r, pos, [lm.end_id], ids_np[r], masked_np[r])
            masked_np[r, pos] = False  # filled by the guard (end_id or a viable candidate)
            todo[r] |= masked_np[r] & ~before  # provisional tokens it emptied are closed too
    return torch.from_numpy(ids_np).to(ids.device), torch.from_numpy(masked_np).to(masked.device)


def _shifted(guard: Guard, offset: int, full_ids: Tensor, full_masked: Tensor, stop: int | None = None) -> Guard:
    """A guard for a window ``[offset, stop)`` (``stop`` ``None``: to the end): it sees and edits whole rows; what
    it changes after the window goes straight into ``full_ids``/``full_masked``."""
    width = full_ids.shape[1]
    stop = width if stop is None else stop

    def call(row: int, pos: int, candidates: list, ids_tail, masked_tail) -> bool:
        after_ids = full_ids[row, stop:].cpu().numpy()
        after_masked = full_masked[row, stop:].cpu().numpy()
        ids_row = np.concatenate([full_ids[row, :offset].cpu().numpy(), ids_tail, after_ids])
        masked_row = np.concatenate([full_masked[row, :offset].cpu().numpy(), masked_tail, after_masked])
        ok = guard(row, pos + offset, candidates, ids_row, masked_row)
        ids_tail[:] = ids_row[offset:stop]
        masked_tail[:] = masked_row[offset:stop]
        if stop < width and ((ids_row[stop:] != after_ids).any() or (masked_row[stop:] != after_masked).any()):
            full_ids[row, stop:] = torch.from_numpy(ids_row[stop:]).to(full_ids.device)
            full_masked[row, stop:] = torch.from_numpy(masked_row[stop:]).to(full_masked.device)
        return ok

    return call


def _cache_window(lm: DiffusionLM, eligible: Tensor) -> tuple[int, int, Tensor | None]:
    """The positions a cached block recomputes, ``[start, stop)``: from the cache boundary before the block's first
    undecided position; to the end of the sequence, or, where the model has the dual cache (``supports_window``),
    to just after its last undecided position.  With the dual cache also which of them each row recomputes (``[B,
    stop - start]``, ``None`` when all): its own window, as it would alone, so a batch decodes each row as it
    would decode it alone."""
    width = eligible.shape[1]
    has = eligible.any(1)
    first = torch.where(has, eligible.float().argmax(1), torch.full_like(has, width, dtype=torch.long))
    starts = [lm.cache_boundary(int(f)) for f in first.tolist()]
    start = min(starts)
    if not lm.supports_window or not bool(has.any()):
        return start, width, None
    last = width - 1 - eligible.flip(1).float().argmax(1)
    stops = [max(int(b) + 1, a + 1) if h else a for a, b, h in zip(starts, last.tolist(), has.tolist())]
    stop = max(max(stops), start + 1)
    at = torch.arange(start, stop, device=eligible.device)
    own = (at[None, :] >= torch.tensor(starts, device=eligible.device)[:, None]) & \
          (at[None, :] < torch.tensor(stops, device=eligible.device)[:, None])
    return start, stop, None if bool(own.all()) else own
