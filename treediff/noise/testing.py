"""Small-batch builders for tests, docs and the ``treediff mask`` command.

The training pipeline collates its own batches; these helpers build an
:class:`~treediff.tokens.batch.AlignedBatch` straight from alignments, with an
optional BOS/EOS frame marked special, so maskers can be run on real code.

>>> b = batch_from_sources(["x = 1\\n", "def f():\\n    return 2\\n"], "python")
>>> b.input_ids.shape, int(b.special_mask[0].sum())
(torch.Size([2, 13]), 7)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from treediff.syntax import SyntaxTree, parse
from treediff.syntax.cfg_flow import flow_units, token_spans
from treediff.tokens.alignment import Alignment, leaf_alignment
from treediff.tokens.batch import AlignedBatch

__all__ = ["batch_from_alignments", "batch_from_sources", "BOS_ID", "EOS_ID", "PAD_ID", "MASK_ID", "END_OF_HOLE_ID", "FIRST_ID"]

PAD_ID, BOS_ID, EOS_ID, MASK_ID, END_OF_HOLE_ID = 0, 1, 2, 3, 4
FIRST_ID = 5  # first id handed to an ordinary token by batch_from_sources


def batch_from_alignments(
    ids: Sequence[np.ndarray | Sequence[int]],
    alignments: Sequence[Alignment],
    *,
    pad_id: int = PAD_ID,
    bos_id: int | None = BOS_ID,
    eos_id: int | None = EOS_ID,
    trees: Sequence[SyntaxTree] | None = None,
) -> AlignedBatch:
    """Frame each id row as ``[BOS] ids [EOS]`` (when given), right-pad, and carry the node spans.

    ``ids[i]`` must hold one id per token of ``alignments[i]`` (node spans index it).  With the
    parsed ``trees``, the batch also carries their control-flow units (``flow_spans``).
    """
    if len(ids) != len(alignments):
        raise ValueError(f"{len(ids)} id rows for {len(alignments)} alignments")
    lead = 0 if bos_id is None else 1
    rows = []
    for row in ids:
        row = [int(x) for x in row]
        rows.append(([bos_id] if bos_id is not None else []) + row + ([eos_id] if eos_id is not None else []))
    length = max((len(r) for r in rows), default=0)
    batch = len(rows)
    input_ids = torch.full((batch, length), pad_id, dtype=torch.long)
    attention = torch.zeros((batch, length), dtype=torch.bool)
    special = torch.ones((batch, length), dtype=torch.bool)
    spans, depths = [], []
    for i, (row, al) in enumerate(zip(rows, alignments)):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention[i, : len(row)] = True
        special[i, lead : lead + len(ids[i])] = False
        s = torch.as_tensor(al.node_spans, dtype=torch.long).reshape(-1, 2) + lead
        c = torch.as_tensor(al.node_category, dtype=torch.long).reshape(-1, 1)
        spans.append(torch.cat([torch.full_like(c, i), s, c], dim=1))
        depths.append(torch.as_tensor(al.node_depth, dtype=torch.long).reshape(-1))
    flow = None
    if trees is not None:
        rows = []
        for i, (tree, al) in enumerate(zip(trees, alignments)):
            units = flow_units(tree)
            tok = token_spans(units[:, 1:], al.token_offsets) + lead
            rows.append(np.column_stack([np.full(len(units), i), tok, units[:, 0]]))
        flow = torch.from_numpy(np.concatenate(rows).astype(np.int64).reshape(-1, 4)) if rows else None
    return AlignedBatch(
        input_ids=input_ids,
        attention_mask=attention,
        special_mask=special,
        spans=torch.cat(spans) if spans else torch.zeros((0, 4), dtype=torch.long),
        span_depth=torch.cat(depths) if depths else torch.zeros((0,), dtype=torch.long),
        flow_spans=flow,
    ).validate()


def batch_from_sources(
    sources: Sequence[str | bytes],
    language: str,
    *,
    bos_id: int | None = BOS_ID,
    eos_id: int | None = EOS_ID,
) -> AlignedBatch:
    """Parse, :func:`leaf_alignment` and batch ``sources``: token ``k`` of a row gets id ``FIRST_ID + k``.

    Ids only need to differ from the special ids here; maskers never read their values.
    """
    trees = [parse(src, language) for src in sources]
    alignments = [leaf_alignment(tree) for tree in trees]
    ids = [np.arange(FIRST_ID, FIRST_ID + al.num_tokens) for al in alignments]
    return batch_from_alignments(ids, alignments, bos_id=bos_id, eos_id=eos_id, trees=trees)
