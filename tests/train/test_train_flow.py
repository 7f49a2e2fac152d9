"""Training with the control-flow masker and with the structure encoder over the visible program."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from treediff.train import train

from .conftest import small_config


@pytest.mark.parametrize("sets", [
    ("noise.masker=cfg", "noise.options.ast_weight=0.5"),
    ("model.overrides.use_structure_encoder=true", 'model.overrides.structure_edges="ast+cfg"'),
], ids=["cfg-masker", "encoder-ast+cfg"])
def test_a_few_steps_train_and_save(tmp_path: Path, prepared: Path, one_thread, sets) -> None:
    cfg = small_config(tmp_path, prepared, "optim.max_steps=3", "data.batch_size=4", "data.seq_len=64",
                       "log.val_every=3", "log.val_batches=1", "checkpoint.every=0", *sets)
    result = train(cfg)
    assert result.val and result.val[-1]["val_loss"] > 0
    saved = json.loads((result.checkpoint / "model" / "config.json").read_text())
    if "encoder" in str(sets):
        assert saved["structure_edges"] == "ast+cfg" and saved["num_edge_types"] == 20
