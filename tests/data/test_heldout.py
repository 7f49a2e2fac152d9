"""heldout_files: a gathered corpus's held-out files, per language, by size, lines, parse and check, in order."""

from __future__ import annotations

import json
import random

import pytest

from treediff.data import HeldoutFile, heldout_files
from treediff.errors import InputError

FILES = {  # name: (language, split, text)
    "a.py": ("python", "heldout", "x = 1\n"),
    "b.py": ("python", "heldout", "def f(:\n    pass\n"),  # no parse
    "c.py": ("python", "train", "y = 2\n"),  # a training file
    "d.py": ("python", "heldout", "return 1\n"),  # parses, fails the check (return outside a function)
    "e.py": ("python", "heldout", "a = 1\r\nb = 2\r\nc = 3\r\n"),  # CRLF, three lines
    "f.go": ("go", "heldout", "package p\n"),
    "g.py": ("python", "heldout", "\xff"),  # not UTF-8 on disk (written as bytes below)
}


@pytest.fixture()
def corpus(tmp_path):
    (tmp_path / "files").mkdir()
    rows = []
    for name, (language, split, text) in FILES.items():
        data = b"\xff\xfe" if name == "g.py" else text.encode("utf-8")
        (tmp_path / "files" / name).write_bytes(data)
        rows.append({"path": f"files/{name}", "language": language, "split": split, "bytes": len(data)})
    rows.append({"path": "files/missing.py", "language": "python", "split": "heldout", "bytes": 5})
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def _paths(found) -> list[str]:
    return [f.path.removeprefix("files/") for f in found]


def test_filters_by_split_language_size_lines_parse_and_check(corpus):
    assert _paths(heldout_files(corpus, "python")) == ["a.py", "b.py", "d.py", "e.py"]
    assert _paths(heldout_files(corpus, "go")) == ["f.go"]
    assert _paths(heldout_files(corpus, "python", parses=True)) == ["a.py", "d.py", "e.py"]
    assert _paths(heldout_files(corpus, "python", parses=True, checks=True)) == ["a.py", "e.py"]
    assert _paths(heldout_files(corpus, "python", min_lines=2)) == ["b.py", "e.py"]
    assert _paths(heldout_files(corpus, "python", max_lines=1)) == ["a.py", "d.py"]
    assert _paths(heldout_files(corpus, "python", min_bytes=7, max_bytes=21)) == ["b.py", "d.py", "e.py"]
    assert _paths(heldout_files(corpus, "python", min_bytes=7, max_bytes=20)) == ["b.py", "d.py"]


def test_text_is_read_as_text_mode_reads_it_and_bytes_as_on_disk(corpus):
    crlf = next(f for f in heldout_files(corpus, "python") if f.path.endswith("e.py"))
    assert isinstance(crlf, HeldoutFile) and crlf.text == "a = 1\nb = 2\nc = 3\n"
    assert crlf.data == (corpus / "files" / "e.py").read_bytes() and crlf.text == (corpus / crlf.path).read_text()


def test_seeded_order_is_a_shuffle_of_the_rows_that_pass_the_size_filter(corpus):
    rows = [f"files/{n}" for n, (lang, split, _) in FILES.items() if lang == "python" and split == "heldout"]
    rows.insert(rows.index("files/g.py") + 1, "files/missing.py")
    random.Random("3:python").shuffle(rows)
    expected = [r for r in rows if r not in ("files/g.py", "files/missing.py")]
    assert [f.path for f in heldout_files(corpus, "python", order="3:python")] == expected
    assert [f.path for f in heldout_files(corpus, "python", order=1)] != [f.path for f in heldout_files(corpus, "python")]


def test_a_directory_without_a_manifest_is_one_line(tmp_path):
    with pytest.raises(InputError, match="no manifest.jsonl"):
        next(heldout_files(tmp_path, "python"))
