"""One operator or punctuation token put back where a slip took it, ranked by the file's own statistics."""

from __future__ import annotations

import re

from treediff.repairs.sites import char_offset
from treediff.sample.remask import problem_span
from treediff.syntax.language import get_language
from treediff.syntax.tree import parse
from treediff.validity import ValidityResult

__all__ = ["token_inserts", "sibling_tokens", "SYMBOL"]

_MAX_TOKEN_INSERTS = 3
_MAX_TOKEN_PARSES = 160  # candidates parsed, best ranked first
_CLOSERS = (")", "]", "}")
_SEPARATORS = (",", ";", ":")
_TWO_BLANKS = (b"  ", b"\t\t", b" \t", b"\t ")  # where one goes is the parser's, the indentation's and the model's to say
_WORD = re.compile(r"[^\W\d]\w*")  # an identifier or keyword
SYMBOL = re.compile(r"[^\w\s'\"`]{1,3}")  # a run of operator characters (``||``, ``,``, ``)``)


def sibling_tokens(left, right) -> dict[str, int]:
    """How often each token stands directly under the other elements of the list that holds the gap between
    the leaves ``left`` and ``right``: the lowest node above both (ERROR nodes skipped) and, of its named
    children that hold neither leaf, those of the kind most of them have (a list's elements, not a
    definition's name, parameters and body), their unnamed children (a keyed element's ``:``, a
    statement's ``;``).  Empty unless at least two and at least half of them share that kind and an element
    that holds the gap is of another kind (an ERROR, a bare macro call among statements).

    >>> from treediff.syntax.tree import parse
    >>> leaves = [n for n in parse("var h = T{A: 1, B 2, C: 3}\\n", "go").leaves() if n.end_byte > n.start_byte]
    >>> b = next(i for i, n in enumerate(leaves) if n.text == "B")
    >>> sibling_tokens(leaves[b], leaves[b + 1])
    {':': 2}
    """
    above = set()
    node = left.parent
    while node is not None:
        above.add(node.id)
        node = node.parent
    common = right.parent
    while common is not None and (common.id not in above or common.is_error):
        common = common.parent
    out: dict[str, int] = {}
    if common is None:
        return out
    holding = [child for child in common.named_children
               if any(child.start_byte <= n.start_byte < child.end_byte for n in (left, right))]
    others = [child for child in common.named_children if not child.is_error and child not in holding]
    kinds = [child.kind for child in others]
    kind = max(set(kinds), key=kinds.count, default=None)
    if kind is None or kinds.count(kind) < 2 or 2 * kinds.count(kind) < len(kinds) or \
            all(child.kind == kind for child in holding):  # the gap's own elements look like the others
        return out
    for child in others:
        for g in child.children if child.kind == kind else ():
            if not g.is_named and g.end_byte > g.start_byte:
                out[g.text] = out.get(g.text, 0) + 1
    return out


def token_inserts(code: str, language: str,  # long: the file's token statistics, the slots, the ranking
                  verdict: ValidityResult) -> list[tuple[int, str]]:
    """``(offset, text)``: one operator or punctuation token (no closing bracket) put in between two
    tokens near the first problem (where a deleted ``,`` ``.`` ``=`` ``+`` leaves ``f(a b)``), or inside a
    word there made of two words the file uses (``superexplanation)`` where ``(`` went missing), spaced as
    the file spaces it (``text`` may carry a blank: ``a b`` takes ``= ``), for each such token the file uses,
    kept when tree-sitter then parses the code error-free up to the end of the problem's line.
    They come ranked by the file's own statistics: first the tokens whose usual blanks are the ones the gap
    has (a deleted ``.`` leaves none, a ``,`` one, an ``=`` two), then the same token between the same
    kinds of leaves in the same kind of node (``identifier , identifier`` in ``arguments``, where the file
    writes ``f(a, b)``), then between the same leaves anywhere, then the token's count; at most
    ``_MAX_TOKEN_INSERTS``, since each one costs the compiler a run.  A 1.4M-parameter model guesses which
    operator went missing badly even under the grammar; the file's own counts guess well.

    >>> from treediff.sample.record import check
    >>> code = "f(a, b)\\ng(c, d)\\nh(x y)\\n"
    >>> token_inserts(code, "javascript", check(code, "javascript"))[0]
    (19, ',')
    """
    if not verdict.problems:
        return []
    data = code.encode("utf-8")
    tree = parse(code, language)
    comments = get_language(language).categories.get("comment", frozenset())
    leaves = [n for n in tree.leaves() if n.end_byte > n.start_byte and n.kind not in comments]

    def label(n) -> str:
        return n.kind if n.is_named else data[n.start_byte:n.end_byte].decode("utf-8", "replace")

    def holder(n) -> str:  # the kind of the node a token stands in, ERROR nodes skipped
        p = n.parent
        while p is not None and p.is_error:
            p = p.parent
        return "" if p is None else p.kind

    labels = [label(n) for n in leaves]
    counts: dict[str, int] = {}
    # how often a blank stands before a token (per token, and per left leaf and token) and after it (per
    # token, and per token and right leaf): `if (` but `f(`
    spaced: dict[tuple[str, ...], list[int]] = {}
    around: dict[tuple[str, ...], int] = {}
    for i, (n, t) in enumerate(zip(leaves, labels)):
        if not n.is_named and SYMBOL.fullmatch(t) and t not in _CLOSERS:
            counts[t] = counts.get(t, 0) + 1
            # (a line break counts: `+` at a line's end is spaced, and a deleted one leaves the break)
            blank_before = data[n.start_byte - 1:n.start_byte] in (b" ", b"\t", b"\n", b"\r")
            blank_after = data[n.end_byte:n.end_byte + 1] in (b" ", b"\t", b"\n", b"\r")
            keys = [(t,)] + ([(labels[i - 1], t, "")] if i > 0 else []) + \
                ([("", t, labels[i + 1])] if i + 1 < len(leaves) else [])
            for key in keys:
                sp = spaced.setdefault(key, [0, 0, 0])
                sp[0], sp[1], sp[2] = sp[0] + blank_before, sp[1] + blank_after, sp[2] + 1
            if 0 < i < len(leaves) - 1:
                for key in ((labels[i - 1], t, labels[i + 1], holder(n)), (labels[i - 1], t, labels[i + 1])):
                    around[key] = around.get(key, 0) + 1
    # the gaps between leaves around where the first problems and tree-sitter's first error start and end
    # (a compiler may point at the token before the slip, or after it; an ERROR node may end at it)
    first = sorted(verdict.problems, key=lambda p: p.start_byte)[:2]
    marks = sorted({x for p in first for x in problem_span(p, len(data))}
                   | {x for e in list(tree.errors())[:1] for x in (e.start_byte, e.end_byte)})
    gaps: list[int] = []
    ends: list[int] = []
    for mark in marks:
        j = next((i for i in range(len(leaves) - 1, -1, -1) if leaves[i].end_byte <= mark), -1)
        gaps += [k for k in range(max(j - 1, 0), min(j + 3, len(leaves) - 1)) if k not in gaps]
        ends.append(j)
    for j in ends:  # then a few further back (a ternary's lost `:` shows only at the next line's `const`)
        gaps += [k for k in range(max(j - 1, 0) - 1, max(j - 6, -1), -1) if k not in gaps]
    line_end = data.find(b"\n", max(marks))
    limit = len(data) if line_end < 0 else line_end
    # a slot is where a token may go: (left end, right start, left label, right label, holder); between two
    # leaves, or inside a word made of two words the file uses (`superexplanation` where `(` went missing)
    words: dict[str, str] = {}
    uses: dict[str, int] = {}
    for n, lab in zip(leaves, labels):
        text = data[n.start_byte:n.end_byte].decode("utf-8", "replace")
        if _WORD.fullmatch(text):
            words.setdefault(text, lab)
            uses[text] = uses.get(text, 0) + 1
    slots: list[tuple[int, int, str, str, str, dict[str, int]]] = []
    for k in gaps:
        slots.append((leaves[k].end_byte, leaves[k + 1].start_byte, labels[k], labels[k + 1], holder(leaves[k]),
                      sibling_tokens(leaves[k], leaves[k + 1])))
    halves: list[tuple[int, int, str, str, str, dict[str, int]]] = []  # one half a word the file uses, the other a name of 2+
    for n in dict.fromkeys(leaves[x] for k in gaps for x in (k, k + 1)):
        text = data[n.start_byte:n.end_byte].decode("utf-8", "replace")
        if n.is_named and _WORD.fullmatch(text) and text.isascii():
            for i in range(1, len(text)):
                left, right = text[:i], text[i:]
                if left in words and right in words:
                    slots.append((n.start_byte + i, n.start_byte + i, words[left], words[right], holder(n), {}))
                elif (uses[text] == 1 and min(len(left), len(right)) >= 2 and _WORD.fullmatch(right)
                      and (left in words or right in words)):
                    # (the slip may have taken the only other use of one half: `dirnamepath)`)
                    halves.append((n.start_byte + i, n.start_byte + i, words.get(left, n.kind),
                                   words.get(right, n.kind), holder(n), {}))
    slots += halves

    def spacing(slot, t: str) -> tuple[bool, bool]:  # a blank before the token, after it, as the file has
        by_left = spaced.get((slot[2], t, ""), spaced[(t,)])
        by_right = spaced.get(("", t, slot[3]), spaced[(t,)])
        return 2 * by_left[0] > by_left[2], 2 * by_right[1] > by_right[2]

    def fits_blank(slot, t: str) -> bool:
        # the blanks a deleted token leaves are the ones it had: none for `.`, one for `,`, two for `=`
        blank = data[slot[0]:slot[1]]
        return b"\n" in blank or not counts[t] or min(len(blank), 2) == sum(spacing(slot, t))

    def doubled(slot) -> bool:  # two blanks inside a line: where a token spaced on both sides was
        return data[slot[0]:slot[1]] in _TWO_BLANKS

    for t in _SEPARATORS:  # a separator the slip took may be the file's only one: offered after the file's own
        if t not in counts:
            counts[t] = 0
            spaced[(t,)] = [0, 1, 1]
    # ... then the tokens the other elements of the same list write (`Mode 0600` among `Name: "x"` elements
    # takes a `:`, not a `,`; a statement among statements that end with `;` takes a `;`)
    ranked = sorted(((x, t) for x in range(len(slots)) for t in counts),
                    key=lambda c: (not fits_blank(slots[c[0]], c[1]), not doubled(slots[c[0]]),
                                   c[1] not in slots[c[0]][5], -around.get((slots[c[0]][2], c[1], slots[c[0]][3], slots[c[0]][4]), 0),
                                   -around.get((slots[c[0]][2], c[1], slots[c[0]][3]), 0), -counts[c[1]], c[0]))

    def placed(slot, t: str) -> tuple[int, bytes]:
        # where in the blanks between the two leaves, as the file spaces the token: `a, b` after the
        # left one, `if (x` before the right one, `a = b` between (a blank added when one is missing)
        left, right = slot[0], slot[1]
        blank = data[left:right]
        before, after = spacing(slot, t)
        if blank in _TWO_BLANKS:  # the two blanks a token spaced on both sides leaves
            return left + 1, t.encode("utf-8")
        if b"\n" in blank and not blank.strip(b" \t\r\n"):  # at a line's end (`=> {` whose `{` went missing):
            # after the blank the file puts before it, on the left leaf's line
            return (left + 1, t.encode("utf-8")) if before and blank[:1] in (b" ", b"\t") else (left, t.encode("utf-8"))
        if not blank or blank.strip(b" \t") or not (before or after):
            return left, t.encode("utf-8")
        if before and after:
            return (left + 1, t.encode("utf-8")) if len(blank) >= 2 else (right, t.encode("utf-8") + b" ")
        return (right, t.encode("utf-8")) if before else (left, t.encode("utf-8"))

    out: list[tuple[int, str]] = []
    for x, t in ranked[:_MAX_TOKEN_PARSES]:
        at, text = placed(slots[x], t)
        new = data[:at] + text + data[at:]
        errors = [e.start_byte for e in parse(new, language).errors()]
        if not errors or min(errors) > limit + len(text):
            out.append((char_offset(data, at), text.decode("utf-8")))
            if len(out) == _MAX_TOKEN_INSERTS:
                break
    return out
