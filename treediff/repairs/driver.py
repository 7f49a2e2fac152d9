"""The repair of one program: point edits and the statement pass, whole or a block at a time (see the package)."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from treediff.errors import InputError
from treediff.model.formats import DiffusionLM
from treediff.repairs.diff import removed_lines
from treediff.repairs.long import repair_chunks
from treediff.repairs.point_edits import repair_whole
from treediff.sample.api import get_model, make_config
from treediff.sample.config import SamplerConfig
from treediff.sample.long import fits
from treediff.sample.record import FillResult, GivenCode, ValidityRecord, check, summed, verdict_fields
from treediff.syntax.language import resolve_language
from treediff.validity import ValidityResult

__all__ = ["repair", "repair_code", "refuse_deletions", "MAX_REMOVED_LINES"]

#: A repair may drop at most this many non-blank lines of the user's code (a stray line, a doubled one).
MAX_REMOVED_LINES = 2


def refuse_deletions(code: str, result: FillResult, verdict: ValidityResult, allow: bool) -> FillResult:
    """``result`` with ``extra["removed_lines"]`` counted; when it removes more than :data:`MAX_REMOVED_LINES`
    non-blank lines of ``code`` and ``allow`` is false, no success: the code as given (``verdict``: its
    check), ``ok`` false, a ``reason``, and the lines it would have removed in ``extra["would_remove"]``."""
    gone = removed_lines(code, result.code)
    record = replace(result.record, extra={**result.record.extra, "removed_lines": len(gone)})
    if len(gone) <= MAX_REMOVED_LINES or allow:
        return replace(result, record=record)
    reason = (f"the repair would remove {len(gone)} lines of the code (more than {MAX_REMOVED_LINES}); "
              "--allow-deletions accepts it")
    record = replace(record, **verdict_fields(verdict), reason=reason,
                     extra={**record.extra, "would_remove": gone, "rejected_code": result.code})
    return FillResult(code=code, record=record, holes=(), verdict=verdict)


def repair_code(lm: DiffusionLM, code: str, language: str, config: SamplerConfig,
                verdict: ValidityResult | None = None) -> FillResult:
    """Repair ``code`` (point edits, then statements; see the module docstring).  Code longer than the model
    takes is repaired one block of lines at a time (:func:`repair_chunks`).  When the point edits leave
    an invalid program, the statement pass alone runs again on ``code``, and its result is returned if
    valid (``extra["point_edits_undone"]``; ``nfe`` and ``rounds`` count both)."""
    verdict = verdict if verdict is not None else check(code, language)
    # removing a region can be the repair, and so can a closer that ends a bracket opened before it
    config = config.replace(nonempty_holes=False, closed_holes=False, substantive_holes=False)
    given = GivenCode(code, language, (), damaged=True)  # a package file's siblings' names are not the slip's
    if fits(lm, code, language):
        result = repair_whole(lm, code, language, config, verdict, given=given)
    else:
        result = repair_chunks(lm, given, language, config, verdict)
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


def repair(
    code: str | bytes,
    language: str | None = None,
    *,
    model: DiffusionLM | str | os.PathLike[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    config: SamplerConfig | None = None,
    **settings: Any,
) -> FillResult:
    """Repair invalid code with the smallest edit that works: point edits at the parser's failure point
    first (an insertion, or one unit replaced), then each problem's enclosing statement remasked and
    denoised again (:mod:`treediff.repairs`).

    Valid code comes back unchanged (``rounds == 0``, no holes).  The holes of the result are the
    regions of the code that changed (category ``"edit"``).  A repair that removes more than a few lines
    is no success unless ``allow_deletions`` (:func:`refuse_deletions`).
    """
    lang = resolve_language(language, path).name
    cfg = make_config(config, **settings)
    text = code.decode("utf-8") if isinstance(code, bytes) else code
    if not text.strip():
        raise InputError("nothing to repair: the code is empty")
    verdict = check(text, lang)
    if verdict.ok:
        record = ValidityRecord(**verdict_fields(verdict), rounds=0, fallback=False, nfe=0,
                                seconds=verdict.seconds, constraint=cfg.constraint)
        return FillResult(code=text, record=record, verdict=verdict)
    result = repair_code(get_model(model, device=cfg.device, language=lang), text, lang, cfg, verdict=verdict)
    return refuse_deletions(text, result, verdict, cfg.allow_deletions)
