"""A language's keywords, from its tree-sitter grammar, and the keyword a misspelt word was meant to be.

Keywords are the grammar's anonymous word-like node kinds (``return``, ``while``): the tokens it matches
literally.  A word at edit distance 1–2 from one of them (optimal string alignment: a swap of two
neighbouring letters counts 1; distance 2 only between words of six letters or more) is a candidate slip
(``retrun``, ``whlie``).

>>> "return" in keywords("java") and "while" in keywords("python")
True
>>> near_keywords("retrun", "java"), near_keywords("whlie", "python"), near_keywords("count", "c")
(('return',), ('while',), ())
>>> near_keywords("retunr", "go"), near_keywords("contniue", "rust")
(('return',), ('continue',))

A slip that deletes the bracket or dot between a name and a keyword glues them into one word
(``new Impl(this)`` → ``new Implthis)``): :func:`glued_keyword` splits such a word.

>>> glued_keyword("Implthis", "java"), glued_keyword("returnx", "c"), glued_keyword("count", "c")
((('Impl', 'this'),), (('return', 'x'),), ())
"""

from __future__ import annotations

import functools
import re

from treediff.syntax.language import get_language
from treediff.syntax.layout import line_index, line_starts
from treediff.syntax.tree import parse

__all__ = ["keywords", "near_keywords", "edit_distance", "glued_keyword", "glued_names"]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.lru_cache(maxsize=None)
def keywords(language: str, *, named: bool = True) -> frozenset[str]:
    """The grammar's visible anonymous kinds that are lower-case words of at least two letters, and (``named``)
    the words the grammar file lists under ``[keywords] named``: literal words the grammar gives a named kind
    (Java's ``this``, Go's ``nil``, Rust's ``self``), which are no names either."""
    lang = get_language(language)
    ts_lang = lang.ts_language
    out = set()
    for i in range(ts_lang.node_kind_count):
        kind = ts_lang.node_kind_for_id(i)
        if (kind and len(kind) >= 2 and kind.isalpha() and kind.islower() and not ts_lang.node_kind_is_named(i)
                and ts_lang.node_kind_is_visible(i)):
            out.add(kind)
    if named:
        out.update(lang.extra.get("keywords", {}).get("named", ()))
    return frozenset(out)


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap neighbours), capped at ``limit``."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev2: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return min(prev[-1], limit)


def near_keywords(word: str, language: str) -> tuple[str, ...]:
    """Keywords ``word`` is a slip of, nearest first: distance 1 for words of 3+ letters, 2 for 6+."""
    if word in keywords(language) or len(word) < 3:
        return ()
    scored = []
    for kw in keywords(language):
        d = edit_distance(word, kw)
        if d == 1 or (d == 2 and min(len(word), len(kw)) >= 6):
            scored.append((d, abs(len(kw) - len(word)), kw))
    return tuple(kw for _, _, kw in sorted(scored))


def glued_keyword(word: str, language: str) -> tuple[tuple[str, str], ...]:
    """The ways ``word`` splits into a keyword of ``language`` (3+ letters) and a rest of 1+ characters, the
    keyword first or last (``Implthis`` → ``Impl`` + ``this``), longest keyword first; ``()`` for a keyword.
    A name can end in a keyword as written (``renew``, ``sprint``): callers ask only about a word that
    something else already makes suspect (written once, on a line with a syntax error)."""
    if word in keywords(language):
        return ()
    out = []
    for kw in keywords(language):
        if len(kw) < 3 or len(word) <= len(kw):
            continue
        if word.endswith(kw):
            out.append((len(kw), (word[:-len(kw)], kw)))
        if word.startswith(kw):
            out.append((len(kw), (kw, word[len(kw):])))
    return tuple(split for _, split in sorted(out, key=lambda e: (-e[0], e[1])))


def glued_names(code: str, language: str) -> frozenset[str]:
    """Words of ``code`` that a slip may have made by gluing a keyword to a name (``Implthis`` out of
    ``Impl(this``; :func:`~treediff.syntax.keywords.glued_keyword`): written once, outside comments and strings,
    on a line where tree-sitter finds a syntax error.  A compiler's "cannot find symbol" for such a word is no
    reference to code this machine lacks (:func:`treediff.sample.record.check` does not set it aside).

    >>> sorted(glued_names("class A {\\n  Object f() { return new Implthis); }\\n}\\n", "java"))
    ['Implthis']
    >>> sorted(glued_names("class A {\\n  Object f() { return new Implthis(); }\\n}\\n", "java"))
    []
    """
    tree = parse(code, language)
    if not tree.has_errors:
        return frozenset()
    error_lines: set[int] = set()
    for node in tree.errors():
        error_lines.update(range(node.ts_node.start_point[0], node.ts_node.end_point[0] + 1))
    counts: dict[str, list[int]] = {}
    for m in _WORD.finditer(code):
        counts.setdefault(m.group(), []).append(m.start())
    lines = code.splitlines(keepends=True)
    starts = line_starts(lines)
    root = tree.ts_tree.root_node
    out = set()
    for word, places in counts.items():
        if len(places) != 1 or line_index(starts, places[0]) not in error_lines or not glued_keyword(word, language):
            continue
        at = len(code[:places[0]].encode("utf-8"))
        node = root.descendant_for_byte_range(at, at + 1)
        if node is not None and ("comment" in node.type or "string" in node.type):
            continue
        out.add(word)
    return frozenset(out)
