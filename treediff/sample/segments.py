"""Generation between fixed text: holes as runs of masks, decoded jointly under the guard, with the
compiler check after each block (step 1 of :mod:`treediff.sample.pipeline`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from treediff.errors import InputError
from treediff.model.formats import DiffusionLM
from treediff.sample.config import MAX_TOKENS, SamplerConfig
from treediff.sample.constraints import GrammarGuard, guard_grammar_for
from treediff.sample.loop import DenoiseResult, RowGroup, denoise
from treediff.syntax.holes import enclosing_region
from treediff.syntax.tree import parse

__all__ = ["GuardCounts", "Segments", "Layout", "layout_segments", "generate_segments", "decode_layouts", "block_check"]


@dataclass(frozen=True)
class GuardCounts:
    """One row's grammar-guard counts: positions ``forced`` (a token chosen to close the program) and
    ``dropped`` (left empty, no candidate viable)."""

    forced: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class Segments:
    """What :func:`generate_segments` decoded: ``fills[row][hole]`` texts, the denoising ``result``, whether
    the grammar guard ran (``used_grammar``), and its per-row ``guard`` counts."""

    fills: list[list[str]]
    result: DenoiseResult
    used_grammar: bool
    guard: tuple[GuardCounts, ...]


@dataclass(frozen=True)
class Layout:
    """One request laid out for the model: ``ids`` (holes as masks), ``editable`` positions, the holes'
    token ``ranges``, and the content bounds ``[start, end)`` (between the prefix and suffix specials)."""

    language: str
    ids: list[int]
    editable: list[bool]
    ranges: list[tuple[int, int]]
    start: int
    end: int


def layout_segments(lm: DiffusionLM, language: str, segments: list[str], lengths: list[int], *,
                    cap: bool = True) -> Layout:
    """Encode the fixed text ``segments`` with a run of ``lengths[i]`` masks between segment ``i`` and ``i + 1``
    (capped, with a warning, to what the model takes when ``cap``)."""
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
                      f"cap {MAX_TOKENS}); capped to {sum(capped)}", stacklevel=4)
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
    return Layout(language, ids + list(suffix), editable + [False] * len(suffix), ranges, len(prefix), content_end)


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
) -> Segments:
    """Decode ``len(segments) - 1`` holes between fixed text segments (see :class:`Segments`).
    ``close_early``: the grammar guard ends each hole as soon as the text after it fits (point edits)."""
    layout = layout_segments(lm, language, segments, lengths, cap=cap)
    return decode_layouts(lm, [(layout, num_rows, generator)], config, close_early=close_early)[0]


def decode_layouts(lm: DiffusionLM, requests: Sequence[tuple[Layout, int, torch.Generator]], config: SamplerConfig,
                   *, close_early: bool = False) -> list[Segments]:
    """Decode several requests (``(layout, num_rows, generator)``) in one batch: rows right-padded with an
    attention mask, one guard and one block check per request, budgets and random draws per request
    (:class:`~treediff.sample.loop.RowGroup`), so each decodes as it would alone."""
    width = max(len(lay.ids) for lay, _, _ in requests)
    pad = lm.end_id
    rows, editable, attention, groups = [], [], [], []
    for lay, num_rows, generator in requests:
        fill = width - len(lay.ids)
        groups.append(RowGroup(len(rows), len(rows) + num_rows, generator))
        rows += [lay.ids + [pad] * fill] * num_rows
        editable += [lay.editable + [False] * fill] * num_rows
        attention += [[True] * len(lay.ids) + [False] * fill] * num_rows
    batch = torch.tensor(rows, dtype=torch.long)
    masked = torch.tensor(editable, dtype=torch.bool)
    mask_attn = None if all(len(lay.ids) == width for lay, _, _ in requests) else torch.tensor(attention)
    guards: list = []
    checks: list = []
    for (lay, _, _), g in zip(requests, groups):
        own = masked[g.start:g.stop, :len(lay.ids)]
        grammar = guard_grammar_for(lay.language) if config.uses_grammar else None
        guards.append(None if grammar is None else
                      GrammarGuard(lm, grammar, own.numpy(), lay.start, lay.end, language=lay.language,
                                   horizon=config.close_horizon, close_early=close_early,
                                   closed_holes=config.closed_holes and not close_early,
                                   glued_keywords=config.glued_keywords))
        # point edits (close_early) are one short hole decoded left to right: no per-block redo
        checks.append(block_check(lm, lay.language, own, lay.start, lay.end)
                      if config.uses_remask and not close_early else None)
    widths = [len(lay.ids) for lay, _, _ in requests]
    size = config.block_size or int(masked.sum(1).max()) or 1
    num_blocks = [-(-sum(lay.editable) // size) for lay, _, _ in requests]
    refused = [0] * len(requests)
    guard = _batch_guard(guards, groups, widths, refused)
    on_block = _batch_check(checks, groups, widths, num_blocks)
    lead = None
    if config.nonempty_holes:
        lead = torch.zeros_like(masked)
        for (lay, _, _), g in zip(requests, groups):
            for a, b in lay.ranges:
                if b > a:
                    lead[g.start:g.stop, a] = True
    res = denoise(lm, batch, masked, config, guard=guard, generator=groups[0].generator, on_block=on_block,
                  attention_mask=mask_attn, groups=groups, lead=lead)
    out = res.ids.cpu().numpy()
    results = []
    for i, ((lay, num_rows, _), g, gd) in enumerate(zip(requests, groups, guards)):
        fills = [[lm.text_of(out[r, a:b]) for a, b in lay.ranges] for r in range(g.start, g.stop)]
        counts = tuple(GuardCounts() for _ in range(num_rows))
        if gd is not None:
            stats = gd.stats
            counts = tuple(GuardCounts(int(f), int(d)) for f, d in zip(stats.forced_per_row, stats.dropped_per_row))
        own = DenoiseResult(ids=res.ids[g.start:g.stop, :len(lay.ids)], nfe=res.nfe_per_group[i],
                            num_steps=res.num_steps, num_rejected=res.num_rejected if len(requests) == 1 else refused[i],
                            num_dropped=sum(res.dropped_per_row[g.start:g.stop]),
                            dropped_per_row=res.dropped_per_row[g.start:g.stop], nfe_per_group=(res.nfe_per_group[i],))
        results.append(Segments(fills, own, gd is not None, counts))
    return results


def _batch_guard(guards: list, groups: list[RowGroup], widths: list[int], refused: list[int]):
    """One guard for the batch: each row goes to its request's guard, with its own row index and width
    (its refusals counted per request in ``refused``)."""
    if all(g is None for g in guards):
        return None
    owner = [(i, r - g.start) for i, g in enumerate(groups) for r in range(g.start, g.stop)]
    if len(guards) == 1:
        return guards[0]

    def call(row: int, pos: int, candidates: list, ids_row, masked_row) -> bool:
        i, own_row = owner[row]
        if guards[i] is None:  # no grammar for this request's language: commit the proposal
            ids_row[pos], masked_row[pos] = candidates[0], False
            return True
        ok = guards[i](own_row, pos, candidates, ids_row[:widths[i]], masked_row[:widths[i]])
        refused[i] += not ok
        return ok

    return call


def _batch_check(checks: list, groups: list[RowGroup], widths: list[int], num_blocks: list[int]):
    """One block check for the batch: each request's check on its rows, after each of its own blocks."""
    if all(c is None for c in checks):
        return None
    if len(checks) == 1:
        return checks[0]

    def on_block(b: int, ids: torch.Tensor, masked: torch.Tensor) -> torch.Tensor | None:
        redo = torch.zeros_like(masked)
        for check, g, w, n in zip(checks, groups, widths, num_blocks):
            if check is not None and b < n:
                got = check(b, ids[g.start:g.stop, :w], masked[g.start:g.stop, :w])
                if got is not None:
                    redo[g.start:g.stop, :w] = got.to(redo.device)
        return redo if bool(redo.any()) else None

    return on_block


def block_check(lm: DiffusionLM, language: str, editable: torch.Tensor, start: int, end: int):
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


