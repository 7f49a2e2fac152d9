"""The one contract every registered masker passes."""

from __future__ import annotations

import json

import pytest
import torch

from treediff.errors import ConfigError
from treediff.noise import MASKERS, MaskedBatch, build_masker, source_index
from treediff.noise.testing import END_OF_HOLE_ID, MASK_ID

# One config per registered masker (non-default values, to exercise the round-trip).
CONFIGS = {
    "random": {"name": "random", "eps": 0.01, "schedule": "cosine"},
    "ast_span": {"name": "ast_span", "mix_random": 0.3, "mix_mode": "token", "weights": {"block": 0.3}},
    "block": {"name": "block", "block_size": 3, "suffix": "drop"},
    "cfg": {"name": "cfg", "unit_weights": {"branch": 2.0}, "ast_weight": 0.5, "mix_random": 0.2},
    "holes": {"name": "holes", "hole_fraction": 1.0, "max_delta": 3, "end_of_hole_id": END_OF_HOLE_ID},
}
BAD = {
    "random": [("eps", 1.5), ("schedule", "nope"), ("schedule", "clipped")],
    "ast_span": [("categories", ["statement", "bogus"]), ("weights", {"block": -1.0}), ("mix_random", 2.0),
                 ("mix_mode", "both"), ("eps", -0.1)],
    "cfg": [("unit_weights", {"loop": 1.0}), ("unit_weights", {"block": -1.0}), ("ast_weight", -1.0),
            ("unit_weights", {"block": 0, "control": 0, "branch": 0})],
    "block": [("block_size", 0), ("suffix", "keep"), ("schedule", "nope")],
    "holes": [("hole_fraction", -0.5), ("max_delta", 0), ("shrink_prob", 3), ("end_of_hole_id", -2)],
}


def test_every_masker_is_covered():
    assert set(MASKERS.names()) <= set(CONFIGS)


@pytest.fixture(params=sorted(CONFIGS))
def masker(request):
    return build_masker(CONFIGS[request.param])


def _run(masker, batch, t, seed):
    return masker(batch, torch.full((batch.batch_size,), t), torch.Generator().manual_seed(seed), MASK_ID)


@pytest.mark.parametrize("t", [0.0, 0.3, 0.7, 1.0])
def test_shapes_dtypes_and_targets(masker, batch, t):
    before = batch.input_ids.clone()
    out = _run(masker, batch, t, seed=1)
    assert isinstance(out, MaskedBatch)
    out.validate()
    assert torch.equal(batch.input_ids, before), "the input batch was mutated"
    bsz, length = batch.input_ids.shape
    assert out.input_ids.shape[0] == bsz and out.input_ids.dtype == torch.long
    assert out.targets.dtype == torch.long and out.mask.dtype == torch.bool
    assert out.attention_mask.dtype == torch.bool
    assert out.loss_weight.shape == (bsz,) and out.loss_weight.dtype == torch.float32
    assert torch.isfinite(out.loss_weight).all() and (out.loss_weight >= 0).all()
    assert torch.allclose(out.t, torch.full((bsz,), t))
    if masker.name != "holes":
        assert out.input_ids.shape == (bsz, length)
    src = source_index(out, length)
    has_src = src >= 0
    gathered = torch.gather(batch.input_ids, 1, src.clamp(min=0))
    special = torch.gather(batch.special_mask | ~batch.attention_mask, 1, src.clamp(min=0)) & has_src
    assert not (out.mask & special).any(), "masked a special or padding position"
    assert torch.equal(out.targets[has_src & out.attention_mask], gathered[has_src & out.attention_mask])
    assert (out.targets[out.mask & ~has_src] == END_OF_HOLE_ID).all()
    assert (out.input_ids[out.mask] == MASK_ID).all()
    clean = ~out.mask & has_src & out.attention_mask
    assert torch.equal(out.input_ids[clean], gathered[clean])
    if t == 1.0 and masker.name in ("random", "ast_span", "cfg"):
        maskable = batch.attention_mask & ~batch.special_mask
        assert torch.equal(out.mask, maskable)


def test_determinism(masker, batch):
    a, b = _run(masker, batch, 0.5, seed=7), _run(masker, batch, 0.5, seed=7)
    for name in ("input_ids", "targets", "mask", "loss_weight", "attention_mask"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    others = [_run(masker, batch, 0.5, seed=s) for s in (8, 9, 10)]
    assert any(o.mask.shape != a.mask.shape or not torch.equal(o.mask, a.mask) for o in others)


def test_config_round_trip(masker):
    data = json.loads(json.dumps(masker.config.to_dict()))
    assert data["name"] == masker.name
    config = type(masker.config).from_dict(data)
    assert config == masker.config
    rebuilt = build_masker(data)
    assert type(rebuilt) is type(masker) and rebuilt.config == masker.config
    assert build_masker(masker.config).config == masker.config


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_config_names_the_field(name):
    cls = MASKERS.resolve(name).config_class
    for field_name, value in BAD[name]:
        with pytest.raises(ConfigError, match=field_name):
            cls(**{field_name: value})
    with pytest.raises(ConfigError, match="bogus_field"):
        build_masker({"name": name, "bogus_field": 1})


def test_build_masker_errors():
    with pytest.raises(ConfigError, match="random"):
        build_masker({"name": "randm"})
    with pytest.raises(ConfigError, match="name"):
        build_masker({"eps": 0.1})


def test_bad_t(batch):
    masker = build_masker({"name": "random"})
    with pytest.raises(ValueError, match="t must"):
        masker(batch, torch.tensor([0.5]), torch.Generator(), MASK_ID)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        masker(batch, torch.full((batch.batch_size,), 1.5), torch.Generator(), MASK_ID)
