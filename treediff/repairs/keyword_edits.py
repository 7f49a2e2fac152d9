"""Misspelt keywords as repair sites: ``retrun x;`` gets ``return``, ``whlie x:`` gets ``while``; and a keyword
glued to a name by a slip that deleted what stood between them: ``new Implthis);`` gets ``Impl(this``."""

from __future__ import annotations

import re

from treediff.repairs.sites import char_offset
from treediff.sample.remask import problem_span
from treediff.syntax.keywords import glued_keyword, near_keywords
from treediff.syntax.layout import line_index, line_starts
from treediff.syntax.tree import parse
from treediff.validity import ValidityResult

__all__ = ["keyword_edits"]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_KEYWORD_SITES = 12
_PER_WORD = 4  # `cass` is one edit from `case`, `pass` and `class`: the check picks
#: What a slip may have deleted between a name and a keyword it glued together (`Impl(this`, `Outer.this`,
#: `f(a,this`, `xs[this`, `else x`).
_GLUE = ("(", ".", " ", ",", "[")


def keyword_edits(code: str, language: str, verdict: ValidityResult) -> list[tuple[int, int, str]]:
    """``(start, end, keyword)`` replacements of a word on a problem's line (or the code line before it) that
    is one or two edits from a keyword of the language (:func:`~treediff.syntax.keywords.near_keywords`), is
    no keyword itself, appears nowhere else in the file (a name the user declared is no slip) and sits in no
    comment or string.  The check decides which, if any, is kept.

    >>> code = "def f(x):\\n    retrun x\\n"
    >>> from treediff.sample.record import check
    >>> [code[:a] + k + code[b:] for a, b, k in keyword_edits(code, "python", check(code, "python"))]
    ['def f(x):\\n    return x\\n']
    """
    if not verdict.problems:
        return []
    data = code.encode("utf-8")
    lines = code.splitlines(keepends=True)
    starts = line_starts(lines)
    wanted: set[int] = set()
    for p in verdict.problems:
        k = line_index(starts, char_offset(data, problem_span(p, len(data))[0]))
        wanted.update(j for j in (k - 1, k) if 0 <= j < len(lines))
    counts: dict[str, int] = {}
    for m in _WORD.finditer(code):
        counts[m.group()] = counts.get(m.group(), 0) + 1
    root = parse(code, language).ts_tree.root_node
    out: list[tuple[int, int, str]] = []
    for j in sorted(wanted):
        for m in _WORD.finditer(lines[j]):
            word = m.group()
            if counts.get(word, 0) != 1:
                continue
            a = starts[j] + m.start()
            b = a + len(word)
            at = len(code[:a].encode("utf-8"))
            node = root.descendant_for_byte_range(at, at + 1)
            if node is not None and ("comment" in node.type or "string" in node.type
                                     or (node.parent is not None and "string" in node.parent.type)):
                continue
            out += [(a, b, kw) for kw in near_keywords(word, language)[:_PER_WORD]]
            for left, right in glued_keyword(word, language)[:1]:
                out += [(a + len(left), a + len(left), sep) for sep in _GLUE]
    return out[:_MAX_KEYWORD_SITES]
