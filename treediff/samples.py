"""Reading JSONL files of code samples (one ``{"code": ..., "language": ...}`` object a line).

The corpus pipeline and the batch validity checker both read this format; this is
the one reader.  Each caller decides what a bad line means for it (a skip count,
an error record).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from treediff.files import open_regular

__all__ = ["SampleLine", "iter_jsonl_samples"]


class SampleLine(NamedTuple):
    """One non-blank line: ``row`` when usable, else ``problem`` (a short code) and ``message``.

    ``problem`` is ``"non_utf8"``, ``"bad_json"`` or ``"no_code"`` (not an object with a
    string field ``code``).
    """

    line: int
    row: dict[str, Any] | None
    problem: str | None = None
    message: str | None = None


def iter_jsonl_samples(path: str | os.PathLike[str]) -> Iterator[SampleLine]:
    """Yield a :class:`SampleLine` per non-blank line; raise :class:`InputError` if unreadable.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.jsonl"
    >>> _ = p.write_text('{"code": "x = 1", "language": "python"}\\n\\n[1]\\n')
    >>> [(s.line, s.problem) for s in iter_jsonl_samples(p)]
    [(1, None), (3, 'no_code')]
    """
    path = Path(path)
    handle = open_regular(path)  # a FIFO or device is an InputError, not an endless read
    with handle:
        for num, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except UnicodeDecodeError as exc:
                yield SampleLine(num, None, "non_utf8", f"not valid JSON: {exc}")
                continue
            except ValueError as exc:
                yield SampleLine(num, None, "bad_json", f"not valid JSON: {exc}")
                continue
            except RecursionError:  # one deeply nested line is one bad line
                yield SampleLine(num, None, "bad_json", "not valid JSON: nested too deeply")
                continue
            if not isinstance(row, dict) or not isinstance(row.get("code"), str):
                yield SampleLine(num, None, "no_code", "needs a string field 'code'")
                continue
            yield SampleLine(num, row)
