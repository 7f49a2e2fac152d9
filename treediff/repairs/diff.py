"""What a repair changed: a diff of input and output as edit regions, and the size of the edit."""

from __future__ import annotations

import difflib
import functools
import os
import re

from treediff.sample.record import HoleFill

__all__ = ["edit_size", "changes", "removed_lines", "drops_lone_token", "scars_mended", "pair_counts", "TOKEN"]

def _opcodes(a, b) -> list[tuple[str, int, int, int, int]]:
    """difflib's opcodes of ``a`` → ``b`` (strings or bytes), with the common head and tail taken off first:
    a repair changes a few places of a long file, and difflib is quadratic on what it is given."""
    n = min(len(a), len(b))
    head = 0
    while head < n and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    mid = difflib.SequenceMatcher(None, a[head:len(a) - tail], b[head:len(b) - tail], autojunk=False).get_opcodes()
    return [(tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in mid]


def edit_size(old: str, new: str) -> int:
    """Characters deleted plus characters inserted to turn ``old`` into ``new`` (from a diff)."""
    return sum((i2 - i1) + (j2 - j1) for tag, i1, i2, j1, j2 in _opcodes(old, new) if tag != "equal")


def changes(old: str, new: str) -> tuple[tuple[HoleFill, ...], int]:
    """The regions of ``new`` that differ from ``old`` (as holes of category ``"edit"``), and the number of
    bytes of ``old`` replaced."""
    a, b = old.encode("utf-8"), new.encode("utf-8")
    holes, changed = [], 0
    for tag, i1, i2, j1, j2 in _opcodes(a, b):
        if tag == "equal":
            continue
        changed += i2 - i1
        holes.append(HoleFill(len(holes), "edit", b[j1:j2].decode("utf-8", "replace"), (j1, j2), True))
    return tuple(holes), changed


def removed_lines(old: str, new: str) -> list[str]:
    """The non-blank lines of ``old`` that ``new`` drops: all of a deleted block; of a replaced block that
    shrinks by ``k`` non-blank lines, the ``k`` least like any replacement line (difflib ratio), and any line
    like none of them (ratio < 0.4).

    >>> removed_lines("a = 1\\nb = 2\\nc = 3\\n", "a = 1\\nb = 22\\n")
    ['c = 3']
    """
    a = [ln.strip() for ln in old.splitlines()]
    b = [ln.strip() for ln in new.splitlines()]
    out: list[str] = []
    for tag, i1, i2, j1, j2 in _opcodes(a, b):
        if tag == "delete":
            out += [ln for ln in a[i1:i2] if ln]
        elif tag == "replace":
            pool = [ln for ln in b[j1:j2] if ln]
            lines = [ln for ln in a[i1:i2] if ln]
            like = [max((difflib.SequenceMatcher(None, ln, m).ratio() for m in pool), default=0.0) for ln in lines]
            order = sorted(range(len(lines)), key=lambda i: like[i])
            gone = set(order[:max(0, len(lines) - len(pool))]) | {i for i in range(len(lines)) if like[i] < 0.4}
            out += [lines[i] for i in sorted(gone)]
    return out


def drops_lone_token(old: str, new: str) -> bool:
    """Whether ``new`` is ``old`` with one run of text deleted that is no copy of the code right before or after it
    (blanks aside): a token the user wrote once, not one written twice.

    >>> drops_lone_token("f(a))\\n", "f(a)\\n"), drops_lone_token("f(a)\\nb)\\n", "f(a)\\nb\\n")
    (False, True)
    >>> drops_lone_token("(a && fb) )\\n", "(a && fb )\\n"), drops_lone_token("x = = 1\\n", "x = 1\\n")
    (True, False)
    """
    if len(new) >= len(old):
        return False
    head = len(os.path.commonprefix([old, new]))
    gone = len(old) - len(new)
    if old[:head] + old[head + gone:] != new:
        return False
    text = old[head:head + gone].strip()
    if not text:
        return False
    if text in (")", "]", "}"):  # `) )` closes two brackets; only `))` is one written twice
        return not (old[:head].endswith(text) or old[head + gone:].startswith(text))
    return not (old[:head].rstrip().endswith(text) or old[head + gone:].lstrip().startswith(text))


#: A token for :func:`pair_counts`: a word or one symbol.
TOKEN = re.compile(r"\w+|\S")


@functools.lru_cache(maxsize=8)
def pair_counts(code: str, language: str) -> dict[tuple[str, str], int]:
    """How often each two neighbouring tokens (words and single symbols, blanks aside) stand in the code of
    ``code``, lines that hold only a comment left out (a doc comment's ``flush_buf)`` is no code)."""
    from treediff.syntax.layout import without_comments

    tokens = TOKEN.findall("".join(without_comments(code.splitlines(keepends=True), language)))
    counts: dict[tuple[str, str], int] = {}
    for pair in zip(tokens, tokens[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def scars_mended(old: str, new: str, language: str) -> int:
    """Pairs of neighbouring tokens that ``old`` writes at most once (words and single symbols, blanks aside)
    and that the one edit of brackets ``old`` → ``new`` takes apart: a slip leaves such a pair where it was
    (``into_raw_socket(, max)``, ``assert_eq!OwnedSocket``), and the edit that mends the slip takes it apart,
    where one elsewhere only balances the brackets.  0 for an edit that puts in or takes away anything but
    brackets: where a word or an operator goes, a small file's pairs say too little.

    >>> code = "f(), a;\\nf(), b;\\ng(, c);\\nh(d);\\n"
    >>> scars_mended(code, code.replace("g(,", "g(),"), "c"), scars_mended(code, code.replace("c);", "c));"), "c")
    (1, 0)
    """
    head = len(os.path.commonprefix([old, new]))
    tail = len(os.path.commonprefix([old[head:][::-1], new[head:][::-1]]))
    left = TOKEN.findall(old[:head])[-1:]
    right = TOKEN.findall(old[len(old) - tail:])[:1]
    gone = TOKEN.findall(old[head:len(old) - tail])
    made = TOKEN.findall(new[head:len(new) - tail])
    if not gone + made or not set("".join(gone + made)) <= set("()[]{}"):
        return 0
    gone = left + gone + right
    counts = pair_counts(old, language)
    return sum(counts.get(p, 0) <= 1 for p in zip(gone, gone[1:]))
