"""From holes to valid programs: generate (:mod:`~treediff.sample.segments`), check, remask, fall back
(:mod:`~treediff.sample.remask`), record.

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
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from treediff.errors import InputError
from treediff.model.formats import DiffusionLM
from treediff.sample.config import SamplerConfig
from treediff.sample.record import FillResult, HoleFill, ValidityRecord, verdict_fields
from treediff.sample.remask import DecodeCounts, fill_regions, problem_span, remask
from treediff.sample.segments import Segments, decode_layouts, generate_segments, layout_segments
from treediff.syntax.holes import HoleTemplate
from treediff.syntax.hollow import hollow_fills

__all__ = ["fill_template", "fill_batch", "FillRequest", "generate_segments", "problem_span", "fill_regions"]


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
    see :func:`~treediff.sample.segments.generate_segments`; ``given``: the code the user gave, whose names are the only outside
    references the check sets aside, ``template.source`` by default)."""
    request = FillRequest(template, num_samples, lengths, given)
    return next(iter(fill_batch(lm, [request], config, close_early=close_early)))


@dataclass(frozen=True)
class FillRequest:
    """One template to fill ``num_samples`` times (``lengths``: its holes' token counts, ``None``: the
    categories' defaults; ``given``: see :func:`fill_template`)."""

    template: HoleTemplate
    num_samples: int = 1
    lengths: list[int] | None = None
    given: str | bytes | None = None


def fill_batch(lm: DiffusionLM, requests: Sequence[FillRequest], config: SamplerConfig, *,
               close_early: bool = False) -> Iterator[list[FillResult]]:
    """Generate the holes of all ``requests`` in one batch (:func:`~treediff.sample.segments.decode_layouts`),
    then check, remask and record each request's rows, yielding each request's results as they are done.
    Each request has its own generator seeded with ``config.seed``, so it fills exactly as alone."""
    t0 = time.perf_counter()
    plans = []
    for req in requests:
        if req.num_samples < 1:
            raise InputError(f"num_samples must be >= 1, got {req.num_samples}")
        holes = req.template.holes
        lengths = req.lengths if req.lengths is not None else [config.hole_tokens.get(h.category, 16) for h in holes]
        src = req.template.source
        cuts = [0]
        for h in holes:
            cuts += [h.start, h.end]
        cuts.append(len(src))
        segments = [src[cuts[i]: cuts[i + 1]].decode("utf-8", "replace") for i in range(0, len(cuts), 2)]
        layout = layout_segments(lm, req.template.language.name, segments, lengths)
        plans.append((layout, req.num_samples, torch.Generator().manual_seed(config.seed)))
    decoded = decode_layouts(lm, plans, config, close_early=close_early)
    per_row_seconds = (time.perf_counter() - t0) / sum(req.num_samples for req in requests)
    for req, (_, _, generator), out in zip(requests, plans, decoded):
        yield _finish_rows(lm, req, out, config, generator, per_row_seconds)


def _finish_rows(lm: DiffusionLM, req: FillRequest, out: Segments, config: SamplerConfig,
                 generator: torch.Generator, per_row_seconds: float) -> list[FillResult]:
    """Steps 2 and 3 for each decoded row of ``req``, and its record."""
    template, holes = req.template, req.template.holes
    language, src = template.language.name, template.source
    res = out.result
    results = []
    for r in range(req.num_samples):
        t_row = time.perf_counter()
        counts = DecodeCounts(nfe=res.nfe, rejected=res.num_rejected // req.num_samples,
                              dropped=res.dropped_per_row[r] + out.guard[r].dropped, forced=out.guard[r].forced)
        code, spans = template.fill(out.fills[r])
        done = remask(lm, language, code, list(spans), holes, config, generator, counts,
                      given=src if req.given is None else req.given)
        code, spans, verdict, cats, counts = done.code, done.spans, done.verdict, done.categories_ok, done.counts
        data = code.encode("utf-8")
        hollow = hollow_fills(code, language, spans, [h.category for h in holes])
        hole_fills = tuple(HoleFill(h.index, h.category, data[s:e].decode("utf-8", "replace"), (s, e), ok, empty)
                           for h, (s, e), ok, empty in zip(holes, spans, cats, hollow))
        record = ValidityRecord(
            **verdict_fields(verdict), rounds=done.rounds, fallback=done.num_fallback > 0, nfe=counts.nfe,
            seconds=per_row_seconds + time.perf_counter() - t_row, constraint=config.constraint,
            grammar=out.used_grammar, num_rejected=counts.rejected, num_dropped=counts.dropped,
            num_forced=counts.forced,
            num_fallback_regions=done.num_fallback, num_context_regions=done.num_context, categories_ok=cats,
            extra={f"fallback_{k}": done.filler_kinds.count(k) for k in ("typed", "listed", "removed")}
            if done.filler_kinds else {},
        )
        results.append(FillResult(code=code, record=record, holes=hole_fills, verdict=verdict))
    return results
