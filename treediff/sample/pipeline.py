"""From holes to valid programs: generate, check, remask, fall back, record.

:func:`fill_template` is the engine behind :func:`treediff.infill`, :func:`treediff.repair` and
:func:`treediff.synth`:

1. **Generate.**  The template's text segments are encoded, each hole becomes a run of mask
   tokens (``config.hole_tokens`` by category; the model may shorten it with ``<|endofhole|>``),
   and :func:`~treediff.sample.loop.denoise` decodes all holes jointly, ``num_samples`` rows at
   once, with the grammar guard when the constraint asks for it and the language has a grammar.
2. **Compiler remasking** (``remask``/``full``).  The program is checked (tree-sitter plus the
   compiler front end).  Every problem is mapped to the hole it lies in (or the nearest hole before
   it), widened to the smallest enclosing statement or expression inside that hole, and those
   bytes are masked again (as many tokens as they held, plus slack) and re-denoised; up to
   ``max_rounds`` rounds.
3. **Typed fallback** (``remask``/``full`` with ``fallback``).  A program still invalid gets each
   offending region replaced by the minimal filler of its category; if that is not enough, each
   hole's whole fill is replaced by its hole category's filler.  Counted in the record, never hidden.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from treediff.errors import InputError
from treediff.sample.config import MAX_TOKENS, SamplerConfig
from treediff.sample.constraints import GrammarGuard, grammar_for
from treediff.sample.holes import HoleTemplate, enclosing_region, filler, fills_parse_as, indent_at, starts_line
from treediff.sample.loop import DenoiseResult, denoise
from treediff.model.formats import DiffusionLM
from treediff.sample.record import FillResult, HoleFill, ValidityRecord, check, verdict_fields
from treediff.syntax.tree import SyntaxTree, parse

__all__ = ["fill_template", "generate_segments", "problem_span"]

_SLACK = 4  # extra masks when a region is remasked: the model can close it early with end-of-hole


@dataclass
class _Counters:
    nfe: int = 0
    rejected: int = 0
    dropped: int = 0
    forced: int = 0

    def add(self, res: DenoiseResult) -> None:
        self.nfe += res.nfe
        self.rejected += res.num_rejected
        self.dropped += res.dropped_per_row[0] if res.dropped_per_row else res.num_dropped


def generate_segments(
    lm: DiffusionLM,
    language: str,
    segments: list[str],
    lengths: list[int],
    config: SamplerConfig,
    *,
    num_rows: int,
    generator: torch.Generator,
    cap: bool = True,
    close_early: bool = False,
) -> tuple[list[list[str]], DenoiseResult, bool, list[dict[str, int]]]:
    """Decode ``len(segments) - 1`` holes between fixed text segments;
    ``(fills per row, result, used_grammar, per-row guard counts {"forced", "dropped"})``.
    ``close_early``: the grammar guard ends each hole as soon as the text after it fits (point edits)."""
    if len(lengths) != len(segments) - 1:
        raise InputError(f"{len(segments)} segments need {len(segments) - 1} hole lengths, got {len(lengths)}")
    prefix, suffix = lm.prefix_ids(language), lm.suffix_ids()
    encoded = [lm.encode(seg, language) for seg in segments]
    context = len(prefix) + len(suffix) + sum(len(e) for e in encoded)
    room = min(lm.max_length - context, MAX_TOKENS)
    if room < len(lengths) or (not cap and sum(lengths) > room):
        raise InputError(f"the prompt and context take {context} tokens; the model takes at most {lm.max_length}, "
                         "which leaves no room for the holes")
    if sum(lengths) > room:  # cap the request to what the model (and MAX_TOKENS) can take, and say so
        scale = room / sum(lengths)
        capped = [max(1, int(n * scale)) for n in lengths]
        warnings.warn(f"requested {sum(lengths)} new tokens but only {room} fit (model length {lm.max_length}, "
                      f"cap {MAX_TOKENS}); capped to {sum(capped)}", stacklevel=3)
        lengths = capped
    ids: list[int] = list(prefix)
    editable: list[bool] = [False] * len(prefix)
    ranges = []
    for i, enc in enumerate(encoded):
        ids += enc
        editable += [False] * len(enc)
        if i < len(lengths):
            ranges.append((len(ids), len(ids) + lengths[i]))
            ids += [lm.mask_id] * lengths[i]
            editable += [True] * lengths[i]
    content_end = len(ids)
    ids += suffix
    editable += [False] * len(suffix)
    row = torch.tensor(ids, dtype=torch.long)
    mask_row = torch.tensor(editable, dtype=torch.bool)
    batch = row.expand(num_rows, -1).clone()
    masked = mask_row.expand(num_rows, -1).clone()
    grammar = grammar_for(language) if config.uses_grammar else None
    guard = None
    if grammar is not None:
        guard = GrammarGuard(lm, grammar, masked.numpy(), len(prefix), content_end, language=language,
                             horizon=config.close_horizon, close_early=close_early)
    # point edits (close_early) are one short hole decoded left to right: no per-block redo
    on_block = (_block_check(lm, language, masked, len(prefix), content_end)
                if config.uses_remask and not close_early else None)
    res = denoise(lm, batch, masked, config, guard=guard, generator=generator, on_block=on_block)
    out = res.ids.cpu().numpy()
    fills = [[lm.text_of(out[r, a:b]) for a, b in ranges] for r in range(num_rows)]
    counts = [{"forced": 0, "dropped": 0} for _ in range(num_rows)]
    if guard is not None:
        counts = [{"forced": int(f), "dropped": int(d)} for f, d in zip(guard.forced, guard.dropped)]
    return fills, res, grammar is not None, counts


def _block_check(lm: DiffusionLM, language: str, editable: torch.Tensor, start: int, end: int):
    """Compiler remasking after each block: tree-sitter errors that lie wholly inside the decoded prefix
    (before its last line, which may still be growing) are widened to their statement and remasked."""
    editable = editable.cpu().numpy()

    def on_block(b: int, ids: torch.Tensor, masked: torch.Tensor) -> torch.Tensor | None:
        ids_np, masked_np = ids.cpu().numpy(), masked.cpu().numpy()
        redo = torch.zeros_like(masked)
        for r in range(ids_np.shape[0]):
            gaps = [i for i in range(start, end) if masked_np[r, i]]
            stop = gaps[0] if gaps else end
            pieces = [lm.token_text(int(t)).encode("utf-8") for t in ids_np[r, start:stop]]
            text = b"".join(pieces)
            limit = text.rfind(b"\n")
            if limit <= 0:
                continue
            tree = parse(text, language)
            bad = [n.span for n in tree.errors() if not n.is_missing and n.span[1] <= limit]
            if not bad:
                continue
            bounds = np.cumsum([0] + [len(p) for p in pieces])
            for a, z in bad:
                ra, rz = enclosing_region(tree, a, max(z, a + 1), within=(0, len(text)))
                lo = int(np.searchsorted(bounds, ra, side="right")) - 1
                hi = int(np.searchsorted(bounds, rz, side="left"))
                for i in range(max(lo, 0), min(hi, stop - start)):
                    if editable[r, start + i]:
                        redo[r, start + i] = True
        return redo if bool(redo.any()) else None

    return on_block


def fill_regions(code: str, regions: list[tuple[int, int]], texts: list[str], spans: list[tuple[int, int]],
                 language: str, given: str | bytes | None = None):
    """:func:`_splice` of the fillers ``texts`` and the check of the result; where that is invalid, the regions
    at the start of a line hold nothing instead (a program's top level may take no statement filler:
    Java's ``{}`` among its imports, Go's ``_ = 0``).  Returns ``(code, spans, verdict)``."""
    new_code, new_spans = _splice(code, regions, texts, spans)
    verdict = check(new_code, language, given=given)
    data = code.encode("utf-8")
    top = [starts_line(data, a) for a, _ in regions]
    if verdict.ok or not any(top):
        return new_code, new_spans, verdict
    bare_code, bare_spans = _splice(code, regions, ["" if t else x for t, x in zip(top, texts)], spans)
    bare = check(bare_code, language, given=given)
    return (bare_code, bare_spans, bare) if bare.ok else (new_code, new_spans, verdict)


def _splice(code: str, regions: list[tuple[int, int]], texts: list[str], spans: list[tuple[int, int]]):
    """Replace byte ranges of ``code``; returns the new code and the hole spans moved accordingly."""
    data = code.encode("utf-8")
    spans = list(spans)
    for (a, b), text in sorted(zip(regions, texts), reverse=True):
        new = text.encode("utf-8")
        delta = len(new) - (b - a)
        data = data[:a] + new + data[b:]
        for i, (s, e) in enumerate(spans):
            if s <= a and b <= e:
                spans[i] = (s, e + delta)
            elif s >= b:
                spans[i] = (s + delta, e + delta)
    return data.decode("utf-8", "replace"), spans


def _owner(spans: list[tuple[int, int]], start: int) -> int:
    """The hole a problem at byte ``start`` belongs to: the one holding it, else the nearest one before it."""
    best = 0
    for i, (s, e) in enumerate(spans):
        if s <= start <= e:
            return i
        if e <= start:
            best = i
    return best


def problem_span(problem, size: int) -> tuple[int, int]:
    """A problem's byte range, at least one byte wide and inside the source (EOF errors sit at ``size``)."""
    if size == 0:
        return 0, 0
    a = min(max(problem.start_byte, 0), size - 1)
    return a, min(max(problem.end_byte, a + 1), size)


def _problem_regions(tree: SyntaxTree, problems, spans, widen: int = 0) -> list[tuple[int, int, int]]:
    """``(start, end, hole)`` byte regions to remask, merged, each inside one hole span (``widen``: see
    :func:`~treediff.sample.holes.enclosing_region`)."""
    found: list[tuple[int, int, int]] = []
    for p in problems:
        h = _owner(spans, p.start_byte)
        s, e = spans[h]
        if s == e:
            region = (s, e)
        else:
            region = enclosing_region(tree, *problem_span(p, len(tree.source)), within=(s, e), widen=widen)
        found.append((region[0], region[1], h))
    found.sort()
    merged: list[tuple[int, int, int]] = []
    for a, b, h in found:
        if merged and merged[-1][2] == h and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]), h)
        else:
            merged.append((a, b, h))
    return merged


def _region_category(tree: SyntaxTree, a: int, b: int, default: str) -> str:
    try:
        node = tree.node_at(a, b)
    except Exception:  # no named node there
        return default
    cats = node.categories if node.span == (a, b) else frozenset()
    for cat in ("statement", "expression", "identifier", "literal"):
        if cat in cats:
            return cat
    return default


def fill_template(
    lm: DiffusionLM,
    template: HoleTemplate,
    config: SamplerConfig,
    *,
    num_samples: int = 1,
    lengths: list[int] | None = None,
    close_early: bool = False,
    given: str | bytes | None = None,
) -> list[FillResult]:
    """Fill every hole of ``template``, ``num_samples`` times; see the module docstring (``close_early``:
    see :func:`generate_segments`; ``given``: the code the user gave, whose names are the only outside
    references the check sets aside, ``template.source`` by default)."""
    if num_samples < 1:
        raise InputError(f"num_samples must be >= 1, got {num_samples}")
    language = template.language.name
    t0 = time.perf_counter()
    holes = template.holes
    if lengths is None:
        lengths = [config.hole_tokens.get(h.category, 16) for h in holes]
    src = template.source
    cuts = [0]
    for h in holes:
        cuts += [h.start, h.end]
    cuts.append(len(src))
    segments = [src[cuts[i]: cuts[i + 1]].decode("utf-8", "replace") for i in range(0, len(cuts), 2)]
    generator = torch.Generator().manual_seed(config.seed)
    fills, res, used_grammar, forced = generate_segments(lm, language, segments, lengths, config,
                                                         num_rows=num_samples, generator=generator,
                                                         close_early=close_early)
    per_row_seconds = (time.perf_counter() - t0) / num_samples
    results = []
    for r in range(num_samples):
        t_row = time.perf_counter()
        counters = _Counters(nfe=res.nfe, rejected=res.num_rejected // num_samples,
                             dropped=res.dropped_per_row[r] + forced[r]["dropped"], forced=forced[r]["forced"])
        code, spans = template.fill(fills[r])
        code, spans, rounds, verdict, n_fallback, cats = _repair(lm, language, code, list(spans), holes, config,
                                                                 generator, counters,
                                                                 given=src if given is None else given)
        data = code.encode("utf-8")
        hole_fills = tuple(HoleFill(h.index, h.category, data[s:e].decode("utf-8", "replace"), (s, e), ok)
                           for h, (s, e), ok in zip(holes, spans, cats))
        record = ValidityRecord(
            **verdict_fields(verdict), rounds=rounds, fallback=n_fallback > 0, nfe=counters.nfe,
            seconds=per_row_seconds + time.perf_counter() - t_row, constraint=config.constraint,
            grammar=used_grammar, num_rejected=counters.rejected, num_dropped=counters.dropped,
            num_forced=counters.forced,
            num_fallback_regions=n_fallback, categories_ok=cats,
        )
        results.append(FillResult(code=code, record=record, holes=hole_fills, verdict=verdict))
    return results


def _categories_ok(language: str, code: str, spans, holes) -> tuple[bool, ...]:
    """Per hole: does its fill parse as its declared category in context (the code must parse)?"""
    return fills_parse_as(language, code, spans, [h.category for h in holes])


def _repair(lm, language, code, spans, holes, config: SamplerConfig, generator, counters: _Counters, *,
            given: str | bytes | None = None):
    """Compiler remasking rounds, then the typed fallback;
    returns ``(code, spans, rounds, verdict, n_fallback, categories_ok)``.  ``given``: the template's source,
    whose names are the only outside references set aside (:func:`~treediff.sample.record.check`).

    A hole whose fill is valid code but not of its declared category (an expression hole that holds
    nothing, say) is remasked whole in the next round, and gets its category's filler at the end."""
    verdict = check(code, language, given=given)
    cats = _categories_ok(language, code, spans, holes)
    rounds = 0
    if not config.uses_remask:
        return code, spans, rounds, verdict, 0, cats

    def wrong() -> list[int]:  # holes of the wrong category, once the code is valid
        return [i for i, ok in enumerate(cats) if not ok] if verdict.ok else []

    while (not verdict.ok or wrong()) and rounds < config.max_rounds:
        if verdict.ok:  # every hole of the wrong category is decoded again, whole
            regions = [(spans[i][0], spans[i][1], i) for i in wrong()]
        else:
            # round k remasks the problem's node widened k-1 levels: the same region, decoded again, would
            # often hold the same error (its context is what is wrong)
            regions = _problem_regions(parse(code, language), verdict.problems, spans, widen=rounds)
        if not regions:
            break
        rounds += 1
        data = code.encode("utf-8")
        segments, lens = [], []
        last = 0
        for a, b, h in regions:
            segments.append(data[last:a].decode("utf-8", "replace"))
            old = data[a:b].decode("utf-8", "replace")
            n_old = len(lm.encode(old, language)) if old.strip() else config.hole_tokens.get(holes[h].category, 16)
            lens.append(n_old + _SLACK)
            last = b
        segments.append(data[last:].decode("utf-8", "replace"))
        try:
            round_config = config
            if config.remask_temperature is not None and config.temperature < config.remask_temperature:
                round_config = round_config.replace(temperature=config.remask_temperature)
            if config.remask_parallel > 1:  # (with a threshold, confident positions come on top)
                steps = -(-sum(lens) // config.remask_parallel)
                if config.steps is None or steps < config.steps:
                    round_config = round_config.replace(steps=steps)
            fills, res, _, forced = generate_segments(lm, language, segments, lens, round_config, num_rows=1,
                                                      generator=generator, cap=False)
        except InputError:  # the whole program does not fit the model: stop remasking, fall back
            break
        counters.add(res)
        counters.forced += forced[0]["forced"]
        counters.dropped += forced[0]["dropped"]
        code, spans = _splice(code, [(a, b) for a, b, _ in regions], fills[0], spans)
        verdict = check(code, language, given=given)
        cats = _categories_ok(language, code, spans, holes)
    n_fallback = 0
    if not config.fallback:
        return code, spans, rounds, verdict, n_fallback, cats
    if not verdict.ok:
        tree = parse(code, language)
        regions = _problem_regions(tree, verdict.problems, spans)
        texts = [filler(language, _region_category(tree, a, b, holes[h].category), indent=indent_at(tree.source, a))
                 for a, b, h in regions]
        new_verdict = None
        if regions:
            new_code, new_spans, new_verdict = fill_regions(code, [(a, b) for a, b, _ in regions], texts,
                                                            spans, language, given)
        if new_verdict is not None and new_verdict.ok:
            code, spans, verdict, n_fallback = new_code, new_spans, new_verdict, len(regions)
            cats = _categories_ok(language, code, spans, holes)
        else:  # whole holes: each hole's fill becomes its category's filler
            data = code.encode("utf-8")
            texts = [filler(language, h.category, indent=indent_at(data, s)) for h, (s, e) in zip(holes, spans)]
            code, spans, verdict = fill_regions(code, spans, texts, spans, language, given)  # the last resort
            return code, spans, rounds, verdict, len(holes), _categories_ok(language, code, spans, holes)
    off = wrong()
    if off:  # valid, but a hole holds the wrong kind of code: that hole gets its category's filler
        data = code.encode("utf-8")
        texts = [filler(language, holes[i].category, indent=indent_at(data, spans[i][0])) for i in off]
        new_code, new_spans = _splice(code, [spans[i] for i in off], texts, spans)
        new_verdict = check(new_code, language, given=given)
        if new_verdict.ok:
            code, spans, verdict = new_code, new_spans, new_verdict
            n_fallback += len(off)
            cats = _categories_ok(language, code, spans, holes)
    return code, spans, rounds, verdict, n_fallback, cats
