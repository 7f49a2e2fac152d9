"""Regression tests for the attacker's probes of issue 18: no leaked content, no process left
running, no ``ok`` on a timeout or crash, no segfault of treediff, and the batch goes on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from treediff.errors import InputError
from treediff.syntax.tree import read_source
from treediff.validity import check, check_paths, exit_code, write_report
from treediff_cli.app import app

runner = CliRunner()
PASSWD_LINES = [line for line in Path("/etc/passwd").read_text().splitlines() if line.strip()]
RUST_LEAK = 'const S: &str = include_str!("/etc/passwd");\nconst _: () = panic!("{}", S);\n'
C_LEAK = '#include "/etc/passwd"\nint x;\n'
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
needs_rustc = pytest.mark.skipif(shutil.which("rustc") is None, reason="needs rustc")


def _leaks(text: str) -> list[str]:
    return [line for line in PASSWD_LINES if line in text or line.split(":")[0] + ":x:" in text]


def _main(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "treediff", *args], capture_output=True, text=True, timeout=300)


@needs_rustc
def test_rust_include_str_panic_leaks_nothing(mode, tmp_path: Path) -> None:
    f = tmp_path / "leak.rs"
    f.write_text(RUST_LEAK)
    records = check_paths([f], jobs=1, progress=False)
    assert records[0]["ok"] is False
    text = json.dumps(records)
    for suffix in (".html", ".md", ".json"):
        text += write_report(records, tmp_path / f"r{suffix}").read_text()
    assert _leaks(text) == []


@needs_gcc
@pytest.mark.parametrize("language", ["c", "cpp"])
def test_c_include_of_another_file_leaks_nothing(mode, language) -> None:
    r = check(C_LEAK, language)
    assert not r.ok
    assert _leaks(json.dumps(r.to_dict())) == []
    # errors inside the included file are not reported as this file's lines (it has two lines)
    assert all(p.start_line <= 2 for p in r.problems)
    assert not any("expected" in p.message for p in r.problems if p.kind == "compile_error")


@pytest.mark.parametrize("language,code,binary,process", [
    ("c", '#include "/dev/zero"\nint x;\n', "gcc", "cc1"),
    ("rust", 'const S: &[u8] = include_bytes!("/dev/zero");\n', "rustc", "rustc"),
])
def test_dev_zero_include_is_unknown_and_leaves_nothing_running(language, code, binary, process) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"needs {binary}")
    r = check(code, language, timeout=20)
    assert r.ok is False and r.verdict == "unknown" and r.compiler_note
    # nothing still reading /dev/zero after the check returned.  Another test may be compiling the same probe
    # in a parallel worker right now, and its compiler dies within its own limits; a leaked one lives on.
    left = set(_big_processes(process))
    deadline = time.monotonic() + 60
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left &= set(_big_processes(process))
    assert left == set()


def _big_processes(name: str, min_rss_mb: int = 300) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss_kb = int(fields.get("VmRSS", "0 kB").split()[0])
        if fields.get("Name", "").strip() == name and rss_kb > min_rss_mb * 1024:
            found.append(int(entry.name))
    return found


@needs_gcc
def test_timeout_is_unknown_never_ok() -> None:
    # a macro bomb that takes gcc well past the timeout
    bomb = "#define A(x) x x x x x x x x x x\n" + "".join(f"#define B{i}(x) A(B{i-1}(x))\n" if i else "#define B0(x) A(x)\n"
                                                          for i in range(9)) + "B8(int a;)\n"
    r = check(bomb, "c", timeout=1)
    assert r.ok is False and r.verdict == "unknown"


@needs_gcc
@pytest.mark.skipif(shutil.which("rustc") is None, reason="needs rustc")
def test_fifo_include_cannot_bypass_the_gate(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "bypass.c").write_text(f'#include "{fifo}"\nint x;\n')
    (tmp_path / "bypass.rs").write_text(f'const S: &str = include_str!("{fifo}");\n')
    records = check_paths([tmp_path / "bypass.c", tmp_path / "bypass.rs"], jobs=2, progress=False, timeout=2)
    assert [r["ok"] for r in records] == [False, False]
    assert exit_code(records) == 1


def test_unknown_exits_1_unless_allowed(tmp_path: Path, monkeypatch) -> None:
    recs = [{"path": "a.c", "ok": False, "verdict": "unknown", "problems": []},
            {"path": "b.py", "ok": True, "verdict": "valid", "problems": []}]
    assert exit_code(recs) == 1 and exit_code(recs, allow_unknown=True) == 0


@needs_gcc
def test_validate_cli_allow_unknown(tmp_path: Path) -> None:
    f = tmp_path / "zero.c"
    f.write_text('#include "/dev/zero"\nint x;\n')
    res = runner.invoke(app, ["validate", str(f)])
    assert res.exit_code == 1 and "UNKNOWN" in res.output and "0/1 valid, 1 unknown" in res.output
    assert runner.invoke(app, ["validate", str(f), "--allow-unknown"]).exit_code == 0


@pytest.mark.slow
def test_parser_segfault_is_one_unknown_record_and_the_batch_goes_on(tmp_path: Path) -> None:
    (tmp_path / "a_ok.py").write_text("x = 1\n")
    (tmp_path / "big.js").write_text("function f() {\n" + "x = ;\n" * 150000 + "}\n")
    (tmp_path / "z_ok.py").write_text("y = 2\n")
    records = check_paths([tmp_path], jobs=1, progress=False, compiler=False)
    by_name = {Path(r["path"]).name: r for r in records}
    assert by_name["a_ok.py"]["ok"] and by_name["z_ok.py"]["ok"]
    crashed = by_name["big.js"]
    assert crashed["ok"] is False and crashed["verdict"] == "unknown" and "SIGSEGV" in crashed["compiler_note"]


@pytest.mark.slow
def test_parse_of_a_crashing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "big.js"
    f.write_text("function f() {\n" + "x = ;\n" * 150000 + "}\n")
    res = _main("parse", "-f", "sexp", str(f))
    assert res.returncode == 2 and "crashed" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    nested = tmp_path / "nest.js"
    nested.write_text("[" * 20000)
    assert _main("parse", "-f", "sexp", str(nested)).returncode in (0, 2)  # never a signal


def test_devices_and_fifos_are_not_read(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "zero.py").symlink_to("/dev/zero")
    os.mkfifo(d / "fifo.py")
    (d / "ok.py").write_text("x = 1\n")
    start = time.monotonic()
    records = check_paths([d], jobs=1, progress=False)
    assert time.monotonic() - start < 30
    by_name = {Path(r["path"]).name: r for r in records}
    assert "regular file" in by_name["zero.py"]["error"] and "regular file" in by_name["fifo.py"]["error"]
    assert by_name["ok.py"]["ok"]
    jsonl = tmp_path / "s.jsonl"
    jsonl.symlink_to("/dev/zero")
    assert "regular file" in check_paths([jsonl], progress=False)[0]["error"]


def test_size_cap_counts_bytes_read() -> None:
    with pytest.raises(InputError, match="size cap"):
        read_source("/proc/self/maps", max_bytes=16)  # stat says 0 bytes


def test_deeply_nested_jsonl_line_is_one_bad_record(tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl"
    f.write_text("[" * 3000 + "\n" + json.dumps({"code": "x = 1\n", "language": "python"}) + "\n")
    records = check_paths([f], jobs=1, progress=False)
    assert len(records) == 2 and "nested" in records[0]["error"] and records[1]["ok"] is True
