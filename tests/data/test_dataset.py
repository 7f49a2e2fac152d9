"""Windows over shards and their collation into AlignedBatch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from treediff.data import CorpusDataset, collate, prepare_corpus
from treediff.data.shards import open_split
from treediff.syntax import parse
from treediff.tokens import AlignedBatch
from treediff.tokens.tokenizer import SyntaxTokenizer

SRC = "def f{i}(x, y):\n    if x > y:\n        return x - {i}\n    return [y for _ in range({i})]\n"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    for i in range(12):
        (root / f"m{i}.py").write_text(SRC.format(i=i) * (1 + i % 3))
    tok = SyntaxTokenizer.train([parse(SRC.format(i=0) * 5, "python")], vocab_size=320, show_progress=False)
    out = root.parent / "prepared"
    prepare_corpus(root, tok, out, val_fraction=0.2, seq_len=32, show_progress=False, workers=1)
    return out, tok


def test_windows_cover_the_stream(prepared):
    out, tok = prepared
    ds = CorpusDataset(out, "train")
    assert ds.seq_len == 32
    shards = open_split(out, "train")
    stream = np.concatenate([np.asarray(s.tokens) for s in shards])
    got = np.concatenate([ds[i].input_ids for i in range(len(ds))])
    assert (got == stream).all()
    assert all(len(ds[i]) == 32 for i in range(len(ds) - 1))
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_window_spans_are_the_nodes_fully_inside(prepared):
    out, tok = prepared
    ds = CorpusDataset(out, "train", seq_len=24)
    spans = np.asarray(open_split(out, "train")[0].node_spans)
    for i in range(len(ds)):
        ex = ds[i]
        lo, hi = i * 24, i * 24 + len(ex)
        inside = spans[(spans[:, 0] >= lo) & (spans[:, 1] <= hi)] - lo
        assert sorted(map(tuple, ex.spans[:, :2].tolist())) == sorted(map(tuple, inside.tolist()))
        assert (ex.spans[:, 0] >= 0).all() and (ex.spans[:, 1] <= len(ex)).all()
        assert ex.special_mask.tolist() == tok.is_special(ex.input_ids).tolist()


def test_collate_makes_a_valid_aligned_batch(prepared):
    out, tok = prepared
    ds = CorpusDataset(out, "train")
    examples = [ds[len(ds) - 1], ds[0], ds[1]]
    batch = collate(examples, tok.pad_id)
    assert isinstance(batch, AlignedBatch)
    batch.validate()
    assert batch.input_ids.shape == (3, 32) and batch.input_ids.dtype == torch.long
    n = len(examples[0])
    if n < 32:
        assert (batch.input_ids[0, n:] == tok.pad_id).all()
        assert batch.special_mask[0, n:].all() and not batch.attention_mask[0, n:].any()
    ids = batch.input_ids
    special = torch.isin(ids, torch.tensor(tok.special_ids))
    assert (batch.special_mask == (special | ~batch.attention_mask)).all()
    assert batch.spans.shape[1] == 4 and batch.span_depth.shape[0] == batch.spans.shape[0]
    assert set(batch.spans[:, 0].tolist()) <= {0, 1, 2}
    assert (batch.spans[:, 3] >= -1).all() and (batch.spans[:, 3] < 7).all()
    fixed = collate(examples, tok.pad_id, pad_to=40).validate()
    assert fixed.seq_len == 40


def test_dataloader_with_workers(prepared):
    out, _ = prepared
    ds = CorpusDataset(out, "validation")
    loader = DataLoader(ds, batch_size=4, shuffle=True, collate_fn=ds.collate_fn,
                        generator=torch.Generator().manual_seed(0))
    batches = [b.validate() for b in loader]
    assert sum(b.batch_size for b in batches) == len(ds)
