"""What a new user meets in the first hour: help that renders, errors that name flags, streamed results,
Ctrl-C, reports that show the code, validate on the README's paths, train refusing to mix runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from treediff_cli.app import app

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "examples" / "specs" / "humaneval_head.jsonl"
runner = CliRunner()


def run_main(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``python -m treediff ...`` as a user runs it (real exit codes, stdout and stderr apart)."""
    return subprocess.run([sys.executable, "-m", "treediff", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, **kwargs)


def _default_sigint() -> None:
    """Let the child see Ctrl-C even where this test runs with SIGINT ignored (a background job)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _rest_of(proc: subprocess.Popen) -> tuple[str, str]:
    """The rest of stdout after a readline() (communicate() would skip what readline() buffered), and stderr."""
    out, err = proc.stdout.read(), proc.stderr.read()  # stdout to its end: the child cannot block on a full pipe
    proc.wait(timeout=300)
    return out, err


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and subcommand the app registers (new commands are covered without editing this)."""
    paths: list[tuple[str, ...]] = [()]

    def walk(cmd: click.Command, prefix: tuple[str, ...]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            paths.append((*prefix, name))
            walk(sub, (*prefix, name))

    walk(typer.main.get_command(app), ())
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "treediff")
def test_help_of_every_command_renders(path: tuple[str, ...]) -> None:
    res = runner.invoke(app, [*path, "--help"])
    assert res.exit_code == 0, res.output
    assert res.exception is None
    assert "Examples" in res.output, f"no Examples in `treediff {' '.join(path)} --help`"
    assert "<bool>" not in res.output  # flags are shown as flags, not as options taking a bool


def test_every_command_is_covered() -> None:
    names = {p[-1] for p in _command_paths() if p}
    assert {"mask", "synth", "validate", "train", "tokenizer", "data", "prepare"} <= names


def test_version() -> None:
    from treediff import __version__

    res = run_main("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"treediff {__version__}"


@pytest.mark.parametrize("args, flag", [
    (["--n", "0"], "--n"), (["--top-p", "1.5"], "--top-p"), (["--block", "-1"], "--block"),
    (["--rounds", "500"], "--rounds"), (["--threads", "-1"], "--threads"), (["--threads", "0"], "--threads"),
    (["--temperature", "-1"], "--temperature"), (["--threshold", "2"], "--threshold"),
])
def test_bad_sampler_values_name_their_flag(args: list[str], flag: str) -> None:
    res = run_main("synth", "Return x.", *args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and flag in lines[0], res.stderr
    assert "top_p" not in lines[0] and "block_size" not in lines[0] and "max_rounds" not in lines[0]
    assert res.stdout == ""


def test_parse_sexp_is_indented(tmp_path: Path) -> None:
    src = tmp_path / "a.py"
    src.write_text("def f(x):\n    return x + 1\n")
    res = runner.invoke(app, ["parse", str(src)])
    lines = res.stdout.splitlines()
    assert res.exit_code == 0 and lines[0] == "(module" and len(lines) > 5
    assert any(line.startswith("    ") for line in lines)
    assert res.stdout.count("(") == res.stdout.count(")")


def test_mask_plain_shows_brackets() -> None:
    res = runner.invoke(app, ["mask", "examples/python/inventory.py", "--plain", "--t", "0.5"])
    assert res.exit_code == 0 and "[MASK]" in res.output and "[/MASK]" in res.output


# -- validate ------------------------------------------------------------------------------------------
def test_validate_examples_dir_as_in_readme() -> None:
    res = run_main("validate", "examples/", "--json", "--allow-unresolved")  # the TSX examples import react
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("{")
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    specs = [r for r in rows if r["path"].endswith("humaneval_head.jsonl")]
    assert len(specs) == 1 and "not a samples file" in specs[0]["skipped"]
    assert "humaneval_head.jsonl" in res.stderr and "not samples" in res.stderr
    assert sum(1 for r in rows if r["ok"]) >= 10


def test_validate_nothing_to_check_exits_2(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    res = run_main("validate", tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith("error: nothing to check")


def test_validate_unknown_language_on_stderr() -> None:
    res = run_main("validate", "--lang", "cobol", "examples/python")
    assert res.returncode == 2 and res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1 and "cobol" in res.stderr


def test_validate_lists_set_aside_errors_in_text_view(tmp_path: Path) -> None:
    from treediff.validity.compilers import compiler_spec
    from treediff.syntax.language import get_language

    spec = compiler_spec(get_language("c"))
    if spec is None or not spec.is_available:
        pytest.skip("no C compiler")
    src = tmp_path / "a.c"
    src.write_text('#include "nowhere.h"\nint main(void) { return 0; }\n')
    res = run_main("validate", src, "--allow-unresolved")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ALLOWED" in res.stdout and "nowhere.h" in res.stdout


# -- streaming and Ctrl-C --------------------------------------------------------------------------------
@pytest.mark.slow
def test_synth_writes_each_result_before_the_last_spec_is_done(tmp_path: Path) -> None:
    """The first JSON line is readable while the process is still working on later specs."""
    specs = tmp_path / "specs.jsonl"
    specs.write_text("".join(SPECS.read_text().splitlines(keepends=True)[:1] * 4))
    proc = subprocess.Popen([sys.executable, "-m", "treediff", "synth", str(specs), "--json", "--threads", "1",
                             "--max-new-tokens", "48"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        first = proc.stdout.readline()
        still_running = proc.poll() is None
        rest, err = _rest_of(proc)
    finally:
        proc.kill()
    assert first.startswith("{") and json.loads(first)["spec_id"]
    assert still_running, "all output came at the end"
    lines = [first, *rest.splitlines()]
    assert len([line for line in lines if line.strip()]) == 4 and proc.returncode == 0, err


@pytest.mark.slow
def test_ctrl_c_keeps_written_results_and_exits_130(tmp_path: Path) -> None:
    specs = tmp_path / "specs.jsonl"
    specs.write_text("".join(SPECS.read_text().splitlines(keepends=True)[:1] * 40))
    report = tmp_path / "partial.html"
    proc = subprocess.Popen([sys.executable, "-m", "treediff", "synth", str(specs), "--json", "--threads", "1",
                             "--max-new-tokens", "48", "--report", str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=_default_sigint)
    try:
        first = proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        rest, err = _rest_of(proc)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    rows = [json.loads(line) for line in [first, *rest.splitlines()] if line.strip()]
    assert 1 <= len(rows) < 40
    assert f"interrupted: {len(rows)} result(s) written" in err
    assert "Traceback" not in err
    assert report.is_file() and rows[0]["spec_id"] in report.read_text()


@pytest.mark.slow
def test_validate_ctrl_c_exits_130_with_a_count(tmp_path: Path) -> None:
    for i in range(400):
        (tmp_path / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 50)
    proc = subprocess.Popen([sys.executable, "-m", "treediff", "validate", str(tmp_path), "--json", "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=_default_sigint)
    try:
        first = proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        rest, err = _rest_of(proc)
    finally:
        proc.kill()
    rows = [json.loads(line) for line in [first, *rest.splitlines()] if line.strip()]
    if proc.returncode == 0:  # the machine finished all 400 before the signal landed
        assert len(rows) == 400
        return
    assert proc.returncode == 130, err
    assert 1 <= len(rows) < 400 and f"interrupted: {len(rows)} result(s) written" in err
    assert "Traceback" not in err


def test_iter_check_paths_streams_what_check_paths_returns() -> None:
    from treediff.validity.batch import check_paths, iter_check_paths

    streamed = iter_check_paths([ROOT / "examples" / "python", ROOT / "examples" / "go"], jobs=2, progress=False)
    first = next(streamed)
    together = check_paths([ROOT / "examples" / "python", ROOT / "examples" / "go"], jobs=2, progress=False)
    assert [(r["path"], r["ok"]) for r in [first, *streamed]] == [(r["path"], r["ok"]) for r in together]


def test_iter_synth_yields_before_the_rest_is_done() -> None:
    from treediff.sample import iter_synth
    from treediff.sample.spec import read_specs

    specs = list(read_specs(str(SPECS)))[:3]
    results = iter_synth(specs, max_new_tokens=8)
    start = time.perf_counter()
    first = next(results)
    first_s = time.perf_counter() - start
    rest = list(results)
    assert first.spec_id == specs[0].id and [r.spec_id for r in rest] == [s.id for s in specs[1:]]
    assert first_s < time.perf_counter() - start  # the rest took time after the first was handed over


# -- reports a person opens ------------------------------------------------------------------------------
@pytest.mark.slow
def test_synth_report_shows_each_program_and_its_record(tmp_path: Path) -> None:
    """`make run`'s shape: the spec file, the default model, an HTML report."""
    report = tmp_path / "synth.html"
    res = run_main("synth", SPECS, "--report", report, "--max-new-tokens", "16", "--threads", "1", "--json")
    assert res.returncode in (0, 1), res.stderr
    page = report.read_text()
    ids = [json.loads(line).get("task_id") or json.loads(line).get("id") for line in SPECS.read_text().splitlines()]
    assert all(i in page for i in ids if i)
    assert page.count('<pre class="code">') == len(ids)
    assert 'style="color' in page  # highlighted
    for field in ("ok", "level", "rounds", "fallback", "NFE", "time"):
        assert f"<th>{field}</th>" in page
    assert "has_close_elements" in page
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == len(ids)
    # a chart is drawn only when it has something to show
    assert ("Compiler-remasking rounds" in page) == any(r["rounds"] for r in rows)
    assert ("Forward passes (NFE)" in page) == any(r["nfe"] for r in rows)


def test_validity_report_leaves_out_empty_charts(tmp_path: Path) -> None:
    from treediff.validity import write_report

    rows = [{"path": "a.py", "language": "python", "ok": True, "level": "compiler:python", "problems": []}]
    page = write_report(rows, tmp_path / "r.html").read_text()
    assert "Validity rate per language" in page
    assert "Problem kinds" not in page and "First error position" not in page


# -- repair ----------------------------------------------------------------------------------------------
def test_repair_diff_json_keeps_the_diff(tmp_path: Path) -> None:
    bad = tmp_path / "b.py"
    bad.write_text("def f(x):\n    if x > 1\n        return x\n    return x\n")
    res = run_main("repair", bad, "--diff", "--json", "--threads", "1")
    row = json.loads(res.stdout)
    assert row["diff"].startswith("---") and "+" in row["diff"] and row["code"]


def test_repair_directory_says_what_is_wrong(tmp_path: Path) -> None:
    res = run_main("repair", tmp_path)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "is a directory" in res.stderr


@pytest.mark.parametrize("command", ["repair", "infill"])
def test_code_given_instead_of_a_file_name_says_so(command: str) -> None:
    res = run_main(command, "x" * 300)  # longer than a file name may be: said in one line, not "unexpected OSError"
    assert res.returncode == 2 and "not a file name" in res.stderr and "unexpected" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


# -- train -----------------------------------------------------------------------------------------------
def test_train_refuses_to_mix_runs(tmp_path: Path) -> None:
    ckpt = tmp_path / "checkpoints"
    (ckpt / "step_00000150").mkdir(parents=True)
    config = ROOT / "examples" / "configs" / "tiny.toml"
    res = run_main("train", "--config", config, "--set", f"checkpoint.dir={ckpt}", "--set", f"out_dir={tmp_path}")
    assert res.returncode == 2
    assert "--resume" in res.stderr and "--overwrite" in res.stderr and "step_00000150" in res.stderr
    assert (ckpt / "step_00000150").is_dir()
    res = run_main("train", "--config", config, "--resume", "--overwrite")
    assert res.returncode == 2 and "exclude" in res.stderr


def test_threads_default_to_free_cores() -> None:
    import torch

    from treediff.threads import available_cores, default_num_threads, set_num_threads

    before = torch.get_num_threads()
    try:
        count = set_num_threads(None)
        assert count == torch.get_num_threads() == default_num_threads()
        assert 1 <= count <= available_cores()
    finally:
        torch.set_num_threads(before)
    assert default_num_threads(cores=2, load=1.7, processes=1) == 1
    assert default_num_threads(cores=8, load=0.2, processes=1) == 7


@pytest.mark.slow
def test_data_commands_print_only_their_output_dir(tmp_path: Path) -> None:
    """With progress bars on (no -q), stdout is the output directory alone: no blank lines before it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(4):
        (corpus / f"m{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n" * 3)
    tok, data = tmp_path / "tok", tmp_path / "data"
    res = run_main("tokenizer", "train", corpus, "--vocab-size", "330", "--out", tok, "--workers", "1")
    assert res.returncode == 0 and res.stdout == f"{tok}\n", res.stdout
    res = run_main("data", "prepare", corpus, "--tokenizer", tok, "--out", data, "--seq-len", "64", "--workers", "1")
    assert res.returncode == 0 and res.stdout == f"{data}\n", res.stdout
