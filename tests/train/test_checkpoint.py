"""Atomic checkpoints: layout, keep-last-N, the latest pointer, corruption never half-loads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from treediff.errors import CheckpointError
from treediff.model import TreediffConfig, TreediffForMaskedDiffusion, load_denoiser
from treediff.train.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_model_weights,
    save_checkpoint,
    verify_checkpoint,
)


def _model(seed: int = 0) -> TreediffForMaskedDiffusion:
    torch.manual_seed(seed)
    return TreediffForMaskedDiffusion(TreediffConfig.from_preset("tiny", vocab_size=96, n_layers=1))


def _save(root: Path, step: int, model=None, keep_last: int = 3) -> Path:
    model = model or _model(step)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randint(0, 96, (2, 5))).logits.sum().backward()
    opt.step()
    state = {"optimizer": opt.state_dict(), "data_position": {"epoch": 0, "index": step}}
    return save_checkpoint(root, step, model=model, trainer_state=state, config={"seed": 0}, keep_last=keep_last)


def test_layout_and_roundtrip(tmp_path: Path) -> None:
    model = _model(1)
    path = _save(tmp_path, 5, model)
    assert path.name == "step_00000005"
    assert (tmp_path / "latest").read_text().strip() == path.name
    assert {"model", "trainer.pt", "train_config.json", "manifest.json"} <= {p.name for p in path.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left
    ckpt = load_checkpoint(path)
    assert ckpt.step == 5 and ckpt.state["data_position"]["index"] == 5 and ckpt.config == {"seed": 0}
    fresh = _model(2)
    load_model_weights(fresh, ckpt.model_dir)
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name
    loaded = load_denoiser(ckpt.model_dir)  # the model dir is a plain save_pretrained dir
    assert torch.equal(loaded.get_input_embeddings().weight, model.get_input_embeddings().weight)


def test_keep_last_n(tmp_path: Path) -> None:
    model = _model()
    for step in (1, 2, 3, 4, 5):
        _save(tmp_path, step, model, keep_last=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000004", "step_00000005"]
    assert (tmp_path / "latest").read_text().strip() == "step_00000005"


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_manifest", "delete_file", "bad_manifest"])
def test_corrupt_checkpoint_is_detected_and_skipped(tmp_path: Path, damage: str) -> None:
    model = _model()
    good = _save(tmp_path, 1, model)
    bad = _save(tmp_path, 2, model)
    target = bad / "model" / "model.safetensors"
    if damage == "truncate":
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        data = bytearray((bad / "trainer.pt").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (bad / "trainer.pt").write_bytes(bytes(data))
    elif damage == "delete_manifest":
        (bad / "manifest.json").unlink()
    elif damage == "delete_file":
        target.unlink()
    else:
        (bad / "manifest.json").write_text("{not json")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError):
        verify_checkpoint(bad)
    assert latest_checkpoint(tmp_path) == good  # newest *valid* one, although `latest` names step 2


def test_partial_write_is_invisible(tmp_path: Path) -> None:
    """A process killed mid-save leaves only a hidden temp dir, which resume ignores and the next save removes."""
    good = _save(tmp_path, 1)
    stale = tmp_path / ".tmp-step_00000002-999999"
    (stale / "model").mkdir(parents=True)
    (stale / "trainer.pt").write_bytes(b"partial")
    assert latest_checkpoint(tmp_path) == good
    _save(tmp_path, 3)
    assert not stale.exists()


def test_missing_checkpoint(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path / "nothing") is None
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "nothing")


def test_incompatible_weights_raise(tmp_path: Path) -> None:
    path = _save(tmp_path, 1)
    other = TreediffForMaskedDiffusion(TreediffConfig.from_preset("tiny", vocab_size=96, n_layers=2))
    with pytest.raises((CheckpointError, RuntimeError)):
        load_model_weights(other, path / "model")


def test_manifest_lists_every_file(tmp_path: Path) -> None:
    path = _save(tmp_path, 1)
    manifest = json.loads((path / "manifest.json").read_text())
    on_disk = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert set(manifest["files"]) == on_disk
    assert all(os.path.getsize(path / k) == v["size"] for k, v in manifest["files"].items())
