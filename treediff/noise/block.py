"""Block masking (BD3-LM / Stable-DiffCoder, arXiv 2601.15892): corrupt one block per sample.

The maskable tokens of sample ``i`` are cut into consecutive groups of ``B`` (the
last may be shorter); one group is chosen uniformly.  Each of its tokens is masked
with the clipped level ``u_blk = min(1, max(u(t), 1/B))``; if none was, one uniformly
chosen token of the block is forced.  The loss weight is ``1/u_blk ≤ B``.

Context before the block stays clean and visible.  Tokens after the block are
handled by ``suffix``:

* ``drop`` (default, BD3-LM semantics): they are removed from ``attention_mask``, so
  the model denoises the block from its prefix only, as at semi-autoregressive
  decoding time; their ids stay clean and they are never predicted;
* ``clean``: they stay clean, visible and unpredicted (block *infilling*).
"""

from __future__ import annotations

from dataclasses import dataclass

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
from treediff.noise.random_mask import check_schedule
from treediff.noise.schedules import ClippedSchedule
from treediff.tokens.batch import AlignedBatch

__all__ = ["BlockMaskerConfig", "BlockMasker", "SUFFIX_MODES"]

SUFFIX_MODES = ("drop", "clean")


@dataclass(frozen=True)
class BlockMaskerConfig(MaskerConfig):
    """``block_size`` ``B ≥ 1``; ``schedule``: the base ``u(t)`` that is clipped; ``suffix``: ``drop`` or ``clean``."""

    masker = "block"
    block_size: int = 4
    schedule: str = "linear"
    suffix: str = "drop"

    def __post_init__(self) -> None:
        require(
            isinstance(self.block_size, int) and not isinstance(self.block_size, bool) and self.block_size >= 1,
            "block_size",
            f"must be an int >= 1, got {self.block_size!r}",
        )
        check_schedule(self.schedule)
        require(self.suffix in SUFFIX_MODES, "suffix", f"got {self.suffix!r}; allowed: {', '.join(SUFFIX_MODES)}")


@register_masker
class BlockMasker(Masker):
    """One corrupted block of ``block_size`` maskable tokens per sample, at the clipped level.

    >>> import torch
    >>> from treediff.noise.testing import batch_from_sources
    >>> batch = batch_from_sources(["x = f(1)\\n"], "python")
    >>> out = BlockMasker(block_size=4)(batch, torch.tensor([0.0]), torch.Generator().manual_seed(0), mask_id=3)
    >>> int(out.mask.sum()), float(out.loss_weight[0])
    (1, 4.0)
    """

    name = "block"
    config_class = BlockMaskerConfig
    config: BlockMaskerConfig

    def __call__(
        self, batch: AlignedBatch, t: torch.Tensor, generator: torch.Generator, mask_id: int
    ) -> MaskedBatch:
        cfg = self.config
        size = cfg.block_size
        device = batch.input_ids.device
        bsz, length = batch.input_ids.shape
        t = check_t(t, bsz, device)
        u_blk = ClippedSchedule(size, base=cfg.schedule)(t)
        maskable = maskable_positions(batch)
        u_block = rand((bsz,), generator, device)
        u_tokens = rand((bsz, length), generator, device)
        u_force = rand((bsz,), generator, device)

        rank = maskable.long().cumsum(1) - 1  # index of each maskable token among its row's maskable tokens
        num_maskable = maskable.sum(1)
        num_blocks = (num_maskable + size - 1) // size
        block = torch.minimum((u_block * num_blocks).long(), (num_blocks - 1).clamp(min=0))
        in_block = maskable & (rank // size == block[:, None])
        mask = in_block & (u_tokens < u_blk[:, None])
        # Force one token where the draw left the block clean.
        block_len = in_block.sum(1)
        force_rank = block * size + torch.minimum((u_force * block_len).long(), (block_len - 1).clamp(min=0))
        forced = in_block & (rank == force_rank[:, None]) & ~mask.any(1, keepdim=True)
        mask = mask | forced

        positions = torch.arange(length, device=device).expand(bsz, length)
        has_block = block_len > 0
        start = torch.where(in_block, positions, torch.full_like(positions, length)).amin(1)
        end = torch.where(in_block, positions + 1, torch.zeros_like(positions)).amax(1)
        start = torch.where(has_block, start, torch.zeros_like(start))
        attention = batch.attention_mask.bool().clone()
        if cfg.suffix == "drop":
            attention &= ~(has_block[:, None] & (positions >= end[:, None]))
        return MaskedBatch(
            input_ids=torch.where(mask, torch.full_like(batch.input_ids, mask_id), batch.input_ids),
            targets=batch.input_ids.clone(),
            mask=mask,
            loss_weight=(1.0 / u_blk).float(),
            t=t,
            attention_mask=attention,
            block_spans=torch.stack([start, end], dim=1),
        )
