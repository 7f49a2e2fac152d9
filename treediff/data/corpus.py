"""Corpus scanning: read sources from directories, files, ``.zip`` archives or JSONL, filter, dedup, split.

Every input is turned into records, and each record is either kept or skipped for exactly
one counted reason (:data:`SKIP_REASONS`), checked in this order:

``unknown_language``  no ``grammars/*.toml`` declares the extension (or the JSONL ``language``);
``oversized``         more bytes than ``max_bytes`` (checked before reading where possible);
``unreadable``        an I/O error, a corrupt archive member or a malformed JSONL line;
``empty``             zero bytes or whitespace only;
``binary``            contains a NUL byte;
``non_utf8``          not valid UTF-8;
``duplicate``         same content (SHA-256 of the bytes) as an earlier kept file;
``unparseable``       counted later, by the tokenizing step: tree-sitter ERROR/MISSING nodes
                      cover more than ``max_error_fraction`` of the bytes (see :func:`error_fraction`).

Scanning order is deterministic (sorted paths, archive order, line order), so "earlier"
in the dedup rule is well defined.  The train/validation split hashes the content, not
the path: a file keeps its split when the corpus grows or moves.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from treediff.errors import InputError, LanguageNotFound
from treediff.syntax.language import Language, detect_language, get_language
from treediff.samples import iter_jsonl_samples
from treediff.syntax.tree import SyntaxTree

__all__ = [
    "SKIP_REASONS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ERROR_FRACTION",
    "CorpusFile",
    "ScanStats",
    "iter_records",
    "scan_corpus",
    "error_fraction",
    "split_of",
    "progress_bar",
]

SKIP_REASONS = (
    "unknown_language",
    "oversized",
    "unreadable",
    "empty",
    "binary",
    "non_utf8",
    "duplicate",
    "unparseable",
)
#: Default per-file size cap for corpora (bytes); generated or vendored blobs are rarely useful.
DEFAULT_MAX_BYTES = 1_000_000
#: Default cap on the fraction of a file's bytes inside tree-sitter ERROR/MISSING nodes.
DEFAULT_MAX_ERROR_FRACTION = 0.1

_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__"})


@dataclass(frozen=True)
class CorpusFile:
    """A kept source: where it came from, its language, bytes and SHA-256."""

    path: str
    language: str
    source: bytes
    sha256: str


@dataclass
class ScanStats:
    """Counts from scanning: records seen, kept, skipped per reason, kept bytes and languages."""

    num_inputs: int = 0
    num_kept: int = 0
    num_bytes: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: {r: 0 for r in SKIP_REASONS})
    languages: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    @property
    def num_skipped(self) -> int:
        return sum(self.skipped.values())

    def describe_skips(self) -> str:
        parts = [f"{n} {r.replace('_', '-')}" for r, n in self.skipped.items() if n]
        return ", ".join(parts) if parts else "nothing skipped"


@dataclass(frozen=True)
class _Record:
    path: str
    data: bytes | None
    language: Language | None
    reason: str | None = None


def progress_bar(show: bool):
    """A rich progress bar (a no-op context when ``show`` is false)."""
    if not show:
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),  # stdout carries the result (the output directory) only
        transient=True,
    )


def _language_of(path: str) -> Language | None:
    try:
        return detect_language(path)
    except LanguageNotFound:
        return None


def _walk_dir(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _file_record(path: Path, max_bytes: int) -> _Record:
    lang = _language_of(str(path))
    if lang is None:
        return _Record(str(path), None, None, "unknown_language")
    try:
        if max_bytes and path.stat().st_size > max_bytes:
            return _Record(str(path), None, lang, "oversized")
        data = path.read_bytes()
    except OSError:
        return _Record(str(path), None, lang, "unreadable")
    return _Record(str(path), data, lang)


def _zip_records(path: Path, max_bytes: int) -> Iterator[_Record]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: cannot open zip archive: {exc}") from None
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = f"{path}!{info.filename}"
            lang = _language_of(info.filename)
            if lang is None:
                yield _Record(name, None, None, "unknown_language")
                continue
            if max_bytes and info.file_size > max_bytes:
                yield _Record(name, None, lang, "oversized")
                continue
            try:
                data = archive.read(info)
            except (OSError, zipfile.BadZipFile, RuntimeError, EOFError):
                yield _Record(name, None, lang, "unreadable")
                continue
            yield _Record(name, data, lang)


def _jsonl_records(path: Path) -> Iterator[_Record]:
    for num, row, problem, _ in iter_jsonl_samples(path):
        name = f"{path}:{num}"
        if row is None:
            yield _Record(name, None, None, "non_utf8" if problem == "non_utf8" else "unreadable")
            continue
        code = row["code"]
        name = str(row.get("path") or name)
        lang: Language | None
        if row.get("language"):
            try:
                lang = get_language(str(row["language"]))
            except LanguageNotFound:
                lang = None
        else:
            lang = _language_of(name)
        if lang is None:
            yield _Record(name, None, None, "unknown_language")
            continue
        try:
            data = code.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: the text was not UTF-8
            yield _Record(name, None, lang, "non_utf8")
            continue
        yield _Record(name, data, lang)


def iter_records(inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], max_bytes: int) -> Iterator[_Record]:
    """Raw records of every input: a directory (recursive), a ``.zip``, a ``.jsonl`` or a source file."""
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if not items:
        raise InputError("no corpus given: pass a directory, source files, a .zip or a .jsonl file")
    for item in items:
        path = Path(item)
        if path.is_dir():
            for f in _walk_dir(path):
                yield _file_record(f, max_bytes)
        elif not path.exists():
            raise InputError(f"{path}: no such file or directory")
        elif path.suffix.lower() == ".zip":
            yield from _zip_records(path, max_bytes)
        elif path.suffix.lower() == ".jsonl":
            yield from _jsonl_records(path)
        else:
            yield _file_record(path, max_bytes)


def _check(data: bytes, max_bytes: int) -> str | None:
    if max_bytes and len(data) > max_bytes:
        return "oversized"
    if not data.strip():
        return "empty"
    if b"\x00" in data:
        return "binary"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "non_utf8"
    return None


def scan_corpus(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    show_progress: bool = False,
) -> tuple[list[CorpusFile], ScanStats]:
    """Read, filter and dedup a corpus (no parsing yet: ``unparseable`` is counted later).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.py").write_text("x = 1\\n"); _ = (d / "b.py").write_text("x = 1\\n"); _ = (d / "c.txt").write_text("hi")
    >>> files, stats = scan_corpus(d)
    >>> [f.path.endswith("a.py") for f in files], stats.skipped["duplicate"], stats.skipped["unknown_language"]
    ([True], 1, 1)
    """
    stats = ScanStats()
    seen: set[str] = set()
    kept: list[CorpusFile] = []
    with progress_bar(show_progress) as bar:
        task = bar.add_task("scanning", total=None) if bar else None
        for rec in iter_records(inputs, max_bytes):
            stats.num_inputs += 1
            if bar is not None:
                bar.advance(task)
            reason = rec.reason or _check(rec.data or b"", max_bytes)
            if reason is None:
                digest = hashlib.sha256(rec.data).hexdigest()  # type: ignore[arg-type]
                if digest in seen:
                    reason = "duplicate"
                else:
                    seen.add(digest)
                    assert rec.language is not None and rec.data is not None
                    kept.append(CorpusFile(rec.path, rec.language.name, rec.data, digest))
                    stats.num_kept += 1
                    stats.num_bytes += len(rec.data)
                    stats.languages[rec.language.name] = stats.languages.get(rec.language.name, 0) + 1
                    continue
            stats.skip(reason)
    return kept, stats


def error_fraction(tree: SyntaxTree) -> float:
    """Fraction of the source's bytes inside ERROR nodes (each MISSING node counts one byte).

    Overlapping (nested) error nodes are counted once.

    >>> from treediff.syntax import parse
    >>> error_fraction(parse("x = 1\\n", "python")), error_fraction(parse("x = = = = 1\\n", "python")) > 0
    (0.0, True)
    """
    n = len(tree.source)
    if n == 0 or not tree.has_errors:
        return 0.0
    spans = sorted(
        (node.ts_node.start_byte, max(node.ts_node.end_byte, node.ts_node.start_byte + 1)) for node in tree.errors()
    )
    covered = 0
    cur_s, cur_e = -1, -1
    for s, e in spans:
        if s >= cur_e:
            covered += max(0, cur_e - cur_s)
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    covered += max(0, cur_e - cur_s)
    return min(1.0, covered / n)


def split_of(sha256: str, val_fraction: float) -> str:
    """``"validation"`` for a ``val_fraction`` share of content hashes, else ``"train"`` (deterministic).

    >>> split_of("0" * 64, 0.1), split_of("f" * 64, 0.1)
    ('validation', 'train')
    """
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"val_fraction must be in [0, 1), got {val_fraction}")
    return "validation" if int(sha256[:16], 16) / 2.0**64 < val_fraction else "train"

