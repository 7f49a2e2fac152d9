"""Variable-length holes: expansion with <|endofhole|>, truncating shrink, consistent padding."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from treediff.errors import ConfigError
from treediff.noise import AstSpanMasker, HoleMasker, source_index
from treediff.noise.testing import END_OF_HOLE_ID, MASK_ID, PAD_ID


def _run(masker, batch, t=0.5, seed=0):
    return masker(batch, torch.full((batch.batch_size,), t), torch.Generator().manual_seed(seed), MASK_ID)


def _rows(batch, out):
    """Per sample: (hole start, region length, span length, real length before, real length after)."""
    for i in range(batch.batch_size):
        s, m, n = out.hole_spans[i].tolist()
        yield i, s, m, n, int(batch.attention_mask[i].sum()), int(out.attention_mask[i].sum())


@pytest.mark.parametrize("shrink_prob", [0.0, 1.0])
def test_region_targets(batch, shrink_prob):
    masker = HoleMasker(hole_fraction=1.0, shrink_prob=shrink_prob, max_delta=4, end_of_hole_id=END_OF_HOLE_ID)
    for seed in range(6):
        out = _run(masker, batch, seed=seed).validate()
        for i, s, m, n, before, after in _rows(batch, out):
            assert s >= 0, "every sample should get a hole at t=0.5"
            assert after == before + m - n, "attention_mask does not follow the new length"
            assert out.attention_mask[i, :after].all() and not out.attention_mask[i, after:].any()
            assert (out.input_ids[i, after:] == PAD_ID).all() and not out.mask[i, after:].any()
            assert out.mask[i, s : s + m].all() and (out.input_ids[i, s : s + m] == MASK_ID).all()
            assert 1 <= abs(m - n) <= 4 or (n == 1 and shrink_prob == 1.0 and m == 2)
            original = batch.input_ids[i]
            if m > n:
                assert torch.equal(out.targets[i, s : s + n], original[s : s + n])
                assert (out.targets[i, s + n : s + m] == END_OF_HOLE_ID).all()
            else:
                assert torch.equal(out.targets[i, s : s + m], original[s : s + m])
                assert not (out.targets[i, s : s + m] == END_OF_HOLE_ID).any()
            assert torch.equal(out.targets[i, s + m : after], original[s + n : before])
            assert torch.equal(out.targets[i, :s], original[:s])


def test_hole_is_a_whole_masked_span(batch):
    masker = HoleMasker(hole_fraction=1.0, end_of_hole_id=END_OF_HOLE_ID)
    inner = AstSpanMasker(masker.config.ast_span)
    for seed in range(4):
        out = _run(masker, batch, seed=seed)
        draw = inner.draw(batch, torch.full((3,), 0.5), torch.Generator().manual_seed(seed))
        accepted = {tuple(r) for r in draw.spans.tolist()}
        for i, s, m, n, _, _ in _rows(batch, out):
            assert (i, s, s + n) in accepted


def test_no_holes_equals_ast_span(batch):
    holes = HoleMasker(hole_fraction=0.0, end_of_hole_id=END_OF_HOLE_ID)
    plain = AstSpanMasker(holes.config.ast_span)
    a, b = _run(holes, batch, seed=3), _run(plain, batch, seed=3)
    assert torch.equal(a.mask, b.mask) and torch.equal(a.input_ids, b.input_ids)
    assert (a.hole_spans == -1).all()


def test_end_of_hole_id_required_and_overridable(batch):
    with pytest.raises(ConfigError, match="end_of_hole_id"):
        _run(HoleMasker(hole_fraction=1.0), batch)
    out = HoleMasker(hole_fraction=1.0, shrink_prob=0.0)(
        batch, torch.full((3,), 0.5), torch.Generator().manual_seed(0), MASK_ID, end_of_hole_id=99, pad_id=7
    )
    assert (out.targets == 99).any()
    assert out.seq_len > batch.seq_len  # every hole expanded
    for i in range(3):
        s, m, n = out.hole_spans[i].tolist()
        new_row_len = batch.seq_len + m - n  # the row's own padding is kept; what follows is new
        assert (out.input_ids[i, new_row_len:] == 7).all()
        assert not out.attention_mask[i, new_row_len:].any()


def test_nested_config_from_dict():
    masker = HoleMasker.from_config({"name": "holes", "ast_span": {"name": "ast_span", "mix_random": 0.2}})
    assert masker.config.ast_span.mix_random == 0.2
    with pytest.raises(ConfigError, match="ast_span.mix_random"):
        HoleMasker.from_config({"name": "holes", "ast_span": {"mix_random": 7}})


@given(st.floats(0.05, 1.0), st.integers(1, 10), st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_source_index_round_trip(t, max_delta, shrink, seed):
    from treediff.noise.testing import batch_from_sources

    batch = batch_from_sources(["x = f(a, b)\n", "def g(y):\n    return y * 2 + 1\n"], "python")
    masker = HoleMasker(hole_fraction=1.0, max_delta=max_delta, shrink_prob=shrink, end_of_hole_id=END_OF_HOLE_ID)
    out = _run(masker, batch, t=t, seed=seed).validate()
    src = source_index(out, batch.seq_len)
    keep = src >= 0
    assert torch.equal(out.targets[keep], torch.gather(batch.input_ids, 1, src.clamp(min=0))[keep])
    assert (out.targets[out.mask & ~keep] == END_OF_HOLE_ID).all()
    assert torch.equal(keep.sum(1) + (out.mask & ~keep).sum(1), out.attention_mask.sum(1) + (~out.attention_mask & keep).sum(1))
