"""synth / infill / repair / sample / export through the CLI: outputs, --json keys, reports, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from treediff_cli.app import app

runner = CliRunner()
KEYS = {"spec_id", "code", "ok", "level", "rounds", "fallback", "nfe"}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_synth_json_and_report(bundle_dir, tmp_path):
    report = tmp_path / "synth.html"
    res = invoke("synth", "Return the sum of a and b.", "--signature", "add(a, b)", "--model", bundle_dir,
                 "--n", "2", "--temperature", "1.0", "--max-new-tokens", "16", "--json", "--report", report)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 2 and all(KEYS <= set(r) for r in rows)
    assert all(r["ok"] for r in rows)
    assert report.is_file() and "<svg" in report.read_text()


def test_synth_constraint_none_can_exit_1(bundle_dir):
    res = invoke("synth", "def f(x):\n    \"\"\"Do it.\"\"\"\n", "--model", bundle_dir, "--constraint", "none",
                 "--n", "3", "--temperature", "1.0", "--max-new-tokens", "24", "--json")
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert res.exit_code == (0 if all(r["ok"] for r in rows) else 1)


def test_infill_and_repair_files(bundle_dir, tmp_path):
    f = tmp_path / "h.py"
    f.write_text("def f(x):\n    return <|hole:expression|>\n")
    res = invoke("infill", f, "--model", bundle_dir, "--json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.splitlines()[0])
    assert row["holes"][0]["category"] == "expression" and row["ok"]
    b = tmp_path / "b.py"
    b.write_text("x = (1 +\ny = 2\n")
    res = invoke("repair", b, "--model", bundle_dir)
    assert res.exit_code == 0, res.output
    sel = tmp_path / "s.py"
    sel.write_text("def g():\n    return 1\n")
    assert invoke("infill", sel, "--model", bundle_dir, "--select", "body of g").exit_code == 0


def test_repair_diff_and_edits(bundle_dir, tmp_path):
    b = tmp_path / "b.py"
    b.write_text("x = foo(1, 2))\ny = 2\n")
    res = invoke("repair", b, "--model", bundle_dir, "--diff")
    assert res.exit_code == 0, res.output
    assert f"--- a/{str(b).lstrip('/')}" in res.stdout and "-x = foo(1, 2))" in res.stdout and "+x = foo(1, 2)" in res.stdout
    res = invoke("repair", b, "--model", bundle_dir, "--edits", "0", "--json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.splitlines()[0])
    assert row["ok"] and row["edit_attempts"] == 0 and row["edits"] == 0
    assert invoke("repair", b, "--model", bundle_dir, "--edits", "-1").exit_code == 2


def test_sample_and_export(bundle_dir, tmp_path):
    res = invoke("sample", "--model", bundle_dir, "--n", "2", "--length", "8", "--json")
    assert res.exit_code == 0, res.output
    assert len([line for line in res.stdout.splitlines() if line.startswith("{")]) == 2
    res = invoke("export", bundle_dir, "-o", tmp_path / "copy")
    assert res.exit_code == 0 and (tmp_path / "copy" / "tokenizer.json").is_file()


def test_export_half_precision_shards_load_as_float32(bundle_dir, tmp_path):
    import torch

    from treediff.model.formats import default_model_path, load_model

    bundle_dir = default_model_path()  # 5.5 MB of float32: 2.8 MB as float16, three 1 MB shards
    res = invoke("export", bundle_dir, "-o", tmp_path / "half", "--dtype", "float16", "--max-shard-mb", "1")
    assert res.exit_code == 0, res.output
    shards = sorted((tmp_path / "half").glob("model-*.safetensors"))
    assert len(shards) >= 2 and all(p.stat().st_size < 1_100_000 for p in shards)
    assert (tmp_path / "half" / "model.safetensors.index.json").is_file()
    full, half = load_model(bundle_dir, device="cpu"), load_model(tmp_path / "half", device="cpu")
    params = dict(half.model.named_parameters())
    assert all(p.dtype == torch.float32 for p in params.values())
    for name, p in full.model.named_parameters():
        assert torch.allclose(p, params[name], atol=2e-3, rtol=2e-3), name
    for bad in (["--dtype", "int8"], ["--max-shard-mb", "0"]):
        res = invoke("export", bundle_dir, "-o", tmp_path / "bad", *bad)
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["synth", ""], "empty spec"),
        (["synth", "do it", "--lang", "cobol"], "cobol"),
        (["synth", "x", "--order", "best"], "order"),
        (["synth", "x", "--constraint", "strict"], "constraint"),
        (["synth", "x", "--model", "/no/such/dir"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message, bundle_dir):
    if "--model" not in args:
        args = [*args, "--model", str(bundle_dir)]
    res = invoke(*args)
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


def test_infill_errors(bundle_dir, tmp_path):
    f = tmp_path / "none.py"
    f.write_text("x = 1\n")
    res = invoke("infill", f, "--model", bundle_dir)
    assert res.exit_code == 2 and "no holes" in res.output
    g = tmp_path / "cat.py"
    g.write_text("x = <|hole:banana|>\n")
    res = invoke("infill", g, "--model", bundle_dir)
    assert res.exit_code == 2 and "banana" in res.output
    res = invoke("infill", tmp_path / "missing.py", "--model", bundle_dir)
    assert res.exit_code == 2
    binary = tmp_path / "bin.py"
    binary.write_bytes(b"\x00\x01\x02<|hole|>")
    res = invoke("infill", binary, "--model", bundle_dir)
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_corrupt_model_directory(tmp_path, bundle_dir):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (bad / name).write_text((bundle_dir / name).read_text())
    (bad / "model.safetensors").write_bytes((bundle_dir / "model.safetensors").read_bytes()[:1000])
    f = tmp_path / "h.py"
    f.write_text("x = <|hole|>\n")
    res = invoke("infill", f, "--model", bad)
    assert res.exit_code == 2 and "error:" in res.output


@pytest.mark.slow
def test_console_script_default_model_synth():
    """The embedded default model works through the real entry point (what `make run` does)."""
    proc = subprocess.run([sys.executable, "-m", "treediff", "synth", "Return x plus one.", "--signature", "inc(x)",
                           "--max-new-tokens", "12", "--json", "--threads", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout.splitlines()[0])
    assert row["ok"] and row["code"].startswith("def inc(x):")


def test_repair_notes_references_it_left_alone(bundle_dir, tmp_path):
    import shutil

    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    b = tmp_path / "b.c"
    b.write_text('#include "nowhere.h"\n\nint f(int x) {\n    return (x + 1;\n}\n')
    res = invoke("repair", b, "--model", bundle_dir, "--json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.splitlines()[0])
    assert row["ok"] and not row["fallback"] and row["unresolved"]
    assert '#include "nowhere.h"' in row["code"] and "return (x + 1);" in row["code"]
    assert "left alone" in res.stderr


def test_synth_without_model_decodes_each_language_with_its_embedded_model(tmp_path, monkeypatch):
    from treediff.model.formats import model_path

    specs = tmp_path / "mixed.jsonl"
    rows = [{"id": "py", "text": "def inc(x):\n    return <|hole:expression|>\n", "language": "python"},
            {"id": "java", "text": "class A {\n    int inc(int x) { return <|hole:expression|>; }\n}\n",
             "language": "java"},
            {"id": "py2", "text": "def dec(x):\n    return <|hole:expression|>\n", "language": "python"}]
    specs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    seen = []
    import treediff.sample.api as api

    real = api.iter_synth_batches

    def spy(lm, templates, cfg, **kw):
        seen.append((lm.name, [s.id for s, _ in templates]))
        return real(lm, templates, cfg, **kw)

    monkeypatch.setattr(api, "iter_synth_batches", spy)
    res = invoke("synth", specs, "--max-new-tokens", "8", "--json", "--threads", "1")
    assert res.exit_code in (0, 1), res.output
    out = [json.loads(line)["spec_id"] for line in res.stdout.splitlines() if line.startswith("{")]
    assert out == ["py", "java", "py2"]  # spec order is kept
    py, java = model_path(None, "python").name, model_path(None, "java").name
    if py == java:  # the multi-language model is not installed: one run of all three
        assert seen == [(py, ["py", "java", "py2"])]
    else:
        assert seen == [(py, ["py"]), (java, ["java"]), (py, ["py2"])]


def test_infill_context_drafts_flag_and_record(bundle_dir, tmp_path):
    f = tmp_path / "h.py"
    f.write_text("def f(x):\n    y = x + 1\n    return <|hole:expression|>\n")
    res = invoke("infill", f, "--model", bundle_dir, "--json", "--context-drafts", "0")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.splitlines()[0])
    assert row["num_context_regions"] == 0, "no context drafts were offered, so none can be counted"
    assert invoke("infill", f, "--model", bundle_dir, "--context-drafts", "-1").exit_code == 2


def test_cache_flag(bundle_dir, tmp_path):
    """``--cache off`` decodes with exact logits, ``on``/``auto`` with the dual cache; a bad value is one line,
    exit 2."""
    f = tmp_path / "h.py"
    f.write_text("def f(x):\n    y = x + 1\n    return <|hole:expression|>\n\n\ndef g(a):\n    return a\n")
    for value in ("off", "on", "auto"):
        res = invoke("infill", f, "--model", bundle_dir, "--json", "--cache", value)
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout.splitlines()[0])["ok"]
    bad = invoke("infill", f, "--model", bundle_dir, "--cache", "sometimes")
    assert bad.exit_code == 2 and "--cache" in bad.output and "Traceback" not in bad.output
