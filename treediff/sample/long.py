"""Templates longer than the model: each hole filled with the block of lines around it
(:mod:`treediff.syntax.layout` finds the blocks), the program checked whole afterwards."""

from __future__ import annotations

import time
from dataclasses import replace

from treediff.errors import InputError
from treediff.model.formats import DiffusionLM
from treediff.sample.config import MAX_TOKENS, SamplerConfig
from treediff.sample.pipeline import fill_template
from treediff.sample.record import FillResult, HoleFill, check, summed, verdict_fields
from treediff.sample.context import fragments, ranked_rows
from treediff.sample.remask import category_fill, pick_passing, typed_fill
from treediff.syntax.holes import (
    HoleTemplate,
    filler,
    fills_parse_as,
    find_holes,
)
from treediff.syntax.hollow import hollow_fills
from treediff.syntax.language import get_language
from treediff.syntax.layout import (
    blocks_around,
    indentation,
    line_index,
    line_starts,
    reindented,
    shift,
    surround,
    without_comments,
)
from treediff.syntax.tree import parse
from treediff.validity import check as syntax_check

__all__ = ["ROOM", "fill_long", "fits"]

ROOM = 16  # tokens a repair adds at most on top of what it replaces (the statement pass's slack)


def fits(lm: DiffusionLM, code: str, language: str, extra: int = ROOM) -> bool:
    """Whether ``code`` plus ``extra`` tokens fits the model (and ``MAX_TOKENS``)."""
    room = min(lm.max_length, MAX_TOKENS) - extra - len(lm.prefix_ids(language)) - len(lm.suffix_ids())
    if len(code.split()) > room:  # each blank-separated piece is a token at least: too long, without encoding
        return False
    return len(lm.encode(code, language)) <= room


def _sweep(language: str, code: str, spans: list[tuple[int, int]], loose: list[int], holes: tuple, count: int,
           given: str):
    """The remasking sweep (:mod:`treediff.sample.remask`) for holes of blocks that could not be compiled alone,
    against the whole program: fragments of each hole's category, nearest first (the program is too long for
    the denoiser to rank them), row ``j`` giving every hole its ``j``-th; the first row of at most ``count``
    that passes, else ``None``."""
    tree = parse(code, language)
    ranked = [fragments(tree, spans[k], spans, holes[k].category, limit=count) for k in loose]
    if not all(ranked):
        return None
    rows = ranked_rows(ranked, count)
    return pick_passing(language, code, spans, [spans[k] for k in loose], rows, [-float(j) for j in range(len(rows))],
                        holes, given)


def fill_long(lm: DiffusionLM, template: HoleTemplate,  # long: find each hole's block, fill, splice back
              config: SamplerConfig, given: str | None = None) -> FillResult:
    """Fill the holes of a template too long for the model, one block of lines at a time: per hole, the
    largest block around it that fits the model (with the holes' default lengths) and, its holes filled by
    their category's filler, passes the full check alone once dedented or inside what :func:`surround` puts
    around it; the holes inside one block are filled together.  Where no block passes alone (a Go function
    without its package clause, a method that needs its class's fields) the largest block that fits and
    parses alone is filled under the grammar guard instead, and when the whole program then fails its check
    those holes get verified typed fillers (counted as fallback).
    The program is checked whole at the end and every hole's category in context.  An ``InputError``
    when a hole lies in no block that fits."""
    t0 = time.perf_counter()
    language = template.language.name
    src = template.source.decode("utf-8", "replace")
    ref = src if given is None else given  # what the checks take as the user's code (its own problems, if known)
    data = template.source
    holes = [(len(data[:h.start].decode("utf-8", "replace")), len(data[:h.end].decode("utf-8", "replace")), h)
             for h in template.holes]
    lines = src.splitlines(keepends=True) or [""]
    starts = line_starts(lines)

    def line_of(pos: int) -> int:
        return line_index(starts, pos)

    bare = without_comments(lines, language)  # comment lines blank: their indentation means nothing
    shape = list(bare)  # the lines as blocks_around sees them: a hole is code (a hole on a blank line counts)
    for a, _, _ in reversed(holes):
        k = line_of(a)
        shape[k] = shape[k][: a - starts[k]] + "X" + shape[k][a - starts[k]:]

    layout = get_language(language).layout
    groups: list[tuple[int, int, str, list[int], str, str, str, bool]] = []  # (start, end, indent, holes
    # inside, marked text, head, foot, whether the block passes the full check on its own)
    for hi, (a, b, h) in enumerate(holes):
        if any(hi in g[3] for g in groups):
            continue
        best, loose = None, None  # loose: the largest block that fits and only parses on its own
        # the holes hold their category's filler; where none fits there (Rust's `unsafe { ... }` takes a block,
        # not `todo!()`) and no block parses, again with the code the caller's spans cover
        blocks = list(blocks_around(shape, line_of(a), layout=layout))
        tries = [(*block, orig) for orig in [False] + [True] * (h.original is not None) for block in blocks]
        for i, (top, end, base, orig) in enumerate(tries):
            if i == len(blocks) and (best is not None or loose is not None):
                break  # the fillers found a block: the second pass is not needed
            lo, up = starts[top], starts[end]
            inside = [k for k, (x, y, _) in enumerate(holes) if lo <= x and y <= up]
            if any((x < lo < y) or (x < up < y) for x, y, _ in holes) or hi not in inside:
                continue
            marked, fixed, last = [], [], lo
            for k in inside:
                x, y, hk = holes[k]
                marked += [src[last:x], f"<|hole:{hk.category}|>"]
                fixed += [src[last:x], hk.original if orig and hk.original is not None
                          else filler(language, hk.category, indent=indentation(lines[line_of(x)]))]
                last = y
            marked.append(src[last:up])
            fixed.append(src[last:up])
            need = sum(config.hole_tokens.get(holes[k][2].category, 16) for k in inside)
            # the block alone, dedented; else inside what the layout puts around it (its enclosing headers)
            around = surround(bare, top, end, base, language) if base else None
            short = False
            for head, foot, d_base in [("", "", base)] + ([around] if around and around != ("", "", base) else []):
                plain = head + shift("".join(fixed), d_base, remove=True) + foot
                if not fits(lm, plain, language, extra=need + ROOM):
                    continue
                short = True
                text = head + shift("".join(marked), d_base, remove=True) + foot
                if check(plain, language).ok:
                    best = (lo, up, d_base, inside, text, head, foot, True)
                    break
                if syntax_check(plain, language, compiler=False).ok:  # the largest that fits: most context
                    loose = (lo, up, d_base, inside, text, head, foot, False)
            if not short and (best is not None or loose is not None):  # larger blocks only grow
                break
        best = best or loose  # a block that only parses alone (a C or Go function): filled under the grammar
        if best is None:
            raise InputError(f"the code is too long for the model ({lm.max_length} tokens), and hole {hi} (line "
                             f"{line_of(a) + 1}) lies in no block of lines short enough to fill on its own")
        groups.append(best)
    parts, pieces, last, spans, offset = [], [], 0, [], 0
    for lo, up, base, inside, text, head, foot, alone in sorted(groups, key=lambda g: g[0]):
        # a block that cannot be compiled alone is filled under the grammar; the whole program is checked below
        block_config = config if alone or config.constraint != "full" else config.replace(constraint="grammar")
        part = fill_template(lm, find_holes(text, language), block_config, given=ref)[0]
        parts.append(part)
        body = part.code
        if not (body.startswith(head) and body.endswith(foot)) or len(body) < len(head) + len(foot):
            raise InputError(f"filling the block at line {line_of(lo) + 1} changed the lines around it")
        body = body[len(head): len(body) - len(foot)]
        out = shift(body, base, remove=False)
        pieces.append(src[last:lo])
        offset += lo - last  # where the block's text starts in the new code
        for fill in part.holes:
            s, e = (len(part.code.encode("utf-8")[:x].decode("utf-8", "replace")) - len(head) for x in fill.span)
            spans.append((offset + reindented(body, s, base), offset + reindented(body, e, base)))
        pieces.append(out)
        offset += len(out)
        last = up
    pieces.append(src[last:])
    code = "".join(pieces)
    byte_spans = [(len(code[:s].encode("utf-8")), len(code[:e].encode("utf-8"))) for s, e in spans]
    verdict = check(code, language, given=ref)
    loose = [k for g in groups if not g[7] for k in g[3]]
    fallback_regions = context_regions = 0
    if not verdict.ok and loose and config.constraint == "full" and config.context_sweep:
        found = _sweep(language, code, byte_spans, loose, tuple(h for _, _, h in holes), config.context_sweep, ref)
        if found is not None:
            code, byte_spans, verdict, _ = found
            context_regions = len(loose)
    if not verdict.ok and loose and config.constraint == "full":
        # their typed fillers, verified by the whole program's check (as the remasking fallback does)
        found = typed_fill(language, parse(code, language), [(*byte_spans[k], k) for k in loose],
                           [h for _, _, h in holes], code, byte_spans, ref,
                           problems=tuple(p.message for p in verdict.problems))
        if found is not None:
            code, byte_spans, verdict, _ = found
            fallback_regions = len(loose)
        else:  # the last resort, as the remasking fallback's: the category's filler, kept where it parses and the
            # block's draft does not (a program that fails its compiler, but no syntax error left in it)
            plain, plain_spans, plain_verdict = category_fill(language, code, [byte_spans[k] for k in loose],
                                                              [holes[k][2].category for k in loose], byte_spans, ref)
            if parse(code, language).has_errors and not parse(plain, language).has_errors:
                code, byte_spans, verdict = plain, plain_spans, plain_verdict
                fallback_regions = len(loose)
    cats = fills_parse_as(language, code, byte_spans, [h.category for _, _, h in holes]) if verdict.ok \
        else tuple(False for _ in holes)
    enc = code.encode("utf-8")
    hollow = hollow_fills(code, language, byte_spans, [h.category for _, _, h in holes])
    fills = tuple(HoleFill(i, h.category, enc[s:e].decode("utf-8", "replace"), (s, e), ok, empty)
                  for i, ((_, _, h), (s, e), ok, empty) in enumerate(zip(holes, byte_spans, cats, hollow)))
    first = parts[0].record
    counts = summed(p.record for p in parts)
    counts["num_fallback_regions"] += fallback_regions
    counts["num_context_regions"] += context_regions
    record = replace(first, **verdict_fields(verdict), **counts,
                     rounds=sum(p.record.rounds for p in parts),
                     fallback=fallback_regions > 0 or any(p.record.fallback for p in parts),
                     categories_ok=cats,
                     seconds=time.perf_counter() - t0, extra=dict(first.extra, chunks=len(parts)))
    return FillResult(code=code, record=record, holes=fills, verdict=verdict)

