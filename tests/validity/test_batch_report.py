"""check_paths over mixed inputs, exit codes, and the JSON / Markdown / HTML reports."""

from __future__ import annotations

import json
import re

import pytest

from treediff.validity import check_paths, exit_code, summarize, write_jsonl, write_report


@pytest.fixture
def mixed_dir(tmp_path):
    (tmp_path / "good.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "bad.py").write_text("x = 1\n\n\nreturn x\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "nested.py").write_text("import os\n")
    (tmp_path / "binary.py").write_bytes(b"\x00\x01\x02 binary")
    (tmp_path / "latin1.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
    (tmp_path / "empty.py").write_text("")
    (tmp_path / "notes.xyz").write_text("hello")
    lines = [
        json.dumps({"code": "x = 1\n", "language": "python"}),
        "{not json",
        json.dumps({"code": "break\n", "language": "python"}),
        json.dumps({"code": "x", "language": "cobol"}),
        "",
        json.dumps({"language": "python"}),
    ]
    (tmp_path / "samples.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def _by_name(records):
    return {(r["path"].rsplit("/", 1)[-1], r.get("line")): r for r in records}


@pytest.mark.parametrize("jobs", [1, 2])
def test_check_paths_mixed_directory(mixed_dir, jobs):
    records = check_paths([mixed_dir], jobs=jobs, progress=False)
    recs = _by_name(records)
    for r in records:
        assert {"path", "language", "ok", "level", "problems"} <= set(r)
    assert recs[("good.py", None)]["ok"] is True and recs[("good.py", None)]["level"] == "compiler:python"
    bad = recs[("bad.py", None)]
    assert bad["ok"] is False and bad["problems"][0]["kind"] == "compile_error" and bad["problems"][0]["start_line"] == 4
    assert recs[("nested.py", None)]["ok"] is True
    # an empty file is a valid (empty) module, as compile("") says
    assert recs[("empty.py", None)]["ok"] is True and recs[("empty.py", None)]["level"] == "compiler:python"
    for name in ("binary.py", "latin1.py"):
        assert recs[(name, None)]["ok"] is False and recs[(name, None)]["error"], name
        assert recs[(name, None)]["problems"][0]["kind"] == "input_error"
    assert recs[("notes.xyz", None)]["ok"] is None and "skipped" in recs[("notes.xyz", None)]
    assert recs[("samples.jsonl", 1)]["ok"] is True
    assert "error" in recs[("samples.jsonl", 2)]
    assert recs[("samples.jsonl", 3)]["ok"] is False
    assert "cobol" in recs[("samples.jsonl", 4)]["error"]
    assert ("samples.jsonl", 5) not in recs  # blank lines are not inputs
    assert "error" in recs[("samples.jsonl", 6)]
    assert exit_code(records) == 2


def test_order_is_stable_and_jobs_agree(mixed_dir):
    a = check_paths([mixed_dir], jobs=1, progress=False)
    b = check_paths([mixed_dir], jobs=2, progress=False)
    strip = lambda rs: [(r["path"], r.get("line"), r["ok"], r["level"]) for r in rs]  # noqa: E731
    assert strip(a) == strip(b)


def test_explicit_inputs_and_exit_codes(tmp_path):
    good = tmp_path / "a.py"
    good.write_text("x = 1\n")
    bad = tmp_path / "b.py"
    bad.write_text("continue\n")
    assert exit_code(check_paths([good], progress=False)) == 0
    assert exit_code(check_paths([good, bad], progress=False)) == 1
    unknown = tmp_path / "c.unknownext"
    unknown.write_text("x")
    recs = check_paths([unknown, tmp_path / "missing.py"], progress=False)
    assert all(r["error"] for r in recs) and exit_code(recs) == 2


def test_write_jsonl_one_object_per_input(tmp_path, capsys):
    (tmp_path / "a.py").write_text("x = 1\n")
    write_jsonl(check_paths([tmp_path], progress=False))
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and json.loads(out[0])["ok"] is True


# -- reports --------------------------------------------------------------------------
def _records():
    recs = [
        {"path": "a.py", "language": "python", "ok": True, "level": "compiler:python", "problems": [], "num_lines": 10},
        {"path": "b.py", "language": "python", "ok": False, "level": "compiler:python", "num_lines": 10,
         "problems": [{"kind": "compile_error", "message": "SyntaxError: <bad> & 'x'", "start_line": 9, "start_col": 1,
                       "end_line": 9, "end_col": 2, "start_byte": 80, "end_byte": 81}]},
        {"path": "c.js", "language": "javascript", "ok": True, "level": "compiler:node", "problems": [], "num_lines": 3},
        {"path": "d.py", "language": "python", "ok": False, "level": "input", "problems": [], "error": "binary"},
    ]
    return recs


def test_summary_counts():
    s = summarize(_records())
    assert (s["inputs"], s["checked"], s["valid"], s["invalid"], s["errors"]) == (4, 3, 2, 1, 1)
    assert s["per_language"]["python"]["rate"] == 0.5
    assert s["error_position_bins"][9] == 1 and sum(s["error_position_bins"]) == 1
    assert s["problem_kinds"] == {"compile_error": 1}


def test_reports_single_and_compare(tmp_path):
    recs = _records()
    other = [dict(r, ok=True, problems=[]) for r in recs[:3]]
    for suffix in (".json", ".md", ".html"):
        write_report(recs, tmp_path / f"one{suffix}")
        write_report(recs, tmp_path / f"two{suffix}", compare=other, labels=["constrained", "unconstrained"])
    data = json.loads((tmp_path / "two.json").read_text())
    assert [r["label"] for r in data["runs"]] == ["constrained", "unconstrained"]
    assert data["runs"][1]["summary"]["rate"] == 1.0
    md = (tmp_path / "two.md").read_text()
    assert "| python |" in md and "constrained" in md
    page = (tmp_path / "two.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3
    assert 'id="per-language"' in page and "<td>python</td>" in page and "unconstrained" in page
    assert "&lt;bad&gt; &amp;" in page  # messages are escaped
    # self-contained: no external scripts, styles, images or fonts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "http" not in page and "<script" not in page and "<link" not in page


def test_report_bad_suffix_and_labels(tmp_path):
    from treediff.errors import InputError

    with pytest.raises(InputError):
        write_report(_records(), tmp_path / "r.pdf")
    with pytest.raises(InputError):
        write_report(_records(), tmp_path / "r.html", compare=_records(), labels=["only one"])
