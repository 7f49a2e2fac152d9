"""Edits no model decodes: tree-sitter's MISSING tokens, closers the indentation or the line asks for, stray closers."""

from __future__ import annotations

import bisect
import time

from treediff.repairs.diff import TOKEN, drops_lone_token, pair_counts, scars_mended
from treediff.repairs.keyword_edits import keyword_edits
from treediff.repairs.sites import UNIT, char_offset, made_progress
from treediff.repairs.token_edits import SYMBOL, token_inserts
from treediff.sample.config import SamplerConfig
from treediff.sample.constraints import grammar_for
from treediff.sample.record import FillResult, ValidityRecord, check, verdict_fields
from treediff.sample.remask import problem_span
from treediff.syntax.keywords import edit_distance, keywords
from treediff.syntax.language import get_language
from treediff.syntax.layout import indentation, line_index, line_starts, without_comments
from treediff.syntax.tree import parse
from treediff.validity import ValidityResult

__all__ = ["parser_inserts", "bracket_inserts", "model_free_edits", "layout_edits", "opener_edits", "flat_edits", "line_edits", "unclosed", "model_free_result", "model_free_results",
           "edit_rank", "PAIRS"]

def parser_inserts(code: str, language: str) -> list[tuple[int, str]]:
    """``(offset, text)`` insertions tree-sitter's error recovery proposes: each MISSING token of a fixed
    text (a ``)``, a ``;``), where the parser put it.  A named MISSING node (an identifier) has no text and is
    left to the model.  One the parser put after a comment goes right after the code before the comment
    (``int x /* a */`` gets its ``;`` after ``x``).

    >>> parser_inserts("int f(void) { return 1 }\\n", "c"), parser_inserts("int x /* a */\\nint y;\\n", "c")
    ([(22, ';')], [(5, ';')])
    """
    tree = parse(code, language)
    data = code.encode("utf-8")
    comments = get_language(language).categories.get("comment", frozenset())
    ends = sorted(leaf.end_byte for leaf in tree.leaves() if leaf.kind not in comments and leaf.end_byte > leaf.start_byte)
    out: list[tuple[int, str]] = []
    for node in tree.errors():
        if node.is_missing and not node.is_named and node.kind.strip():
            byte = node.start_byte
            k = bisect.bisect_right(ends, byte) - 1
            if k >= 0 and data[ends[k]:byte].strip():  # a comment between the code and where the parser put it
                byte = ends[k]
            at = (char_offset(data, byte), node.kind)
            if at not in out:
                out.append(at)
    return out


PAIRS = {"(": ")", "[": "]", "{": "}"}
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
    k = line_index(starts, char_offset(data, min(p.start_byte for p in verdict.problems)))
    prev = next((j for j in range(k - 1, -1, -1) if layout.code_of(lines[j]).strip()), None)
    out: list[tuple[int, str]] = []
    for j in ([prev] if prev is not None else []) + [k]:
        text = layout.code_of(lines[j])
        end = len(text) - (len(layout.block_open) if layout.opens_block(text) else 0)
        for o in _open_brackets(text):
            closer = PAIRS[text[o]]
            x = o + 1
            for m in UNIT.finditer(text, o + 1, end):
                if not m.group().isspace():
                    x = m.end()
                    # between the two blanks a closer left when it went (`{ a as X } from` left `X  from`)
                    out.append((starts[j] + x + (text[x:x + 2] == "  "), closer))
            out.append((starts[j] + o + 1, closer))  # an empty pair (`[]string` left `[string`)
            if len(out) > _MAX_BRACKET_SITES:
                break
    return out[:_MAX_BRACKET_SITES]


def model_free_edits(code: str, language: str, verdict: ValidityResult) -> list[tuple[int, int, str]]:
    """``(start, end, text)`` edits no model decodes: what tree-sitter's recovery says is missing
    (:func:`parser_inserts`); for a language without an incremental grammar also the brackets the
    indentation (:func:`layout_edits`) or the problem's line (:func:`bracket_inserts`) says are unclosed,
    and a stray closer; in every language a misspelt keyword (:func:`keyword_edits`), the closers of a line
    that ends with an opening bracket and an opener the indentation says a line lost (:func:`opener_edits`).  (The guesses of
    :func:`token_inserts` come on top, in :func:`model_free_results`.)"""
    # what the indentation says first: of two closers alike, the one at the end of the block it shows, not the
    # one tree-sitter's recovery puts at the end of the file
    edits = flat_edits(code, language, verdict) + line_edits(code, language, verdict)
    edits += layout_edits(code, language, verdict, brackets_only=grammar_for(language) is not None)
    edits += opener_edits(code, language, verdict)
    edits += [(pos, pos, text) for pos, text in parser_inserts(code, language)]
    edits += keyword_edits(code, language, verdict)
    if grammar_for(language) is None:
        edits += [(pos, pos, text) for pos, text in bracket_inserts(code, language, verdict)]
    return list(dict.fromkeys(edits))


_MAX_LAYOUT_SITES = 8


def _line_view(code: str, language: str, verdict: ValidityResult) -> tuple[list[str], list[int], list[str], int]:
    """The lines of ``code`` (with their ends), their start offsets, their code without comments, and the line of the
    verdict's first problem (the view every layout-driven edit reads)."""
    lines = code.splitlines(keepends=True)
    starts = line_starts(lines)
    problem = line_index(starts, char_offset(code.encode("utf-8"), min(p.start_byte for p in verdict.problems)))
    return lines, starts, without_comments(lines, language), problem


def layout_edits(code: str, language: str, verdict: ValidityResult, *,
                 brackets_only: bool = False) -> list[tuple[int, int, str]]:
    """``(start, end, text)`` edits a bracket-delimited layout's indentation points to, nearest the first
    problem first: a line whose code ends with an opening bracket (a header's ``{``, a call's ``(`` over
    several lines) whose indented lines end without the line that closes what it opened (``}``, ``})``)
    gets that line (or the closer before a ``,`` that starts the next line at its depth), or the missing
    part of it (``}`` where ``})`` belongs); a closing bracket, or a symbol written twice, where the check
    stopped is deleted.  ``[]`` for an indentation layout, unless ``brackets_only``: then, in any layout, only the
    closers of a line that ends with an opening bracket (a ``)`` line left out below ``g(``, or put back into the
    blank line at the opener's depth that the slip left).

    >>> code = "function f (x) {\\n  if (x) {\\n    g(x)\\n\\n  return 1\\n}\\n"
    >>> [code[:a] + t + code[b:] for a, b, t in layout_edits(code, "javascript", check(code, "javascript"))][0]
    'function f (x) {\\n  if (x) {\\n    g(x)\\n  }\\n\\n  return 1\\n}\\n'
    """
    layout = get_language(language).layout
    if (not layout.block_close and not brackets_only) or not verdict.problems:
        return []
    lines, starts, shape, problem = _line_view(code, language, verdict)
    found: list[tuple[int, tuple[int, int, str]]] = []
    for j, ln in enumerate(shape):
        code_j = layout.code_of(ln)
        if not code_j or code_j[-1] not in PAIRS:  # a header, or a bracket left open over several lines
            continue
        if _flat_header(shape, j, layout):  # a namespace's items are not indented: flat_edits' work
            continue
        expected = unclosed(code_j)
        if not expected:
            continue
        d = indentation(ln)
        c = next((x for x in range(j + 1, len(shape)) if shape[x].strip() and len(indentation(shape[x])) <= len(d)),
                 None)
        last = next((x for x in range(len(shape) - 1 if c is None else c - 1, j, -1) if shape[x].strip()), j)
        if c is None or indentation(shape[c]) != d or shape[c].strip()[:1] not in tuple(PAIRS.values()):
            at = starts[last + 1] if last + 1 < len(lines) else len(code)
            if c is not None and indentation(shape[c]) == d and shape[c].strip()[:1] in ",.;":
                here = starts[c] + len(d)  # `    ,` where `    ),` was: the closer goes before the punctuation
                found.append((min(abs(c - problem), abs(last - problem)), (here, here, expected)))
            if at < len(code) and lines[last + 1].rstrip("\r\n") == d:  # a blank line at the depth: the closer's own
                found.append((abs(last - problem), (at + len(d), at + len(d), expected)))
            else:
                nl = "" if at == 0 or code[at - 1] == "\n" else "\n"
                found.append((abs(last - problem), (at, at, nl + d + expected + "\n")))
            continue
        text = shape[c].strip()
        actual = len(text) - len(text.lstrip(")]}"))
        if actual < len(expected) and text[:actual] == expected[:actual]:
            at = starts[c] + len(d) + actual
            found.append((abs(c - problem), (at, at, expected[actual:])))
        elif 0 < actual < len(expected) and expected.endswith(text[:actual]):  # `)` where `})` belongs: the head
            found.append((abs(c - problem), (starts[c] + len(d), starts[c] + len(d), expected[:len(expected) - actual])))
    data = code.encode("utf-8")
    for p in () if brackets_only else verdict.problems:  # a closer where the check stopped, or a symbol written
        # twice: a stray one
        a = char_offset(data, problem_span(p, len(data))[0])
        symbol = SYMBOL.match(code, a)
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


def _flat_header(shape: list[str], j: int, layout) -> bool:
    """Whether line ``j`` opens a block of :attr:`~treediff.syntax.language.Layout.flat_blocks` (``namespace
    boost {``, or a ``{`` line below ``namespace boost``)."""
    if layout.is_flat_header(shape[j]):
        return True
    above = next((x for x in range(j - 1, -1, -1) if shape[x].strip()), None)
    return layout.code_of(shape[j]) == layout.block_open and above is not None and layout.is_flat_header(shape[above])


def flat_edits(code: str, language: str, verdict: ValidityResult) -> list[tuple[int, int, str]]:
    """``(start, end, text)``: the bracket a block the language writes without indentation lost (a C++
    ``namespace``, ``[layout] flat_blocks``), where the indentation cannot say.  When the file's code has one
    ``}`` too few: after the last item of the block (the last code line before the next flat header at the
    same depth, or before the closing preprocessor lines at the file's end): first into a comment line there
    that starts with the blank the slip left (`` // namespace boost``), then on a line of its own.  When it
    has one ``{`` too few: after a flat header that opens nothing, on the blank line below it where the file
    writes its openers on lines of their own, else at the header's end.

    >>> code = "namespace a\\n{\\n\\nint x;\\n\\n // namespace a\\n"
    >>> [code[:a] + t + code[b:] for a, b, t in flat_edits(code, "cpp", check(code, "cpp"))][0]
    'namespace a\\n{\\n\\nint x;\\n\\n} // namespace a\\n'
    """
    layout = get_language(language).layout
    if not layout.flat_blocks or not verdict.problems:
        return []
    lines, starts, shape, _ = _line_view(code, language, verdict)
    text = "".join(layout.code_of(x) for x in shape)
    opener, closer = layout.block_open, layout.block_close
    found: list[tuple[int, int, str]] = []
    heads = [j for j in range(len(shape)) if layout.is_flat_header(shape[j])]
    if text.count(opener) == text.count(closer) + 1:
        for j in heads:
            nxt = next((x for x in range(j + 1, len(shape)) if layout.is_flat_header(shape[x])
                        and len(indentation(shape[x])) <= len(indentation(shape[j]))), len(shape))
            last = next((x for x in range(nxt - 1, j, -1) if shape[x].strip() and not shape[x].lstrip().startswith("#")),
                        None)
            if last is None:
                continue
            for x in range(last + 1, nxt):  # a comment line that starts with the blank the slip left
                if not shape[x].strip() and lines[x].strip() and lines[x][:1] in " \t":
                    found.append((starts[x], starts[x], closer))
            at = starts[last + 1] if last + 1 < len(lines) else len(code)
            found.append((at, at, ("" if code[at - 1:at] == "\n" else "\n") + indentation(shape[j]) + closer + "\n"))
    elif text.count(closer) == text.count(opener) + 1:
        own_line = any(x.strip() == opener for x in shape)
        for j in heads:
            below = next((x for x in range(j + 1, len(shape)) if shape[x].strip()), None)
            if layout.opens_block(shape[j]) or (below is not None and shape[below].strip().startswith(opener)):
                continue
            d = indentation(shape[j])
            if own_line and j + 1 < len(lines) and lines[j + 1].rstrip("\r\n") == d:
                found.append((starts[j + 1] + len(d), starts[j + 1] + len(d), opener))
            end = starts[j] + len(lines[j].rstrip("\r\n"))
            found.append((end, end, " " + opener))
    return found[:_MAX_LAYOUT_SITES]


_MAX_LINE_SITES = 3  # per line: each costs the compiler a run


def line_edits(code: str, language: str, verdict: ValidityResult) -> list[tuple[int, int, str]]:
    """``(start, end, text)``: the bracket a one-line item lost, for a language whose blocks end with a closer.
    A line that holds a whole item (it ends with ``;`` or ``,``; the code line before it ends one: ``;`` ``,`` or a
    bracket; the next one is no deeper) and opens one bracket more than it closes gets the closer, or closes one
    more gets the opener,
    inside the line: at the gaps between its tokens whose neighbours the file writes least often (the pair a
    slip leaves: ``into_raw_socket(, max);``, ``assert_eq!OwnedSocket::f(x), y);``), nearest the first problem
    first.  What a compiler cannot check (code inside a macro's tokens, code a ``cfg`` leaves out) still
    shows in the line.

    >>> code = "fn f() {\\n    g(a(), b);\\n    g(a(, b);\\n}\\n"
    >>> [code[:a] + t + code[b:] for a, b, t in line_edits(code, "rust", check(code, "rust"))][0]
    'fn f() {\\n    g(a(), b);\\n    g(a(), b);\\n}\\n'
    """
    layout = get_language(language).layout
    if not layout.block_close or not verdict.problems:
        return []
    lines, starts, shape, problem = _line_view(code, language, verdict)
    counts = pair_counts(code, language)
    found: list[tuple[int, int, list[tuple[int, int, str]]]] = []
    code_lines = [j for j, ln in enumerate(shape) if layout.code_of(ln).strip()]
    for k, j in enumerate(code_lines):
        text = layout.code_of(shape[j])
        before = layout.code_of(shape[code_lines[k - 1]]) if k else ""
        after = shape[code_lines[k + 1]] if k + 1 < len(code_lines) else ""
        if (before and before[-1] not in ";,{}()[]") or len(indentation(after)) > len(indentation(shape[j])):
            continue
        opened, stray = _bracket_scan(text)
        if len(opened) + len(stray) != 1 or text[-1] not in ";," or text.lstrip()[0] in PAIRS.values():
            continue  # (an item that ends on its line says so: `;`, or `,` in a list)
        base = starts[j]
        if opened:  # a closer after the opener, before the line's last token (`;`)
            lo, hi, bracket = opened[0] + 1, len(text.rstrip(";,")), PAIRS[text[opened[0]]]
        else:
            lo, hi, bracket = len(text) - len(text.lstrip()), stray[0], {c: o for o, c in PAIRS.items()}[text[stray[0]]]
        tokens = [(m.start(), m.end(), m.group()) for m in TOKEN.finditer(text)]
        # where in the blanks: between two that the slip left (`X  from`), else a closer after the token before,
        # an opener before the token after
        # (of gaps alike, a closer as late and an opener as early as can be: `return (x + 1);`, not `(x) + 1`)
        gaps = [(counts.get((a[2], b[2]), 0), -a[1] if opened else a[1],
                 a[1] + 1 if text[a[1]:b[0]] == "  " else (a[1] if opened else b[0]))
                for a, b in zip(tokens, tokens[1:]) if lo <= a[1] <= hi]
        gaps.sort()
        edits = [(base + at, base + at, bracket) for _, _, at in gaps[:_MAX_LINE_SITES]]
        found.append((abs(j - problem), j, edits))
    found.sort()
    return [e for _, _, edits in found[:2] for e in edits]


def opener_edits(code: str, language: str, verdict: ValidityResult) -> list[tuple[int, int, str]]:
    """``(start, end, text)``: the opening bracket a line lost, as the indentation shows it: a line at depth ``d``
    that ends with no opening bracket, followed by deeper lines and then a line at depth ``d`` that starts with
    a closer none of those lines opens (``content =`` over ``    "a",`` and ``]``; ``if (x)`` over a body and
    ``}``), gets the closer's opener at its end (after the blank the slip left, before a comment); nearest the
    first problem first.

    >>> code = "x = f(\\n    1,\\n)\\nif (x) \\n  g(x);\\n}\\n"
    >>> [code[:a] + t + code[b:] for a, b, t in opener_edits(code, "javascript", check(code, "javascript"))]
    ['x = f(\\n    1,\\n)\\nif (x) {\\n  g(x);\\n}\\n']
    """
    if not verdict.problems:
        return []
    layout = get_language(language).layout
    lines, starts, shape, problem = _line_view(code, language, verdict)
    opener_of = {c: o for o, c in PAIRS.items()}
    found: list[tuple[int, tuple[int, int, str]]] = []
    for c, ln in enumerate(shape):
        closer = ln.strip()[:1]
        if closer not in opener_of:
            continue
        d = indentation(ln)
        j = next((x for x in range(c - 1, -1, -1) if shape[x].strip() and len(indentation(shape[x])) <= len(d)), None)
        if j is None or j == c - 1 or indentation(shape[j]) != d:
            continue
        head = layout.code_of(lines[j])
        between = "".join(layout.code_of(x) for x in shape[j:c]) + closer
        if not head or head[-1] in PAIRS or between.count(closer) <= between.count(opener_of[closer]):
            continue
        opener = opener_of[closer]
        if lines[j + 1].rstrip("\r\n") == d and any(x.strip() == opener for x in shape):
            # a file that puts its openers on lines of their own, a blank line at the depth below the header
            found.append((abs(j - problem), (starts[j + 1] + len(d), starts[j + 1] + len(d), opener)))
            continue
        raw = lines[j].rstrip("\r\n")
        at = len(raw) if raw.rstrip() == head else len(head) + (raw[len(head):len(head) + 2] == "  ")
        found.append((abs(j - problem), (starts[j] + at, starts[j] + at, opener)))
    found.sort(key=lambda f: f[0])
    return [e for _, e in found[:_MAX_LAYOUT_SITES]]


def _open_brackets(text: str) -> list[int]:
    """Offsets of the brackets ``text`` opens and does not close, outermost first; strings are skipped by
    their quotes, closers of brackets opened before ``text`` are ignored."""
    return _bracket_scan(text)[0]


def _bracket_scan(text: str) -> tuple[list[int], list[int]]:
    """One pass over ``text`` (strings skipped by their quotes): the offsets of the brackets it leaves open,
    outermost first, and of the closers that close nothing it opened."""
    stack: list[int] = []
    stray: list[int] = []
    quote = None
    for x, ch in enumerate(text):
        if quote:
            quote = None if ch == quote and text[x - 1] != "\\" else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in PAIRS:
            stack.append(x)
        elif ch in PAIRS.values():
            if stack and PAIRS[text[stack[-1]]] == ch:
                stack.pop()
            else:
                stray.append(x)
    return stack, stray


def unclosed(text: str) -> str:
    """The closers of the brackets ``text`` opens and does not close, innermost first (``foo(function () {``
    gives ``})``)."""
    return "".join(PAIRS[text[x]] for x in reversed(_open_brackets(text)))


def model_free_result(code: str, verdict: ValidityResult, config: SamplerConfig, seconds: float) -> FillResult:
    """The result of an edit no model decoded (a parser insert): no forward pass, no round."""
    record = ValidityRecord(**verdict_fields(verdict), rounds=0, fallback=False, nfe=0, seconds=seconds,
                            constraint=config.constraint, extra={"model_free": True})
    return FillResult(code=code, record=record, verdict=verdict)


def model_free_results(code: str, language: str, verdict: ValidityResult, point: int | None, config: SamplerConfig,
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
        if after.ok or (not guess and made_progress(code, candidate, a, b, language, point)):
            blank = len(text) - len("".join(text.split()))  # a line break or indentation put in is no token
            size = len(text) - blank + b - a
            if text in keywords(language) and code[a:b].isidentifier():
                # a misspelt keyword restored: no token added or removed (valid: before any other edit)
                size = 0 if after.ok else edit_distance(code[a:b], text)
            found.append((0 if after.ok else 1, size, len(candidate) - blank,
                          model_free_result(candidate, after, config, time.perf_counter() - t0)))
    return found


def edit_rank(code: str, entry: tuple[int, int, int, FillResult], language: str) -> tuple[int, int, bool, int, int]:
    """Sort key of an edit of ``code`` (an entry of :func:`model_free_results`, or a decoded one alike): valid first,
    then the smallest edit, then one that keeps every token the user wrote once (a ``(`` put back where ``f)``
    lost it, rather than the ``)`` deleted: :func:`~treediff.repairs.diff.drops_lone_token`), then a bracket put where
    it takes apart a pair of neighbours the file writes nowhere else, the scar a slip leaves
    (:func:`~treediff.repairs.diff.scars_mended`: ``into_raw_socket(), max`` rather than ``max);)``, where only the
    brackets' balance is checked), then the shorter program (a token written twice deleted rather than a second
    one put in)."""
    return entry[0], entry[1], drops_lone_token(code, entry[3].code), -scars_mended(code, entry[3].code, language), entry[2]
