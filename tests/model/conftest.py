"""Tiny denoiser fixtures (CPU, seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from treediff.syntax import parse
from treediff.tokens import AlignedBatch, leaf_alignment

VOCAB = 256
PAD, MASK, BOS = 1, 0, 2

SOURCES = [
    'import os\n\n\ndef walk(root, depth=0):\n    """Yield paths."""\n    for name in sorted(os.listdir(root)):\n'
    "        path = os.path.join(root, name)\n        if os.path.isdir(path) and depth < 3:\n"
    "            yield from walk(path, depth + 1)\n        else:\n            yield path  # a file\n",
    "class Box:\n    def __init__(self, x):\n        self.x = [x, {'k': (1, 2)}]\n\n    @property\n"
    "    def size(self):\n        return len(self.x) if self.x else -1\n",
]


def build_batch(sources=SOURCES, pad_to: int | None = None):
    """An AlignedBatch by hand: BOS + one id per leaf piece, spans shifted by the BOS, right padding."""
    aligns = [leaf_alignment(parse(src, "python")) for src in sources]
    length = max(a.num_tokens for a in aligns) + 1
    length = max(length, pad_to or 0)
    bsz = len(aligns)
    gen = torch.Generator().manual_seed(0)
    ids = torch.full((bsz, length), PAD, dtype=torch.long)
    attn = torch.zeros(bsz, length, dtype=torch.bool)
    rows, depth = [], []
    for b, a in enumerate(aligns):
        n = a.num_tokens
        ids[b, 0] = BOS
        ids[b, 1 : n + 1] = torch.randint(3, VOCAB, (n,), generator=gen)
        attn[b, : n + 1] = True
        sh = a.shifted(1)
        rows.append(np.column_stack([np.full(a.num_nodes, b), sh.node_spans, a.node_category.astype(np.int64)]))
        depth.append(a.node_depth)
    batch = AlignedBatch(
        input_ids=ids,
        attention_mask=attn,
        special_mask=~attn | (torch.arange(length) == 0),
        spans=torch.from_numpy(np.concatenate(rows)).long(),
        span_depth=torch.from_numpy(np.concatenate(depth)).long(),
    )
    return batch.validate(), aligns


@pytest.fixture
def aligned():
    return build_batch()
