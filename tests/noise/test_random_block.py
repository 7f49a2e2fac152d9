"""Random masking statistics and the block masker's invariants."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from treediff.noise import BlockMasker, RandomMasker
from treediff.noise.base import maskable_positions
from treediff.noise.testing import MASK_ID, batch_from_sources


@pytest.mark.parametrize("t", [0.0, 0.1, 0.5, 0.9])
def test_random_masked_fraction_matches_level(sources, t):
    big = batch_from_sources(sources * 40, "python")
    out = RandomMasker()(big, torch.full((big.batch_size,), t), torch.Generator().manual_seed(0), MASK_ID)
    n = float(maskable_positions(big).sum())
    p = (1 - 1e-3) * t + 1e-3
    # Binomial(n, p): within 5 standard deviations.
    assert abs(float(out.mask.sum()) - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1e-9
    assert torch.allclose(out.loss_weight, torch.full_like(out.loss_weight, 1 / p))


def test_random_cosine_weight_is_rate_over_level(batch):
    t = torch.tensor([0.2, 0.5, 0.9])
    out = RandomMasker(schedule="cosine", eps=0.0)(batch, t, torch.Generator().manual_seed(0), MASK_ID)
    u = 1 - torch.cos(math.pi * t / 2)
    assert torch.allclose(out.loss_weight, (math.pi / 2) * torch.sin(math.pi * t / 2) / u)


def _check_block(batch, out, size, t):
    maskable = maskable_positions(batch)
    u_blk = min(1.0, max(t, 1 / size))
    for i in range(batch.batch_size):
        start, end = out.block_spans[i].tolist()
        positions = maskable[i].nonzero().flatten()
        if positions.numel() == 0:
            assert not out.mask[i].any()
            continue
        block = maskable[i] & (torch.arange(batch.seq_len) >= start) & (torch.arange(batch.seq_len) < end)
        rank = (positions == start).nonzero().item()
        assert rank % size == 0, "block not aligned among maskable tokens"
        assert 1 <= int(block.sum()) <= size
        assert not (out.mask[i] & ~block).any(), "masked outside the block"
        assert out.mask[i].any(), "no token masked"
        assert torch.equal(out.input_ids[i, :start], batch.input_ids[i, :start]), "prefix not clean"
        assert out.attention_mask[i, :end].equal(batch.attention_mask[i, :end])
        assert float(out.loss_weight[i]) == pytest.approx(1 / u_blk)
        assert float(out.loss_weight[i]) <= size + 1e-5


@pytest.mark.parametrize("size", [1, 4, 7])
@pytest.mark.parametrize("t", [0.0, 0.05, 0.5, 1.0])
def test_block_invariants(batch, size, t):
    for seed in range(4):
        out = BlockMasker(block_size=size)(batch, torch.full((3,), t), torch.Generator().manual_seed(seed), MASK_ID)
        _check_block(batch, out, size, t)
        ends = out.block_spans[:, 1]
        after = torch.arange(batch.seq_len)[None, :] >= ends[:, None]
        assert not (out.attention_mask & after).any(), "suffix not dropped"
        if t == 1.0:
            start = out.block_spans[:, 0]
            inside = (torch.arange(batch.seq_len)[None] >= start[:, None]) & ~after
            assert torch.equal(out.mask, inside & maskable_positions(batch))


def test_block_clean_suffix_keeps_attention(batch):
    out = BlockMasker(block_size=4, suffix="clean")(batch, torch.full((3,), 0.5), torch.Generator().manual_seed(0), MASK_ID)
    assert torch.equal(out.attention_mask, batch.attention_mask)
    _check_block(batch, out, 4, 0.5)


def test_block_placement_is_uniform(sources):
    big = batch_from_sources([sources[0]] * 400, "python")
    num_blocks = math.ceil(int(maskable_positions(big)[0].sum()) / 4)
    out = BlockMasker(block_size=4)(big, torch.full((400,), 0.5), torch.Generator().manual_seed(0), MASK_ID)
    counts = torch.bincount(out.block_spans[:, 0], minlength=big.seq_len)
    counts = counts[counts > 0].double()
    assert counts.numel() == num_blocks
    p = 1 / num_blocks  # each block index ~ Binomial(400, p)
    assert ((counts - 400 * p).abs() <= 5 * math.sqrt(400 * p * (1 - p))).all(), counts


@given(st.floats(0.0, 1.0), st.integers(1, 9), st.integers(0, 10_000))
def test_block_property(t, size, seed):
    batch = batch_from_sources(["x = 1\n", "def f(a):\n    return [a, a]\n"], "python")
    out = BlockMasker(block_size=size)(batch, torch.full((2,), t), torch.Generator().manual_seed(seed), MASK_ID)
    _check_block(batch, out, size, t)
