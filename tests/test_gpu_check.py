"""The GPU check script's CPU dry run: every step runs and writes its results (bench/gpu/check.sh)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_dry_run(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu" / "check.sh"), "--dry-run"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for bs in (2, 4):
        train = json.loads((tmp_path / f"train_bs{bs}.json").read_text().strip().splitlines()[-1])
        assert train["batch_size"] == bs and train["model_tokens_per_s"] > 0
    synth = json.loads((tmp_path / "synth.json").read_text())
    assert len(synth["models"]) == 2
    for runs in synth["models"].values():
        assert runs["ratio_full_over_none_bs1"] > 0 and runs["full_bs2"]["mean_nfe"] > 0
    assert any(w in (tmp_path / "gpu_tests.txt").read_text() for w in ("passed", "skipped", "deselected"))
