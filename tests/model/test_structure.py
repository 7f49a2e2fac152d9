from __future__ import annotations

import numpy as np
import pytest
import torch

from treediff.model import EDGE_TYPES, StructureBatch, TreediffConfig, TreediffForMaskedDiffusion, structure_from_batch
from treediff.model.structure import reconstruct_parents

from .conftest import VOCAB


def test_parents_match_the_parsed_tree(aligned):
    batch, aligns = aligned
    st = structure_from_batch(batch).validate(batch.batch_size, batch.seq_len, num_node_types=8, num_edge_types=4)
    assert st.num_nodes == sum(a.num_nodes for a in aligns)
    up = st.edge_index[:, st.edge_type == EDGE_TYPES.index("child_to_parent")]
    parent = torch.full((st.num_nodes,), -1)
    parent[up[0]] = up[1]
    expected, offset = [], 0
    for a in aligns:
        expected.append(np.where(a.node_parent >= 0, a.node_parent + offset, -1))
        offset += a.num_nodes
    assert parent.tolist() == np.concatenate(expected).tolist()
    down = st.edge_index[:, st.edge_type == EDGE_TYPES.index("parent_to_child")]
    assert sorted(map(tuple, down.t().tolist())) == sorted(map(tuple, up.flip(0).t().tolist()))


def test_sibling_edges_link_consecutive_children(aligned):
    batch, aligns = aligned
    st = structure_from_batch(batch)
    nxt = st.edge_index[:, st.edge_type == EDGE_TYPES.index("next_sibling")].t().tolist()
    a = aligns[0]
    kids = [i for i in range(a.num_nodes) if a.node_parent[i] == 0]  # children of the module
    for left, right in zip(kids, kids[1:]):
        assert [left, right] in nxt


def test_node_kind_is_category_plus_one(aligned):
    batch, _ = aligned
    st = structure_from_batch(batch)
    assert st.node_kind.tolist() == (batch.spans[:, 3] + 1).tolist()
    assert torch.equal(st.node_token_spans, batch.spans[:, 1:3])


def test_visibility_and_drop_masked(aligned):
    batch, _ = aligned
    mask = torch.zeros_like(batch.attention_mask)
    mask[0, 5:40] = True
    st = structure_from_batch(batch, mask)
    s, e = st.node_token_spans.t()
    inside = (st.node_batch == 0) & (s >= 5) & (e <= 40) & (e > s)
    assert not st.node_visible[inside].any()
    assert st.node_visible[st.node_batch == 1].all()
    dropped = structure_from_batch(batch, mask, drop_masked=True).validate(batch.batch_size, batch.seq_len)
    assert dropped.num_nodes == int(st.node_visible.sum())
    assert dropped.node_visible.all()


def test_parents_on_random_nested_spans():
    # Random trees in pre-order: compare with a plain stack scan.
    rng = np.random.default_rng(0)
    for _ in range(20):
        spans, stack_scan = [], []
        def grow(s, e, depth, parent):
            row = len(spans)
            spans.append((s, e))
            stack_scan.append(parent)
            if depth < 4 and e - s > 1:
                cuts = np.sort(rng.choice(np.arange(s + 1, e), size=min(e - s - 1, int(rng.integers(1, 4))), replace=False))
                for a, b in zip([s, *cuts], [*cuts, e]):
                    if rng.random() < 0.8:
                        grow(int(a), int(b), depth + 1, row)
        grow(0, 30, 0, -1)
        sp = np.array(spans)
        got = reconstruct_parents(np.zeros(len(sp), np.int64), sp[:, 0], sp[:, 1], 30)
        assert got.tolist() == stack_scan


def test_validate_rejects_bad_indices():
    st = StructureBatch(
        node_kind=torch.zeros(2, dtype=torch.long), edge_index=torch.tensor([[0], [5]]), edge_type=torch.zeros(1, dtype=torch.long),
        node_batch=torch.zeros(2, dtype=torch.long), node_token_spans=torch.tensor([[0, 2], [1, 2]]),
        node_visible=torch.ones(2, dtype=torch.bool),
    )
    with pytest.raises(ValueError, match="edge_index"):
        st.validate()


def test_structure_encoder_changes_outputs_and_gets_gradients(aligned):
    batch, _ = aligned
    torch.manual_seed(0)
    mask = torch.rand(batch.input_ids.shape) < 0.3
    st = structure_from_batch(batch, mask)
    cfg = TreediffConfig.from_preset("tiny", vocab_size=VOCAB, use_structure_encoder=True)
    model = TreediffForMaskedDiffusion(cfg)
    with_s = model(batch.input_ids, batch.attention_mask, structure=st)
    without = model(batch.input_ids, batch.attention_mask)
    assert not torch.allclose(with_s.logits, without.logits)
    with_s.logits.float().pow(2).mean().backward()
    enc = model.model.structure_encoder
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_structure_encoder_hides_masked_kinds(aligned):
    batch, _ = aligned
    mask = batch.attention_mask.clone()  # everything masked
    st = structure_from_batch(batch, mask)
    other = StructureBatch(**{**st.__dict__, "node_kind": torch.zeros_like(st.node_kind)})
    cfg = TreediffConfig.from_preset("tiny", vocab_size=VOCAB, use_structure_encoder=True)
    model = TreediffForMaskedDiffusion(cfg).eval()
    a = model(batch.input_ids, batch.attention_mask, structure=st).logits
    b = model(batch.input_ids, batch.attention_mask, structure=other).logits
    assert torch.equal(a, b)


def test_off_switch_has_no_gnn_params_and_ignores_structure(aligned):
    batch, _ = aligned
    cfg = TreediffConfig.from_preset("tiny", vocab_size=VOCAB)
    model = TreediffForMaskedDiffusion(cfg).eval()
    assert model.model.structure_encoder is None
    assert not any("structure" in n for n, _ in model.named_parameters())
    st = structure_from_batch(batch)
    assert torch.equal(model(batch.input_ids, structure=st).logits, model(batch.input_ids).logits)
