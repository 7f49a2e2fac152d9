"""Files on disk, read one way: a JSON object and a directory walk (every package reads these through here).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.json").write_text('{"x": 1}')
>>> read_json(d / "a.json")
{'x': 1}
>>> [p.name for p in walk_files(d)]
['a.json']
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from treediff.errors import InputError, TreediffError

__all__ = ["read_json", "walk_files"]


def read_json(path: str | os.PathLike[str], *, what: str = "", error: type[TreediffError] = InputError,
              require_object: bool = True) -> Any:
    """The JSON value in ``path``; an unreadable file, bad JSON or (with ``require_object``) anything but an
    object is one ``error`` naming the file (``what`` says what the file is for)."""
    label = f"{what} {path}" if what else str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise error(f"{label} is unreadable or not valid JSON: {err}") from None
    if require_object and not isinstance(data, dict):
        raise error(f"{label} does not hold a JSON object")
    return data


def walk_files(root: str | os.PathLike[str], skip: Iterable[str] = (), *, hidden: bool = True) -> Iterator[Path]:
    """Every file under ``root`` in a stable (sorted) order, not descending into directories named in
    ``skip`` (nor into dot-directories when ``hidden`` is false)."""
    skipped = frozenset(skip)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skipped and (hidden or not d.startswith(".")))
        for name in sorted(filenames):
            yield Path(dirpath, name)
