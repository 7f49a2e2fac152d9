"""Point edits, slip after slip, for code that fits the model; then the statement pass on what is left."""

from __future__ import annotations

import time
from dataclasses import replace

from treediff.model.formats import DiffusionLM
from treediff.repairs.diff import changes, edit_size
from treediff.repairs.model_free import edit_rank, model_free_results
from treediff.repairs.sites import byte_offset, edit_sites, failure_point, made_progress
from treediff.repairs.statements import statement_repair
from treediff.sample.config import SamplerConfig
from treediff.sample.pipeline import fill_template
from treediff.sample.record import FillResult, summed
from treediff.syntax.holes import Hole, HoleTemplate, indent_at
from treediff.syntax.language import get_language
from treediff.validity import ValidityResult

__all__ = ["repair_whole"]

_INSERT = 4  # tokens offered to an insertion (the model leaves the ones it does not need empty)
_REPLACE_SLACK = 2  # extra tokens when a unit is replaced
_COMPARED = 3  # point edits compared per slip (the rest are tried only while none has worked)
_MAX_SLIPS = 4  # slips fixed one after another by point edits before the statement pass takes over


def repair_whole(lm: DiffusionLM, code: str, language: str, config: SamplerConfig,
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
                ba, bb = byte_offset(cur, a), byte_offset(cur, b)
                data = cur.encode("utf-8")
                template = HoleTemplate(source=data, language=lang,
                                        holes=(Hole(0, ba, bb, "statement", None, indent_at(data, ba)),))
                n = _INSERT if kind == "insert" else len(lm.encode(cur[a:b], language)) + _REPLACE_SLACK
                attempt = fill_template(lm, template, attempt_config, lengths=[n], close_early=True,
                                        given=given)[0]
                passes.append(attempt)
                if attempt.record.ok:
                    found.append((0, edit_size(cur, attempt.code), len(attempt.code), attempt))
                elif made_progress(cur, attempt.code, a, b, language, point):
                    found.append((1, edit_size(cur, attempt.code), len(attempt.code), attempt))
            # the edits no model decoded first: of two edits alike, the one the file's own data points to
            found = model_free_results(cur, language, cur_verdict, point, config, t0, given=given) + found
            if not found:
                break
            # valid first, then the smallest edit, then one that keeps every token the user wrote once (a
            # `(` put back where `f)` lost it, rather than the `)` deleted), then the shorter program (a
            # doubled token deleted rather than a second one put in)
            last = min(found, key=lambda f: edit_rank(cur, f, language))[3]
            cur, cur_verdict, kept = last.code, last.verdict, kept + 1
            parsed += bool(last.record.extra.get("model_free"))
            if last.record.ok:
                break
    result = last if last is not None and last.record.ok else None
    if result is None:  # the statement pass on what the point edits left: enclosing statements, rounds, fallback
        result = statement_repair(lm, cur, language, config, cur_verdict, given=given)
        passes.append(result)
    rec = result.record
    holes, changed = changes(code, result.code)
    tried = len(passes) - (0 if result is last or result not in passes else 1)
    extra = {k: v for k, v in rec.extra.items() if k != "model_free"}
    extra.update(edits=kept, edit_attempts=tried, changed_bytes=changed, model_free_edits=parsed)
    # every decoding after the first is a round: the point edits tried, the statement pass, its own rounds
    record = replace(rec, rounds=len(passes) - 1 + (0 if result is last else rec.rounds),
                     **summed(p.record for p in passes),  # point-edit attempts never fall back
                     seconds=time.perf_counter() - t0, categories_ok=tuple(h.category_ok for h in holes), extra=extra)
    return FillResult(code=result.code, record=record, holes=holes, verdict=result.verdict)
