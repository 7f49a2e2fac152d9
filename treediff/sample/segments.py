"""Generation between fixed text: holes as runs of masks, decoded jointly under the guard, with the
compiler check after each block (step 1 of :mod:`treediff.sample.pipeline`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from treediff.errors import InputError
from treediff.model.formats import DiffusionLM
from treediff.sample.config import MAX_TOKENS, SamplerConfig
from treediff.sample.constraints import GrammarGuard, guard_grammar_for
from treediff.sample.loop import DenoiseResult, denoise
from treediff.syntax.holes import enclosing_region
from treediff.syntax.tree import parse

__all__ = ["GuardCounts", "Segments", "generate_segments", "block_check"]


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
    grammar = guard_grammar_for(language) if config.uses_grammar else None
    guard = None
    if grammar is not None:
        guard = GrammarGuard(lm, grammar, masked.numpy(), len(prefix), content_end, language=language,
                             horizon=config.close_horizon, close_early=close_early)
    # point edits (close_early) are one short hole decoded left to right: no per-block redo
    on_block = (block_check(lm, language, masked, len(prefix), content_end)
                if config.uses_remask and not close_early else None)
    res = denoise(lm, batch, masked, config, guard=guard, generator=generator, on_block=on_block)
    out = res.ids.cpu().numpy()
    fills = [[lm.text_of(out[r, a:b]) for a, b in ranges] for r in range(num_rows)]
    counts = tuple(GuardCounts() for _ in range(num_rows))
    if guard is not None:
        stats = guard.stats
        counts = tuple(GuardCounts(int(f), int(d)) for f, d in zip(stats.forced_per_row, stats.dropped_per_row))
    return Segments(fills, res, grammar is not None, counts)


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


