"""Check many inputs: files, directories (recursively) and JSONL files of samples.

Every input becomes one record (a plain dict, JSON-ready) and nothing crashes the
batch: unreadable, binary, non-UTF-8 or oversized files and bad JSONL lines
become records with an ``error``.  Records have the keys ``path`` (and ``line`` for
a JSONL sample), ``language``, ``ok``, ``level``, ``problems``, plus ``warnings``,
``num_lines``, ``compiler_missing``/``compiler_note`` and ``error`` where they apply.

Files met while recursing a directory whose extension no grammar claims are
recorded with ``skipped`` (``ok: None``) rather than as errors, so a README does not
fail a run; a file named explicitly with an unknown extension is an error.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from treediff.errors import InputError, LanguageNotFound
from treediff.files import walk_files
from treediff.progress import ProgressBar
from treediff.samples import iter_jsonl_samples
from treediff.syntax.language import get_language, resolve_language
from treediff.syntax.tree import DEFAULT_MAX_BYTES, read_source
from treediff.validity.check import Problem, ValidityResult, check

__all__ = ["check_paths", "iter_check_paths", "iter_inputs", "exit_code", "write_jsonl", "JSONL_SUFFIXES"]

JSONL_SUFFIXES = (".jsonl", ".ndjson")
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__"}
_INPUT_LEVEL = "input"

NOT_SAMPLES = "not a samples file (no line has a string field 'code')"
Task = tuple[str, dict[str, Any]]  # ("file" | "sample" | "record", payload)


def _error_record(message: str, *, path: str, line: int | None = None, language: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"path": path}
    if line is not None:
        rec["line"] = line
    problem = Problem("input_error", message, 1, 1, 1, 1, 0, 0).to_dict()
    rec.update(language=language, ok=False, level=_INPUT_LEVEL, problems=[problem], error=message)
    return rec


def _result_record(result: ValidityResult, *, path: str, line: int | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"path": path}
    if line is not None:
        rec["line"] = line
    d = result.to_dict()
    rec.update(language=d.pop("language"), ok=d.pop("ok"), level=d.pop("level"), problems=d.pop("problems"))
    if result.problems and result.problems[0].kind == "input_error":
        rec["error"] = result.problems[0].message
    for key in ("compiler_missing", "compiler_note"):
        if d.get(key) is None:
            d.pop(key, None)
    rec.update(d)
    return rec


def _jsonl_tasks(path: Path, language: str | None, *, explicit: bool = True) -> Iterator[Task]:
    try:
        lines = list(iter_jsonl_samples(path))
    except InputError as exc:
        yield "record", _error_record(str(exc), path=str(path))
        return
    if not explicit and lines and all(line.row is None for line in lines):
        # found by walking a directory (e.g. a file of specs), not named: not ours to judge
        yield "record", {"path": str(path), "language": None, "ok": None, "level": _INPUT_LEVEL, "problems": [],
                         "skipped": NOT_SAMPLES}
        return
    for num, obj, _, message in lines:
        where = f"{path}:{num}"
        if obj is None:
            yield "record", _error_record(f"{where}: {message}", path=str(path), line=num)
            continue
        lang = obj.get("language", language)
        if not isinstance(lang, str):
            yield "record", _error_record(f"{where}: needs a string field 'language'", path=str(path), line=num)
            continue
        try:
            lang = get_language(lang).name
        except LanguageNotFound as exc:
            yield "record", _error_record(f"{where}: {exc}", path=str(path), line=num)
            continue
        yield "sample", {"code": obj["code"], "language": lang, "path": str(path), "line": num}


def iter_inputs(paths: Iterable[str | os.PathLike[str]], *, language: str | None = None) -> Iterator[Task]:
    """Expand paths into tasks, in a stable order (directories sorted)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in walk_files(path, _SKIP_DIRS):
                yield from _file_tasks(file, language, explicit=False)
        elif not path.exists():
            yield "record", _error_record(f"{path}: no such file or directory", path=str(path))
        else:
            yield from _file_tasks(path, language, explicit=True)


def _file_tasks(path: Path, language: str | None, *, explicit: bool) -> Iterator[Task]:
    if path.suffix.lower() in JSONL_SUFFIXES:
        yield from _jsonl_tasks(path, language, explicit=explicit)
        return
    try:
        lang = resolve_language(language or None, path).name
    except LanguageNotFound as exc:
        if explicit:
            yield "record", _error_record(str(exc), path=str(path))
        else:
            yield "record", {"path": str(path), "language": None, "ok": None, "level": _INPUT_LEVEL,
                             "problems": [], "skipped": f"unknown extension {path.suffix or '(none)'!r}"}
        return
    yield "file", {"path": str(path), "language": lang}


def _run_task(task: Task, options: dict[str, Any]) -> dict[str, Any]:
    """One input's record; ``options`` are :func:`check`'s keywords (``compiler``, ``timeout``, ...)."""
    kind, payload = task
    if kind == "record":
        return payload
    try:
        if kind == "sample":
            result = check(payload["code"], payload["language"], **options)
            return _result_record(result, path=payload["path"], line=payload["line"])
        path = payload["path"]
        try:
            data = read_source(path, max_bytes=options.get("max_bytes"))
        except InputError as exc:
            return _error_record(str(exc), path=path, language=payload["language"])
        result = check(data, payload["language"], path=path, **options)
        return _result_record(result, path=path)
    except Exception as exc:  # a bug must not sink the batch; report it on the input
        return _error_record(f"internal error: {type(exc).__name__}: {exc}", path=payload.get("path", "?"),
                             line=payload.get("line"), language=payload.get("language"))


def _run_chunk(chunk: Sequence[tuple[int, Task]], options: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(i, _run_task(t, options)) for i, t in chunk]


def check_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    jobs: int | None = None,
    progress: bool = True,
    compiler: bool = True,
    language: str | None = None,
    timeout: float | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    allow_unresolved: bool = False,
) -> list[dict[str, Any]]:
    """Check files, directories and JSONL sample files; one record per input, input order.

    ``jobs`` worker processes (default: CPU count; 1 = in this process).  Compiling is
    CPU-bound (Python's ``compile``) or a subprocess; processes serve both.  A rich
    progress bar goes to stderr when it is a terminal and ``progress`` is true.
    ``allow_unresolved`` sets aside compiler errors about code outside each file (:func:`check`).
    :func:`iter_check_paths` yields the records as they are done.
    """
    return list(iter_check_paths(paths, jobs=jobs, progress=progress, compiler=compiler, language=language,
                                 timeout=timeout, max_bytes=max_bytes, allow_unresolved=allow_unresolved))


def _ignore_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def iter_check_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    jobs: int | None = None,
    progress: bool = True,
    compiler: bool = True,
    language: str | None = None,
    timeout: float | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    allow_unresolved: bool = False,
) -> Iterator[dict[str, Any]]:
    """:func:`check_paths` as a generator: each record, in input order, as soon as it and those before it
    are done (so a caller can write them out while the rest is checked)."""
    options = {"compiler": compiler, "timeout": timeout, "max_bytes": max_bytes, "allow_unresolved": allow_unresolved}
    tasks = list(enumerate(iter_inputs(paths, language=language)))
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    work = [(i, t) for i, t in tasks if t[0] != "record"]
    for i, t in tasks:
        if t[0] == "record":
            results[i] = t[1]
    done = 0  # records before this index have been yielded

    def ready() -> Iterator[dict[str, Any]]:
        nonlocal done
        while done < len(results) and results[done] is not None:
            yield results[done]
            done += 1

    bar = ProgressBar(len(tasks), "checking", progress, completed=len(tasks) - len(work), min_total=0)
    try:
        yield from ready()
        if jobs == 1 or len(work) <= 1:
            for i, t in work:
                results[i] = _run_task(t, options)
                bar.advance()
                yield from ready()
        else:
            size = max(1, min(32, len(work) // (jobs * 8)))
            chunks = [work[k : k + size] for k in range(0, len(work), size)]
            pool = ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), initializer=_ignore_sigint)
            try:
                futures = [pool.submit(_run_chunk, c, options) for c in chunks]
                for fut in as_completed(futures):
                    for i, rec in fut.result():
                        results[i] = rec
                    bar.advance(len(fut.result()))
                    yield from ready()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()


def exit_code(records: Sequence[dict[str, Any]]) -> int:
    """The CLI's exit status: 2 if any input could not be checked, 1 if any is invalid, else 0."""
    if any(r.get("error") for r in records):
        return 2
    if any(r.get("ok") is False for r in records):
        return 1
    return 0


def write_jsonl(records: Iterable[dict[str, Any]], stream=None) -> None:
    """One JSON object per record (``--json``)."""
    out = stream or sys.stdout
    for rec in records:
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
