"""The control-flow masker: whole CFG units under the AST-span budget rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from treediff.errors import InputError
from treediff.noise import ControlFlowMasker, build_masker
from treediff.noise.cfg_mask import attach_flow_units
from treediff.noise.testing import MASK_ID, batch_from_sources
from treediff.syntax import parse
from treediff.syntax.cfg_flow import TokenText
from treediff.tokens import leaf_alignment


def _draw(masker, batch, t, seed):
    return masker(batch, torch.full((batch.batch_size,), t), torch.Generator().manual_seed(seed), MASK_ID)


def test_masks_are_unions_of_whole_units_when_the_budget_allows(batch):
    masker = build_masker({"name": "cfg"})
    units = batch.flow_spans
    assert units is not None and len(units)
    for seed in range(10):
        draw = masker.draw(batch, torch.full((batch.batch_size,), 0.4), torch.Generator().manual_seed(seed))
        extents = {tuple(r) for r in units[:, :3].tolist()}
        assert all(tuple(r) in extents for r in draw.spans.tolist())
        span_part = draw.mask & ~draw.fill_mask
        rebuilt = torch.zeros_like(span_part)
        for b, s, e in draw.spans.tolist():
            rebuilt[b, s:e] = True
        assert torch.equal(rebuilt & span_part, span_part)


def test_budget_is_exact(batch):
    maskable = (batch.attention_mask & ~batch.special_mask).sum(1)
    for t in (0.2, 0.5, 0.9):
        out = _draw(ControlFlowMasker(), batch, t, seed=3)
        expect = torch.floor((1 - 1e-3) * t * maskable + 1e-3 * maskable)
        assert bool(((out.mask.sum(1) - expect).abs() <= 1).all())


def test_units_cover_a_loop_with_its_body_and_an_if_branch():
    src = "x = 1\nwhile x:\n    x = x - 1\nif x:\n    y = 2\nelse:\n    y = 3\n"
    batch = batch_from_sources([src], "python", bos_id=None, eos_id=None)
    tree = parse(src, "python")
    offs = leaf_alignment(tree).token_offsets
    texts = {(k, tree.source[offs[s][0]:offs[e - 1][1]].decode()) for _, s, e, k in batch.flow_spans.tolist()}
    assert (1, "while x:\n    x = x - 1") in texts  # a loop with its condition and body
    assert (0, "x = x - 1") in texts                 # its body, a basic block
    assert any(k == 2 and text.startswith("else") for k, text in texts)  # an if's else arm
    assert (0, "x = 1") in texts


def test_ast_weight_mixes_in_ast_spans(batch):
    only = build_masker({"name": "cfg"}).candidates(batch)
    mixed = build_masker({"name": "cfg", "ast_weight": 1.0}).candidates(batch)
    assert len(mixed) > len(only)


def test_without_units_the_error_says_how_to_get_them(batch):
    from dataclasses import replace

    with pytest.raises(InputError, match="flow_spans"):
        _draw(ControlFlowMasker(), replace(batch, flow_spans=None), 0.5, seed=0)


def test_attach_flow_units_from_token_ids_matches_the_trees(sources):
    trees = [parse(s, "python") for s in sources]
    pieces = []
    for t in trees:  # a token keeps the whitespace after it, as the tokenizer's pieces do
        starts = [int(a) for a, _ in leaf_alignment(t).token_offsets] + [len(t.source)]
        pieces.append([t.source[a:b] for a, b in zip(starts, starts[1:])])
    vocab = [b""] * 5 + [p for row in pieces for p in row]  # ids 0..4: pad, BOS, EOS, mask, end-of-hole
    ids, k = [], 5
    for row in pieces:
        ids.append(list(range(k, k + len(row))))
        k += len(row)
    from treediff.noise.testing import batch_from_alignments

    with_trees = batch_from_alignments(ids, [leaf_alignment(t) for t in trees], trees=trees, pad_id=0)
    from dataclasses import replace

    rebuilt = attach_flow_units(replace(with_trees, flow_spans=None), TokenText(tuple(vocab), {}, "python"))
    key = lambda u: sorted(map(tuple, u.tolist()))  # noqa: E731
    assert key(rebuilt.flow_spans) == key(with_trees.flow_spans)
    assert np.all(rebuilt.flow_spans[:, 2].numpy() > rebuilt.flow_spans[:, 1].numpy())
