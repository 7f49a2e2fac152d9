"""Is this code valid?  Tree-sitter first, then the language's real compiler front end.

:func:`check` never raises on invalid code; it returns a :class:`ValidityResult`.
When a compiler ran, its verdict *is* the verdict: tree-sitter is permissive in
places (``return`` at module level parses fine in tree-sitter-python) and strict in
others, so tree-sitter findings the compiler disagrees with become ``warnings``.

>>> r = check("return 1\\n", "python")
>>> r.ok, r.level, r.problems[0].kind, r.problems[0].start_line
(False, 'compiler:python', 'compile_error', 1)
>>> check("x = (1,\\n", "python", compiler=False).problems[0].kind
'ts_error'

Verdicts have three values (:data:`VERDICTS`): ``valid``, ``invalid`` and ``unknown`` (the
compiler timed out, hit a resource limit or crashed; a parser crash in a batch worker).
``unknown`` is never ``ok``.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from treediff.errors import InputError
from treediff.syntax.language import Language, resolve_language
from treediff.syntax.tree import SyntaxTree, cached_parser, decode_source
from treediff.validity.compilers import CompileOutcome, CompilerSpec, compiler_spec, run_compiler
from treediff.validity.positions import LineIndex

__all__ = ["PROBLEM_KINDS", "VERDICTS", "Problem", "ValidityResult", "check", "check_tree"]

#: ``input_error`` marks text that cannot be source at all (binary, not UTF-8, over the size cap).
#: ``unresolved`` is a compiler error that only the code's environment can resolve (an import, header,
#: module or name defined outside the file: the language's ``[compiler] unresolved`` patterns).
PROBLEM_KINDS = ("ts_error", "ts_missing", "compile_error", "unresolved", "cfg_error", "input_error")
TS_LEVEL = "tree-sitter"
VERDICTS = ("valid", "invalid", "unknown")


@dataclass(frozen=True)
class Problem:
    """One finding.  Lines and columns are 1-based (columns in characters); bytes 0-based, half-open."""

    kind: str
    message: str
    start_line: int
    start_col: int
    end_line: int
    end_col: int
    start_byte: int
    end_byte: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Problem":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ValidityResult:
    """The verdict on one source.

    ``level`` is the strongest check that decided ``ok``: ``"tree-sitter"`` or
    ``"compiler:<name>"``.  ``compiler_missing`` names the compiler binary when the
    language has one but it is not installed; ``compiler_note`` says why a compiler
    that ran gave no verdict (timeout, resource limit, crash) or stopped early (a missing header,
    the ``[compiler] stops`` patterns).  In all these cases ``level`` stays
    ``"tree-sitter"``.  With no verdict, ``ok`` is false whatever tree-sitter thought; after an early
    stop, ``ok`` counts the compiler's findings up to the stop and tree-sitter's; a failing result
    with a ``compiler_note`` has ``verdict`` ``"unknown"``.  ``unresolved`` holds the compiler's ``unresolved`` problems when the check was
    asked to set them aside (``allow_unresolved=True``); ``ok`` then ignores them.  ``preexisting`` holds
    problems the sampler set aside because the code the user gave already had them (the same message on the
    same line outside the holes: :class:`treediff.sample.record.GivenCode`); ``ok`` ignores them too.
    """

    ok: bool
    level: str
    language: str
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    unresolved: tuple[Problem, ...] = ()
    preexisting: tuple[Problem, ...] = ()
    compiler_missing: str | None = None
    compiler_note: str | None = None
    num_lines: int = 0
    num_bytes: int = 0
    ts_seconds: float = 0.0
    compiler_seconds: float = 0.0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    verdict: str = ""

    def __post_init__(self) -> None:  # derived, so that dataclasses.replace(result, ok=...) stays consistent
        # a note means the compiler gave no full verdict, unless the check says the problems it found are real
        unknown = self.verdict == "unknown" or (bool(self.compiler_note) and self.verdict != "invalid")
        object.__setattr__(self, "verdict", "valid" if self.ok else ("unknown" if unknown else "invalid"))

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        d["problems"] = [p.to_dict() for p in self.problems]
        d["warnings"] = [p.to_dict() for p in self.warnings]
        d["unresolved"] = [p.to_dict() for p in self.unresolved]
        d["preexisting"] = [p.to_dict() for p in self.preexisting]
        d.update(self.extra)
        return d


def _ts_parse(data: bytes, lang: Language) -> SyntaxTree:
    return SyntaxTree(cached_parser(lang).parse(data), data, lang)


def _ts_problems(tree: SyntaxTree, index: LineIndex) -> list[Problem]:
    problems = []
    for node in tree.errors():
        n = node.ts_node
        start, end = n.start_byte, n.end_byte
        if n.is_missing:
            kind, message = "ts_missing", f"missing {n.type!r}"
        else:
            kind = "ts_error"
            snippet = tree.source[start:end].decode("utf-8", "replace").strip().replace("\n", " ")
            message = f"syntax error at {snippet[:40]!r}" if snippet else "syntax error"
        problems.append(_problem(kind, message, start, end, index))
    return problems


def _problem(kind: str, message: str, start: int, end: int, index: LineIndex) -> Problem:
    sl, sc = index.to_point(start)
    el, ec = index.to_point(end)
    return Problem(kind, message, sl, sc, el, ec, start, end)


def _compile_problems(outcome: CompileOutcome, index: LineIndex, spec: CompilerSpec) -> list[Problem]:
    problems = []
    text, imported = "", None  # the source and what its imports provide, worked out on first need
    for d in outcome.diagnostics:
        start = index.to_byte(d.line, d.col, unit=d.unit)
        if d.end_line is not None and d.end_col is not None:
            end = max(start, index.to_byte(d.end_line, d.end_col, unit=d.unit))
        else:  # no end: cover the rest of the token-ish run, at least one byte
            end = min(len(index.source), start + 1)
        kind = "unresolved" if d.message and spec.is_unresolved(d.message) else "compile_error"
        owner = spec.member_owner(d.message) if kind == "compile_error" and d.message else None
        if kind == "compile_error" and d.message and (owner is not None or spec.is_unresolved_name(d.message)):
            if imported is None:
                text = index.source.decode("utf-8", "replace")
                imported = spec.imported(text, frozenset(e.line for e in outcome.diagnostics if e.line is not None))
            if owner is not None:  # a member missing from a type of the file: unresolved when it inherits from an import
                kind = "unresolved" if spec.inherits_from_outside(text, owner, imported) else "compile_error"
            else:
                kind = _name_kind(index.source, start, imported, spec)
        problems.append(_problem(kind, d.message or "compile error", start, end, index))
    if not problems:
        problems.append(_problem("compile_error", "rejected by the compiler", 0, 0, index))
    return problems


_NAME_AT = re.compile(r"[^\W\d][\w$]*")
_CHAIN = re.compile(r"[^\W\d][\w$]*(?:\.[^\W\d][\w$]*)*$")  # the dotted names before a point


def _name_kind(data: bytes, start: int, imported: tuple[frozenset[str], bool], spec: CompilerSpec) -> str:
    """``unresolved`` for an undeclared name that something outside the file could provide (an
    import that names it, a glob, an ``outside_names`` match not used as a value), else
    ``compile_error``: a name declared nowhere, in a file importing nothing that could have it."""
    names, glob = imported
    after = data[start:start + 256].decode("utf-8", "replace")
    qualified = after.startswith(".")  # javac points at the dot of `Type.member`: the member of a known type
    m = _NAME_AT.match(after[1:] if qualified else after)
    name = "" if m is None else m.group()
    before = data[max(0, start - 256):start].decode("utf-8", "replace")
    if qualified and spec.package_path:  # `com.foo.Sibling`: a type of a package, which a sibling file may declare
        chain = _CHAIN.search(before)
        qualified = not (chain and re.fullmatch(spec.package_path, chain.group()))
    outside = bool(name and not qualified and spec.outside_names and re.search(spec.outside_names, name))
    if outside and spec.value_use and re.match(spec.value_use, after[len(name):]):
        statement = re.split(r"[;{}]", before)[-1]
        outside = bool(spec.type_use and re.search(spec.type_use, statement))
    return "unresolved" if glob or name in names or outside else "compile_error"


def _input_result(message: str, lang: Language, start: float, num_bytes: int) -> ValidityResult:
    p = Problem("input_error", message, 1, 1, 1, 1, 0, 0)
    return ValidityResult(False, TS_LEVEL, lang.name, (p,), num_bytes=num_bytes, seconds=time.perf_counter() - start)


def check(
    code: str | bytes,
    language: str | Language | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    compiler: bool = True,
    timeout: float | None = None,
    max_bytes: int | None = None,
    allow_unresolved: bool = False,
) -> ValidityResult:
    """Check one source.  Raises only for bad arguments (unknown language, wrong types).

    ``path`` names the source in messages, picks the language when ``language`` is
    ``None``, and lets path-sensitive front ends (node's package ``"type"``) behave
    as they would on that file.  ``compiler=False`` stops at tree-sitter.
    ``allow_unresolved=True`` sets the compiler's ``unresolved`` problems aside (into
    ``ValidityResult.unresolved``): the code passes when nothing else is wrong with it.  The
    sampler checks this way, since no edit to the file can supply a missing package or header.
    A compiler that stops at such an error (gcc at a missing header) checked nothing after it: the
    result's ``level`` is then ``tree-sitter`` and its ``compiler_note`` says where the compiler stopped.

    >>> src = '#include "nowhere.h"\\nint f(void) { return 1; }\\n'
    >>> [(p.kind, p.message) for p in check(src, "c").problems]
    [('unresolved', 'nowhere.h: No such file or directory')]
    >>> r = check(src, "c", allow_unresolved=True)
    >>> r.ok, r.level, [p.message for p in r.unresolved]
    (True, 'tree-sitter', ['nowhere.h: No such file or directory'])
    >>> r.compiler_note
    'gcc stopped at line 1: nowhere.h: No such file or directory; nothing after it was compiled'
    """
    start = time.perf_counter()
    lang = resolve_language(language, path, missing="check() needs a language or a path to detect it from")
    if isinstance(code, str):
        data = code.encode("utf-8", "surrogatepass")
    elif isinstance(code, (bytes, bytearray, memoryview)):
        data = bytes(code)
    else:
        raise InputError(f"check() takes str or bytes, not {type(code).__name__}")
    try:
        decode_source(data, name=str(path or "<code>"), max_bytes=max_bytes)
    except InputError as exc:
        return _input_result(str(exc), lang, start, len(data))
    return check_tree(_ts_parse(data, lang), path=path, compiler=compiler, timeout=timeout,
                      allow_unresolved=allow_unresolved, _start=start)


def check_tree(
    tree: SyntaxTree,
    *,
    path: str | os.PathLike[str] | None = None,
    compiler: bool = True,
    timeout: float | None = None,
    allow_unresolved: bool = False,
    _start: float | None = None,
) -> ValidityResult:
    """:func:`check` for an already parsed tree (saves the parse when a caller has one)."""
    start = time.perf_counter() if _start is None else _start
    lang, data = tree.language, tree.source
    index = LineIndex(data)
    t0 = time.perf_counter()
    ts_found = _ts_problems(tree, index)
    ts_seconds = time.perf_counter() - t0 + (t0 - start if _start is not None else 0.0)
    common = dict(language=lang.name, num_lines=index.num_lines if data else 0, num_bytes=len(data), ts_seconds=ts_seconds)
    spec = compiler_spec(lang) if compiler else None
    if spec is None:
        return ValidityResult(not ts_found, TS_LEVEL, problems=tuple(ts_found), seconds=time.perf_counter() - start, **common)
    if not spec.is_available:
        return ValidityResult(
            not ts_found, TS_LEVEL, problems=tuple(ts_found), compiler_missing=spec.binary,
            seconds=time.perf_counter() - start, **common,
        )
    outcome = run_compiler(spec, data, None if path is None else str(path), timeout)
    if outcome.ok is None:  # the compiler gave no verdict (timeout, limit, crash): unknown, never ok
        return ValidityResult(
            False, TS_LEVEL, problems=tuple(ts_found), compiler_note=outcome.note or "the compiler gave no verdict",
            compiler_seconds=outcome.seconds, seconds=time.perf_counter() - start, **common,
        )
    level, note = f"compiler:{spec.name}", None
    unresolved: tuple[Problem, ...] = ()
    if outcome.ok:
        problems, warnings = (), tuple(ts_found)
    else:
        problems, warnings = tuple(_compile_problems(outcome, index, spec) + ts_found), ()
        if allow_unresolved:
            unresolved = tuple(p for p in problems if p.kind == "unresolved")
            problems = tuple(p for p in problems if p.kind != "unresolved")
        stop = spec.stopped_at(outcome.diagnostics)
        if stop is not None:  # the compiler checked nothing after it: what was checked is tree-sitter
            level = TS_LEVEL
            note = f"{spec.name} stopped at line {stop.line}: {stop.message}; nothing after it was compiled"
    return ValidityResult(  # problems found before (or, by tree-sitter, after) an early stop are real: invalid
        not problems, level, problems=problems, warnings=warnings, unresolved=unresolved, compiler_note=note,
        compiler_seconds=outcome.seconds, seconds=time.perf_counter() - start, verdict="invalid" if problems else "",
        **common,
    )
