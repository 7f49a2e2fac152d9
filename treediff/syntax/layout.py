r"""Blocks of lines that stand alone: the geometry by which code longer than a model is repaired and infilled.

A model takes a bounded number of positions (640 for the embedded one), and real files are longer.
Syntax is local, though: a slip or a hole inside one method needs that method, not the whole module.
:func:`blocks_around` lists the runs of whole lines around a line, from its own statement (the line
and the deeper-indented lines after it) to each enclosing header's block, out to the unindented
statement around it.  A caller takes the largest one that fits the model and is a program of its
own once its common indentation is taken off (:func:`shift`), works on it, puts the indentation
back and splices it in.  A method of a long class is handled as a function of its own.

:func:`~treediff.sample.long.fill_long` fills templates too long for the model with it, and
:mod:`treediff.repair.long` repairs long files with it.  Nothing here needs a model.

What a block needs around it to be a program comes from the language's ``[layout]`` data
(:func:`surround`): in an indentation layout (Python) a block of a definition goes under that
definition's header lines; in a bracket-delimited one (Java, JavaScript, C, ...) a block goes inside the
header lines of every block that holds it, with their closing lines after it.

>>> lines = "class A:\n    def f(self):\n        return 1\n".splitlines(keepends=True)
>>> [(top, end, repr(base)) for top, end, base in blocks_around(lines, 2)]
[(2, 3, "'        '"), (1, 3, "'    '"), (0, 3, "''")]
>>> lines = "try\n    x\nexcept E:\n    y = 1\nz = 2\n".splitlines(keepends=True)
>>> [(top, end) for top, end, _ in blocks_around(lines, 0, siblings=3)]
[(0, 2), (0, 4), (0, 5)]
>>> lines = "class A {\n  f() {\n    g(1);\n  }\n}\n".splitlines(keepends=True)
>>> surround(lines, 2, 3, "    ", "javascript")
('class A {\n  f() {\n', '  }\n}\n', '')
"""

from __future__ import annotations

import bisect
from typing import Iterator

from treediff.syntax.holes import filler
from treediff.syntax.language import Layout, get_language

__all__ = ["blocks_around", "surround", "statement_rest", "without_comments", "shift", "indentation",
           "line_starts", "line_index", "definition_keyword", "reindented", "is_word", "SIBLINGS"]

_CLOSERS = ")]}"  # what a closing-bracket line starts with, in every layout

def is_word(ch: str) -> bool:
    """Whether ``ch`` may stand in an identifier (a letter, a digit or ``_``)."""
    return ch.isalnum() or ch == "_"


def line_starts(lines: list[str]) -> list[int]:
    """Character offset of each line's start, and of the end (``len(lines) + 1`` entries)."""
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln))
    return starts


def line_index(starts: list[int], pos: int) -> int:
    """The line (0-based) holding character ``pos``, given :func:`line_starts`; the last line past the end."""
    return max(0, min(bisect.bisect_right(starts, pos) - 1, len(starts) - 2))


def definition_keyword(language: str) -> str | None:
    """The first word of the language's definition filler (``def`` in Python), ``None`` without one."""
    try:
        return filler(language, "definition").split()[0]
    except Exception:  # the language's data has no definition filler
        return None


def indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def blocks_around(lines: list[str], i: int, siblings: int = 0,
                  layout: Layout | None = None) -> Iterator[tuple[int, int, str]]:
    """``(top, end, base)`` line ranges around line ``i``, smallest first: line ``top``'s statement (with the
    deeper-indented lines after it and a closing-bracket line at its depth), the same with up to
    ``siblings`` following statements at its depth (the clauses of a ``try`` or an ``if``), then each
    enclosing header's likewise;
    ``base`` is line ``top``'s indentation.  Ranges whose lines do not all start with ``base`` (a string
    running back to column 0) are skipped.  With a ``layout``, decorator lines above a statement come
    with it, and comment lines are never taken for an enclosing header."""
    decorator = layout.decorator if layout is not None else ""
    while i > 0 and not lines[i].strip():
        i -= 1
    top = i
    while True:
        base = indentation(lines[top])
        end = _block_end(lines, top, base)
        while decorator and top > 0 and lines[top - 1].startswith(base + decorator):  # decorators come along
            top -= 1
        for _ in range(siblings + 1):  # the statement, then with its next siblings (an `except` clause, say)
            if all(not ln.strip() or ln.startswith(base) for ln in lines[top:end]):
                yield top, end, base
            nxt = end
            while nxt < len(lines) and not lines[nxt].strip():
                nxt += 1
            if nxt >= len(lines) or indentation(lines[nxt]) != base:
                break
            end = _block_end(lines, nxt, base)
        if not base:
            return
        up = _header_above(lines, top, base, layout)
        if up is None:
            return
        top = up


def without_comments(lines: list[str], language: str) -> list[str]:
    """``lines`` with every line that holds nothing but comment (a ``/** ... */`` block's `` * `` lines, a
    ``#`` line) made blank, as tree-sitter's comment nodes say: the shape of the code for the block search,
    where a comment's indentation means nothing.  Line count and the other lines are kept."""
    from treediff.syntax.tree import parse

    code = "".join(lines)
    tree = parse(code, language)
    data = code.encode("utf-8")
    spans = [(len(data[:n.start_byte].decode("utf-8", "replace")), len(data[:n.end_byte].decode("utf-8", "replace")))
             for n in tree.nodes(category="comment")]
    if not spans:
        return list(lines)
    out, start, k = [], 0, 0
    for ln in lines:
        text = ln.strip()
        if text:
            a = start + len(ln) - len(ln.lstrip())
            b = start + len(ln.rstrip())
            while k < len(spans) and spans[k][1] < a:  # comments are in source order
                k += 1
            if any(x <= a and b <= y for x, y in spans[k:k + 2]):
                ln = "\n" if ln.endswith("\n") else ""
        out.append(ln)
        start += len(lines[len(out) - 1])
    return out


def _header_above(lines: list[str], top: int, base: str, layout: Layout | None) -> int | None:
    """The nearest line above ``top`` that is indented less than ``base`` and is code (no blank, comment or
    closing-bracket line): the header of the block holding line ``top``."""
    comment = layout.line_comment if layout is not None else ""
    up = top - 1
    while up >= 0:
        text = lines[up].strip()
        if (text and text[0] not in _CLOSERS and not (comment and text.startswith(comment))
                and len(indentation(lines[up])) < len(base)):
            return up
        up -= 1
    return None


def statement_rest(lines: list[str], top: int, inner_end: int, inner_base: str) -> str | None:
    """The lines that end line ``top``'s statement after an inner part that ends at line ``inner_end`` and is
    indented ``inner_base``: from the first later line indented less than the part (a ``}``, a
    ``} catch (e) {`` clause) to the statement's end; ``""`` when the statement ends with the part (an
    indentation layout), ``None`` when no such line comes before its end but more lines do."""
    stop = _block_end(lines, top, indentation(lines[top]))
    k = next((x for x in range(inner_end, stop) if lines[x].strip()
              and len(indentation(lines[x])) < len(inner_base)), None)
    if k is None:
        return "" if all(not ln.strip() for ln in lines[inner_end:stop]) else None
    return "".join(lines[k:stop])


def surround(lines: list[str], top: int, end: int, base: str,
             language: str) -> tuple[str, str, str] | None:
    """``(head, foot, indent)`` around the block ``lines[top:end]`` (indented ``base``) that makes it a
    program with the meaning it has in the file: ``head + dedent(block) + foot`` once ``indent`` is taken
    off every line, the block's ``return`` still inside its function and its method inside its class.
    ``None`` when the language's ``[layout]`` gives no such context.

    - At column 0 nothing is needed.
    - A bracket-delimited layout (``block_close`` set): for every block that holds the block, outermost
      first, its header lines (up to the line whose code ends with ``block_open``) and the clause line
      that opens the part holding the block (``} else {``, ``} catch (e) {``); after the block, innermost
      first, the lines that end each of those statements (``}``, ``} catch (e) { ... }``).  Nothing is
      dedented.
    - An indentation layout: a definition (its first word the definition filler's) stands alone dedented;
      any other block goes under the header lines of the nearest definition that holds it, dedented by
      that header's indentation (a loop body without its loop still has its ``return``)."""
    if not base:
        return "", "", ""
    layout = get_language(language).layout
    if layout.block_close:
        chain: list[int] = []  # the header line of each enclosing block, innermost first
        k, ind = top, base
        while ind:
            up = _header_above(lines, k, ind, layout)
            if up is None:
                return None
            chain.append(up)
            k, ind = up, indentation(lines[up])
        groups = []  # (first header line, inner start, inner indentation), outermost first
        below = 0
        for j in range(len(chain) - 1, -1, -1):
            up = chain[j]
            if up < below:  # part of the header above it (a signature over several lines)
                continue
            inner = chain[j - 1] if j > 0 else top
            e = next((x for x in range(up, inner) if layout.opens_block(lines[x])), None)
            if e is None:
                return None
            groups.append((up, e, inner))
            below = e + 1
        head, foot = [], []
        for n, (up, e, inner) in enumerate(groups):
            inner_base = indentation(lines[inner])
            part = "".join(lines[up:e + 1])
            clause = next((x for x in range(inner - 1, e, -1) if lines[x].strip()
                           and len(indentation(lines[x])) < len(inner_base)), None)
            if clause is not None:  # the block sits in a later clause: `} else {` goes along (the first
                # part of the statement then stands empty)
                if not (lines[clause].strip()[:1] in tuple(_CLOSERS) and layout.opens_block(lines[clause])):
                    return None
                part += lines[clause]
            head.append(part)
        inner_end = end
        for up, e, inner in reversed(groups):
            rest = statement_rest(lines, up, inner_end, indentation(lines[inner]))
            if not rest:  # a block statement that never closes
                return None
            foot.append(rest)
            inner_end = _block_end(lines, up, indentation(lines[up]))
        return "".join(head), "".join(foot), ""
    keyword = definition_keyword(language)
    if keyword is None:
        return None
    if keyword in lines[top].split()[:2] or (layout.decorator and lines[top].lstrip().startswith(layout.decorator)):
        return "", "", base
    k, ind = top, base
    while ind:
        up = _header_above(lines, k, ind, layout)
        if up is None:
            return None
        if keyword in lines[up].split()[:2]:
            e = next((j for j in range(up, top) if layout.opens_block(lines[j])), None)
            if e is None:
                return None
            d_base = indentation(lines[up])
            return shift("".join(lines[up:e + 1]), d_base, remove=True), "", d_base
        k, ind = up, indentation(lines[up])  # an enclosing header that is no definition: keep climbing
    return None


SIBLINGS = 3  # following statements at the same depth a repair block may take in (clauses of one statement)


def _block_end(lines: list[str], top: int, base: str) -> int:
    """The end of line ``top``'s statement: the deeper-indented lines after it, a closing-bracket line at its
    depth, trailing blank lines left out."""
    end = top + 1
    while end < len(lines) and (not lines[end].strip() or len(indentation(lines[end])) > len(base)
                                or (indentation(lines[end]) == base and lines[end].strip()[:1] in (")", "]", "}"))):
        end += 1
    while end > top + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def shift(text: str, indent: str, *, remove: bool) -> str:
    """Take ``indent`` off the start of every line of ``text`` (``remove``), or put it on every non-blank line.

    >>> shift("    a\\n\\n      b\\n", "    ", remove=True), shift("a\\n\\n  b\\n", "    ", remove=False)
    ('a\\n\\n  b\\n', '    a\\n\\n      b\\n')
    """
    if not indent:
        return text
    out = []
    for ln in text.splitlines(keepends=True):
        if remove:
            out.append(ln[len(indent):] if ln.startswith(indent) else ln.lstrip(" \t"))
        else:
            out.append(indent + ln if ln.strip() else ln)
    return "".join(out)


def reindented(text: str, pos: int, indent: str) -> int:
    """Where character ``pos`` of ``text`` lands once ``indent`` is put on every non-blank line."""
    if not indent:
        return pos
    lines = text.splitlines(keepends=True)
    out = start = 0
    for ln in lines:
        if start + len(ln) > pos or ln is lines[-1]:
            return out + (len(indent) if ln.strip() and pos >= start else 0) + (pos - start)
        out += len(ln) + (len(indent) if ln.strip() else 0)
        start += len(ln)
    return out
