"""Compiler remasking rounds and the typed fallback (steps 2 and 3 of :mod:`treediff.sample.pipeline`),
and the region splicing the repair passes share with them."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import torch

from treediff.errors import InputError
from treediff.model.formats import DiffusionLM
from treediff.sample.config import SamplerConfig
from treediff.sample.context import context_rows, score_layout
from treediff.sample.loop import DenoiseResult
from treediff.sample.record import check
from treediff.sample.segments import GuardCounts, decode_layouts, layout_segments
from treediff.syntax.cfg_flow import cfg_region
from treediff.syntax.fillers import name_fillers, typed_fillers
from treediff.syntax.holes import (
    Hole,
    enclosing_region,
    filler,
    fills_parse_as,
    indent_at,
    splice,
    starts_line,
)
from treediff.syntax.hollow import hollow_fills
from treediff.syntax.language import get_language
from treediff.syntax.tree import SyntaxTree, parse
from treediff.validity import ValidityResult

__all__ = ["DecodeCounts", "REMASK_SLACK", "RemaskOutcome", "category_fill", "fill_regions", "pick_draft",
           "pick_passing", "problem_span", "redo_round", "remask", "splice_regions", "typed_fallback", "typed_fill"]

#: extra masks when a region is remasked: the model can close it early with end-of-hole
REMASK_SLACK = 4


@dataclass(frozen=True)
class DecodeCounts:
    """What one program's decoding cost: forward passes ``nfe``, guard refusals ``rejected``, positions
    ``dropped`` and ``forced`` by the guard.  :meth:`plus` adds one more decoding pass."""

    nfe: int = 0
    rejected: int = 0
    dropped: int = 0
    forced: int = 0

    def plus(self, res: DenoiseResult, guard: GuardCounts = GuardCounts()) -> DecodeCounts:
        dropped = res.dropped_per_row[0] if res.dropped_per_row else res.num_dropped
        return DecodeCounts(self.nfe + res.nfe, self.rejected + res.num_rejected,
                            self.dropped + dropped + guard.dropped, self.forced + guard.forced)


@dataclass(frozen=True)
class RemaskOutcome:
    """The program after :func:`remask`: its ``code``, each hole's byte ``spans`` in it, remasking ``rounds``,
    the final ``verdict``, ``num_fallback`` regions or holes given their filler, per-hole ``categories_ok``,
    and the decoding ``counts`` including the rounds'."""

    code: str
    spans: list[tuple[int, int]]
    rounds: int
    verdict: ValidityResult
    num_fallback: int
    categories_ok: tuple[bool, ...]
    counts: DecodeCounts
    #: how the fallback regions were filled, one word each: ``typed`` (the context's type), ``listed`` (the
    #: language's ordered list, or its minimal filler), ``removed`` (nothing passed: the region left empty)
    filler_kinds: tuple[str, ...] = ()
    #: regions that rounds filled with a context draft (:mod:`treediff.sample.context`): text copied from elsewhere
    #: in the program, not the model's writing (summed over the rounds; ``0`` when the model's drafts always won)
    num_context: int = 0


def fill_regions(code: str, regions: list[tuple[int, int]], texts: list[str], spans: list[tuple[int, int]],
                 language: str, given: str | bytes | None = None):
    """:func:`splice_regions` of the fillers ``texts`` and the check of the result; where that is invalid, the regions
    at the start of a line hold nothing instead (a program's top level may take no statement filler:
    Java's ``{}`` among its imports, Go's ``_ = 0``).  Returns ``(code, spans, verdict)``."""
    new_code, new_spans = splice_regions(code, regions, texts, spans)
    verdict = check(new_code, language, given=given)
    data = code.encode("utf-8")
    top = [starts_line(data, a) for a, _ in regions]
    if verdict.ok or not any(top):
        return new_code, new_spans, verdict
    bare_code, bare_spans = splice_regions(code, regions, ["" if t else x for t, x in zip(top, texts)], spans)
    bare = check(bare_code, language, given=given)
    return (bare_code, bare_spans, bare) if bare.ok else (new_code, new_spans, verdict)


def category_fill(language: str, code: str, regions: list[tuple[int, int]], categories: list[str],
                  spans: list[tuple[int, int]], given: str | bytes | None = None):
    """:func:`fill_regions` with each region's category's minimal filler (``[fillers]``), indented where it
    stands: the fallback's last resort.  Returns ``(code, spans, verdict)``."""
    data = code.encode("utf-8")
    texts = [filler(language, cat, indent=indent_at(data, a)) for (a, _), cat in zip(regions, categories)]
    return fill_regions(code, regions, texts, spans, language, given)


def splice_regions(code: str, regions: list[tuple[int, int]], texts: list[str], spans: list[tuple[int, int]]):
    """Replace byte ranges of ``code`` (disjoint; :func:`~treediff.syntax.holes.splice`); returns the new code and
    the hole ``spans`` moved accordingly (a span holding a region grows with it)."""
    spans = list(spans)
    for (a, b), text in sorted(zip(regions, texts), reverse=True):
        delta = len(text.encode("utf-8")) - (b - a)
        for i, (s, e) in enumerate(spans):
            if s <= a and b <= e:
                spans[i] = (s, e + delta)
            elif s >= b:
                spans[i] = (s + delta, e + delta)
    ordered = sorted(zip(regions, texts))
    data, _ = splice(code.encode("utf-8"), [r for r, _ in ordered], [t for _, t in ordered])
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


def _problem_regions(tree: SyntaxTree, problems, spans, widen: int = 0,
                     rule: str = "smallest") -> list[tuple[int, int, int]]:
    """``(start, end, hole)`` byte regions to remask, merged, each inside one hole span (``widen``: see
    :func:`~treediff.syntax.holes.enclosing_region`; ``rule="cfg"``: the first round takes
    :func:`~treediff.syntax.cfg_flow.cfg_region`, later ones its union with the widened node)."""
    found: list[tuple[int, int, int]] = []
    for p in problems:
        h = _owner(spans, p.start_byte)
        s, e = spans[h]
        if s == e:
            region = (s, e)
        else:
            span = problem_span(p, len(tree.source))
            region = enclosing_region(tree, *span, within=(s, e), widen=max(widen - 1, 0) if rule == "cfg" else widen)
            flow = cfg_region(tree, *span, within=(s, e)) if rule == "cfg" else None
            if flow is not None:
                region = (min(region[0], flow[0]), max(region[1], flow[1])) if widen else flow
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


def _categories_ok(language: str, code: str, spans, holes, substantive: bool = False) -> tuple[bool, ...]:
    """Per hole: does its fill parse as its declared category in context (the code must parse)?  With
    ``substantive``, a statement or block fill must also hold code (:mod:`treediff.syntax.hollow`)."""
    cats = fills_parse_as(language, code, spans, [h.category for h in holes])
    return _substance(language, code, spans, holes, cats) if substantive else cats


def _substance(language: str, code: str, spans, holes, cats: tuple[bool, ...]) -> tuple[bool, ...]:
    """``cats``, with each statement or block hole whose fill holds no code counted as of the wrong category."""
    hollow = hollow_fills(code, language, spans, [h.category if ok else "" for h, ok in zip(holes, cats)])
    return tuple(ok and not empty for ok, empty in zip(cats, hollow))


def remask(lm: DiffusionLM, language: str, code: str, spans: list[tuple[int, int]], holes: tuple[Hole, ...],
           config: SamplerConfig, generator: torch.Generator, counts: DecodeCounts = DecodeCounts(), *,
           given: str | bytes | None = None) -> RemaskOutcome:
    """Compiler remasking rounds, then the typed fallback (:class:`RemaskOutcome`).  ``counts``: the first
    pass's, to which the rounds' are added.  ``given``: the template's source, whose names are the only
    outside references set aside (:func:`~treediff.sample.record.check`).

    A hole whose fill is valid code but not of its declared category (an expression hole that holds
    nothing, say) is remasked whole in the next round, and gets its category's filler at the end."""
    verdict = check(code, language, given=given)
    substantive = config.substantive_holes
    cats = _categories_ok(language, code, spans, holes, substantive)
    rounds = n_context = 0
    if not config.uses_remask:
        return RemaskOutcome(code, spans, rounds, verdict, 0, cats, counts)

    def wrong() -> list[int]:  # holes of the wrong category, once the code is valid
        return [i for i, ok in enumerate(cats) if not ok] if verdict.ok else []

    while (not verdict.ok or wrong()) and rounds < config.max_rounds:
        tree = parse(code, language)
        if verdict.ok:  # every hole of the wrong category is decoded again, whole
            regions = [(spans[i][0], spans[i][1], i) for i in wrong()]
        else:
            # round k remasks the problem's node widened k-1 levels: the same region, decoded again, would
            # often hold the same error (its context is what is wrong)
            regions = _problem_regions(tree, verdict.problems, spans, widen=rounds, rule=config.remask_region)
        if not regions:
            break
        rounds += 1
        try:
            rows, scores, counts = redo_round(lm, language, code, regions, holes, config, generator, counts)
        except InputError:  # the whole program does not fit the model: stop remasking, fall back
            break
        n_model = len(rows)
        more, more_scores = context_rows(
            lm, language, tree, [(a, b, _region_category(tree, a, b, holes[h].category)) for a, b, h in regions],
            spans, config.context_drafts) if config.context_drafts else ([], [])
        chosen, code, spans, verdict, cats = _pick(language, code, spans, [(a, b) for a, b, _ in regions],
                                                   rows + more, scores + more_scores, holes, given, substantive)
        n_context += len(regions) if chosen >= n_model else 0
    if (not verdict.ok or wrong()) and rounds and config.context_sweep:
        found = _sweep(lm, language, code, spans, verdict, wrong(), holes, config.context_sweep, given, substantive)
        if found is not None:
            code, spans, verdict, cats, n_swept = found
            n_context += n_swept
    outcome = RemaskOutcome(code, spans, rounds, verdict, 0, cats, counts, num_context=n_context)
    return typed_fallback(language, holes, outcome, given) if config.fallback else outcome


def _sweep(lm: DiffusionLM, language: str, code: str, spans, verdict: ValidityResult, wrong: list[int],
           holes: tuple[Hole, ...], count: int, given, substantive: bool = False):
    """The fragments of the program for the still failing regions, up to ``count`` rows best score first, each
    checked in turn: ``(code, spans, verdict, categories_ok, regions)`` of the first that passes with every hole
    of its category, else ``None``.  The regions are each offending node (or each hole of the wrong category),
    then, where those fail, the whole holes that hold them, as declared (a last draft that parses puts the
    offending node inside itself: a string inside ``return "" + "..."`` where a callee was lost).  Only checks:
    no decoding but one scoring pass, and a row tree-sitter rejects costs no compiler run."""
    tree = parse(code, language)
    if verdict.ok:
        tries = [[(spans[i][0], spans[i][1], i, holes[i].category) for i in wrong]]
    else:
        found = _problem_regions(tree, verdict.problems, spans)
        owners = sorted({h for _, _, h in found})
        tries = [[(a, b, h, _region_category(tree, a, b, holes[h].category)) for a, b, h in found],
                 [(spans[h][0], spans[h][1], h, holes[h].category) for h in owners]]
    done: list = []
    for regions in tries:
        if not regions or regions in done:
            continue
        done.append(regions)
        rows, scores = context_rows(lm, language, tree, [(a, b, cat) for a, b, _, cat in regions], spans, count,
                                    pool=count)
        found = pick_passing(language, code, spans, [(a, b) for a, b, _, _ in regions], rows, scores, holes, given,
                             substantive)
        if found is not None:
            return (*found, len(regions))
    return None


def pick_passing(language: str, code: str, spans: list[tuple[int, int]], regions: list[tuple[int, int]],
                 rows: list[list[str]], scores: list[float], holes: tuple[Hole, ...], given,
                 substantive: bool = False):
    """:func:`pick_draft` that keeps only a row passing the check with every hole of its category:
    ``(code, spans, verdict, categories_ok)``, else ``None``."""
    if not rows:
        return None
    _, new_code, new_spans, verdict, cats = _pick(language, code, spans, regions, rows, scores, holes, given,
                                                  substantive)
    return (new_code, new_spans, verdict, cats) if verdict.ok and all(cats) else None


def redo_round(lm: DiffusionLM, language: str, code: str, regions: list[tuple[int, int, int]], holes: tuple[Hole, ...],
          config: SamplerConfig, generator: torch.Generator,
          counts: DecodeCounts) -> tuple[list[list[str]], list[float], DecodeCounts]:
    """One remasking round: each region masked again and decoded ``config.remask_samples`` times in one batch.
    Sample ``r`` gets :data:`_LENGTHS` ``[r % 4]`` of the tokens the region held (plus slack): a weak model
    fills every mask it is given, so shorter drafts are tried beside the full one.  Returns the rows' fills,
    their :func:`~treediff.sample.context.score_layout` and the counts (the longest draft's forward passes and
    guard counts)."""
    data = code.encode("utf-8")
    segments, lens = [], []
    last = 0
    for a, b, h in regions:
        segments.append(data[last:a].decode("utf-8", "replace"))
        old = data[a:b].decode("utf-8", "replace")
        n_old = len(lm.encode(old, language)) if old.strip() else config.hole_tokens.get(holes[h].category, 16)
        lens.append(n_old + REMASK_SLACK)
        last = b
    segments.append(data[last:].decode("utf-8", "replace"))
    round_config = config
    if config.remask_temperature is not None and config.temperature < config.remask_temperature:
        round_config = round_config.replace(temperature=config.remask_temperature)
    if config.remask_parallel > 1:  # (with a threshold, confident positions come on top)
        steps = -(-sum(lens) // config.remask_parallel)
        if config.steps is None or steps < config.steps:
            round_config = round_config.replace(steps=steps)
    layouts = [layout_segments(lm, language, segments, [max(2, round(n * _LENGTHS[r % len(_LENGTHS)])) for n in lens],
                               cap=False) for r in range(config.remask_samples)]
    outs = decode_layouts(lm, [(layout, 1, generator) for layout in layouts], round_config)
    scores = [score_layout(lm, layout, out.result.ids[0]) for layout, out in zip(layouts, outs)] \
        if config.remask_samples > 1 else [0.0]
    return [out.fills[0] for out in outs], scores, counts.plus(outs[0].result, outs[0].guard[0])


_LENGTHS = (1.0, 0.5, 0.25, 0.75)  # draft lengths of a round's samples, as shares of the region's token count


def _parse_fails(code: str, language: str) -> bool:
    """Tree-sitter finds an error in ``code``, or it is no source at all (a NUL byte from a token's bytes)."""
    try:
        return parse(code, language).has_errors
    except InputError:
        return True


def pick_draft(language: str, code: str, spans: list[tuple[int, int]], regions: list[tuple[int, int]],
          rows: list[list[str]], scores: list[float], holes: tuple[Hole, ...], given, substantive: bool = False):
    """The first row, in order of ``scores``, whose fills spliced into ``code`` pass the check with every hole of its
    category; failing that, the best-scored row that tree-sitter accepts, else the best-scored row.  A row
    tree-sitter rejects never costs a compiler run.  With ``substantive``, a statement or block fill that holds no
    code counts as of the wrong category, and a passing row of such fills is kept before a failing one.
    Returns ``(code, spans, verdict, categories_ok)``."""
    return _pick(language, code, spans, regions, rows, scores, holes, given, substantive)[1:]


def _pick(language, code, spans, regions, rows, scores, holes, given, substantive=False):
    """:func:`pick_draft`, with the index of the row kept first."""
    order = sorted(range(len(rows)), key=lambda r: -scores[r])
    keep = None
    for r in order:
        new_code, new_spans = splice_regions(code, regions, rows[r], spans)
        if _parse_fails(new_code, language):
            keep = keep or (r, new_code, new_spans, None)
            continue
        verdict = check(new_code, language, given=given)
        cats = _categories_ok(language, new_code, new_spans, holes)
        if verdict.ok and all(cats):
            whole = _substance(language, new_code, new_spans, holes, cats) if substantive else cats
            if all(whole):
                return r, new_code, new_spans, verdict, cats
            if keep is None or keep[3] is None or not keep[3][0].ok:  # passes, but a fill holds no code
                keep = (r, new_code, new_spans, (verdict, whole))
            continue
        if keep is None or keep[3] is None:
            keep = (r, new_code, new_spans, (verdict, cats))
    r, new_code, new_spans, done = keep
    if done is None:
        done = (check(new_code, language, given=given),
                _categories_ok(language, new_code, new_spans, holes, substantive))
    return r, new_code, new_spans, *done


def typed_fallback(language: str, holes: tuple[Hole, ...], outcome: RemaskOutcome,
                   given: str | bytes | None) -> RemaskOutcome:
    """The typed fallback: each offending region of an invalid program gets its category's filler (else every
    hole's whole fill its hole's); a valid program's holes of the wrong category get theirs."""
    code, spans, verdict, cats = outcome.code, outcome.spans, outcome.verdict, outcome.categories_ok
    n_fallback = 0
    kinds: tuple[str, ...] = ()
    if not verdict.ok:
        tree = parse(code, language)
        regions = _problem_regions(tree, verdict.problems, spans)
        said = _filler_problems(language, tree.source, verdict.problems, regions)
        found = typed_fill(language, tree, regions, holes, code, spans, given, problems=said) if regions else None
        if found is None:  # the offending regions alone cannot be mended: whole holes, as declared, typed
            whole = [(s, e, i) for i, (s, e) in enumerate(spans)]
            found = typed_fill(language, tree, whole, holes, code, spans, given, declared=True,
                               problems=_filler_problems(language, tree.source, verdict.problems, whole))
            regions = whole if found is not None else regions
        if found is not None:
            code, spans, verdict, kinds = found
            n_fallback = len(regions)
            cats = _categories_ok(language, code, spans, holes)
        else:  # whole holes: each hole's fill becomes its category's filler
            code, spans, verdict = category_fill(language, code, spans, [h.category for h in holes], spans,
                                                 given)  # the last resort
            return replace(outcome, code=code, spans=spans, verdict=verdict, num_fallback=len(holes),
                           categories_ok=_categories_ok(language, code, spans, holes),
                           filler_kinds=("listed",) * len(holes))
    off = [i for i, ok in enumerate(cats) if not ok] if verdict.ok else []
    if off:  # valid, but a hole holds the wrong kind of code: that hole gets its category's filler
        data = code.encode("utf-8")
        texts = [filler(language, holes[i].category, indent=indent_at(data, spans[i][0])) for i in off]
        new_code, new_spans = splice_regions(code, [spans[i] for i in off], texts, spans)
        new_verdict = check(new_code, language, given=given)
        found = None if new_verdict.ok else typed_fill(  # (a body that must return: the language's typed list)
            language, parse(code, language), [(*spans[i], i) for i in off], holes, code, spans, given, declared=True)
        if new_verdict.ok or found is not None:
            code, spans, verdict = (new_code, new_spans, new_verdict) if found is None else found[:3]
            kinds += () if found is None else found[3]
            n_fallback += len(off)
            cats = _categories_ok(language, code, spans, holes)
    return replace(outcome, code=code, spans=spans, verdict=verdict, num_fallback=n_fallback, categories_ok=cats,
                   filler_kinds=kinds + ("listed",) * (n_fallback - len(kinds)))


def _filler_problems(language: str, data: bytes, problems, regions) -> tuple[str, ...]:
    """The messages that may pick the fillers of ``regions``: all but those of the draft's own names, a problem
    inside a region whose message names (group 1 of a ``[typed_fillers]`` problem or name pattern) a word the
    region's text holds.  The draft's ``return err`` said "undefined: err", and the filler declared an ``err``
    that then stood unused; a Java ``return;`` where "variable x might not have been initialized" still asks for
    ``this.x = x;`` (``x`` is no word of the region)."""
    table = get_language(language).extra.get("typed_fillers", {})
    patterns = [*table.get("problems", {}), *table.get("names", ())]

    def own(p) -> bool:
        a, _ = problem_span(p, len(data))
        for x, y, *_ in regions:
            if x <= a < max(y, x + 1):
                text = data[x:y].decode("utf-8", "replace")
                for pattern in patterns:
                    m = re.search(pattern, p.message)
                    if m and m.groups() and m.group(1) and re.search(rf"\b{re.escape(m.group(1))}\b", text):
                        return True
        return False

    return tuple(p.message for p in problems if not own(p))


_FILLER_TRIES = 4  # compiler checks of typed fillers per fallback (each region takes its next choice per try)


def _regions_hit(moved: list[tuple[int, int]], problems, size: int) -> set[int]:
    """The regions (by index; ``moved``: their byte ranges once filled) that hold a problem: a region none holds
    keeps its filler on the next try (a problem elsewhere asks another region, or the fillers together, for more)."""
    hit = set()
    for p in problems:
        a, b = problem_span(p, size)
        hit.update(r for r, (x, y) in enumerate(moved) if x <= a < max(y, x + 1) or a <= x < b)
    return hit


def typed_fill(language: str, tree: SyntaxTree, regions, holes, code: str, spans, given, *, declared: bool = False,
               problems: tuple[str, ...] = ()):
    """Fill each region with its :func:`~treediff.syntax.fillers.typed_fillers` choice, verified by the check:
    try ``k`` gives every region its ``k``-th choice (its last when it has fewer).  ``(code, spans, verdict,
    kinds)`` of the first that passes, else ``None``.  A region's category is that of the node it spans in
    ``tree``, or with ``declared`` its hole's (the region is a whole hole whose broken fill says nothing)."""
    data = tree.source
    cats = [holes[h].category if declared else _region_category(tree, a, b, holes[h].category) for a, b, h in regions]
    options = [typed_fillers(language, data, a, b, cat, problems) for (a, b, _), cat in zip(regions, cats)]
    # first choice from the context (the type's filler, a name or the statement the compiler's complaint asks
    # for, a call where a statement needs one), not from the category's list
    lang = get_language(language)
    listed = {cat: set(lang.extra.get("typed_fillers", {}).get(cat, ())) | {lang.filler(cat)} for cat in set(cats)}
    typed = [o[0] not in listed[cat] for o, cat in zip(options, cats)]
    bounds = [(a, b) for a, b, _ in regions]
    heard: list[str] = []  # what the compiler said of the fillers tried: a broken draft may have hidden it
    at = [0] * len(options)  # each region's choice: the regions a problem lies in take their next one
    for _ in range(min(_FILLER_TRIES, max(len(o) for o in options))):
        texts = [o[k].replace("\n", "\n" + indent_at(data, a)) for o, k, (a, _) in zip(options, at, bounds)]
        new_code, new_spans, verdict = fill_regions(code, bounds, texts, spans, language, given)
        plain, moved = splice_regions(code, bounds, texts, list(bounds))  # (each region's range once filled)
        bare = new_code != plain  # top-level regions left empty
        if verdict.ok:
            kinds = tuple("removed" if bare and starts_line(data, a) else ("typed" if k == 0 and t else "listed")
                          for (a, _), k, t in zip(bounds, at, typed))
            return new_code, new_spans, verdict, kinds
        heard += [p.message for p in verdict.problems]
        hit = set() if bare else _regions_hit(moved, verdict.problems, len(new_code.encode("utf-8")))
        at = [min(k + 1, len(o) - 1) if not hit or r in hit else k for r, (o, k) in enumerate(zip(options, at))]
    # what the compiler said once the fillers stood there (a broken draft may have hidden "x declared but not
    # used"): the statements and values those messages ask for, tried once
    again = [typed_fillers(language, data, a, b, cat, tuple(heard)) for (a, b, _), cat in zip(regions, cats)]
    if again != options:
        texts = [o[0].replace("\n", "\n" + indent_at(data, a)) for o, (a, _) in zip(again, bounds)]
        new_code, new_spans, verdict = fill_regions(code, bounds, texts, spans, language, given)
        if verdict.ok:
            return new_code, new_spans, verdict, ("typed",) * len(bounds)
        heard += [p.message for p in verdict.problems]
    # a name the code lacks once a filler stands there (a syntax error of the draft stopped the compiler
    # before it said "imported and not used"): tried in every expression region, once
    named = name_fillers(language, heard) + name_fillers(language, heard, key="unused")
    for name in [n for n in dict.fromkeys(named) if all(n not in o for o in options)]:
        texts = [name if cat in ("expression", "identifier") else o[-1].replace("\n", "\n" + indent_at(data, a))
                 for o, cat, (a, _) in zip(options, cats, bounds)]
        new_code, new_spans, verdict = fill_regions(code, bounds, texts, spans, language, given)
        if verdict.ok:
            return new_code, new_spans, verdict, ("typed",) * len(bounds)
    return None

