"""Fixed-length training windows over prepared shards, and their collation into :class:`AlignedBatch`.

Each shard is one packed stream (``<|lang:X|> <|bos|> file tokens <|eos|>`` per file), cut
into consecutive windows of ``seq_len`` tokens (the last window of a shard may be shorter
and is padded by :func:`collate`).  A window keeps the AST spans that lie wholly inside it,
shifted to window coordinates; spans that the window cuts are dropped.  Everything per
item is numpy slicing plus one precomputed index, no per-token Python.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from treediff.data.shards import Shard, open_split, read_manifest
from treediff.errors import InputError
from treediff.tokens.batch import AlignedBatch

__all__ = ["Example", "CorpusDataset", "collate"]


@dataclass(frozen=True)
class Example:
    """One window: ``input_ids [n]``, ``special_mask [n]``, ``spans [K, 3]`` rows ``(start, end, category)``, ``span_depth [K]``."""

    input_ids: np.ndarray
    special_mask: np.ndarray
    spans: np.ndarray
    span_depth: np.ndarray

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


class CorpusDataset(Dataset):
    """Windows of ``seq_len`` tokens from the ``split`` shards of a prepared directory.

    ``seq_len`` defaults to the one recorded by ``treediff data prepare``.  Use with
    ``DataLoader(ds, batch_size=..., collate_fn=ds.collate_fn)``.
    """

    def __init__(self, shard_dir: str | os.PathLike[str], split: str = "train", seq_len: int | None = None) -> None:
        self.shard_dir = Path(shard_dir)
        manifest = read_manifest(self.shard_dir)
        seq_len = manifest.get("seq_len") if seq_len is None else seq_len
        if not isinstance(seq_len, int) or seq_len < 8:
            raise InputError(f"seq_len must be an int >= 8, got {seq_len!r}")
        self.split = split
        self.seq_len = seq_len
        self.pad_id = int(manifest["pad_id"])
        self.vocab_size = int(manifest["vocab_size"])
        self.special_ids = [int(i) for i in manifest["special_ids"]]
        is_special = np.zeros(self.vocab_size, dtype=bool)
        is_special[self.special_ids] = True
        self._is_special = is_special
        self.shards: list[Shard] = open_split(self.shard_dir, split, manifest)
        counts = [-(-s.num_tokens // seq_len) for s in self.shards]
        self._cum = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # node rows whose span starts in window w are [node_index[w], node_index[w + 1])
        self._node_index: list[np.ndarray | None] = [None] * len(self.shards)

    def __len__(self) -> int:
        return int(self._cum[-1])

    @property
    def num_tokens(self) -> int:
        return sum(s.num_tokens for s in self.shards)

    @functools.cached_property
    def collate_fn(self):
        return functools.partial(collate, pad_id=self.pad_id)

    def _index(self, k: int) -> np.ndarray:
        idx = self._node_index[k]
        if idx is None:
            shard = self.shards[k]
            starts = np.ascontiguousarray(shard.node_spans[:, 0])
            bounds = np.arange(0, shard.num_tokens + self.seq_len, self.seq_len, dtype=np.int64)
            idx = np.searchsorted(starts, bounds, side="left")
            self._node_index[k] = idx
        return idx

    def __getitem__(self, i: int) -> Example:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"window {i} out of range for {n} windows")
        k = int(np.searchsorted(self._cum, i, side="right")) - 1
        w = i - int(self._cum[k])
        shard = self.shards[k]
        start = w * self.seq_len
        stop = min(start + self.seq_len, shard.num_tokens)
        ids = np.asarray(shard.tokens[start:stop], dtype=np.int64)
        idx = self._index(k)
        lo, hi = int(idx[w]), int(idx[w + 1])
        spans = np.asarray(shard.node_spans[lo:hi], dtype=np.int64)
        keep = spans[:, 1] <= stop
        spans = spans[keep] - start
        cats = np.asarray(shard.node_category[lo:hi])[keep].astype(np.int64)
        depth = np.asarray(shard.node_depth[lo:hi])[keep].astype(np.int64)
        return Example(
            input_ids=ids,
            special_mask=self._is_special[ids],
            spans=np.concatenate([spans, cats[:, None]], axis=1),
            span_depth=depth,
        )

    def __repr__(self) -> str:
        return f"CorpusDataset({str(self.shard_dir)!r}, split={self.split!r}, seq_len={self.seq_len}, windows={len(self)})"


def collate(examples: Sequence[Example], pad_id: int, pad_to: int | None = None) -> AlignedBatch:
    """Pad examples into an :class:`AlignedBatch` (``special_mask`` is True on specials and padding).

    ``pad_to`` fixes the padded length (default: the longest example).
    """
    if not examples:
        raise InputError("cannot collate an empty list of examples")
    lengths = [len(e) for e in examples]
    length = max(lengths) if pad_to is None else pad_to
    if length < max(lengths):
        raise InputError(f"pad_to={pad_to} is shorter than the longest example ({max(lengths)})")
    b = len(examples)
    ids = np.full((b, length), pad_id, dtype=np.int64)
    special = np.ones((b, length), dtype=bool)
    attention = np.zeros((b, length), dtype=bool)
    spans, depths = [], []
    for row, (e, n) in enumerate(zip(examples, lengths)):
        ids[row, :n] = e.input_ids
        special[row, :n] = e.special_mask
        attention[row, :n] = True
        k = e.spans.shape[0]
        block = np.empty((k, 4), dtype=np.int64)
        block[:, 0] = row
        block[:, 1:] = e.spans
        spans.append(block)
        depths.append(e.span_depth)
    return AlignedBatch(
        input_ids=torch.from_numpy(ids),
        attention_mask=torch.from_numpy(attention),
        special_mask=torch.from_numpy(special),
        spans=torch.from_numpy(np.concatenate(spans).reshape(-1, 4)),
        span_depth=torch.from_numpy(np.concatenate(depths).astype(np.int64)),
    )
