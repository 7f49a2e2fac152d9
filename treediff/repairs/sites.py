"""Where a slip is: the grammar's failure point, the point-edit sites around it, and whether an edit moved past it."""

from __future__ import annotations

import re

from treediff.sample.constraints import grammar_for
from treediff.sample.record import check
from treediff.sample.remask import problem_span
from treediff.syntax.language import get_language
from treediff.syntax.layout import is_word
from treediff.validity import ValidityResult

__all__ = ["failure_point", "edit_sites", "made_progress", "first_problem", "precision", "char_offset", "byte_offset", "UNIT"]

UNIT = re.compile(r"[A-Za-z0-9_]+|[ \t]+|\r?\n|.", re.S)


def failure_point(code: str, language: str) -> int | None:
    """The character offset where the language's incremental grammar first fails on ``code``: the length
    of its longest viable prefix, or the end of the code (blanks excluded) when the whole code is a viable
    prefix but no complete program.  ``None`` when the language has no grammar or the code is complete.

    >>> failure_point("if x\\n    pass\\n", "python"), failure_point("x = (1,\\n", "python")
    (4, 7)
    >>> failure_point("y = (x +\\nreturn y\\n", "python")  # a keyword fails where it starts
    9
    >>> failure_point("x = 1\\n", "python") is None
    True
    """
    grammar = grammar_for(language)
    if grammar is None:
        return None
    session = grammar.session()
    if session.viable(code):
        return None if session.complete(code) else len(code.rstrip())
    lo, hi = 0, len(code)  # viable(code[:lo]) holds, viable(code[:hi]) does not: prefixes are closed
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if session.viable(code[:mid]):
            lo = mid
        else:
            hi = mid
    if 0 < lo < len(code) and is_word(code[lo - 1]) and not session.viable(code[:lo] + " "):
        # a word that fails only once it ends (a keyword such as ``return``, whose prefixes are names)
        while lo > 0 and is_word(code[lo - 1]):
            lo -= 1
    return lo


def _unit_at(code: str, i: int) -> tuple[int, int] | None:
    m = UNIT.match(code, i) if i < len(code) else None
    return (m.start(), m.end()) if m else None


def _unit_before(code: str, i: int) -> tuple[int, int] | None:
    j = len(code[:i].rstrip(" \t\r\n"))
    if j == 0:
        return None
    k = j - 1
    if is_word(code[k]):
        while k > 0 and is_word(code[k - 1]):
            k -= 1
    return k, j


_FIND = object()


def edit_sites(code: str, language: str, verdict: ValidityResult,
               point: int | None | object = _FIND) -> list[tuple[str, int, int]]:
    """The point edits to try, in order: ``(kind, start, end)`` character ranges (``kind`` ``insert`` or
    ``replace``; an insertion has ``start == end``): where the line of an opening bracket the check calls
    unclosed ends (before a trailing ``:`` or ``{``); the failure point's sites; the problems' own spans.
    ``point``: :func:`failure_point` of ``code``, when the caller has it.

    >>> edit_sites("x = = 1\\n", "python", check("x = = 1\\n", "python"))[:4]
    [('insert', 4, 4), ('replace', 4, 5), ('insert', 3, 3), ('replace', 2, 3)]
    """
    sites: list[tuple[str, int, int]] = []

    def add(kind: str, a: int, b: int) -> None:
        if (kind, a, b) not in sites and 0 <= a <= b <= len(code):
            sites.append((kind, a, b))

    data = code.encode("utf-8")
    spans = [(p.start_byte == p.end_byte, *(char_offset(data, x) for x in problem_span(p, len(data))))
             for p in verdict.problems]
    layout = get_language(language).layout
    for _, a, b in spans:  # an opening bracket never closed: close it where its code ends (before a ':' or '{')
        if b == a + 1 and code[a] in "([{":
            end = code.find("\n", a)
            line = layout.code_of(code[a:len(code) if end < 0 else end])
            cut = a + len(line) - (len(layout.block_open) if layout.opens_block(line) and len(line) > 1 else 0)
            add("insert", cut, cut)
    f = failure_point(code, language) if point is _FIND else point
    if f is not None:
        add("insert", f, f)
        at, before = _unit_at(code, f), _unit_before(code, f)
        if at is not None:
            add("replace", *at)
        if before is not None:
            add("insert", before[1], before[1])  # right after the last code before it (a missing closer)
            add("replace", *before)
    for zero, a, b in spans:
        if zero:  # a zero-width problem: something is missing here
            add("insert", a, a)
        elif b - a <= 40:  # a small span: replace it (long ERROR ranges are the statement pass's work)
            add("replace", a, b)
    return sites


def char_offset(data: bytes, byte: int) -> int:
    return len(data[:byte].decode("utf-8", "replace"))


def byte_offset(code: str, char: int) -> int:
    return len(code[:char].encode("utf-8"))


def precision(p) -> tuple[int, int]:
    """Sort key: the compiler's findings first (they point at the slip), then the narrowest."""
    return (p.kind != "compile_error", p.end_byte - p.start_byte)


def first_problem(code: str, language: str) -> int | None:
    """The character offset where the check's first problem starts (``None`` when the code is valid)."""
    verdict = check(code, language)
    if verdict.ok or not verdict.problems:
        return None
    data = code.encode("utf-8")
    return min(char_offset(data, problem_span(p, len(data))[0]) for p in verdict.problems)


def made_progress(old: str, new: str, a: int, b: int, language: str, before: int | None) -> bool:
    """Whether an edit of ``old[a:b]`` that left ``new`` still invalid fixed the slip there: the grammar's
    failure point moved past both the edit and where it was before (``before``, in ``old``), or the grammar
    accepts all of ``new`` and only the compiler objects, so a later slip is what remains."""
    if new == old:
        return False
    delta = len(new) - len(old)
    if grammar_for(language) is None:  # no grammar: the check's first problem must have moved past the edit
        first = first_problem(new, language)
        return first is None or (first > b + delta and first > (first_problem(old, language) or 0) + delta)
    f = failure_point(new, language)
    if f is None:
        return True
    before = before if before is None or before < b else before + delta
    return f > b + delta and (before is None or f > before)
