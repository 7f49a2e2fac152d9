"""The syntax commands through the real entry point: output formats, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from treediff_cli.app import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

GOOD = "def f(x):\n    if x:\n        return 1\n    return 2\n"


def run_main(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m treediff ...` as a user would (real exit codes and stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "treediff", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.fixture()
def good(tmp_path: Path) -> Path:
    p = tmp_path / "good.py"
    p.write_text(GOOD)
    return p


def test_languages_lists_all_grammars() -> None:
    res = runner.invoke(app, ["languages", "--json"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]
    names = {r["name"] for r in rows}
    assert {"python", "javascript", "typescript", "tsx", "java", "c", "cpp", "go", "rust"} <= names
    py = next(r for r in rows if r["name"] == "python")
    assert py["compiler_available"] is True


@pytest.mark.parametrize("fmt, needle", [("sexp", "(module"), ("json", '"kind"'), ("dot", "digraph")])
def test_parse_formats(good: Path, fmt: str, needle: str) -> None:
    res = runner.invoke(app, ["parse", str(good), "--format", fmt])
    assert res.exit_code == 0, res.output
    assert needle in res.output
    if fmt == "json":
        json.loads(res.output)


def test_cfg_and_graph(good: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["cfg", str(good), "--function", "f", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert "ENTRY" in res.output
    res = runner.invoke(app, ["cfg", str(good), "--function", "nope"])
    assert res.exit_code == 2
    out = tmp_path / "g.pt"
    res = runner.invoke(app, ["graph", str(good), "--format", "pyg", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 0


def test_validate_exit_codes_and_json(tmp_path: Path, good: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("return 1\n")  # tree-sitter accepts it; compile() does not
    res = run_main("validate", str(good), "--json")
    assert res.returncode == 0, res.stderr
    rec = json.loads(res.stdout.splitlines()[0])
    assert {"path", "language", "ok", "level", "problems"} <= set(rec)
    assert rec["ok"] is True and rec["level"].startswith("compiler")
    res = run_main("validate", str(good), str(bad), "--json")
    assert res.returncode == 1
    recs = {Path(json.loads(line)["path"]).name: json.loads(line) for line in res.stdout.splitlines()}
    assert recs["bad.py"]["ok"] is False
    assert recs["bad.py"]["problems"][0]["kind"] == "compile_error"


def test_validate_report(tmp_path: Path, good: Path) -> None:
    report = tmp_path / "r.html"
    res = run_main("validate", str(good), "--report", str(report))
    assert res.returncode == 0, res.stderr
    html = report.read_text()
    assert "<svg" in html and "python" in html


@pytest.mark.parametrize(
    "name, data",
    [
        ("bin.py", b"\x00\x01\x02\x03binary\x00"),
        ("latin.py", b"x = '\xe9\xe8'\n"),
        ("notes.xyz", b"hello\n"),
    ],
)
@pytest.mark.parametrize("command", ["parse", "cfg", "graph"])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, name: str, data: bytes, command: str) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    res = run_main(command, str(p))
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert "Traceback" not in res.stderr


def test_missing_file_and_unknown_language(tmp_path: Path) -> None:
    res = run_main("parse", str(tmp_path / "missing.py"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    p = tmp_path / "a.py"
    p.write_text("x = 1\n")
    res = run_main("parse", str(p), "--lang", "cobol")
    assert res.returncode == 2 and "choose one of" in res.stderr


def test_oversized_file(tmp_path: Path) -> None:
    p = tmp_path / "big.py"
    p.write_text("x = 1\n" * 1000)
    res = run_main("validate", str(p), "--max-bytes", "100", "--json")
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "size cap" in res.stdout + res.stderr


def test_empty_file_is_valid_python(tmp_path: Path) -> None:
    p = tmp_path / "empty.py"
    p.write_text("")
    res = run_main("validate", str(p), "--json")
    assert res.returncode == 0, res.stderr


def test_deep_nesting_cli(tmp_path: Path) -> None:
    p = tmp_path / "deep.py"
    p.write_text("x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n")
    for command in (["parse", str(p), "--format", "json"], ["cfg", str(p)], ["graph", str(p)]):
        res = run_main(*command)
        assert res.returncode == 0, (command, res.stderr[-500:])
    res = run_main("validate", str(p), "--json")
    assert res.returncode == 1  # CPython refuses 10,000 nested parentheses
    assert "Traceback" not in res.stderr


def test_unknown_option_exit_2(good: Path) -> None:
    res = run_main("parse", str(good), "--bogus")
    assert res.returncode == 2


def test_validate_compare_two_runs(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"code": "x = 1\\n", "language": "python"}\n{"code": "def f():\\n    return 2\\n", "language": "python"}\n')
    b.write_text('{"code": "x = (\\n", "language": "python"}\n{"code": "return 2\\n", "language": "python"}\n')
    report = tmp_path / "cmp.md"
    res = run_main("validate", str(a), "--compare", str(b), "--labels", "constrained,unconstrained", "--report", str(report))
    assert res.returncode == 0, res.stderr
    text = report.read_text()
    assert "constrained" in text and "unconstrained" in text
    res = run_main("validate", str(a), "--compare", str(b))
    assert res.returncode == 2 and "--report" in res.stderr


def test_validate_allow_unresolved(tmp_path: Path) -> None:
    """A missing header fails by default and passes with --allow-unresolved; a real error fails either way."""
    import shutil

    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    outside = tmp_path / "outside.c"
    outside.write_text('#include "nowhere/missing.h"\nint f(void) { return 1; }\n')
    broken = tmp_path / "broken.c"
    broken.write_text('#include "nowhere/missing.h"\nint f(void) { return 1 }\n')
    res = run_main("validate", str(outside), "--json")
    assert res.returncode == 1
    assert json.loads(res.stdout.splitlines()[0])["problems"][0]["kind"] == "unresolved"
    res = run_main("validate", str(outside), "--allow-unresolved", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    rec = json.loads(res.stdout.splitlines()[0])
    assert rec["ok"] is True and rec["problems"] == [] and rec["unresolved"][0]["kind"] == "unresolved"
    assert run_main("validate", str(broken), "--allow-unresolved").returncode == 1


def test_validate_allow_unresolved_keeps_undeclared_names(tmp_path: Path) -> None:
    """A name declared nowhere, in a file importing nothing that has it, fails even with --allow-unresolved."""
    import shutil

    if shutil.which("javac") is None:
        pytest.skip("javac is not installed")
    typo = tmp_path / "A.java"
    typo.write_text("class A { int f() { int total = 1; return totl; } }\n")
    res = run_main("validate", str(typo), "--allow-unresolved", "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    rec = json.loads(res.stdout.splitlines()[0])
    assert rec["ok"] is False and rec["problems"][0]["kind"] == "compile_error" and not rec.get("unresolved")
    outside = tmp_path / "B.java"
    outside.write_text("import com.foo.Bar;\nclass B { Bar b; }\n")
    assert run_main("validate", str(outside), "--allow-unresolved").returncode == 0
