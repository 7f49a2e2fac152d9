"""Parquet and Arrow IPC shards of public code datasets, read record batch by record batch.

The layout of datasets such as The Stack: one row per file, the text in a ``content`` column
(``code`` and ``text`` are accepted too), the language in ``lang`` or ``language`` (names such as
``"Python"``, ``"C++"``, ``"JavaScript"`` resolve through the language registry's aliases; a name
no grammar declares is skipped as ``unknown_language``), and optionally a path column
(``path``, ``max_stars_repo_path``, ``repo_path``) whose extension decides the language when there
is no language column.  Needs ``pyarrow`` (``pip install 'treediff[data]'``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

from treediff.errors import InputError

__all__ = ["ARROW_SUFFIXES", "CONTENT_COLUMNS", "LANGUAGE_COLUMNS", "PATH_COLUMNS", "arrow_rows"]

ARROW_SUFFIXES = (".parquet", ".arrow", ".feather", ".ipc")
CONTENT_COLUMNS = ("content", "code", "text")
LANGUAGE_COLUMNS = ("lang", "language")
PATH_COLUMNS = ("path", "max_stars_repo_path", "repo_path", "file_path")
_BATCH_ROWS = 512


def _pyarrow() -> Any:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.ipc  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise InputError("reading Parquet/Arrow shards needs pyarrow: pip install 'treediff[data]'") from None
    return pyarrow


def _pick(names: list[str], choices: tuple[str, ...]) -> str | None:
    lower = {n.lower(): n for n in names}
    return next((lower[c] for c in choices if c in lower), None)


def _batches(path: Path) -> Iterator[Any]:
    pa = _pyarrow()
    try:
        if path.suffix.lower() == ".parquet":
            yield from pa.parquet.ParquetFile(path).iter_batches(batch_size=_BATCH_ROWS)
            return
        try:
            reader = pa.ipc.open_file(path)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
        except pa.ArrowInvalid:  # not the random-access file format: try the streaming format
            yield from pa.ipc.open_stream(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read as {path.suffix.lstrip('.')}: {str(exc).splitlines()[0]}") from None


def arrow_rows(path: str | os.PathLike[str]) -> Iterator[tuple[str, str, str | None]]:
    """``(name, code, language or None)`` per row; rows without text are skipped by the caller as empty."""
    path = Path(path)
    content = language = name_col = None
    row = 0
    for batch in _batches(path):
        if content is None:
            names = list(batch.schema.names)
            content = _pick(names, CONTENT_COLUMNS)
            if content is None:
                raise InputError(f"{path}: no text column ({', '.join(CONTENT_COLUMNS)}); it has: {', '.join(names)}")
            language = _pick(names, LANGUAGE_COLUMNS)
            name_col = _pick(names, PATH_COLUMNS)
        texts = batch.column(content).to_pylist()
        langs = batch.column(language).to_pylist() if language else [None] * len(texts)
        paths = batch.column(name_col).to_pylist() if name_col else [None] * len(texts)
        for text, lang, name in zip(texts, langs, paths):
            row += 1
            yield str(name or f"{path}#{row}"), "" if text is None else str(text), (str(lang) if lang else None)
