"""Control-flow masking: the noise hides whole CFG units instead of arbitrary AST nodes.

The units are :func:`treediff.syntax.cfg_flow.flow_units` (carried by ``AlignedBatch.flow_spans``):

* ``block``: a run of consecutive simple statements of one basic block (the code between two
  control points);
* ``control``: a whole compound statement, e.g. a loop with its condition and body;
* ``branch``: one arm of a compound statement (an if or else body, a handler, a case).

The budget rule, the two passes and the loss weight are the AST-span masker's (this class only
changes :meth:`candidates`), so the two compare at equal corruption.  ``ast_weight > 0`` mixes
in AST-span masking: AST nodes join the candidates with their category weight times
``ast_weight``; ``mix_random`` mixes in random tokens as for the AST-span masker.

>>> import torch
>>> from treediff.noise.testing import batch_from_sources
>>> batch = batch_from_sources(["x = 1\\nwhile x:\\n    x = x - 1\\n    y = 2\\n"], "python")
>>> batch.flow_spans.tolist()  # (row, start, end, unit): "x = 1", the whole loop, the loop body
[[0, 1, 6, 0], [0, 7, 27, 1], [0, 12, 27, 0]]
>>> out = ControlFlowMasker()(batch, torch.tensor([0.3]), torch.Generator().manual_seed(0), mask_id=3)
>>> out.mask[0, 1:6].all().item(), int(out.mask.sum()), int(out.fill_mask.sum())  # budget 8 of 27
(True, 8, 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

import numpy as np
import torch

from treediff.errors import InputError
from treediff.noise.ast_span import AstSpanMasker, AstSpanMaskerConfig, SpanCandidates, candidate_spans
from treediff.noise.base import register_masker, require
from treediff.syntax import parse
from treediff.syntax.cfg_flow import UNIT_KINDS, TokenText, flow_units, token_spans
from treediff.syntax.language import CATEGORIES
from treediff.tokens.batch import AlignedBatch

__all__ = ["ControlFlowMaskerConfig", "ControlFlowMasker", "merge_candidates", "attach_flow_units"]


@dataclass(frozen=True)
class ControlFlowMaskerConfig(AstSpanMaskerConfig):
    """Settings of :class:`ControlFlowMasker`: the AST-span masker's, plus

    * ``unit_weights``: unit kind (``block``, ``control``, ``branch``) → relative draw weight ``≥ 0``;
    * ``ast_weight``: ``≥ 0``; AST nodes join the candidates with ``ast_weight`` times their
      category weight (``0`` = control-flow units only).
    """

    masker = "cfg"
    unit_weights: Mapping[str, float] = field(default_factory=lambda: {k: 1.0 for k in UNIT_KINDS})
    ast_weight: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(isinstance(self.unit_weights, Mapping), "unit_weights",
                f"must map unit kind → weight, got {self.unit_weights!r}")
        for key, value in self.unit_weights.items():
            require(key in UNIT_KINDS, "unit_weights", f"unknown unit {key!r}; allowed: {', '.join(UNIT_KINDS)}")
            require(isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value < float("inf"),
                    "unit_weights", f"weight of {key!r} must be a finite float >= 0, got {value!r}")
        object.__setattr__(self, "unit_weights", MappingProxyType({k: float(v) for k, v in self.unit_weights.items()}))
        require(isinstance(self.ast_weight, (int, float)) and not isinstance(self.ast_weight, bool)
                and 0.0 <= self.ast_weight < float("inf"), "ast_weight",
                f"must be a finite float >= 0, got {self.ast_weight!r}")
        require(self.ast_weight > 0 or any(v > 0 for v in self.unit_weights.values()), "unit_weights",
                "every unit has weight 0 and ast_weight is 0")

    def unit_weight_vector(self) -> torch.Tensor:
        """``[len(CATEGORIES) + 1]`` float64 indexed by unit kind (the rest 0), for :func:`candidate_spans`."""
        out = torch.zeros(len(CATEGORIES) + 1, dtype=torch.float64)
        for i, kind in enumerate(UNIT_KINDS):
            out[i] = float(self.unit_weights.get(kind, 1.0))
        return out


def merge_candidates(a: SpanCandidates, b: SpanCandidates, length: int) -> SpanCandidates:
    """Union of two candidate sets, one entry per extent (larger weight kept), sorted by sample."""
    cat = [torch.cat([getattr(a, f), getattr(b, f)]) for f in ("sample", "start", "end", "weight", "size")]
    sample, start, end, weight, size = cat
    key = (sample * (length + 1) + start) * (length + 1) + end
    uniq, inverse = torch.unique(key, return_inverse=True)
    w = torch.zeros(uniq.shape[0], dtype=torch.float64).scatter_reduce(0, inverse, weight, "amax", include_self=False)
    n = torch.zeros(uniq.shape[0], dtype=torch.long).scatter_reduce(0, inverse, size, "amax", include_self=False)
    return SpanCandidates(uniq // ((length + 1) ** 2), (uniq // (length + 1)) % (length + 1), uniq % (length + 1), w, n)


@register_masker
class ControlFlowMasker(AstSpanMasker):
    """Mask whole basic-block runs, loops, ifs and their arms (see the module docstring)."""

    name = "cfg"
    config_class = ControlFlowMaskerConfig
    config: ControlFlowMaskerConfig

    def candidates(self, batch: AlignedBatch) -> SpanCandidates:
        if batch.flow_spans is None:
            raise InputError("the cfg masker needs control-flow units (AlignedBatch.flow_spans); build the batch "
                             "with trees (noise.testing.batch_from_alignments(..., trees=)) or attach_flow_units")
        units = replace(batch, spans=batch.flow_spans.long().cpu())
        cand = candidate_spans(units, self.config.unit_weight_vector())
        if self.config.ast_weight > 0:
            ast = candidate_spans(batch, self.config.category_weights() * self.config.ast_weight)
            cand = merge_candidates(cand, ast, batch.seq_len)
        return cand


def attach_flow_units(batch: AlignedBatch, text: TokenText) -> AlignedBatch:
    """``batch`` with ``flow_spans``: each row's tokens as text (``text``), parsed, its CFG units.

    For training batches, whose windows carry ids but no trees (a window cut mid-file parses
    with tree-sitter's error recovery).  Does nothing when ``flow_spans`` is already set.
    """
    if batch.flow_spans is not None:
        return batch
    ids = batch.input_ids.cpu().numpy()
    attn = batch.attention_mask.bool().cpu().numpy()
    rows = []
    for i in range(batch.batch_size):
        row = ids[i].tolist()
        program = text.program(row, [False] * len(row), attn[i])
        units = flow_units(parse(program.source, text.language(row)))
        if not len(units) or not len(program.offsets):
            continue
        piece = token_spans(units[:, 1:], program.offsets)
        keep = piece[:, 1] > piece[:, 0]
        start = program.token_start[piece[keep, 0]]
        end = program.token_end[piece[keep, 1] - 1]
        rows.append(np.column_stack([np.full(len(start), i), start, end, units[keep, 0]]))
    flow = np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 4), dtype=np.int64)
    return replace(batch, flow_spans=torch.from_numpy(flow.reshape(-1, 4)).to(batch.input_ids.device))
