"""Compiler front ends as data: a ``[compiler]`` table → :class:`CompilerSpec` → a driver.

Drivers (registered in :data:`DRIVERS`):

- ``python``: in-process ``compile(src, name, "exec", dont_inherit=True)``;
- ``command``: run an argv template on a temp file and parse its diagnostics;
- ``node-worker``: a persistent node process doing what ``node --check`` does,
  falling back to the ``command`` driver (the spec's argv) when it cannot start.

Nothing here names a language; the schema is in ``docs/validity.md``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from treediff.errors import GrammarError
from treediff.registry import Registry
from treediff.validity.node_worker import get_worker

__all__ = [
    "CompilerSpec",
    "Diagnostic",
    "CompileOutcome",
    "DRIVERS",
    "compiler_spec",
    "run_compiler",
    "compiler_version",
]

DEFAULT_TIMEOUT = 30.0
_FILE_NAME_SAFE = re.compile(r"^[A-Za-z_$][\w$]{0,200}$")


@dataclass(frozen=True)
class Diagnostic:
    """One compiler error: 1-based line and column (``None`` when unknown), in ``unit``."""

    message: str
    line: int | None = None
    col: int | None = None
    end_line: int | None = None
    end_col: int | None = None
    unit: str = "char"


@dataclass(frozen=True)
class CompileOutcome:
    """What a front end said.  ``ok is None`` means it could not decide (timeout, crash)."""

    ok: bool | None
    diagnostics: tuple[Diagnostic, ...] = ()
    note: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class CompilerSpec:
    """A validated ``[compiler]`` table.

    ``argv`` may use ``{file}`` (the source file), ``{dir}`` (its temp dir) and
    ``{outdir}`` (a scratch output dir).  ``file_name`` is the temp file's stem;
    ``file_name_regex`` (group 1) derives it from the source instead, e.g. Java's
    public class name.  ``error_regex`` (multiline) has named groups ``message`` and
    optionally ``line``, ``col``, ``end_line``, ``end_col`` and ``caret`` (leading
    whitespace of a ``^`` marker line; its length gives the column).  ``unresolved`` lists regexes
    (searched in a diagnostic's message) for errors that only the code's environment can resolve: an
    import, header, module or name defined outside the file (``package com.foo does not exist``,
    ``missing.h: No such file or directory``).  They become problems of kind ``unresolved``.
    """

    name: str
    driver: str
    binary: str | None = None
    argv: tuple[str, ...] = ()
    suffix: str = ""
    file_name: str = "main"
    file_name_regex: str | None = None
    error_regex: str | None = None
    column_unit: str = "char"
    version: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    unresolved: tuple[str, ...] = ()
    notes: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str) -> "CompilerSpec | None":
        """Parse a raw table; an empty table means "no compiler front end"."""
        if not table:
            return None
        table = dict(table)
        known = set(cls.__dataclass_fields__) - {"extra"}
        for key in ("name", "driver"):
            if key not in table:
                raise GrammarError(f"{where} [compiler] needs {key!r}")
        driver = str(table["driver"])
        DRIVERS.resolve(driver)  # raises with the valid choices
        for key in ("argv", "version", "unresolved"):
            if key in table and not (isinstance(table[key], list) and all(isinstance(a, str) for a in table[key])):
                raise GrammarError(f"{where} [compiler].{key} must be a list of strings, got {table[key]!r}")
        if table.get("column_unit", "char") not in ("char", "byte"):
            raise GrammarError(f"{where} [compiler].column_unit must be 'char' or 'byte'")
        patterns = [(key, table[key]) for key in ("error_regex", "file_name_regex") if table.get(key)]
        patterns += [(f"unresolved: {p!r}", p) for p in table.get("unresolved", ())]
        for label, pattern in patterns:
            try:
                re.compile(pattern, re.MULTILINE)
            except re.error as exc:
                raise GrammarError(f"{where} [compiler].{label} is not a valid regex: {exc}") from None
        if driver != "python" and not table.get("argv"):
            raise GrammarError(f"{where} [compiler] driver {driver!r} needs an 'argv' template")
        kwargs = {k: v for k, v in table.items() if k in known}
        for key in ("argv", "version", "unresolved"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        kwargs["timeout"] = float(kwargs.get("timeout", DEFAULT_TIMEOUT))
        return cls(**kwargs, extra={k: v for k, v in table.items() if k not in known})

    def is_unresolved(self, message: str) -> bool:
        """Whether a diagnostic's message is one of the ``unresolved`` kinds (outside the file's reach)."""
        return any(re.search(pattern, message) for pattern in self.unresolved)

    def binary_path(self) -> str | None:
        """Where the deciding binary is on ``PATH`` (``None``: missing)."""
        if self.binary is None:
            return "<in-process>"
        return shutil.which(self.binary)

    @property
    def is_available(self) -> bool:
        return self.binary_path() is not None


_SPECS: dict[int, CompilerSpec | None] = {}


def compiler_spec(language: Any) -> CompilerSpec | None:
    """The :class:`CompilerSpec` of a :class:`~treediff.syntax.Language` (cached)."""
    key = id(language)
    if key not in _SPECS:
        _SPECS[key] = CompilerSpec.from_table(language.compiler, f"{language.name}.toml")
    return _SPECS[key]


# -- drivers ---------------------------------------------------------------------------
Driver = Callable[[CompilerSpec, bytes, "str | None", float], CompileOutcome]
DRIVERS: Registry[Driver] = Registry("compiler driver", error=GrammarError)


def run_compiler(spec: CompilerSpec, source: bytes, path: str | None = None, timeout: float | None = None) -> CompileOutcome:
    """Run a spec's driver on UTF-8 source bytes; never raises on invalid code."""
    start = time.perf_counter()
    outcome = DRIVERS.resolve(spec.driver)(spec, source, path, spec.timeout if timeout is None else timeout)
    return CompileOutcome(outcome.ok, outcome.diagnostics, outcome.note, time.perf_counter() - start)


def _python_driver(spec: CompilerSpec, source: bytes, path: str | None, timeout: float) -> CompileOutcome:
    # bytes, so that a coding cookie means what it means to CPython reading the file
    name = path or "<treediff>"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings (bad escapes, `is` with literals) are not errors
        try:
            compile(source, name, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return CompileOutcome(False, (_from_syntax_error(exc),))
        except (ValueError, MemoryError, RecursionError, OverflowError) as exc:
            return CompileOutcome(False, (Diagnostic(f"{type(exc).__name__}: {exc}"),))
    return CompileOutcome(True)


def _from_syntax_error(exc: SyntaxError) -> Diagnostic:
    kind = type(exc).__name__
    line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
    col = exc.offset if isinstance(exc.offset, int) and exc.offset > 0 else None
    end_line = getattr(exc, "end_lineno", None)
    end_col = getattr(exc, "end_offset", None)
    if not (isinstance(end_line, int) and end_line > 0 and isinstance(end_col, int) and end_col > 0):
        end_line = end_col = None
    return Diagnostic(f"{kind}: {exc.msg}", line, col, end_line, end_col, "char")


def _temp_name(spec: CompilerSpec, source: bytes, path: str | None) -> str:
    if spec.file_name_regex:
        m = re.search(spec.file_name_regex, source.decode("utf-8", "replace"), re.MULTILINE)
        if m and _FILE_NAME_SAFE.match(m.group(1)):
            return m.group(1) + spec.suffix
    if path and spec.extra.get("keep_path_name", False):
        stem = Path(path).stem
        if _FILE_NAME_SAFE.match(stem):
            return stem + spec.suffix
    return spec.file_name + spec.suffix


def _parse_diagnostics(spec: CompilerSpec, output: str) -> tuple[Diagnostic, ...]:
    if not spec.error_regex:
        return ()
    found = []
    for m in re.finditer(spec.error_regex, output, re.MULTILINE):
        g = m.groupdict()

        def num(key: str) -> int | None:
            v = g.get(key)
            return int(v) if v and v.isdigit() else None

        col = num("col")
        if col is None and g.get("caret") is not None:
            col = len(g["caret"].expandtabs(1)) + 1
        found.append(Diagnostic((g.get("message") or "").strip(), num("line"), col, num("end_line"), num("end_col"), spec.column_unit))
    return tuple(found)


def _command_driver(spec: CompilerSpec, source: bytes, path: str | None, timeout: float) -> CompileOutcome:
    binary = spec.binary_path()
    if binary is None:
        return CompileOutcome(None, note=f"{spec.binary} not found on PATH")
    with tempfile.TemporaryDirectory(prefix="treediff-check-") as tmp:
        src_dir = Path(tmp, "src")
        out_dir = Path(tmp, "out")
        src_dir.mkdir()
        out_dir.mkdir()
        file = src_dir / _temp_name(spec, source, path)
        file.write_bytes(source)
        subs = {"file": str(file), "dir": str(src_dir), "outdir": str(out_dir)}
        argv = [a.format(**subs) for a in spec.argv]
        if spec.binary and argv and argv[0] == spec.binary:
            argv[0] = binary
        env = {**os.environ, "LC_ALL": "C", "LANG": "C", "NO_COLOR": "1", "TERM": "dumb"}
        try:
            proc = subprocess.run(argv, cwd=src_dir, capture_output=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return CompileOutcome(None, note=f"{spec.name} timed out after {timeout:g}s")
        except OSError as exc:
            return CompileOutcome(None, note=f"{spec.name} could not run: {exc}")
    output = (proc.stderr + b"\n" + proc.stdout).decode("utf-8", "replace")
    if proc.returncode == 0:
        return CompileOutcome(True)
    if proc.returncode < 0:
        return CompileOutcome(None, note=f"{spec.name} was killed by signal {-proc.returncode}")
    diags = _parse_diagnostics(spec, output)
    if not diags:
        tail = output.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        diags = (Diagnostic(tail[0][:500]),)
    return CompileOutcome(False, diags)


def _node_worker_driver(spec: CompilerSpec, source: bytes, path: str | None, timeout: float) -> CompileOutcome:
    binary = spec.binary_path()
    if binary is None:
        return CompileOutcome(None, note=f"{spec.binary} not found on PATH")
    filename = str(Path(path).resolve()) if path else None
    if filename is None:
        # no file: behave like `node --check` on a temp file named as the command driver would
        filename = str(Path(tempfile.gettempdir(), "treediff-check", _temp_name(spec, source, path)))
    try:
        verdict = get_worker(binary).check(source.decode("utf-8", "surrogateescape"), filename, timeout=timeout)
    except (OSError, TimeoutError, ValueError):
        return _command_driver(spec, source, path, timeout)
    if verdict.ok:
        return CompileOutcome(True)
    return CompileOutcome(False, (Diagnostic(verdict.message, verdict.line, verdict.col, unit="char"),))


DRIVERS.register("python", _python_driver)
DRIVERS.register("command", _command_driver)
DRIVERS.register("node-worker", _node_worker_driver)


def compiler_version(spec: CompilerSpec, timeout: float = 10.0) -> str | None:
    """The first line of the spec's version command (``None`` if it cannot run)."""
    if spec.driver == "python" and not spec.version:
        import sys

        return f"python {sys.version.split()[0]}"
    if not spec.version or spec.binary_path() is None:
        return None
    try:
        proc = subprocess.run(list(spec.version), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout or proc.stderr).decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else None
