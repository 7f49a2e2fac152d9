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
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from treediff.sample.config import SamplerConfig
from treediff.model.formats import DiffusionLM
from treediff.sample.steppers import Guard, SamplerState, build_stepper

__all__ = ["DenoiseResult", "denoise", "plan_blocks"]


@dataclass(frozen=True)
class DenoiseResult:
    """``ids [B, L]`` decoded; ``nfe`` forward passes; ``num_steps``; ``num_rejected`` guard refusals;
    ``num_dropped`` positions left empty because no candidate was viable (``dropped_per_row``: per row)."""

    ids: Tensor
    nfe: int
    num_steps: int
    num_rejected: int
    num_dropped: int
    dropped_per_row: tuple[int, ...] = ()


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
    if not lm.supports_cache or config.use_cache == "off":
        return False
    return config.use_cache == "on" or lm.device.type == "cuda"


def denoise(  # long: the sampling loop reads top to bottom in one place (blocks, steps, guard, redo)
    lm: DiffusionLM,
    ids: Tensor,
    masked: Tensor,
    config: SamplerConfig,
    *,
    guard: Guard | None = None,
    generator: torch.Generator | None = None,
    on_block: Callable[[int, Tensor, Tensor], Tensor | None] | None = None,
) -> DenoiseResult:
    """Decode the ``masked`` positions of ``ids`` (``[B, L]``; masked ids should hold ``lm.mask_id``).

    ``on_block(b, ids, masked)`` runs after block ``b``; it may return a ``[B, L]`` bool of positions
    to remask (compiler remasking of the block), which are decoded again before the next block.
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    ids = ids.to(lm.device).clone()
    masked = masked.to(lm.device).clone()
    ids[masked] = lm.mask_id
    stepper = build_stepper(config.order, temperature=config.temperature, top_p=config.top_p,
                            num_candidates=config.num_candidates if guard is not None else 1)
    banned = torch.tensor(lm.banned_ids, dtype=torch.long, device=lm.device)
    blocks = plan_blocks(masked, config.block_size)
    # steps=None: one token per step; else the steps are shared evenly by the blocks
    steps_per_block = None if config.steps is None else max(1, math.ceil(config.steps / max(1, len(blocks))))
    cache_on = _use_cache(lm, config)
    nfe = num_steps = num_rejected = num_dropped = 0
    dropped = torch.zeros(ids.shape[0], dtype=torch.long)
    b, redone = 0, False
    pending: Tensor | None = None  # remasked positions to redo with the current block
    while b < len(blocks):
        block = blocks[b] if pending is None else (blocks[b] | pending)
        pending = None
        eligible = block & masked
        per_row = eligible.sum(1)
        # per step: k commits at least (with a threshold, every confident position too), within `budget` steps
        per_step = steps_per_block
        if redone and config.remask_parallel > 1:  # a block's remasked statements are redone in parallel
            per_step = max(1, math.ceil(int(per_row.max()) / config.remask_parallel))
            per_step = per_step if steps_per_block is None else min(per_step, steps_per_block)
        if per_step is None:
            k, budget = torch.ones_like(per_row), int(per_row.max())
        else:
            k, budget = (per_row + per_step - 1) // per_step, per_step
        cache, start = None, 0
        if cache_on:
            first = torch.where(eligible.any(1), eligible.float().argmax(1), torch.full_like(per_row, ids.shape[1]))
            start = int(first.min())
        # a guard may send positions back; they get at most `extra_steps` more steps, then share the rest
        total = budget + (math.ceil(config.extra_steps * budget) if guard is not None else 0)
        for s in range(total):
            eligible = block & masked
            if not bool(eligible.any()):
                break
            k = torch.maximum(k, (eligible.sum(1) + (total - s) - 1) // (total - s))
            if cache_on and cache is not None:
                logits, _ = lm.logits(ids[:, start:], cache=cache)
                offset = start
            else:
                logits, cache = lm.logits(ids, prefix_length=start if cache_on and start > 0 else None)
                offset = 0
            nfe += 1
            logits = logits.float()
            logits[..., banned] = float("-inf")
            state = SamplerState(ids=ids[:, offset:], masked=masked[:, offset:], eligible=eligible[:, offset:])
            if guard is not None and offset:
                sub_guard = _shifted(guard, offset, ids, masked)
            else:
                sub_guard = guard
            out = stepper.step(logits, state, num_commit=k, threshold=config.threshold, generator=generator,
                               guard=sub_guard)
            if offset:
                ids = torch.cat([ids[:, :offset], out.state.ids], dim=1)
                masked = torch.cat([masked[:, :offset], out.state.masked], dim=1)
            else:
                ids, masked = out.state.ids, out.state.masked
            num_rejected += out.num_rejected
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
                         dropped_per_row=tuple(dropped.tolist()))


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


def _shifted(guard: Guard, offset: int, full_ids: Tensor, full_masked: Tensor) -> Guard:
    """A guard for a tail window ``[offset, L)``: it sees and edits whole rows."""
    def call(row: int, pos: int, candidates: list, ids_tail, masked_tail) -> bool:
        ids_row = np.concatenate([full_ids[row, :offset].cpu().numpy(), ids_tail])
        masked_row = np.concatenate([full_masked[row, :offset].cpu().numpy(), masked_tail])
        ok = guard(row, pos + offset, candidates, ids_row, masked_row)
        ids_tail[:] = ids_row[offset:]
        masked_tail[:] = masked_row[offset:]
        return ok

    return call
