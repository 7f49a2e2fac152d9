"""Files longer than the model: repaired one block of lines at a time (:mod:`treediff.syntax.layout`)."""

from __future__ import annotations

import time
from dataclasses import replace

from treediff.errors import InputError
from treediff.model.formats import DiffusionLM
from treediff.repairs.diff import changes, drops_lone_token
from treediff.repairs.model_free import edit_rank, model_free_results, unclosed
from treediff.repairs.point_edits import repair_whole
from treediff.repairs.sites import char_offset, failure_point, precision
from treediff.repairs.statements import stands_alone
from treediff.sample.config import SamplerConfig
from treediff.sample.constraints import grammar_for
from treediff.sample.long import fits
from treediff.sample.record import FillResult, check, summed, verdict_fields
from treediff.sample.remask import problem_span
from treediff.syntax.holes import filler
from treediff.syntax.language import get_language
from treediff.syntax.layout import (SIBLINGS, blocks_around, indentation, line_index, line_starts, shift,
                                    statement_rest, surround, without_comments)
from treediff.validity import ValidityResult

__all__ = ["repair_chunks", "chunk_around"]

_MAX_CHUNKS = 8


def repair_chunks(lm: DiffusionLM, code: str, language: str, config: SamplerConfig,
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
        # edits, a deletion among them), or where the best edit deletes a token the user wrote once (a `(`
        # put back into `dirnamepath)` beats the `)` deleted); none with `edit_attempts=0`, the statement
        # pass alone
        free = []
        if config.edit_attempts > 0:
            point, guesses = failure_point(cur, language), grammar_for(language) is None
            free = model_free_results(cur, language, cur_verdict, point, config, t0, given=code, guesses=guesses)
            if free and not guesses and drops_lone_token(cur, min(free, key=lambda f: edit_rank(cur, f, language))[3].code):
                free = model_free_results(cur, language, cur_verdict, point, config, t0, given=code)
        if free:
            best = min(free, key=lambda f: edit_rank(cur, f, language))[3]
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
        part = repair_whole(lm, chunk, language, config, check(chunk, language, given=code), given=code)
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
        line = min(cur_verdict.problems, key=precision).start_line if cur_verdict.problems else 1
        raise InputError(f"the code is too long for the model ({lm.max_length} tokens) to repair whole, and the "
                         f"problem at line {line} lies in no block of lines short enough to repair on its own")
    last = parts[-1].record
    holes, changed = changes(code, cur)
    extra = {"edits": sum(p.record.extra.get("edits", 0) for p in parts),
             "model_free_edits": sum(p.record.extra.get("model_free_edits", 0) for p in parts),
             "edit_attempts": sum(p.record.extra.get("edit_attempts", 0) for p in parts),
             "changed_bytes": changed, "chunks": chunks}
    record = replace(last, **verdict_fields(cur_verdict), **summed(p.record for p in parts),
                     rounds=sum(p.record.rounds for p in parts) + max(0, chunks - 1),
                     fallback=any(p.record.fallback for p in parts),
                     seconds=time.perf_counter() - t0, categories_ok=tuple(h.category_ok for h in holes), extra=extra)
    return FillResult(code=cur, record=record, holes=holes, verdict=cur_verdict)


def chunk_around(lm: DiffusionLM, code: str, language: str,
                 verdict: ValidityResult) -> tuple[int, int, str, str, str] | None:
    """``(start, end, indent, head, tail)``: the largest run of whole lines around the first problem that fits
    the model and, once ``indent`` is taken off every line and it stands between ``head`` and ``tail``, is a
    program of its own but for the problem (its statement regions' fillers make it valid) whose lines are a
    unit of the file; ``None`` when there is none.  Candidates grow from the problem's statement (its line
    and the deeper-indented lines after it) to each enclosing header's block, out to the unindented
    statement around it; what goes around an indented block comes from the language's ``[layout]``
    (:func:`~treediff.syntax.layout.surround`): the header of the definition holding it (Python), or the
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
    first = min(verdict.problems, key=precision)
    data = code.encode("utf-8")
    i = line_index(starts, char_offset(data, problem_span(first, len(data))[0]))
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
            if left.ok or all(char_offset(rest.encode("utf-8"), p.start_byte) > after for p in left.problems):
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
            if (stands_alone(chunk, language, i - top + head.count("\n"), first=head.count("\n"))
                    and replaceable(top, end, base)):
                best = (starts[top], starts[end], d_base, head, foot)
        elif best is None and top <= i:  # the problem's own header over a block too long: a stand-in body
            # (the header's lines run while a bracket is open, up to one that opens a block: a signature
            # over several lines)
            last, text = top, layout.code_of(shape[top])
            while unclosed(text) and not layout.opens_block(shape[last]) and last + 1 < end:
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
                        and stands_alone(header + tail, language, i - top + head.count("\n"))
                        and replaceable(top, end, base)):
                    best = (starts[top], starts[block], d_base, head, tail)
        elif best is not None:  # larger blocks only grow: the last sound one that fitted is it
            break
    return best
