"""The validity commands as single library calls (what ``treediff languages``/``validate`` run)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from treediff.errors import InputError
from treediff.stream import write_each
from treediff.syntax.language import get_language, list_languages
from treediff.syntax.tree import DEFAULT_MAX_BYTES
from treediff.validity.batch import NOT_SAMPLES, check_paths, exit_code, iter_check_paths
from treediff.validity.compilers import compiler_spec, compiler_version
from treediff.validity.report import write_report

__all__ = ["language_table", "run_validate"]


def language_table(*, versions: bool = False) -> list[dict[str, Any]]:
    """One row per language: extensions, grammar package/version, compiler and whether it is installed."""
    rows = []
    for lang in list_languages():
        spec = compiler_spec(lang)
        available = bool(spec is not None and spec.is_available)
        row = {
            "name": lang.name,
            "extensions": list(lang.extensions),
            "grammar_package": lang.grammar_package,
            "grammar_version": lang.grammar_version,
            "compiler": None if spec is None else spec.name,
            "compiler_available": available,
        }
        if versions and available and spec is not None:
            row["compiler_version"] = compiler_version(spec)
        rows.append(row)
    return rows


def _write_record(r: dict[str, Any], as_json: bool, out) -> None:
    """One record as soon as it is checked: a JSON line, or (text) a line for each problem worth a look."""
    if as_json:
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
        out.flush()
        return
    where = r.get("path") if r.get("line") is None else f"{r.get('path')}:{r['line']}"
    if r.get("error"):
        out.write(f"ERROR    {r['error']}\n")
    elif r.get("ok") is False:
        first = r["problems"][0] if r["problems"] else {}
        msg = f"{first.get('start_line', '?')}:{first.get('start_col', '?')} {first.get('message', '')}"
        out.write(f"INVALID  {where} [{r.get('language')}, {r.get('level')}] {msg}\n")
    for p in r.get("unresolved") or ():  # set aside by --allow-unresolved: listed, not hidden
        out.write(f"ALLOWED  {where} [{r.get('language')}] {p.get('start_line', '?')}:{p.get('start_col', '?')} "
                  f"{p.get('message', '')}\n")
    out.flush()


def run_validate(
    paths: Sequence[str | os.PathLike[str]],
    *,
    language: str | None = None,
    as_json: bool = False,
    report: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    compiler: bool = True,
    max_bytes: int | None = None,
    compare: Sequence[str | os.PathLike[str]] | None = None,
    labels: Sequence[str] | None = None,
    allow_unresolved: bool = False,
    stream=None,
) -> int:
    """Check ``paths``, print JSON lines or a summary, write a report; return the exit code.

    ``compare`` checks a second set of inputs (e.g. unconstrained samples) and puts it
    beside the first in the report, named by ``labels``.  The exit code covers ``paths``:
    0 = everything valid, 1 = invalid code found, 2 = some input could not be checked.
    ``allow_unresolved`` passes files whose only compiler errors are references to code outside them
    (imports, headers, crates this machine lacks; the language's ``[compiler] unresolved`` patterns).
    """
    out = stream or sys.stdout
    if language is not None:
        get_language(language)  # an unknown --lang is one line on stderr, before any work
    for p in [*paths, *(compare or ())]:
        if not Path(p).exists():
            raise InputError(f"{p}: no such file or directory")
    def emit(record: dict[str, Any]) -> dict[str, Any]:
        _write_record(record, as_json, out)
        return record

    records, interrupted = write_each(iter_check_paths(
        paths, jobs=jobs, compiler=compiler, language=language,
        max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else max_bytes, allow_unresolved=allow_unresolved,
    ), emit)
    if interrupted:
        sys.stderr.write(f"interrupted: {len(records)} result(s) written\n")
        return 130
    if not as_json:
        checked = [r for r in records if r.get("ok") is not None]
        skipped = sum(1 for r in records if r.get("skipped"))
        sys.stderr.write(f"{sum(1 for r in checked if r['ok'])}/{len(checked)} valid"
                         + (f", {skipped} skipped" if skipped else "") + "\n")
    not_samples = [r["path"] for r in records if r.get("skipped") == NOT_SAMPLES]
    if not_samples:
        sys.stderr.write(f"note: skipped {len(not_samples)} JSONL file(s) that are not samples files: "
                         f"{', '.join(not_samples[:3])}{' ...' if len(not_samples) > 3 else ''}\n")
    if not any(r.get("ok") is not None or r.get("error") for r in records):
        raise InputError(f"nothing to check in {', '.join(str(p) for p in paths)}: no source file of a known "
                         f"language and no samples ({len(records)} file(s) skipped)")
    other = None
    if compare:
        if report is None:
            raise InputError("--compare needs --report to put the two runs side by side")
        other = check_paths(
            compare,
            jobs=jobs,
            compiler=compiler,
            language=language,
            max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else max_bytes,
            allow_unresolved=allow_unresolved,
        )
    if labels is not None and len(labels) != (2 if compare else 1):
        raise InputError(f"--labels needs {2 if compare else 1} comma-separated names, got {len(labels)}")
    if report is not None:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        write_report(records, report, compare=other, labels=labels)
        print(f"report: {report}", file=sys.stderr)
    return exit_code(records)
