"""AST-span masking: whole nodes, expected budget in the first pass, exact budget after the second."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from treediff.noise import AstSpanMasker
from treediff.noise.ast_span import candidate_spans, expected_masked, span_probabilities
from treediff.noise.base import maskable_positions
from treediff.noise.testing import MASK_ID, batch_from_sources
from treediff.syntax import CATEGORIES, parse
from treediff.tokens import AlignedBatch, leaf_alignment


def _level(t: float, eps: float = 1e-3) -> float:
    return (1 - eps) * t + eps


@pytest.mark.parametrize("t", [0.05, 0.3, 0.5, 0.8, 1.0])
@pytest.mark.parametrize("config", [{}, {"mix_random": 0.5, "mix_mode": "token"}, {"mix_random": 0.5}])
def test_exact_budget(batch, t, config):
    masker = AstSpanMasker(**config)
    maskable = maskable_positions(batch).sum(1).double()
    for seed in range(5):
        out = masker(batch, torch.full((3,), t), torch.Generator().manual_seed(seed), MASK_ID)
        n = out.mask.sum(1).double()
        # N_i = ⌊u·L_i + U⌋ is one of the two integers around u·L_i.
        assert ((n - _level(t) * maskable).abs() < 1).all(), (n, _level(t) * maskable)


def test_budget_is_unbiased(sources):
    t, copies = 0.37, 60
    big = batch_from_sources(sources * copies, "python")
    out = AstSpanMasker()(big, torch.full((big.batch_size,), t), torch.Generator().manual_seed(0), MASK_ID)
    expected = _level(t) * float(maskable_positions(big).sum())
    # Stochastic rounding: each N_i differs from u·L_i by a Bernoulli(frac) − frac, variance ≤ 1/4.
    assert abs(int(out.mask.sum()) - expected) <= 5 * math.sqrt(big.batch_size * 0.25)


def _candidate_mask(batch: AlignedBatch, categories) -> torch.Tensor:
    """``[S]`` bool: rows of ``batch.spans`` whose category is enabled."""
    idx = torch.tensor([CATEGORIES.index(c) for c in categories])
    return torch.isin(batch.spans[:, 3], idx)


@pytest.mark.parametrize("t", [0.1, 0.4, 0.9])
def test_masked_region_is_union_of_whole_spans(batch, t):
    masker = AstSpanMasker()
    enabled = batch.spans[_candidate_mask(batch, masker.config.categories)]
    maskable = maskable_positions(batch)
    for seed in range(5):
        out = masker(batch, torch.full((3,), t), torch.Generator().manual_seed(seed), MASK_ID)
        region = out.mask & ~out.fill_mask
        covered = torch.zeros_like(region)
        for b, s, e, _ in enabled.tolist():
            inside = maskable[b, s:e]
            if inside.any() and region[b, s:e][inside].all():
                covered[b, s:e] |= inside
        assert torch.equal(covered, region), "a masked position outside the fill is not in a whole masked span"


def test_accepted_spans_are_node_token_spans(sources):
    masker = AstSpanMasker(categories=("statement", "expression", "identifier", "literal", "block", "definition"))
    for source in sources:
        tree = parse(source, "python")
        alignment = leaf_alignment(tree)
        assert alignment.node_exact.all()
        batch = batch_from_sources([source], "python")
        draw = masker.draw(batch, torch.tensor([0.5]), torch.Generator().manual_seed(0))
        assert draw.spans.shape[0] > 0
        node_spans = {tuple(x) for x in alignment.node_spans.tolist()}
        offsets = alignment.token_offsets
        for _, s, e in draw.spans.tolist():
            s, e = s - 1, e - 1  # drop the BOS frame
            assert (s, e) in node_spans
            rows = [k for k, span in enumerate(alignment.node_spans.tolist()) if tuple(span) == (s, e)]
            byte_span = (int(offsets[s, 0]), int(offsets[e - 1, 1]))
            assert any(tuple(alignment.node_byte_spans[k].tolist()) == byte_span for k in rows)
            assert draw.mask[0, s + 1 : e + 1].all()


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.5])
def test_first_pass_expectation(batch, fraction):
    """Solved probabilities give E|∪| = budget, exactly and by Monte Carlo over independent draws."""
    masker = AstSpanMasker()
    maskable = maskable_positions(batch)
    target = torch.floor(fraction * maskable.sum(1).double())
    cand = candidate_spans(batch, masker.config.category_weights())
    cand = cand.select(cand.size <= target.long()[cand.sample])
    p = span_probabilities(cand, target, maskable)
    assert torch.allclose(expected_masked(p, cand, maskable), target, atol=1e-6)
    draws = 4000
    g = torch.Generator().manual_seed(0)
    drawn = torch.rand((draws, len(cand)), generator=g, dtype=torch.float64) < p
    bsz, length = maskable.shape
    diff = torch.zeros((draws, bsz, length + 1))
    rows = torch.arange(draws)[:, None].expand(draws, len(cand))
    w = drawn.float()
    diff.index_put_((rows, cand.sample.expand_as(rows), cand.start.expand_as(rows)), w, accumulate=True)
    diff.index_put_((rows, cand.sample.expand_as(rows), cand.end.expand_as(rows)), -w, accumulate=True)
    union = ((diff.cumsum(2)[:, :, :length] > 0.5) & maskable).sum(2).double()  # [draws, B]
    mean, se = union.mean(0), union.std(0) / math.sqrt(draws)
    assert ((mean - target).abs() <= 5 * se + 1e-9).all(), (mean, target, se)


def test_mix_sample_mode_masks_some_samples_at_random(batch):
    masker = AstSpanMasker(mix_random=1.0)
    out = masker(batch, torch.full((3,), 0.5), torch.Generator().manual_seed(0), MASK_ID)
    assert torch.equal(out.fill_mask, out.mask)  # all random tokens, no spans
    masker = AstSpanMasker(mix_random=0.0)
    out = masker(batch, torch.full((3,), 0.3), torch.Generator().manual_seed(0), MASK_ID)
    assert (out.mask & ~out.fill_mask).sum() > 0.8 * out.mask.sum()


def test_mix_token_mode_splits_the_budget(batch):
    masker = AstSpanMasker(mix_random=0.5, mix_mode="token")
    out = masker(batch, torch.full((3,), 0.6), torch.Generator().manual_seed(3), MASK_ID)
    n = out.mask.sum(1).double()
    assert (out.fill_mask.sum(1).double() >= n - torch.round(0.5 * n) - 1e-9).all()


def test_loss_weight_is_elbo(batch):
    t = torch.tensor([0.1, 0.5, 1.0])
    out = AstSpanMasker()(batch, t, torch.Generator().manual_seed(0), MASK_ID)
    assert torch.allclose(out.loss_weight, 1 / ((1 - 1e-3) * t + 1e-3))


def test_category_weights_steer_the_draw(batch):
    ids_only = AstSpanMasker(categories=("identifier",))
    out = ids_only.draw(batch, torch.full((3,), 0.2), torch.Generator().manual_seed(0))
    identifiers = {tuple(r[:3]) for r in batch.spans.tolist() if r[3] == CATEGORIES.index("identifier")}
    assert all(tuple(r) in identifiers for r in out.spans.tolist())


@st.composite
def synthetic_batches(draw):
    bsz = draw(st.integers(1, 3))
    length = draw(st.integers(1, 40))
    lengths = [draw(st.integers(0, length)) for _ in range(bsz)]
    ids = torch.full((bsz, length), 0, dtype=torch.long)
    attention = torch.zeros((bsz, length), dtype=torch.bool)
    special = torch.ones((bsz, length), dtype=torch.bool)
    rows = []
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.arange(5, 5 + n)
        attention[b, :n] = True
        special[b, 1 : max(n - 1, 1)] = False
        for _ in range(draw(st.integers(0, 12))):
            s = draw(st.integers(0, length))
            e = draw(st.integers(s, length))
            rows.append([b, s, e, draw(st.integers(-1, len(CATEGORIES) - 1))])
    spans = torch.tensor(rows, dtype=torch.long).reshape(-1, 4)
    return AlignedBatch(ids, attention, special, spans, torch.zeros(len(rows), dtype=torch.long)).validate()


@given(synthetic_batches(), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1))
def test_exact_budget_property(batch, t, seed):
    """Any spans (overlapping, empty, over specials) and any t: exact budget, never a special position."""
    out = AstSpanMasker()(batch, torch.full((batch.batch_size,), t), torch.Generator().manual_seed(seed), MASK_ID)
    maskable = maskable_positions(batch)
    assert not (out.mask & ~maskable).any()
    assert ((out.mask.sum(1).double() - _level(t) * maskable.sum(1).double()).abs() < 1).all()
