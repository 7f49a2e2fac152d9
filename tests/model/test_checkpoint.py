from __future__ import annotations

import json
import os

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

from treediff.errors import CheckpointError
from treediff.model import TreediffConfig, TreediffForMaskedDiffusion, TreediffModel, load_denoiser, validate_checkpoint

from .conftest import VOCAB


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = TreediffConfig.from_preset("tiny", vocab_size=VOCAB, use_structure_encoder=True)
    return TreediffForMaskedDiffusion(cfg).eval()


@pytest.fixture
def ids():
    return torch.randint(0, VOCAB, (2, 9), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("shard", [None, "40KB"])
def test_round_trip_identical_logits(model, ids, tmp_path, shard):
    kwargs = {} if shard is None else {"max_shard_size": shard}
    model.save_pretrained(tmp_path, **kwargs)
    shards = sorted(p.name for p in tmp_path.glob("*.safetensors"))
    if shard is None:
        assert shards == ["model.safetensors"]
    else:
        assert len(shards) > 1 and (tmp_path / "model.safetensors.index.json").is_file()
    ref = model(ids).logits
    assert torch.equal(load_denoiser(tmp_path)(ids).logits, ref)
    assert torch.equal(TreediffForMaskedDiffusion.from_pretrained(tmp_path).eval()(ids).logits, ref)
    auto = AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    assert isinstance(auto, TreediffForMaskedDiffusion) and torch.equal(auto(ids).logits, ref)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), TreediffConfig)
    base = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(base, TreediffModel)
    torch.testing.assert_close(base(ids).last_hidden_state, model.model(ids).last_hidden_state)


def test_load_with_dtype(model, ids, tmp_path):
    model.save_pretrained(tmp_path)
    loaded = load_denoiser(tmp_path, dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in loaded.parameters())


@pytest.fixture
def saved(model, tmp_path):
    model.save_pretrained(tmp_path, max_shard_size="40KB")
    return tmp_path


def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_denoiser(tmp_path / "nope")


def test_truncated_shard(saved):
    shard = sorted(saved.glob("model-*.safetensors"))[-1]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match="truncated") as err:
        load_denoiser(saved)
    assert "\n" not in str(err.value)


def test_garbage_header(saved):
    shard = sorted(saved.glob("model-*.safetensors"))[0]
    shard.write_bytes(b"\xff" * 64)
    with pytest.raises(CheckpointError, match="corrupt header"):
        validate_checkpoint(saved)


def test_missing_shard(saved):
    os.remove(sorted(saved.glob("model-*.safetensors"))[0])
    with pytest.raises(CheckpointError, match="lacks 1 of"):
        load_denoiser(saved)


def test_corrupt_config(saved):
    (saved / "config.json").write_text("{ not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_denoiser(saved)


def test_config_with_bad_value(saved):
    raw = json.loads((saved / "config.json").read_text())
    raw["n_heads"] = 5
    (saved / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="incompatible: d_model .* divisible by n_heads"):
        load_denoiser(saved)


def test_wrong_model_type(saved):
    raw = json.loads((saved / "config.json").read_text())
    raw["model_type"] = "bert"
    (saved / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="model_type 'bert'"):
        load_denoiser(saved)


def test_config_weights_mismatch(saved):
    raw = json.loads((saved / "config.json").read_text())
    raw["use_structure_encoder"] = False  # weights still hold the GNN
    (saved / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="unexpected"):
        load_denoiser(saved)
    raw["use_structure_encoder"], raw["d_ff"] = True, 128
    (saved / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="has shape"):
        load_denoiser(saved)


def test_no_weights(tmp_path, model):
    model.config.save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="neither"):
        load_denoiser(tmp_path)
