"""Compiler front ends as data: a ``[compiler]`` table → :class:`CompilerSpec` → a driver.

Drivers (registered in :data:`DRIVERS`):

- ``python``: in-process ``compile(src, name, "exec", dont_inherit=True)`` (it parses, never runs);
- ``command``: run an argv template on a temp file, in a :class:`~treediff.sandbox.Sandbox`, and
  parse its diagnostics;
- ``node-worker``: a persistent, sandboxed node process doing what ``node --check`` does,
  falling back to the ``command`` driver (the spec's argv) when it cannot start;
- ``javac-worker``: the ``command`` driver's javac run inside a persistent, sandboxed JVM (the same compiler
  and arguments, without a JVM start per file), falling back to the command the same way;
- ``go-worker``: a persistent, sandboxed ``go/types`` checker that rejects the files it is sure are broken with
  the errors ``go build`` gives; every other file goes to the ``command`` driver.

Only diagnostics located in the checked file are kept: an error the compiler reports in another
file (an ``#include`` of ``/etc/passwd``) is never copied, and a message's ``withhold`` parts (a
compile-time panic's text) are withheld unless they appear in the checked source.  A timeout, a
resource limit or a crash of the compiler is no verdict (``ok is None``).

Nothing here names a language; the schema is in ``docs/validity.md``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from treediff.errors import GrammarError
from treediff.registry import Registry
from treediff.sandbox import COMPILE_LIMITS, Limits, Sandbox
from treediff.validity.go_worker import get_go_worker
from treediff.validity.javac_worker import get_javac_worker, java_beside
from treediff.validity.node_worker import get_worker

__all__ = [
    "CompilerSpec",
    "Diagnostic",
    "CompileOutcome",
    "DRIVERS",
    "compiler_spec",
    "run_compiler",
    "compiler_version",
    "tools_dir",
]

DEFAULT_TIMEOUT = 30.0
_FILE_NAME_SAFE = re.compile(r"^[A-Za-z_$][\w$]{0,200}$")
_MESSAGE_CHARS = 300
_WITHHELD = "<withheld: not from the checked file>"
#: Compiler output that means it ran out of its memory limit (a limit, not a verdict on the code).
_OUT_OF_MEMORY = re.compile(r"out of memory|virtual memory exhausted|cannot allocate memory|std::bad_alloc|"
                            r"OutOfMemoryError|memory allocation of \d+ bytes failed|Could not reserve enough space|"
                            r"insufficient memory for the Java Runtime",
                            re.IGNORECASE)
#: A crash of the checker itself (an internal compiler error).
_CRASHED = re.compile(r"internal compiler error|error: the compiler unexpectedly panicked|"
                      r"An exception has occurred in the compiler|"
                      r"A fatal error has been detected by the Java Runtime|"
                      r"^panic: .*\n+goroutine \d+ \[running\]:", re.IGNORECASE | re.MULTILINE)  # a Go-built checker


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
    The keys that tell which errors about names are ``unresolved`` (``unresolved_names``, ``imports``,
    ``failed_imports``, ``import_segment``, ``outside_names``, ``value_use``, ``type_use``, ``package_path``,
    ``unresolved_members``, ``inherits``) and ``name_problems`` (a problem about one name that a file may
    have of its own, e.g. a name a sibling file declares, set aside by a repair whose given file does not
    parse: ``treediff.sample.record.GivenCode``) are described in ``docs/grammars.md`` ("[compiler]"); in
    short, a name declared nowhere is ``unresolved`` only when something this machine lacks could provide
    it, else a ``compile_error``.

    ``stops`` lists regexes over a diagnostic's message for errors after which the compiler checks
    nothing more (gcc's fatal missing header): the verdict then rests on tree-sitter, with a note.

    Sandbox (``docs/validity.md``): ``memory_mb`` is the address-space limit (a JVM needs more
    than the default), ``sandbox_paths`` are host paths the compiler reads besides ``/usr``
    (``~`` expands; missing ones are skipped), ``sandbox_env`` names environment variables passed
    through (nothing else is), ``env`` sets variables for the run (values may use ``{dir}`` and
    ``{outdir}``: Go's build cache in the jail's scratch dir), and ``withhold`` lists regexes whose
    group 1, in a diagnostic's message, is replaced unless it occurs in the checked source (text a
    compile-time panic prints).

    ``bin_paths`` are directories searched for ``binary`` before ``PATH`` (``{tools}`` is
    :func:`tools_dir`, where ``make setup`` installs project-local checkers such as ``tsc``).
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
    unresolved_names: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    outside_names: str | None = None
    value_use: str | None = None
    type_use: str | None = None
    package_path: str | None = None
    failed_imports: bool = False
    import_segment: str | None = None
    name_problems: tuple[str, ...] = ()
    unresolved_members: tuple[str, ...] = ()
    inherits: str | None = None
    stops: tuple[str, ...] = ()
    memory_mb: int = COMPILE_LIMITS.memory_mb
    sandbox_paths: tuple[str, ...] = ()
    sandbox_env: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    bin_paths: tuple[str, ...] = ()
    withhold: tuple[str, ...] = ()
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
        for key in _STRING_LISTS:
            if key in table and not (isinstance(table[key], list) and all(isinstance(a, str) for a in table[key])):
                raise GrammarError(f"{where} [compiler].{key} must be a list of strings, got {table[key]!r}")
        env = table.get("env", {})
        if not (isinstance(env, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
            raise GrammarError(f"{where} [compiler].env must be a table of strings, got {env!r}")
        for key in _REGEX_KEYS:
            if not isinstance(table.get(key, ""), str):
                raise GrammarError(f"{where} [compiler].{key} must be a regex string, got {table[key]!r}")
        if table.get("column_unit", "char") not in ("char", "byte"):
            raise GrammarError(f"{where} [compiler].column_unit must be 'char' or 'byte'")
        patterns = [(key, table[key]) for key in ("error_regex", "file_name_regex", *_REGEX_KEYS) if table.get(key)]
        if not isinstance(table.get("failed_imports", False), bool):
            raise GrammarError(f"{where} [compiler].failed_imports must be true or false, "
                               f"got {table['failed_imports']!r}")
        patterns += [(f"{key}: {p!r}", p) for key in ("unresolved", "unresolved_names", "unresolved_members", "imports",
                                                       "stops", "withhold", "name_problems")
                     for p in table.get(key, ())]
        for label, pattern in patterns:
            try:
                re.compile(pattern, re.MULTILINE)
            except re.error as exc:
                raise GrammarError(f"{where} [compiler].{label} is not a valid regex: {exc}") from None
        groups = [("unresolved_members", p, {"type"}) for p in table.get("unresolved_members", ())]
        groups += [("name_problems", p, {"name"}) for p in table.get("name_problems", ())]
        groups += [("inherits", table["inherits"], {"type", "base"})] if table.get("inherits") else []
        for key, pattern, needed in groups:
            if not needed <= set(re.compile(pattern).groupindex):
                raise GrammarError(f"{where} [compiler].{key} {pattern!r} needs the named group(s) {sorted(needed)}")
        if driver != "python" and not table.get("argv"):
            raise GrammarError(f"{where} [compiler] driver {driver!r} needs an 'argv' template")
        kwargs = {k: v for k, v in table.items() if k in known}
        for key in _STRING_LISTS:
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        kwargs["timeout"] = float(kwargs.get("timeout", DEFAULT_TIMEOUT))
        kwargs["env"] = dict(env)
        memory = kwargs.get("memory_mb", COMPILE_LIMITS.memory_mb)
        if not isinstance(memory, int) or isinstance(memory, bool) or memory < 64:
            raise GrammarError(f"{where} [compiler].memory_mb must be an int >= 64, got {memory!r}")
        return cls(**kwargs, extra={k: v for k, v in table.items() if k not in known})

    def is_unresolved(self, message: str) -> bool:
        """Whether a diagnostic's message is one of the ``unresolved`` kinds (outside the file's reach)."""
        return any(re.search(pattern, message) for pattern in self.unresolved)

    def stopped_at(self, diagnostics: tuple[Diagnostic, ...]) -> Diagnostic | None:
        """The first diagnostic after which the compiler checked nothing more (``stops``), if any."""
        return next((d for d in diagnostics if d.message and any(re.search(p, d.message) for p in self.stops)), None)

    def is_unresolved_name(self, message: str) -> bool:
        """Whether a diagnostic's message is one of the ``unresolved_names`` kinds (a name not declared)."""
        return any(re.search(pattern, message) for pattern in self.unresolved_names)

    def problem_name(self, message: str) -> str | None:
        """The one name a diagnostic is about, when it is a problem a file may have of its own (``name_problems``)."""
        return _first_group(self.name_problems, message, "name")

    def member_owner(self, message: str) -> str | None:
        """The type a diagnostic says lacks a member (``unresolved_members``' ``type`` group), if any."""
        return _first_group(self.unresolved_members, message, "type")

    def inherits_from_outside(self, source: str, type_name: str, imported: tuple[frozenset[str], bool]) -> bool:
        r"""Whether the source declares ``type_name`` extending a base an import could provide, directly
        or through other types of the file (``inherits``).

        >>> spec = CompilerSpec("t", "command", argv=("x",), inherits=r"class (?P<type>[A-Z]) extends (?P<base>[\w.]+)")
        >>> src = "class A extends React.Component {}\nclass B extends A {}\nclass C extends Local {}"
        >>> [spec.inherits_from_outside(src, t, (frozenset({"React"}), False)) for t in "ABC"]
        [True, True, False]
        """
        if not self.inherits:
            return False
        names, glob = imported
        bases: dict[str, set[str]] = {}
        for m in re.finditer(self.inherits, source, re.MULTILINE):
            bases.setdefault(m.group("type"), set()).add(m.group("base"))
        seen, todo = set(), [type_name]
        while todo:
            current = todo.pop()
            for base in bases.get(current, set()) - seen:
                seen.add(base)
                head = _IDENTIFIER.match(base)
                if glob or (head is not None and head.group() in names):
                    return True
                todo.append(base)
        return False

    def imported(self, source: str, error_lines: frozenset[int] | None = None) -> tuple[frozenset[str], bool]:
        """The identifiers that the source's import statements (``imports``) mention, and whether
        one of them is a glob (its ``glob`` group matched), which could provide any name.  With
        ``failed_imports``, only the statements on whose lines (1-based) the compiler reported an
        error (``error_lines``) count, and those that mention a name such a statement provides (``extends
        Base`` where ``Base`` comes from an import that failed).

        >>> spec = CompilerSpec("j", "subprocess", argv=("x",), imports=(r"^\\s*import\\s(?=(?P<glob>[^;]*\\*)?)[^;]*;",))
        >>> names, glob = spec.imported("import com.foo.Bar;\\nclass A {}")
        >>> sorted(names), glob
        (['Bar', 'com', 'foo', 'import'], False)
        >>> spec.imported("import com.foo.*;")[1]
        True
        >>> failed = CompilerSpec("j", "subprocess", argv=("x",), imports=spec.imports, failed_imports=True)
        >>> source = "import java.util.*;\\nimport com.foo.*;"
        >>> failed.imported(source, frozenset({2}))[1], failed.imported(source, frozenset())[1]
        (True, False)
        """
        matches = [m for pattern in self.imports for m in re.finditer(pattern, source, re.MULTILINE)]
        if self.failed_imports:
            lines = error_lines or frozenset()
            failed = [m for m in matches if not lines.isdisjoint(range(source.count("\n", 0, m.start()) + 1,
                                                                       source.count("\n", 0, m.end()) + 2))]
            failed_names = {name for m in failed for name in _IDENTIFIER.findall(m.group())}
            # and a statement naming what a failed one provides (`extends Base`, Base from a failed import)
            matches = failed + [m for m in matches if m not in failed
                                and not failed_names.isdisjoint(_IDENTIFIER.findall(m.group()))]
        names = {n.group() for m in matches for n in _IDENTIFIER.finditer(m.group())
                 if not (self.import_segment and re.match(self.import_segment, m.group()[n.end():]))}
        glob = any(m.groupdict().get("glob") for m in matches)
        return frozenset(names), glob

    def limits(self, timeout: float) -> Limits:
        """The sandbox limits of one check: the spec's memory, ``timeout`` as wall and CPU clock."""
        return Limits(memory_mb=self.memory_mb, file_size_mb=COMPILE_LIMITS.file_size_mb).with_wall(timeout)

    def sandbox(self, timeout: float) -> Sandbox:
        """A fresh :class:`~treediff.sandbox.Sandbox` set up for this compiler."""
        env = {k: os.environ[k] for k in self.sandbox_env if k in os.environ}
        return Sandbox(self.limits(timeout), readable=self.sandbox_paths, env=env)

    def binary_path(self) -> str | None:
        """Where the deciding binary is: in ``bin_paths``, else on ``PATH`` (``None``: missing)."""
        if self.binary is None:
            return "<in-process>"
        for folder in self.bin_paths:
            found = shutil.which(self.binary, path=os.path.expanduser(folder.replace("{tools}", str(tools_dir()))))
            if found:
                return found
        return shutil.which(self.binary)

    @property
    def is_available(self) -> bool:
        return self.binary_path() is not None


_IDENTIFIER = re.compile(r"[^\W\d][\w$]*")
#: ``[compiler]`` keys that hold one regex over a name or the text around it (``error_regex`` and
#: ``file_name_regex`` are regexes too, checked with them).
_REGEX_KEYS = ("outside_names", "value_use", "type_use", "import_segment", "package_path", "inherits")


def _first_group(patterns: tuple[str, ...], message: str, group: str) -> str | None:
    """``group`` of the first of ``patterns`` that ``message`` matches (searched), if any."""
    for pattern in patterns:
        m = re.search(pattern, message)
        if m:
            return m.group(group)
    return None


_STRING_LISTS = ("argv", "version", "unresolved", "unresolved_names", "unresolved_members", "imports", "stops",
                 "name_problems", "sandbox_paths", "sandbox_env", "bin_paths", "withhold")


def tools_dir() -> Path:
    """Where project-local checkers live: ``$TREEDIFF_TOOLS``, else ``.tools`` beside the ``treediff`` package
    (``make setup`` installs TypeScript's ``tsc`` into ``.tools/node``)."""
    return Path(os.environ.get("TREEDIFF_TOOLS") or Path(__file__).resolve().parents[2] / ".tools")
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


def _parse_diagnostics(spec: CompilerSpec, output: str, names: tuple[str, ...],
                       source: str) -> tuple[tuple[Diagnostic, ...], int]:
    """Diagnostics located in the checked file (named ``names`` in the output), and how many others were dropped.

    The text a match has before its ``line`` group is where the compiler says the error is; an error
    in any other file (an included one) is counted, never copied.
    """
    if not spec.error_regex:
        return (), 0
    found, elsewhere = [], 0
    for m in re.finditer(spec.error_regex, output, re.MULTILINE):
        g = m.groupdict()
        cut = m.start("line") if g.get("line") is not None else m.start("message")
        where = output[m.start():cut].strip().rstrip(":(").strip()
        if where and where not in names:
            elsewhere += 1
            continue

        def num(key: str) -> int | None:
            v = g.get(key)
            return int(v) if v and v.isdigit() else None

        col = num("col")
        if col is None and g.get("caret") is not None:
            col = len(g["caret"].expandtabs(1)) + 1
        message = _withhold(spec, (g.get("message") or "").strip(), source)
        found.append(Diagnostic(message, num("line"), col, num("end_line"), num("end_col"), spec.column_unit))
    return tuple(found), elsewhere


def _withhold(spec: CompilerSpec, message: str, source: str) -> str:
    """One line, trimmed, with each ``withhold`` group not found in the checked source replaced."""
    message = message.splitlines()[0] if message else ""
    for pattern in spec.withhold:
        def keep_or_hide(m: re.Match) -> str:
            text = m.group(1)
            if not text or text in source:
                return m.group(0)
            return m.group(0)[: m.start(1) - m.start()] + _WITHHELD + m.group(0)[m.end(1) - m.start():]

        message = re.sub(pattern, keep_or_hide, message)
    return message[:_MESSAGE_CHARS]


def _no_verdict(spec: CompilerSpec, returncode: int, output: str, timed_out: bool, reason: str,
                timeout: float) -> str | None:
    """Why the compiler gave no verdict (timeout, limit, crash), or ``None`` when it gave one."""
    if timed_out:
        return f"{spec.name} timed out after {timeout:g}s"
    if returncode < 0:
        return f"{spec.name} was {reason}"
    if returncode != 0 and _OUT_OF_MEMORY.search(output):
        return f"{spec.name} ran out of its memory limit ({spec.memory_mb} MB)"
    if returncode != 0 and _CRASHED.search(output):
        return f"{spec.name} crashed (internal compiler error)"
    return None


def _command_driver(spec: CompilerSpec, source: bytes, path: str | None, timeout: float) -> CompileOutcome:
    binary = spec.binary_path()
    if binary is None:
        return CompileOutcome(None, note=f"{spec.binary} not found on PATH")
    name = _temp_name(spec, source, path)
    with spec.sandbox(timeout) as box:
        subs = {"outdir": box.mkdir("out"), "dir": box.mkdir("src"), "file": box.write(f"src/{name}", source)}
        argv = [a.format(**subs) for a in spec.argv]
        if spec.binary and argv and argv[0] == spec.binary:
            argv[0] = binary
        result = box.run(argv, cwd="src", env={k: v.format(**subs) for k, v in spec.env.items()})
    output = (result.stderr + b"\n" + result.stdout).decode("utf-8", "replace")
    note = _no_verdict(spec, result.returncode, output, result.timed_out, result.reason, timeout)
    if note is not None:
        return CompileOutcome(None, note=note)
    return _outcome(spec, result.returncode, output, source, (subs["file"], name, f"./{name}"))


def _outcome(spec: CompilerSpec, returncode: int, output: str, source: bytes, names: tuple[str, ...]) -> CompileOutcome:
    """The verdict of a compiler run that gave one: its exit status, and its diagnostics located in the file
    (``names``: how the output may name it)."""
    if returncode == 0:
        return CompileOutcome(True)
    text = source.decode("utf-8", "replace")
    diags, elsewhere = _parse_diagnostics(spec, output, names, text)
    if not diags:
        message = (f"{spec.name} reported {elsewhere} error(s) in other files this one includes (not shown)"
                   if elsewhere else f"{spec.name} rejected the file (exit status {returncode}) "
                                     "without a diagnostic located in it")
        diags = (Diagnostic(message),)
    return CompileOutcome(False, diags)


def _javac_worker_driver(spec: CompilerSpec, source: bytes, path: str | None, timeout: float) -> CompileOutcome:
    """The ``command`` driver's javac run, in a JVM kept warm between files (:mod:`treediff.validity.javac_worker`);
    the command itself where the JDK has no ``java`` beside ``javac`` or the worker cannot start."""
    binary = spec.binary_path()
    if binary is None:
        return CompileOutcome(None, note=f"{spec.binary} not found on PATH")
    java = java_beside(binary)
    if java is None or not spec.argv:
        return _command_driver(spec, source, path, timeout)
    name = _temp_name(spec, source, path)
    try:
        worker = get_javac_worker(java, spec.limits(timeout), spec.sandbox_paths)
        returncode, raw, file = worker.compile(name, source, spec.argv[1:], timeout=timeout)
    except TimeoutError:  # the worker was killed; a second try would take as long
        return CompileOutcome(None, note=f"{spec.name} timed out after {timeout:g}s")
    except (OSError, ValueError):
        return _command_driver(spec, source, path, timeout)
    output = raw.decode("utf-8", "replace")
    note = _no_verdict(spec, returncode, output, False, "", timeout)
    if note is not None:
        return CompileOutcome(None, note=note)
    return _outcome(spec, returncode, output, source, (file, name, f"./{name}"))


def _go_worker_driver(spec: CompilerSpec, source: bytes, path: str | None, timeout: float) -> CompileOutcome:
    """A file the Go worker (:mod:`treediff.validity.go_worker`) is sure is broken: rejected with its errors;
    every other file, and any file when the worker cannot run: the ``command`` driver (``go build``)."""
    binary = spec.binary_path()
    if binary is None:
        return CompileOutcome(None, note=f"{spec.binary} not found on PATH")
    name = _temp_name(spec, source, path)
    try:
        worker = get_go_worker(binary, spec.limits(timeout), spec.sandbox_paths, spec.env)
        errors = worker.check(name, source, timeout=timeout)
    except TimeoutError:  # the worker was killed; a second try would take as long
        return CompileOutcome(None, note=f"{spec.name} timed out after {timeout:g}s")
    except (OSError, ValueError):
        errors = None
    if errors is None:
        return _command_driver(spec, source, path, timeout)
    return _outcome(spec, 1, "\n".join(errors), source, (name, f"./{name}"))


def _node_format(path: str | None) -> str | None:
    """The module format node gives a file: by extension, else the nearest package.json's ``type``."""
    if path is None:
        return None
    p = Path(path).resolve()
    if p.suffix in (".mjs", ".mts"):
        return "module"
    if p.suffix in (".cjs", ".cts"):
        return "commonjs"
    for folder in p.parents:
        pkg = folder / "package.json"
        if pkg.is_file():
            try:
                kind = json.loads(pkg.read_bytes()[:1_000_000]).get("type")
            except (OSError, ValueError, AttributeError):
                return None
            return kind if kind in ("module", "commonjs") else None
    return None


def _node_worker_driver(spec: CompilerSpec, source: bytes, path: str | None, timeout: float) -> CompileOutcome:
    binary = spec.binary_path()
    if binary is None:
        return CompileOutcome(None, note=f"{spec.binary} not found on PATH")
    # the worker sees no host file: it is told the format, and names the source by its base name only
    filename = "/" + (Path(path).name if path else _temp_name(spec, source, path))
    try:
        worker = get_worker(binary, spec.limits(timeout), spec.sandbox_paths)
        verdict = worker.check(source.decode("utf-8", "surrogateescape"), filename, format=_node_format(path),
                               timeout=timeout)
    except TimeoutError:  # the worker was killed; a second try would take as long
        return CompileOutcome(None, note=f"{spec.name} timed out after {timeout:g}s")
    except (OSError, ValueError):
        return _command_driver(spec, source, path, timeout)
    if verdict.ok:
        return CompileOutcome(True)
    message = _withhold(spec, verdict.message, source.decode("utf-8", "replace"))
    return CompileOutcome(False, (Diagnostic(message, verdict.line, verdict.col, unit="char"),))


DRIVERS.register("python", _python_driver)
DRIVERS.register("command", _command_driver)
DRIVERS.register("node-worker", _node_worker_driver)
DRIVERS.register("javac-worker", _javac_worker_driver)
DRIVERS.register("go-worker", _go_worker_driver)


def compiler_version(spec: CompilerSpec, timeout: float = 10.0) -> str | None:
    """The first line of the spec's version command (``None`` if it cannot run)."""
    if spec.driver == "python" and not spec.version:
        import sys

        return f"python {sys.version.split()[0]}"
    binary = spec.binary_path()
    if not spec.version or binary is None:
        return None
    argv = [binary if i == 0 and a == spec.binary else a for i, a in enumerate(spec.version)]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout or proc.stderr).decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else None
