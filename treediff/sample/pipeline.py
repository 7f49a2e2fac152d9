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

import torch

from treediff.errors import InputError
from treediff.model.formats import DiffusionLM
from treediff.sample.config import SamplerConfig
from treediff.sample.record import FillResult, HoleFill, ValidityRecord, verdict_fields
from treediff.sample.remask import DecodeCounts, fill_regions, problem_span, remask
from treediff.sample.segments import generate_segments
from treediff.syntax.holes import HoleTemplate

__all__ = ["fill_template", "generate_segments", "problem_span", "fill_regions"]


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
    out = generate_segments(lm, language, segments, lengths, config, num_rows=num_samples, generator=generator,
                            close_early=close_early)
    res = out.result
    per_row_seconds = (time.perf_counter() - t0) / num_samples
    results = []
    for r in range(num_samples):
        t_row = time.perf_counter()
        counts = DecodeCounts(nfe=res.nfe, rejected=res.num_rejected // num_samples,
                              dropped=res.dropped_per_row[r] + out.guard[r].dropped, forced=out.guard[r].forced)
        code, spans = template.fill(out.fills[r])
        done = remask(lm, language, code, list(spans), holes, config, generator, counts,
                      given=src if given is None else given)
        code, spans, verdict, cats, counts = done.code, done.spans, done.verdict, done.categories_ok, done.counts
        data = code.encode("utf-8")
        hole_fills = tuple(HoleFill(h.index, h.category, data[s:e].decode("utf-8", "replace"), (s, e), ok)
                           for h, (s, e), ok in zip(holes, spans, cats))
        record = ValidityRecord(
            **verdict_fields(verdict), rounds=done.rounds, fallback=done.num_fallback > 0, nfe=counts.nfe,
            seconds=per_row_seconds + time.perf_counter() - t_row, constraint=config.constraint,
            grammar=out.used_grammar, num_rejected=counts.rejected, num_dropped=counts.dropped,
            num_forced=counts.forced,
            num_fallback_regions=done.num_fallback, categories_ok=cats,
            extra={f"fallback_{k}": done.filler_kinds.count(k) for k in ("typed", "listed", "removed")}
            if done.filler_kinds else {},
        )
        results.append(FillResult(code=code, record=record, holes=hole_fills, verdict=verdict))
    return results
