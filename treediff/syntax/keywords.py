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
"""

from __future__ import annotations

import functools

from treediff.syntax.language import get_language

__all__ = ["keywords", "near_keywords", "edit_distance"]


@functools.lru_cache(maxsize=None)
def keywords(language: str) -> frozenset[str]:
    """The grammar's visible anonymous kinds that are lower-case words of at least two letters."""
    ts_lang = get_language(language).ts_language
    out = set()
    for i in range(ts_lang.node_kind_count):
        kind = ts_lang.node_kind_for_id(i)
        if (kind and len(kind) >= 2 and kind.isalpha() and kind.islower() and not ts_lang.node_kind_is_named(i)
                and ts_lang.node_kind_is_visible(i)):
            out.add(kind)
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
