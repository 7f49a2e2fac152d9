"""``treediff mask`` through typer's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from treediff_cli.app import app

SOURCE = "def area(w, h):\n    if w < 0:\n        return 0\n    return w * h + 1\n"


@pytest.fixture()
def source_file(tmp_path):
    path = tmp_path / "area.py"
    path.write_text(SOURCE)
    return path


def test_plain_brackets_masked_runs(source_file):
    result = CliRunner().invoke(app, ["mask", str(source_file), "--strategy", "ast-span", "--t", "0.3", "--plain"])
    assert result.exit_code == 0, result.output
    body, summary = result.output.rstrip("\n").rsplit("\n", 1)
    assert "[MASK]" in body and body.count("[MASK]") == body.count("[/MASK]")
    assert body.replace("[MASK]", "").replace("[/MASK]", "") == SOURCE.rstrip("\n")
    assert summary.startswith("ast-span t=0.3 seed=0: masked")


@pytest.mark.parametrize("strategy", ["random", "ast-span", "block"])
def test_json_summary(source_file, strategy):
    args = ["mask", str(source_file), "--strategy", strategy, "--t", "0.5", "--seed", "3", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["strategy"] == strategy and info["language"] == "python"
    assert info["num_masked"] == len(info["masked_bytes"]) > 0
    assert info["masked_fraction"] == pytest.approx(info["num_masked"] / info["num_maskable"])
    if strategy == "ast-span":
        assert abs(info["num_masked"] - 0.5 * info["num_maskable"]) < 1.01
    if strategy == "block":
        assert info["num_masked"] <= 4
    again = CliRunner().invoke(app, args)
    assert again.output == result.output


def test_rich_output_keeps_the_code(source_file):
    result = CliRunner().invoke(app, ["mask", str(source_file), "--t", "0.5"])
    assert result.exit_code == 0
    assert "return" in result.output and "masked" in result.output


@pytest.mark.parametrize(
    "args,message",
    [(["--strategy", "holes"], "strategy"), (["--t", "1.5"], "--t"), (["--lang", "cobol"], "cobol")],
)
def test_usage_errors_are_one_line_exit_2(source_file, args, message):
    result = CliRunner().invoke(app, ["mask", str(source_file), *args])
    assert result.exit_code == 2
    assert result.output.count("error:") == 1 and message in result.output


def test_real_exit_code(tmp_path):
    """As a user runs it: a one-line error on stderr and exit 2."""
    res = subprocess.run(
        [sys.executable, "-m", "treediff", "mask", str(tmp_path / "nope.py")], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2 and "no such file" in res.stderr and "Traceback" not in res.stderr


def test_trained_tokenizer(source_file):
    root = Path(__file__).resolve().parents[2]
    tokenizer = root / "examples" / "tokenizer"
    if not (tokenizer / "tokenizer.json").is_file():
        pytest.skip("no example tokenizer")
    pytest.importorskip("treediff.tokens.tokenizer")
    args = ["mask", str(source_file), "--tokenizer", str(tokenizer), "--t", "0.5", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert abs(info["num_masked"] - 0.5 * info["num_maskable"]) < 1.01


def test_cfg_strategy_is_listed_and_masks_whole_units(source_file):
    result = CliRunner().invoke(app, ["mask", "--help"])
    assert "cfg" in result.output
    result = CliRunner().invoke(app, ["mask", str(source_file), "--strategy", "cfg", "--t", "0.3", "--plain"])
    assert result.exit_code == 0, result.output
    assert "[MASK]" in result.output and result.output.splitlines()[-1].startswith("cfg t=0.3")
    bad = CliRunner().invoke(app, ["mask", str(source_file), "--strategy", "cfgs"])
    assert bad.exit_code == 2 and "cfg" in bad.output
