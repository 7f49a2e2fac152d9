"""The statement pass: each problem's region widened to whole lines, remasked and denoised with rounds and fallback."""

from __future__ import annotations

from dataclasses import replace

from treediff.model.formats import DiffusionLM
from treediff.repairs.sites import byte_offset, char_offset
from treediff.sample.config import SamplerConfig
from treediff.sample.pipeline import fill_template
from treediff.sample.record import FillResult, check
from treediff.sample.remask import fill_regions, problem_span
from treediff.syntax.cfg_flow import cfg_region
from treediff.syntax.holes import enclosing_region, filler, find_holes, indent_at
from treediff.syntax.language import get_language
from treediff.syntax.layout import (blocks_around, definition_keyword, indentation, line_index, line_starts,
                                    without_comments)
from treediff.syntax.tree import parse
from treediff.validity import ValidityResult

__all__ = ["statement_repair", "statement_regions", "fills_valid", "stands_alone", "whole_lines"]

_STATEMENT_SLACK = 6  # extra tokens when a whole statement is remasked


def stands_alone(chunk: str, language: str, line: int, first: int | None = None) -> bool:
    """Whether ``chunk`` is a program of its own but for the problem on its ``line`` (0-based): invalid, and
    valid once the statement regions of the problems found on that line hold the language's statement
    filler.  A problem elsewhere (``return`` outside a function, when a method body is cut out of its
    ``def``) means the chunk does not stand alone.  A region that takes in the block's ``first`` line when
    the problem is below it does not count: a block that starts with an ``else:`` clause cut from its
    ``if`` is valid only once all of it is the filler."""
    verdict = check(chunk, language)
    if verdict.ok:
        return False
    here = tuple(p for p in verdict.problems if p.start_line - 1 == line)
    if not here:
        return False
    floor = first if first is not None and line > first and not _starts_statement(chunk, language, first) else None
    regions = statement_regions(chunk, language, replace(verdict, problems=here), floor=floor)
    return fills_valid(chunk, language, regions, definitions=True)


def _starts_statement(code: str, language: str, line: int) -> bool:
    """Whether a statement or definition node of tree-sitter's parse starts where line ``line`` (0-based)
    of ``code`` does (an ``else:`` clause, or an ERROR node, does not)."""
    lines = code.splitlines(keepends=True)
    if line >= len(lines) or not lines[line].strip():
        return False
    start = len("".join(lines[:line]).encode("utf-8")) + len(indentation(lines[line]).encode("utf-8"))
    tree = parse(code, language)
    lang = get_language(language)
    node = tree.node_at(start, start + 1)
    while node is not None and node.start_byte == start:
        if lang.is_category(node.kind, "statement") or lang.is_category(node.kind, "definition"):
            return True
        node = node.parent
    return False


def _filler_texts(code: str, language: str, regions: list[tuple[int, int]], *,
                  definitions: bool = False) -> list[str]:
    """The language's statement filler for each byte region of ``code`` (the definition filler for a region
    that starts with the definition keyword, with ``definitions``: a decorator above it needs a definition
    after it)."""
    data = code.encode("utf-8")
    keyword = definition_keyword(language) if definitions else None
    texts = []
    for a, b in regions:
        words = data[a:b].decode("utf-8", "replace").split()[:2]
        category = "definition" if keyword is not None and keyword in words else "statement"
        texts.append(filler(language, category, indent=indent_at(data, a)))
    return texts


def fills_valid(code: str, language: str, regions: list[tuple[int, int]], *, definitions: bool = False) -> bool:
    """Whether ``code`` is valid once its ``regions`` hold fillers (:func:`_filler_texts`), or, where a
    filler is no program's top-level item (Java's ``{}``), nothing for the regions at a line's start
    (:func:`~treediff.sample.remask.fill_regions`).

    >>> code = "import java.util.*;\\nimport java..io.*;\\n\\nclass A {}\\n"
    >>> a = code.index("import java..")
    >>> fills_valid(code, "java", [(a, code.index(";", a) + 1)])
    True
    """
    texts = _filler_texts(code, language, regions, definitions=definitions)
    return fill_regions(code, regions, texts, [], language)[2].ok


def statement_repair(lm: DiffusionLM, code: str, language: str, config: SamplerConfig,
                      verdict: ValidityResult, *, given: str | None = None) -> FillResult:
    regions = statement_regions(code, language, verdict, rule=config.remask_region)
    data = code.encode("utf-8")
    template = find_holes(code, language, spans=[(a, b, "statement") for a, b in regions])
    lengths = [len(lm.encode(data[a:b].decode("utf-8", "replace"), language)) + _STATEMENT_SLACK
               for a, b in regions]
    return fill_template(lm, template, config, lengths=lengths, given=given)[0]


def statement_regions(code: str, language: str, verdict: ValidityResult,
                      floor: int | None = None, rule: str = "smallest") -> list[tuple[int, int]]:
    """Byte regions the statement pass remasks: per problem, whole lines around it, in the first of these
    shapes where the language's statement filler in every region gives a valid program (so the typed
    fallback can always end the repair): the problem's own lines (cut before a dedent, so an ``except``
    clause the broken line swallowed stays); those lines with a header's indented block; the rest of the
    enclosing block (a broken ``try:`` header takes its ``except`` clauses along); then the statements
    that hold the problem's line, smallest first (:func:`~treediff.syntax.layout.blocks_around`: an entry
    of a multi-line object literal goes with its statement).  In a brace layout a shape whose regions
    hold unbalanced ``{`` ``}`` comes after every balanced one.  The ``rest`` shape when none passes.

    >>> code = "try:\\n    x = f(1\\nexcept OSError:\\n    pass\\n"
    >>> [code.encode()[a:b] for a, b in statement_regions(code, "python", check(code, "python"))]
    [b'x = f(1']
    """
    tree = parse(code, language)
    data = code.encode("utf-8")
    spans = [enclosing_region(tree, *problem_span(p, len(data)), within=(0, len(data)), categories=("statement",))
             for p in verdict.problems]
    if rule == "cfg":
        flows = [cfg_region(tree, *problem_span(p, len(data)), within=(0, len(data))) for p in verdict.problems]
        spans = [(min(a, f[0]), max(b, f[1])) if f else (a, b) for (a, b), f in zip(spans, flows)]
    layout = get_language(language).layout
    opener, closer = layout.block_open.encode("utf-8"), layout.block_close.encode("utf-8")

    def balanced(regions: list[tuple[int, int]]) -> bool:
        # in a bracket-delimited layout a region holds as many block closers as openers: a header line
        # replaced without its block would leave its `}` to close the block around it
        return not closer or all(data[a:b].count(opener) == data[a:b].count(closer) for a, b in regions)

    def shapes(spans: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], bool]:
        first_valid: list[tuple[int, int]] | None = None
        merged: list[tuple[int, int]] = []
        for shape in ("lines", "block", "rest"):
            merged = _merged([whole_lines(data, a, b, shape) for a, b in spans])
            if fills_valid(code, language, merged):
                if balanced(merged):
                    return merged, True
                first_valid = first_valid or merged
        if first_valid is None:  # the problem sits inside a statement over several lines (an entry of an object
            # literal): the statements that hold its line, smallest first, as the block search finds them
            lines = code.splitlines(keepends=True)
            starts = line_starts(lines)
            shape_lines = without_comments(lines, language)
            around = [list(blocks_around(shape_lines, line_index(starts, char_offset(data, a)), layout=layout))
                      for a, _ in spans]
            for level in range(max((len(c) for c in around), default=0)):
                regions = []
                for c in around:
                    if c:
                        top, end, base = c[min(level, len(c) - 1)]
                        if floor is not None and top <= floor:  # not from the caller's first line up
                            continue
                        last = starts[end] - (1 if lines[end - 1].endswith("\n") else 0)
                        regions.append((byte_offset(code, starts[top] + len(base)), byte_offset(code, last)))
                candidate = _merged(regions)
                if fills_valid(code, language, candidate):
                    if balanced(candidate):
                        return candidate, True
                    first_valid = first_valid or candidate
        # no balanced shape gives a valid program: the first valid one, else the last shape
        return (first_valid, False) if first_valid is not None else (merged, False)

    # a slip's later problems are often the parser's recovery going astray (an unclosed `[` swallows what
    # follows): the first problem's lines alone first, when that gives a valid program
    first = min(verdict.problems, key=lambda p: p.start_byte)
    lead = [sp for sp, p in zip(spans, verdict.problems) if first.start_line <= p.start_line <= first.end_line]
    if len(lead) < len(spans):
        regions, good = shapes(lead)
        if good:
            return regions
    return shapes(spans)[0]


def _merged(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``regions`` sorted, the overlapping or touching ones merged."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(regions):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def whole_lines(data: bytes, a: int, b: int, shape: str = "block") -> tuple[int, int]:
    """``[a, b)`` widened to whole lines, from the first line's indentation to the end of a line (newline
    excluded).  ``shape``: ``"lines"``, the lines ``[a, b)`` touches, cut before the first one indented less
    than the first; ``"block"``, those lines and the lines after them indented deeper (a header's block, a
    continuation) plus a closing bracket line at their depth; ``"rest"``, every line after them down to the
    end of the enclosing block (the next line indented less).  An ERROR node need not be a whole statement,
    and a statement's filler only fits where whole statements were (``f() = 1`` must not become ``pass 1``,
    nor a broken ``def`` header ``pass`` above an indented body)."""
    line = data.rfind(b"\n", 0, a) + 1
    head = data[line:a]
    start = min(a, line + len(head) - len(head.lstrip(b" \t")))
    depth = _depth(data, line)
    end = data.find(b"\n", max(a, b - 1) if b > a else b)
    end = len(data) if end < 0 else end
    if shape == "lines":
        cut = data.find(b"\n", a)
        while 0 <= cut < end:  # stop before a line that leaves the first line's block
            nxt = data.find(b"\n", cut + 1)
            if data[cut + 1:len(data) if nxt < 0 else nxt].strip() and _depth(data, cut + 1) < depth:
                end = cut
                break
            cut = nxt
    else:
        while end < len(data):  # end sits on a newline
            nxt = data.find(b"\n", end + 1)
            nxt = len(data) if nxt < 0 else nxt
            text = data[end + 1:nxt]
            if text.strip():
                d = _depth(data, end + 1)
                if d < depth or (d == depth and shape == "block"):
                    if d == depth and text.lstrip()[:1] in (b")", b"]", b"}"):
                        end = nxt
                    break
            end = nxt
    while end > max(a, start) and data[end - 1:end] in (b"\n", b" ", b"\t", b"\r"):  # the blank tail stays outside
        end -= 1
    return start, max(end, start)


def _depth(data: bytes, line: int) -> int:
    """Indentation width of the line starting at byte ``line`` (tabs count 8)."""
    width = 0
    for ch in data[line:line + 256]:
        if ch == 0x20:
            width += 1
        elif ch == 0x09:
            width += 8 - width % 8
        else:
            break
    return width
