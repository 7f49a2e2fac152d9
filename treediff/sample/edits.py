r"""Repair as the smallest edit first: point edits at the parser's failure point, then whole statements.

Remasking the whole statement around every problem makes the model rewrite code the user wrote
(``x = (1,`` could come back as a string).  Most broken code holds small slips (a missing ``:`` or
``)``, a stray token, an unterminated string), and where to fix one is known: an LR parser detects
an error at the first token that cannot extend a viable prefix (the *failure point*,
:func:`failure_point`).  So, per slip, repair first tries **point edits** there
(:func:`edit_sites`), each one hole decoded left to right under the grammar guard in its
*close-early* mode (a position is left empty as soon as the fixed text after the hole fits):

0. **insert** at the end of the line of an opening bracket the check says was never closed (before a
   trailing ``:`` or ``{``: ``def f(a, b:`` gets its ``)`` there);
1. **insert** up to ``_INSERT`` tokens at the failure point;
2. **replace** the lexical unit at the failure point (a word, a run of blanks, or one character),
   which deletes it when the model writes nothing there;
3. **insert** right after the code before it (a missing closer), and **replace** the unit before it;
4. **replace** each small compiler problem span (checks the grammar does not model: ``f() = 1``);
5. with no model at all, **insert** each fixed-text token tree-sitter's error recovery marks MISSING
   (:func:`parser_inserts`: a ``)``, a ``;``), kept only when the program then passes the full check;
   one separator or operator put in between two tokens, ranked by the file's own statistics
   (:func:`token_inserts`); where the language has no incremental grammar, also the closers the
   indentation asks for, a stray closer or doubled symbol deleted (:func:`layout_edits`).

Of the first ``_COMPARED`` sites, the smallest edit that makes the program pass the full check wins
(ties: the shorter program, so a stray ``)`` is deleted rather than called); an edit after which the
grammar's failure point has moved past the edit and its old place fixed *that* slip, and the next
slip is edited (up to ``_MAX_SLIPS``).  Where the language has no incremental grammar, the sites come from the
check's problem spans.  When no point edit helps, the **statement pass** runs on what is left: each
problem's region widened to whole lines (a header with its indented block), remasked and denoised
with compiler-remasking rounds and the typed fallback.

>>> from treediff import repair
>>> r = repair("def f(x):\n    if x > 1\n        return x\n    return [x, 2\n", language="python")
>>> r.code
'def f(x):\n    if x > 1:\n        return x\n    return [x, 2]\n'
>>> r.record.ok, r.record.extra["edits"], r.record.extra["changed_bytes"], [h.text for h in r.holes]
(True, 2, 0, [':', ']'])

The record counts everything: ``rounds`` is the number of decoding passes after the first (point
edits tried, the statement pass, its own rounds), ``nfe`` and the guard's counters sum over all of
them; ``extra`` holds ``edits`` (point edits kept), ``model_free_edits`` (of those, the ones no model
decoded, which take no forward pass: parser inserts, layout edits, token inserts), ``edit_attempts`` and
``changed_bytes`` (bytes of the input replaced).  The result's holes are the changed regions of the code
(category ``"edit"``), found by diffing input and output.
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import replace

from treediff.errors import InputError
from treediff.sample.chunks import (SIBLINGS, blocks_around, definition_keyword, fits, indentation,
                                    line_index, line_starts, shift, statement_rest, surround,
                                    without_comments)
from treediff.sample.config import SamplerConfig
from treediff.sample.constraints import grammar_for
from treediff.sample.holes import Hole, HoleTemplate, enclosing_region, filler, find_holes, indent_at
from treediff.model.formats import DiffusionLM
from treediff.sample.pipeline import fill_regions, fill_template, problem_span
from treediff.sample.record import FillResult, HoleFill, ValidityRecord, check, summed, verdict_fields
from treediff.syntax.language import get_language
from treediff.syntax.tree import parse
from treediff.validity import ValidityResult

__all__ = ["repair_code", "failure_point", "edit_sites", "parser_inserts", "bracket_inserts", "layout_edits",
           "model_free_edits"]

_INSERT = 4  # tokens offered to an insertion (the model leaves the ones it does not need empty)
_REPLACE_SLACK = 2  # extra tokens when a unit is replaced
_STATEMENT_SLACK = 6  # extra tokens when a whole statement is remasked
_COMPARED = 3  # point edits compared per slip (the rest are tried only while none has worked)
_MAX_SLIPS = 4  # slips fixed one after another by point edits before the statement pass takes over
_UNIT = re.compile(r"[A-Za-z0-9_]+|[ \t]+|\r?\n|.", re.S)


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
    if 0 < lo < len(code) and _is_word(code[lo - 1]) and not session.viable(code[:lo] + " "):
        # a word that fails only once it ends (a keyword such as ``return``, whose prefixes are names)
        while lo > 0 and _is_word(code[lo - 1]):
            lo -= 1
    return lo


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _unit_at(code: str, i: int) -> tuple[int, int] | None:
    m = _UNIT.match(code, i) if i < len(code) else None
    return (m.start(), m.end()) if m else None


def _unit_before(code: str, i: int) -> tuple[int, int] | None:
    j = len(code[:i].rstrip(" \t\r\n"))
    if j == 0:
        return None
    k = j - 1
    if _is_word(code[k]):
        while k > 0 and _is_word(code[k - 1]):
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
    spans = [(p.start_byte == p.end_byte, *(_char(data, x) for x in problem_span(p, len(data))))
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


def _char(data: bytes, byte: int) -> int:
    return len(data[:byte].decode("utf-8", "replace"))


def _byte(code: str, char: int) -> int:
    return len(code[:char].encode("utf-8"))


def repair_code(lm: DiffusionLM, code: str, language: str, config: SamplerConfig,
                verdict: ValidityResult | None = None) -> FillResult:
    """Repair ``code`` (point edits, then statements; see the module docstring).  Code longer than the model
    takes is repaired one block of lines at a time (:func:`_repair_chunks`).  When the point edits leave
    an invalid program, the statement pass alone runs again on ``code``, and its result is returned if
    valid (``extra["point_edits_undone"]``; ``nfe`` and ``rounds`` count both)."""
    verdict = verdict if verdict is not None else check(code, language)
    if fits(lm, code, language):
        result = _repair_whole(lm, code, language, config, verdict, given=code)
    else:
        result = _repair_chunks(lm, code, language, config, verdict)
    if result.record.ok or not config.uses_remask or config.edit_attempts == 0:
        return result
    # point edits that each fixed a slip can leave a program no statement pass mends (a chain of edits
    # that were each progress, and together wrong): the statement pass alone, from the user's code
    try:
        again = repair_code(lm, code, language, config.replace(edit_attempts=0), verdict)
    except InputError:  # no block for the statement pass alone: the first result stands, as it is
        return result
    if not again.record.ok:
        return result
    counts = summed((result.record, again.record))
    counts.pop("num_fallback_regions")  # the program returned is the second one: its fallback regions
    record = replace(again.record, **counts, rounds=result.record.rounds + 1 + again.record.rounds,
                     seconds=result.record.seconds + again.record.seconds,
                     extra={**again.record.extra, "point_edits_undone": True})
    return replace(again, record=record)


def _repair_chunks(lm: DiffusionLM, code: str, language: str, config: SamplerConfig,
                   verdict: ValidityResult) -> FillResult:
    """Repair a program too long for the model, one chunk at a time: the lines around the first problem
    that form a program of their own (:func:`chunk_around`), dedented, repaired whole, re-indented and
    spliced back; then the next problem's, up to ``_MAX_CHUNKS``.  An ``InputError`` when no such chunk
    fits the model."""
    t0 = time.perf_counter()
    cur, cur_verdict = code, verdict
    parts: list[FillResult] = []  # the chunks' repairs and the whole-file edits no model decoded
    seen: set[tuple[int, int]] = set()
    chunks = 0
    for _ in range(_MAX_CHUNKS):
        if cur_verdict.ok:
            break
        # an edit no model decodes, over the whole file: a slip whose problem shows far from it (a `}` line
        # left out) has no block around the problem that holds it; a guessed token only where the model's
        # own edits are unconstrained noise (under a grammar the guess must compete with the block's decoded
        # edits, a deletion among them); none with `edit_attempts=0`, the statement pass alone
        free = []
        if config.edit_attempts > 0:
            free = _model_free(cur, language, cur_verdict, failure_point(cur, language), config, t0,
                               given=code, guesses=grammar_for(language) is None)
        if free:
            best = min(free, key=lambda f: f[:3])[3]
            parts.append(replace(best, record=replace(best.record, extra={"edits": 1, "model_free_edits": 1})))
            cur, cur_verdict = best.code, best.verdict
            continue
        found = chunk_around(lm, cur, language, cur_verdict)
        chunks += found is not None and found[:2] not in seen
        if found is None or found[:2] in seen:
            break
        a, b, indent, head, tail = found
        seen.add((a, b))
        chunk = head + shift(cur[a:b], indent, remove=True) + tail
        part = _repair_whole(lm, chunk, language, config, check(chunk, language, given=code), given=code)
        parts.append(part)
        fixed = part.code
        # the enclosing headers and closing lines, a stand-in body: what stood around the block must come
        # back as it went
        if not (fixed.endswith(tail) and fixed.startswith(head)) or len(fixed) < len(head) + len(tail):
            break
        fixed = fixed[len(head): len(fixed) - len(tail)]
        cur = cur[:a] + shift(fixed, indent, remove=False) + cur[b:]
        cur_verdict = check(cur, language, given=code)
    if not parts:
        line = min(cur_verdict.problems, key=_precision).start_line if cur_verdict.problems else 1
        raise InputError(f"the code is too long for the model ({lm.max_length} tokens) to repair whole, and the "
                         f"problem at line {line} lies in no block of lines short enough to repair on its own")
    last = parts[-1].record
    holes, changed = _changes(code, cur)
    extra = {"edits": sum(p.record.extra.get("edits", 0) for p in parts),
             "model_free_edits": sum(p.record.extra.get("model_free_edits", 0) for p in parts),
             "edit_attempts": sum(p.record.extra.get("edit_attempts", 0) for p in parts),
             "changed_bytes": changed, "chunks": chunks}
    record = replace(last, **verdict_fields(cur_verdict), **summed(p.record for p in parts),
                     rounds=sum(p.record.rounds for p in parts) + max(0, chunks - 1),
                     fallback=any(p.record.fallback for p in parts),
                     seconds=time.perf_counter() - t0, categories_ok=tuple(h.category_ok for h in holes), extra=extra)
    return FillResult(code=cur, record=record, holes=holes, verdict=cur_verdict)


_MAX_CHUNKS = 8


def _precision(p) -> tuple[int, int]:
    """Sort key: the compiler's findings first (they point at the slip), then the narrowest."""
    return (p.kind != "compile_error", p.end_byte - p.start_byte)


def chunk_around(lm: DiffusionLM, code: str, language: str,
                 verdict: ValidityResult) -> tuple[int, int, str, str, str] | None:
    """``(start, end, indent, head, tail)``: the largest run of whole lines around the first problem that fits
    the model and, once ``indent`` is taken off every line and it stands between ``head`` and ``tail``, is a
    program of its own but for the problem (its statement regions' fillers make it valid) whose lines are a
    unit of the file; ``None`` when there is none.  Candidates grow from the problem's statement (its line
    and the deeper-indented lines after it) to each enclosing header's block, out to the unindented
    statement around it; what goes around an indented block comes from the language's ``[layout]``
    (:func:`~treediff.sample.chunks.surround`): the header of the definition holding it (Python), or the
    headers of every block holding it and their closing lines (brace languages).  When the problem is in a
    header whose block alone is too long, the chunk is the header's lines and ``tail`` starts with the
    statement filler, put in place of the block while the header is repaired (``end`` is then where the
    block starts).  ``head`` and ``tail`` are kept as they are and taken off again.

    >>> code = "class A:\\n    def f(self)\\n        return 1\\n\\n    def g(self):\\n        return 2\\n"
    >>> from treediff.sample import get_model
    >>> a, b, indent, head, tail = chunk_around(get_model(), code, "python", check(code, "python"))
    >>> code[a:b] == code, repr(indent), repr(head), repr(tail)
    (True, "''", "''", "''")
    """
    lines = code.splitlines(keepends=True)
    if not lines or not verdict.problems:
        return None
    starts = line_starts(lines)
    first = min(verdict.problems, key=_precision)
    data = code.encode("utf-8")
    i = line_index(starts, _char(data, problem_span(first, len(data))[0]))
    shape = without_comments(lines, language)  # the block search reads the code's lines, comments blank
    while i > 0 and not shape[i].strip():
        i -= 1

    def replaceable(top: int, end: int, base: str) -> bool:
        # the block is a unit of the file: with the statement filler in its place, no problem is left up to
        # its end (a `try:` block cut off from its `except` clause is not one)
        # (or, for unindented lines, with nothing in their place: no statement stands among Java's imports)
        for stand_in in [filler(language, "statement", indent=base) + "\n"] + ([""] if not base else []):
            rest = code[:starts[top]] + base + stand_in + code[starts[end]:]
            after = len(code[:starts[top]] + base) + len(stand_in)
            left = check(rest, language)
            if left.ok or all(_char(rest.encode("utf-8"), p.start_byte) > after for p in left.problems):
                return True
        return False

    layout = get_language(language).layout
    best = None
    for top, end, base in blocks_around(shape, i, siblings=SIBLINGS, layout=layout):
        around = surround(shape, top, end, base, language)
        if around is None:  # a block that cannot stand alone (a loop body outside any definition)
            continue
        head, foot, d_base = around
        chunk = head + shift("".join(lines[top:end]), d_base, remove=True) + foot
        if fits(lm, chunk, language):
            if (_sound(chunk, language, i - top + head.count("\n"), first=head.count("\n"))
                    and replaceable(top, end, base)):
                best = (starts[top], starts[end], d_base, head, foot)
        elif best is None and top <= i:  # the problem's own header over a block too long: a stand-in body
            # (the header's lines run while a bracket is open, up to one that opens a block: a signature
            # over several lines)
            last, text = top, layout.code_of(shape[top])
            while _unclosed(text) and not layout.opens_block(shape[last]) and last + 1 < end:
                last += 1
                text += " " + layout.code_of(shape[last])
            block = next((k for k in range(last + 1, end) if shape[k].strip()), None)
            if block is not None and i <= last:
                header = head + shift("".join(lines[top:block]), d_base, remove=True)
                # the statement filler for the block, then what ends the header's statement (`}`), if any
                closer = statement_rest(shape, top, block + 1, indentation(lines[block])) or ""
                tail = shift(filler(language, "statement"), indentation(lines[block])[len(d_base):],
                             remove=False) + "\n" + shift(closer, d_base, remove=True) + foot
                if (fits(lm, header + tail, language)
                        and _sound(header + tail, language, i - top + head.count("\n"))
                        and replaceable(top, end, base)):
                    best = (starts[top], starts[block], d_base, head, tail)
        elif best is not None:  # larger blocks only grow: the last sound one that fitted is it
            break
    return best


def _sound(chunk: str, language: str, line: int, first: int | None = None) -> bool:
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
    return _fills_valid(chunk, language, regions, definitions=True)


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


def _fills_valid(code: str, language: str, regions: list[tuple[int, int]], *, definitions: bool = False) -> bool:
    """Whether ``code`` is valid once its ``regions`` hold fillers (:func:`_filler_texts`), or, where a
    filler is no program's top-level item (Java's ``{}``), nothing for the regions at a line's start
    (:func:`~treediff.sample.pipeline.fill_regions`).

    >>> code = "import java.util.*;\\nimport java..io.*;\\n\\nclass A {}\\n"
    >>> a = code.index("import java..")
    >>> _fills_valid(code, "java", [(a, code.index(";", a) + 1)])
    True
    """
    texts = _filler_texts(code, language, regions, definitions=definitions)
    return fill_regions(code, regions, texts, [], language)[2].ok


def _repair_whole(lm: DiffusionLM, code: str, language: str, config: SamplerConfig,
                  verdict: ValidityResult, *, given: str | None = None) -> FillResult:
    """Repair ``code`` that fits the model: point edits, then the statement pass.  ``given``: the user's
    code (the whole file, for a chunk), whose names are the only outside references set aside; every
    check of an edit reads it, so a name one decoded edit made up does not pass the next edit's check."""
    given = code if given is None else given
    t0 = time.perf_counter()
    lang = get_language(language)
    # one decoding pass, left to right (every commit at the frontier), with more candidates per position
    attempt_config = config.replace(max_rounds=0, fallback=False, block_size=1, steps=None, threshold=None,
                                    num_candidates=max(config.num_candidates, 64))
    passes: list[FillResult] = []
    cur, cur_verdict, kept, parsed = code, verdict, 0, 0
    last: FillResult | None = None
    if config.uses_remask and config.edit_attempts > 0:
        for _ in range(_MAX_SLIPS):
            found: list[tuple[int, int, int, FillResult]] = []
            point = failure_point(cur, language)
            for i, (kind, a, b) in enumerate(edit_sites(cur, language, cur_verdict, point)[: config.edit_attempts]):
                if found and i >= _COMPARED:  # the first sites are compared, the rest only tried while none works
                    break
                ba, bb = _byte(cur, a), _byte(cur, b)
                data = cur.encode("utf-8")
                template = HoleTemplate(source=data, language=lang,
                                        holes=(Hole(0, ba, bb, "statement", None, indent_at(data, ba)),))
                n = _INSERT if kind == "insert" else len(lm.encode(cur[a:b], language)) + _REPLACE_SLACK
                attempt = fill_template(lm, template, attempt_config, lengths=[n], close_early=True,
                                        given=given)[0]
                passes.append(attempt)
                if attempt.record.ok:
                    found.append((0, _edit_size(cur, attempt.code), len(attempt.code), attempt))
                elif _progress(cur, attempt.code, a, b, language, point):
                    found.append((1, _edit_size(cur, attempt.code), len(attempt.code), attempt))
            # the edits no model decoded first: of two edits alike, the one the file's own data points to
            found = _model_free(cur, language, cur_verdict, point, config, t0, given=given) + found
            if not found:
                break
            # valid first, then the smallest edit, then the shorter program (a deletion over an insertion)
            last = min(found, key=lambda f: f[:3])[3]
            cur, cur_verdict, kept = last.code, last.verdict, kept + 1
            parsed += bool(last.record.extra.get("model_free"))
            if last.record.ok:
                break
    result = last if last is not None and last.record.ok else None
    if result is None:  # the statement pass on what the point edits left: enclosing statements, rounds, fallback
        result = _statement_repair(lm, cur, language, config, cur_verdict, given=given)
        passes.append(result)
    rec = result.record
    holes, changed = _changes(code, result.code)
    tried = len(passes) - (0 if result is last or result not in passes else 1)
    extra = {k: v for k, v in rec.extra.items() if k != "model_free"}
    extra.update(edits=kept, edit_attempts=tried, changed_bytes=changed, model_free_edits=parsed)
    # every decoding after the first is a round: the point edits tried, the statement pass, its own rounds
    record = replace(rec, rounds=len(passes) - 1 + (0 if result is last else rec.rounds),
                     **summed(p.record for p in passes),  # point-edit attempts never fall back
                     seconds=time.perf_counter() - t0, categories_ok=tuple(h.category_ok for h in holes), extra=extra)
    return FillResult(code=result.code, record=record, holes=holes, verdict=result.verdict)


def parser_inserts(code: str, language: str) -> list[tuple[int, str]]:
    """``(offset, text)`` insertions tree-sitter's error recovery proposes: each MISSING token of a fixed
    text (a ``)``, a ``;``), where the parser put it.  A named MISSING node (an identifier) has no text and is
    left to the model.

    >>> parser_inserts("int f(void) { return 1 }\\n", "c")
    [(22, ';')]
    """
    tree = parse(code, language)
    data = code.encode("utf-8")
    out: list[tuple[int, str]] = []
    for node in tree.errors():
        if node.is_missing and not node.is_named and node.kind.strip():
            at = (_char(data, node.start_byte), node.kind)
            if at not in out:
                out.append(at)
    return out


_PAIRS = {"(": ")", "[": "]", "{": "}"}
_MAX_BRACKET_SITES = 24


def bracket_inserts(code: str, language: str, verdict: ValidityResult) -> list[tuple[int, str]]:
    """``(offset, closer)`` insertions for a bracket opened and never closed on the first problem's line or
    the code line before it: its closer after each word or symbol from the bracket to the line's code end
    (before a trailing ``block_open``).  Strings are skipped by their quotes.  For languages the sampler has
    no incremental grammar for, where the failure point is unknown; the check picks among them.

    >>> code = "let [a, b = f(x)\\n"
    >>> [code[:p] + c for p, c in bracket_inserts(code, "javascript", check(code, "javascript"))][:3]
    ['let [a]', 'let [a,]', 'let [a, b]']
    """
    if not verdict.problems:
        return []
    layout = get_language(language).layout
    lines = code.splitlines(keepends=True)
    starts = line_starts(lines)
    data = code.encode("utf-8")
    k = line_index(starts, _char(data, min(p.start_byte for p in verdict.problems)))
    prev = next((j for j in range(k - 1, -1, -1) if layout.code_of(lines[j]).strip()), None)
    out: list[tuple[int, str]] = []
    for j in ([prev] if prev is not None else []) + [k]:
        text = layout.code_of(lines[j])
        end = len(text) - (len(layout.block_open) if layout.opens_block(text) else 0)
        for o in _open_brackets(text):
            closer = _PAIRS[text[o]]
            x = o + 1
            for m in _UNIT.finditer(text, o + 1, end):
                if not m.group().isspace():
                    x = m.end()
                    out.append((starts[j] + x, closer))
            if len(out) > _MAX_BRACKET_SITES:
                break
    return out[:_MAX_BRACKET_SITES]


def model_free_edits(code: str, language: str, verdict: ValidityResult) -> list[tuple[int, int, str]]:
    """``(start, end, text)`` edits no model decodes: what tree-sitter's recovery says is missing
    (:func:`parser_inserts`); for a language without an incremental grammar also the brackets the
    indentation (:func:`layout_edits`) or the problem's line (:func:`bracket_inserts`) says are unclosed,
    and a stray closer.  (The guesses of :func:`token_inserts` come on top, in :func:`_model_free`.)"""
    edits = [(pos, pos, text) for pos, text in parser_inserts(code, language)]
    if grammar_for(language) is None:
        more = layout_edits(code, language, verdict)
        more += [(pos, pos, text) for pos, text in bracket_inserts(code, language, verdict)]
        edits += [e for e in more if e not in edits]
    return edits


_MAX_TOKEN_INSERTS = 3
_MAX_TOKEN_PARSES = 160  # candidates parsed, best ranked first
_CLOSERS = (")", "]", "}")  # where one goes is the parser's, the indentation's and the model's to say
_WORD = re.compile(r"[^\W\d]\w*")  # an identifier or keyword


def token_inserts(code: str, language: str, verdict: ValidityResult) -> list[tuple[int, str]]:
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
        if not n.is_named and _SYMBOL.fullmatch(t) and t not in _CLOSERS:
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
    for mark in marks:
        j = next((i for i in range(len(leaves) - 1, -1, -1) if leaves[i].end_byte <= mark), -1)
        gaps += [k for k in range(max(j - 1, 0), min(j + 3, len(leaves) - 1)) if k not in gaps]
    line_end = data.find(b"\n", max(marks))
    limit = len(data) if line_end < 0 else line_end
    # a slot is where a token may go: (left end, right start, left label, right label, holder); between two
    # leaves, or inside a word made of two words the file uses (`superexplanation` where `(` went missing)
    words: dict[str, str] = {}
    for n, lab in zip(leaves, labels):
        text = data[n.start_byte:n.end_byte].decode("utf-8", "replace")
        if _WORD.fullmatch(text):
            words.setdefault(text, lab)
    slots: list[tuple[int, int, str, str, str]] = []
    for k in gaps:
        slots.append((leaves[k].end_byte, leaves[k + 1].start_byte, labels[k], labels[k + 1], holder(leaves[k])))
    for n in dict.fromkeys(leaves[x] for k in gaps for x in (k, k + 1)):
        text = data[n.start_byte:n.end_byte].decode("utf-8", "replace")
        if n.is_named and _WORD.fullmatch(text) and text.isascii():
            for i in range(1, len(text)):
                if text[:i] in words and text[i:] in words:
                    slots.append((n.start_byte + i, n.start_byte + i, words[text[:i]], words[text[i:]], holder(n)))

    def spacing(slot, t: str) -> tuple[bool, bool]:  # a blank before the token, after it, as the file has
        by_left = spaced.get((slot[2], t, ""), spaced[(t,)])
        by_right = spaced.get(("", t, slot[3]), spaced[(t,)])
        return 2 * by_left[0] > by_left[2], 2 * by_right[1] > by_right[2]

    def fits_blank(slot, t: str) -> bool:
        # the blanks a deleted token leaves are the ones it had: none for `.`, one for `,`, two for `=`
        blank = data[slot[0]:slot[1]]
        return b"\n" in blank or min(len(blank), 2) == sum(spacing(slot, t))

    ranked = sorted(((x, t) for x in range(len(slots)) for t in counts),
                    key=lambda c: (not fits_blank(slots[c[0]], c[1]),
                                   -around.get((slots[c[0]][2], c[1], slots[c[0]][3], slots[c[0]][4]), 0),
                                   -around.get((slots[c[0]][2], c[1], slots[c[0]][3]), 0), -counts[c[1]], c[0]))

    def placed(slot, t: str) -> tuple[int, bytes]:
        # where in the blanks between the two leaves, as the file spaces the token: `a, b` after the
        # left one, `if (x` before the right one, `a = b` between (a blank added when one is missing)
        left, right = slot[0], slot[1]
        blank = data[left:right]
        before, after = spacing(slot, t)
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
            out.append((_char(data, at), text.decode("utf-8")))
            if len(out) == _MAX_TOKEN_INSERTS:
                break
    return out


def _model_free(code: str, language: str, verdict: ValidityResult, point: int | None, config: SamplerConfig,
                t0: float, *, given: str | None = None, guesses: bool = True) -> list[tuple[int, int, int, FillResult]]:
    """The :func:`model_free_edits` that make ``code`` valid or fix its slip, and the :func:`token_inserts`
    that make it valid (a guessed token that only moves the problem on is often a wrong one, even when
    the grammar's failure point moves past it: ``class A:(B)``; and wrong guesses pile up), as
    ``(invalid, size, length, result)`` for the edit comparison; ``guesses=False`` leaves the token
    inserts out."""
    found = []
    sure = model_free_edits(code, language, verdict)
    guessed = [(p, p, t) for p, t in token_inserts(code, language, verdict) if (p, p, t) not in sure] \
        if guesses else []
    for a, b, text in sure + guessed:
        candidate = code[:a] + text + code[b:]
        after = check(candidate, language, given=code if given is None else given)
        guess = (a, b, text) in guessed
        if after.ok or (not guess and _progress(code, candidate, a, b, language, point)):
            found.append((0 if after.ok else 1, len(text) + b - a, len(candidate),
                          _parsed(candidate, after, config, time.perf_counter() - t0)))
    return found


_MAX_LAYOUT_SITES = 8
_SYMBOL = re.compile(r"[^\w\s'\"`]{1,3}")  # a run of operator characters (``||``, ``,``, ``)``)


def layout_edits(code: str, language: str, verdict: ValidityResult) -> list[tuple[int, int, str]]:
    """``(start, end, text)`` edits a bracket-delimited layout's indentation points to, nearest the first
    problem first: a line whose code ends with an opening bracket (a header's ``{``, a call's ``(`` over
    several lines) whose indented lines end without the line that closes what it opened (``}``, ``})``)
    gets that line (or the closer before a ``,`` that starts the next line at its depth), or the missing
    part of it (``}`` where ``})`` belongs); a closing bracket, or a symbol written twice, where the check
    stopped is deleted.  ``[]`` for an indentation layout.

    >>> code = "function f (x) {\\n  if (x) {\\n    g(x)\\n\\n  return 1\\n}\\n"
    >>> [code[:a] + t + code[b:] for a, b, t in layout_edits(code, "javascript", check(code, "javascript"))][0]
    'function f (x) {\\n  if (x) {\\n    g(x)\\n  }\\n\\n  return 1\\n}\\n'
    """
    layout = get_language(language).layout
    if not layout.block_close or not verdict.problems:
        return []
    lines = code.splitlines(keepends=True)
    starts = line_starts(lines)
    shape = without_comments(lines, language)
    data = code.encode("utf-8")
    problem = line_index(starts, _char(data, min(p.start_byte for p in verdict.problems)))
    found: list[tuple[int, tuple[int, int, str]]] = []
    for j, ln in enumerate(shape):
        code_j = layout.code_of(ln)
        if not code_j or code_j[-1] not in _PAIRS:  # a header, or a bracket left open over several lines
            continue
        expected = _unclosed(code_j)
        if not expected:
            continue
        d = indentation(ln)
        c = next((x for x in range(j + 1, len(shape)) if shape[x].strip() and len(indentation(shape[x])) <= len(d)),
                 None)
        last = next((x for x in range(len(shape) - 1 if c is None else c - 1, j, -1) if shape[x].strip()), j)
        if c is None or indentation(shape[c]) != d or shape[c].strip()[:1] not in tuple(_PAIRS.values()):
            at = starts[last + 1] if last + 1 < len(lines) else len(code)
            nl = "" if at == 0 or code[at - 1] == "\n" else "\n"
            found.append((abs(last - problem), (at, at, nl + d + expected + "\n")))
            if c is not None and indentation(shape[c]) == d and shape[c].strip()[:1] in ",.;":
                at = starts[c] + len(d)  # `    ,` where `    ),` was: the closer goes before the punctuation
                found.append((abs(c - problem), (at, at, expected)))
            continue
        text = shape[c].strip()
        actual = len(text) - len(text.lstrip(")]}"))
        if actual < len(expected) and text[:actual] == expected[:actual]:
            at = starts[c] + len(d) + actual
            found.append((abs(c - problem), (at, at, expected[actual:])))
    for p in verdict.problems:  # a closer where the check stopped, or a symbol written twice: a stray one
        a = _char(data, problem_span(p, len(data))[0])
        symbol = _SYMBOL.match(code, a)
        if symbol is None:
            continue
        run, before = symbol.group(), code[:a].rstrip()
        # the longest start of the run that the code before it ends with (`plaf..*;` at the second `.`)
        k = next((k for k in range(len(run), 0, -1) if before.endswith(run[:k])), 0)
        if k == 0 and run[0] in ")]}":
            k = len(run) if run in ")]}" else 1
        if k:
            found.append((0, (a, a + k, "")))
    found.sort(key=lambda f: f[0])
    out: list[tuple[int, int, str]] = []
    for _, e in found:
        if e not in out:
            out.append(e)
    return out[:_MAX_LAYOUT_SITES]


def _open_brackets(text: str) -> list[int]:
    """Offsets of the brackets ``text`` opens and does not close, outermost first; strings are skipped by
    their quotes, closers of brackets opened before ``text`` are ignored."""
    stack: list[int] = []
    quote = None
    for x, ch in enumerate(text):
        if quote:
            quote = None if ch == quote and text[x - 1] != "\\" else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in _PAIRS:
            stack.append(x)
        elif ch in _PAIRS.values() and stack and _PAIRS[text[stack[-1]]] == ch:
            stack.pop()
    return stack


def _unclosed(text: str) -> str:
    """The closers of the brackets ``text`` opens and does not close, innermost first (``foo(function () {``
    gives ``})``)."""
    return "".join(_PAIRS[text[x]] for x in reversed(_open_brackets(text)))


def _parsed(code: str, verdict: ValidityResult, config: SamplerConfig, seconds: float) -> FillResult:
    """The result of an edit no model decoded (a parser insert): no forward pass, no round."""
    record = ValidityRecord(**verdict_fields(verdict), rounds=0, fallback=False, nfe=0, seconds=seconds,
                            constraint=config.constraint, extra={"model_free": True})
    return FillResult(code=code, record=record, verdict=verdict)


def _progress(old: str, new: str, a: int, b: int, language: str, before: int | None) -> bool:
    """Whether an edit of ``old[a:b]`` that left ``new`` still invalid fixed the slip there: the grammar's
    failure point moved past both the edit and where it was before (``before``, in ``old``), or the grammar
    accepts all of ``new`` and only the compiler objects, so a later slip is what remains."""
    if new == old:
        return False
    delta = len(new) - len(old)
    if grammar_for(language) is None:  # no grammar: the check's first problem must have moved past the edit
        first = _first_problem(new, language)
        return first is None or (first > b + delta and first > (_first_problem(old, language) or 0) + delta)
    f = failure_point(new, language)
    if f is None:
        return True
    before = before if before is None or before < b else before + delta
    return f > b + delta and (before is None or f > before)


def _statement_repair(lm: DiffusionLM, code: str, language: str, config: SamplerConfig,
                      verdict: ValidityResult, *, given: str | None = None) -> FillResult:
    regions = statement_regions(code, language, verdict)
    data = code.encode("utf-8")
    template = find_holes(code, language, spans=[(a, b, "statement") for a, b in regions])
    lengths = [len(lm.encode(data[a:b].decode("utf-8", "replace"), language)) + _STATEMENT_SLACK
               for a, b in regions]
    return fill_template(lm, template, config, lengths=lengths, given=given)[0]


def _first_problem(code: str, language: str) -> int | None:
    """The character offset where the check's first problem starts (``None`` when the code is valid)."""
    verdict = check(code, language)
    if verdict.ok or not verdict.problems:
        return None
    data = code.encode("utf-8")
    return min(_char(data, problem_span(p, len(data))[0]) for p in verdict.problems)


def statement_regions(code: str, language: str, verdict: ValidityResult,
                      floor: int | None = None) -> list[tuple[int, int]]:
    """Byte regions the statement pass remasks: per problem, whole lines around it, in the first of these
    shapes where the language's statement filler in every region gives a valid program (so the typed
    fallback can always end the repair): the problem's own lines (cut before a dedent, so an ``except``
    clause the broken line swallowed stays); those lines with a header's indented block; the rest of the
    enclosing block (a broken ``try:`` header takes its ``except`` clauses along); then the statements
    that hold the problem's line, smallest first (:func:`~treediff.sample.chunks.blocks_around`: an entry
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
            merged = _merged([_whole_lines(data, a, b, shape) for a, b in spans])
            if _fills_valid(code, language, merged):
                if balanced(merged):
                    return merged, True
                first_valid = first_valid or merged
        if first_valid is None:  # the problem sits inside a statement over several lines (an entry of an object
            # literal): the statements that hold its line, smallest first, as the block search finds them
            lines = code.splitlines(keepends=True)
            starts = line_starts(lines)
            shape_lines = without_comments(lines, language)
            around = [list(blocks_around(shape_lines, line_index(starts, _char(data, a)), layout=layout))
                      for a, _ in spans]
            for level in range(max((len(c) for c in around), default=0)):
                regions = []
                for c in around:
                    if c:
                        top, end, base = c[min(level, len(c) - 1)]
                        if floor is not None and top <= floor:  # not from the caller's first line up
                            continue
                        last = starts[end] - (1 if lines[end - 1].endswith("\n") else 0)
                        regions.append((_byte(code, starts[top] + len(base)), _byte(code, last)))
                candidate = _merged(regions)
                if _fills_valid(code, language, candidate):
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


def _whole_lines(data: bytes, a: int, b: int, shape: str = "block") -> tuple[int, int]:
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


def _edit_size(old: str, new: str) -> int:
    """Characters deleted plus characters inserted to turn ``old`` into ``new`` (from a diff)."""
    return sum((i2 - i1) + (j2 - j1) for tag, i1, i2, j1, j2 in _opcodes(old, new) if tag != "equal")


def _changes(old: str, new: str) -> tuple[tuple[HoleFill, ...], int]:
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
