"""The shared stepper contract: every unmasking order passes it."""

from __future__ import annotations

import pytest
import torch

from treediff.errors import ConfigError
from treediff.sample.steppers import STEPPERS, SamplerState, StepOutput, build_stepper

ORDERS = STEPPERS.names()


def _state(bsz=2, length=12, masked_from=3):
    ids = torch.arange(bsz * length).view(bsz, length) % 7 + 10
    masked = torch.zeros(bsz, length, dtype=torch.bool)
    masked[:, masked_from:] = True
    ids[masked] = 1
    return SamplerState(ids=ids, masked=masked, eligible=masked.clone()).validate()


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_contract_shapes_commits_determinism(order, temperature):
    state = _state()
    logits = torch.randn(2, 12, 50, generator=torch.Generator().manual_seed(1))
    stepper = build_stepper(order, temperature=temperature)
    out1 = stepper.step(logits, state, num_commit=3, generator=torch.Generator().manual_seed(5))
    out2 = stepper.step(logits, state, num_commit=3, generator=torch.Generator().manual_seed(5))
    assert isinstance(out1, StepOutput)
    for t in (out1.tokens, out1.confidence, out1.scores, out1.committed, out1.state.ids):
        assert t.shape == (2, 12)
    assert torch.equal(out1.state.ids, out2.state.ids), "same seed, same commits"
    assert out1.committed.sum(1).tolist() == [3, 3]
    assert not (out1.committed & ~state.eligible).any(), "only eligible positions are committed"
    assert torch.equal(out1.state.ids[~state.masked], state.ids[~state.masked]), "context never changes"
    assert torch.equal(out1.state.masked, state.masked & ~out1.committed)
    assert out1.state.step == state.step + 1
    with pytest.raises(Exception):
        out1.state.ids = None  # frozen


@pytest.mark.parametrize("order", ORDERS)
def test_threshold_commits_confident_and_at_least_one(order):
    state = _state(bsz=1, length=6, masked_from=2)
    logits = torch.zeros(1, 6, 20)
    logits[0, 3, 5] = 20.0  # one confident position
    logits[0, 4, 6] = 20.0
    out = build_stepper(order).step(logits, state, num_commit=1, threshold=0.9, generator=torch.Generator())
    assert out.committed[0, 3] and out.committed[0, 4]
    flat = torch.zeros(1, 6, 20)
    out = build_stepper(order).step(flat, state, num_commit=1, threshold=0.9, generator=torch.Generator())
    assert int(out.committed.sum()) == 1, "threshold decoding still commits one position per step"


def test_orders_rank_differently():
    state = _state(bsz=1, length=4, masked_from=1)
    logits = torch.full((1, 4, 5), -10.0)
    logits[0, 1, :2] = torch.tensor([3.0, 2.9])   # confident-ish but tiny margin
    logits[0, 2, 0] = 2.0                            # lower top-1, big margin
    logits[0, 3, :] = 0.0                            # uniform: highest entropy
    g = torch.Generator()
    conf = build_stepper("low_confidence").step(logits, state, num_commit=1, generator=g)
    margin = build_stepper("margin").step(logits, state, num_commit=1, generator=g)
    entropy = build_stepper("entropy").step(logits, state, num_commit=1, generator=g)
    assert conf.committed[0].tolist() == [False, False, True, False] or conf.committed[0, 1] or conf.committed[0, 2]
    assert margin.committed[0, 2]
    assert not entropy.committed[0, 3]


def test_top_p_keeps_only_nucleus():
    state = _state(bsz=1, length=3, masked_from=1)
    logits = torch.tensor([[[0.0] * 4, [5.0, 0.0, 0.0, 0.0], [5.0, 0.0, 0.0, 0.0]]])
    for seed in range(10):
        out = build_stepper("random", temperature=1.0, top_p=0.5).step(
            logits, state, num_commit=2, generator=torch.Generator().manual_seed(seed))
        assert out.state.ids[0, 1:].tolist() == [0, 0]


def test_guard_decides_commits():
    state = _state(bsz=1, length=5, masked_from=2)
    logits = torch.randn(1, 5, 30, generator=torch.Generator().manual_seed(0))
    seen = []

    def guard(row, pos, candidates, ids, masked):
        seen.append((pos, candidates))
        if pos == 3:
            return False
        ids[pos] = candidates[-1]
        masked[pos] = False
        return True

    stepper = build_stepper("low_confidence", num_candidates=4)
    out = stepper.step(logits, state, num_commit=3, generator=torch.Generator(), guard=guard)
    assert all(len(c) == 4 for _, c in seen)
    assert not out.committed[0, 3] and out.state.masked[0, 3]
    assert out.num_rejected == 1


def test_unknown_order_lists_choices():
    with pytest.raises(ConfigError, match="low_confidence"):
        build_stepper("lowest")
