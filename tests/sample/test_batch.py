"""Batched synthesis: each spec gets, in a batch, exactly the program (and NFE) it gets alone."""

from __future__ import annotations

import pytest

from treediff import synth
from treediff.sample.spec import Spec

SPECS = [
    Spec.from_text("def add(a, b):\n    \"\"\"Return a plus b.\"\"\"\n", id="add"),
    Spec.from_text("Return the largest element of the list xs.", signature="largest(xs)", id="largest"),
    Spec.from_text("x = <|hole:expression|>\nprint(x)\n", id="holes"),
]


@pytest.mark.parametrize("settings", [
    dict(constraint="full"),
    dict(constraint="none", temperature=0.8),  # random draws: one generator per spec
    dict(constraint="grammar", order="random", temperature=0.7, steps=6),
    dict(constraint="full", use_cache="on", block_size=4),  # the dual cache: each row recomputes its own window
])
def test_batched_equals_unbatched(untrained_lm, settings):
    alone = synth(SPECS, model=untrained_lm, max_new_tokens=8, batch_size=1, device="cpu", **settings)
    batched = synth(SPECS, model=untrained_lm, max_new_tokens=8, batch_size=3, device="cpu", **settings)
    assert [r.code for r in batched] == [r.code for r in alone]
    assert [r.record.nfe for r in batched] == [r.record.nfe for r in alone]
    assert [r.spec_id for r in batched] == ["add", "largest", "holes"]


def test_batch_of_samples_per_spec(untrained_lm):
    alone = synth(SPECS[:2], model=untrained_lm, n=2, max_new_tokens=6, batch_size=1, device="cpu", temperature=0.9)
    batched = synth(SPECS[:2], model=untrained_lm, n=2, max_new_tokens=6, batch_size=2, device="cpu", temperature=0.9)
    assert [(r.spec_id, r.sample, r.code) for r in batched] == [(r.spec_id, r.sample, r.code) for r in alone]


def test_batch_size_is_validated():
    from treediff.errors import ConfigError
    from treediff.sample.config import SamplerConfig

    with pytest.raises(ConfigError, match="batch_size"):
        SamplerConfig(batch_size=0)
