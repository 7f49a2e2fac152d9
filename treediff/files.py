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
import stat
from pathlib import Path
from typing import Any, Iterable, Iterator

from treediff.errors import InputError, TreediffError

__all__ = ["read_json", "walk_files", "open_regular"]


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


def open_regular(path: str | os.PathLike[str]):
    """Open a regular file for reading (binary); anything else is an :class:`InputError`.

    Opened non-blocking and checked with ``fstat`` on the open descriptor, so a FIFO never hangs
    and a symlink to ``/dev/zero`` is refused before a byte is read.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (device, FIFO or socket)"
        raise InputError(f"{path}: is {kind}")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")
