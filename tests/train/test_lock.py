"""One training run per directory: a second ``treediff train`` into it fails at once, one line, exit 2."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from treediff.errors import CheckpointError
from treediff.train.checkpoint import LOCK_FILE, lock_run_dir
from treediff_cli.app import app

from tests.train.conftest import cli_args

runner = CliRunner()


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    with lock_run_dir(tmp_path / "run") as lock:
        assert lock.name == LOCK_FILE
        with pytest.raises(CheckpointError, match="another treediff train"):
            with lock_run_dir(tmp_path / "run"):
                pass
    with lock_run_dir(tmp_path / "run"):  # released on exit
        pass


def test_second_train_into_the_same_directory_fails_at_once(tmp_path: Path, prepared: Path) -> None:
    args = cli_args(tmp_path, prepared, "optim.max_steps=2")
    with lock_run_dir(tmp_path / "run" / "checkpoints"):  # a first run holds the directory
        start = time.monotonic()
        res = runner.invoke(app, ["train", *args])
        assert time.monotonic() - start < 30
    assert res.exit_code == 2
    lines = [line for line in res.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "another treediff train" in lines[0]
    assert not any((tmp_path / "run" / "checkpoints").glob("step_*"))
