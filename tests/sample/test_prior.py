"""The corpus n-gram prior in the sampling loop, the left-to-right order, and bundles that ship a prior."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from treediff.errors import CheckpointError
from treediff.model.formats import export_bundle, load_model
from treediff.model.ngram import PRIOR_NAME, NgramPrior
from treediff.sample.config import SamplerConfig
from treediff.sample.loop import denoise
from treediff.sample.prior import PriorState, prior_weight_of
from treediff.sample.steppers import SamplerState, build_stepper

TEXT = "total = count + 1\n" * 6


def _with_prior(lm, weight: float = 1.0):
    """A shallow copy of ``lm`` carrying a prior counted from TEXT (the untrained model has no opinion)."""
    ids = np.array(lm.encode(TEXT, "python"))
    lang = lm.prefix_ids("python")[0]
    out = copy.copy(lm)
    out.prior = NgramPrior.build([(lang, ids)], vocab_size=lm.vocab_size, min_count=1)
    out.prior_weight = weight
    return out, ids


def _row(lm, ids: np.ndarray, hide: list[int]):
    row = torch.tensor([lm.prefix_ids("python") + ids.tolist() + lm.suffix_ids()])
    masked = torch.zeros_like(row, dtype=torch.bool)
    masked[0, [2 + i for i in hide]] = True
    return row, masked


def test_a_strong_prior_writes_what_the_corpus_says(untrained_lm):
    lm, ids = _with_prior(untrained_lm)
    hide = list(range(len(ids) - 6, len(ids) - 1))  # the last line but its newline
    row, masked = _row(lm, ids, hide)
    cfg = SamplerConfig(block_size=0, order="left_to_right", prior_weight=10.0)
    res = denoise(lm, row, masked, cfg)
    assert res.ids[0, 2:2 + len(ids)].tolist() == ids.tolist()
    off = denoise(lm, row, masked, cfg.replace(prior_weight=0.0))  # the untrained model alone writes noise
    assert off.ids[0, 2:2 + len(ids)].tolist() != ids.tolist()


def test_bias_only_where_the_left_context_is_decided(untrained_lm):
    lm, ids = _with_prior(untrained_lm)
    row, masked = _row(lm, ids, [4, 5])
    state = PriorState(lm, row, masked, weight=1.0)
    logits = torch.zeros(1, row.shape[1], lm.vocab_size)
    out = state.apply(logits.clone(), row, masked, masked, 0)
    changed = (out != 0).any(-1)[0]
    assert changed.nonzero().flatten().tolist() == [2 + 4]  # position 5's left neighbour is masked
    # the end-of-hole token gets the prior of the first decided token on the right
    right = int(row[0, 2 + 6])
    assert out[0, 6, lm.end_id] == out[0, 6, right]
    assert torch.equal(PriorState(lm, row, masked, weight=0.0).apply(logits.clone(), row, masked, masked, 0), logits)


def test_positions_after_a_cache_window_are_left_alone(untrained_lm):
    # the dual KV cache gives logits for a window [offset, offset + W) only; an eligible position after it (a
    # position the guard sent back) used to index past the logits: IndexError in HumanEval synthesis
    lm, ids = _with_prior(untrained_lm)
    row, masked = _row(lm, ids, [4, 5, 9])
    state = PriorState(lm, row, masked, weight=1.0)
    window = torch.zeros(1, 6, lm.vocab_size)  # positions 2 .. 7: position 2 + 9 is after it
    out = state.apply(window.clone(), row, masked, masked, 2)
    assert (out != 0).any(-1)[0].nonzero().flatten().tolist() == [4]  # position 2 + 4, as without a window
    full = state.apply(torch.zeros(1, row.shape[1], lm.vocab_size), row, masked, masked, 0)
    assert torch.equal(out[0, 4], full[0, 6])


def test_weight_comes_from_the_config_then_the_model(untrained_lm):
    lm, _ = _with_prior(untrained_lm, weight=0.7)
    assert prior_weight_of(lm, None) == 0.7 and prior_weight_of(lm, 2.0) == 2.0
    assert prior_weight_of(untrained_lm, 5.0) == 0.0  # no prior: nothing to weigh
    with pytest.raises(Exception, match="prior_weight"):
        SamplerConfig(prior_weight=-1)


def test_left_to_right_commits_the_leftmost_masked_position():
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    masked = torch.tensor([[False, True, False, True, True, False]])
    state = SamplerState(ids=ids, masked=masked, eligible=masked.clone()).validate()
    logits = torch.zeros(1, 6, 12)
    logits[0, 4, 3] = 9.0  # the most confident position is not the leftmost
    out = build_stepper("left_to_right").step(logits, state, num_commit=1, generator=torch.Generator())
    assert out.committed[0].nonzero().flatten().tolist() == [1]


def test_bundles_ship_and_load_their_prior(tmp_path, bundle_dir, untrained_lm):
    lm, ids = _with_prior(untrained_lm)
    prior_file = lm.prior.save(tmp_path / "prior.npz")
    out = export_bundle(bundle_dir, tmp_path / "b", prior=prior_file, prior_weight=0.5)
    assert (out / PRIOR_NAME).is_file()
    assert json.loads((out / "treediff_model.json").read_text())["prior_weight"] == 0.5
    loaded = load_model(out, device="cpu")
    assert loaded.prior is not None and loaded.prior_weight == 0.5
    assert load_model(bundle_dir, device="cpu").prior is None
    small = NgramPrior.build([(9, np.array([1, 2, 3]))], vocab_size=8, min_count=1).save(tmp_path / "small.npz")
    with pytest.raises(CheckpointError, match="vocabulary 8"):
        export_bundle(bundle_dir, tmp_path / "c", prior=small)
    (out / PRIOR_NAME).write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a readable n-gram prior"):
        load_model(out, device="cpu")


class _LovesWhitespace:
    """A model that prefers whitespace and the end token everywhere (what a weak denoiser does)."""

    def __init__(self, lm):
        self._lm = lm

    def __getattr__(self, name):
        return getattr(self._lm, name)

    def logits(self, ids, **kwargs):
        logits, cache = self._lm.logits(ids, **kwargs)
        logits = logits.clone()
        logits[..., self._lm.whitespace_ids()] += 50.0
        logits[..., self._lm.end_id] += 60.0
        return logits, cache


def test_a_holes_first_token_is_never_whitespace_or_empty(untrained_lm):
    lm = _LovesWhitespace(untrained_lm)
    ids = torch.tensor([untrained_lm.prefix_ids("python") + [untrained_lm.mask_id] * 6 + untrained_lm.suffix_ids()])
    masked = ids == untrained_lm.mask_id
    lead = torch.zeros_like(masked)
    lead[0, 2] = True
    cfg = SamplerConfig(block_size=0)
    free = denoise(lm, ids, masked, cfg)
    assert int(free.ids[0, 2]) == untrained_lm.end_id  # the weak model's choice: an empty hole
    led = denoise(lm, ids, masked, cfg, lead=lead)
    first = int(led.ids[0, 2])
    assert first != untrained_lm.end_id and first not in untrained_lm.whitespace_ids()
    assert untrained_lm.token_text(first).strip()


@pytest.fixture()
def leads_seen(monkeypatch) -> list:
    """The ``lead`` positions each decode of :mod:`treediff.sample.segments` passes to ``denoise``."""
    import treediff.sample.segments as segments

    seen: list = []
    real = segments.denoise

    def spy(*args, **kwargs):
        seen.append(kwargs.get("lead"))
        return real(*args, **kwargs)

    monkeypatch.setattr(segments, "denoise", spy)
    return seen


def test_fill_template_leads_holes_unless_told_not_to(untrained_lm, leads_seen):
    from treediff.sample.api import find_holes
    from treediff.sample.pipeline import fill_template

    seen = leads_seen
    template = find_holes("def f(x):\n    return <|hole:expression|>\n", "python")
    fill_template(untrained_lm, template, SamplerConfig(constraint="grammar", steps=4))
    assert seen[-1] is not None and int(seen[-1].sum()) == 1
    fill_template(untrained_lm, template, SamplerConfig(constraint="grammar", steps=4, nonempty_holes=False))
    assert seen[-1] is None


def test_the_embedded_multi_model_decodes_with_its_prior():
    from treediff.model.formats import embedded_model_path
    from treediff.sample import get_model

    lm = get_model(None, device="cpu", language="java")
    assert lm.name == embedded_model_path("multi").name
    assert lm.prior is not None and lm.prior_weight == 1.0 and lm.prior.vocab_size == lm.vocab_size
    java = lm.prefix_ids("java")[0]
    assert lm.prior.knows(java) and lm.prior.knows(lm.prefix_ids("rust")[0])
    python = get_model(None, device="cpu", language="python")
    assert python.name == lm.name and python.prior.knows(python.prefix_ids("python")[0])
    assert get_model("default", device="cpu").prior is None  # the Python-only model ships none


def test_raw_sampling_may_begin_with_whitespace(untrained_lm, leads_seen):
    from treediff.sample.api import sample

    seen = leads_seen
    sample("def f(x):", "python", model=untrained_lm, length=4, constraint="none")
    assert seen[-1] is None
    sample("def f(x):", "python", model=untrained_lm, length=4, constraint="none", nonempty_holes=True)
    assert seen[-1] is not None
