"""Held-out files of a gathered corpus: per language, the code of the packages no training split holds.

A ``treediff data gather`` output (docs/data.md) lists every file in ``manifest.jsonl`` with its language,
size and split; ``split == "heldout"`` marks the packages kept out of training.  :func:`heldout_files` reads
them for evaluation, filtered by size, lines, a clean parse and the language's check, in the manifest's order
or a seeded random one.

>>> import json, tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> (root / "files").mkdir()
>>> rows = [("a.py", "x = 1\\n", "heldout"), ("b.py", "y = (\\n", "heldout"), ("c.py", "z = 2\\n", "train")]
>>> for name, text, split in rows:
...     _ = (root / "files" / name).write_text(text)
>>> _ = (root / "manifest.jsonl").write_text("".join(json.dumps({"path": f"files/{n}", "language": "python",
...     "split": s, "bytes": len(t)}) + "\\n" for n, t, s in rows))
>>> [f.path for f in heldout_files(root, "python")], [f.path for f in heldout_files(root, "python", parses=True)]
(['files/a.py', 'files/b.py'], ['files/a.py'])
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from treediff.errors import InputError

__all__ = ["HeldoutFile", "heldout_files"]


@dataclass(frozen=True)
class HeldoutFile:
    """One held-out file: its manifest ``path`` (relative to the corpus), its bytes as on disk, and its text
    decoded as UTF-8 with newlines as Python's text mode reads them (``\\r\\n`` and ``\\r`` become ``\\n``)."""

    path: str
    data: bytes
    text: str


def heldout_files(
    corpus: str | os.PathLike[str],
    language: str,
    *,
    min_bytes: int = 0,
    max_bytes: int | None = None,
    min_lines: int = 0,
    max_lines: int | None = None,
    order: int | str | None = None,
    parses: bool = False,
    checks: bool = False,
) -> Iterator[HeldoutFile]:
    """The held-out files of ``language`` in the gathered corpus ``corpus``, lazily: the manifest's rows with
    ``split == "heldout"`` whose ``bytes`` lie in ``[min_bytes, max_bytes]``, in the manifest's order or, with
    ``order`` (a seed for :class:`random.Random`), shuffled; of those, the files that read as UTF-8, whose
    text has ``min_lines`` to ``max_lines`` lines (``str.splitlines``), that tree-sitter parses without an
    error (``parses``) and that pass :func:`treediff.validity.check` (``checks``).  A corpus without a
    ``manifest.jsonl`` is an :class:`~treediff.errors.InputError`."""
    root = Path(corpus)
    manifest = root / "manifest.jsonl"
    if not manifest.is_file():
        raise InputError(f"{root} is not a `treediff data gather` output (no manifest.jsonl)")
    rows = []
    with open(manifest, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            size = row.get("bytes", 0)
            if (row.get("split") == "heldout" and row.get("language") == language and size >= min_bytes
                    and (max_bytes is None or size <= max_bytes)):
                rows.append(row["path"])
    if order is not None:
        random.Random(order).shuffle(rows)
    for rel in rows:
        try:
            data = (root / rel).read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        num_lines = len(text.splitlines())
        if num_lines < min_lines or (max_lines is not None and num_lines > max_lines):
            continue
        if parses and _has_errors(text, language):
            continue
        if checks and not _passes(text, language):
            continue
        yield HeldoutFile(rel, data, text)


def _has_errors(text: str, language: str) -> bool:
    from treediff.syntax.tree import parse

    return parse(text, language).has_errors


def _passes(text: str, language: str) -> bool:
    from treediff.validity import check

    return check(text, language).ok
