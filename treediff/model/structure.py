"""The structure encoder: a GATv2 GNN over the AST of the visible context, added to token embeddings.

Data: :class:`StructureBatch` (one node per ``AlignedBatch.spans`` row) and
:func:`structure_from_batch`, which rebuilds the AST edges from the nested pre-order spans.
Model: :class:`StructureEncoder`, used by the denoiser when ``config.use_structure_encoder``.

Design (see ``docs/model.md``):

* **node type** = span ``category`` + 1 (0 = no category); ``AlignedBatch`` carries no kind ids.
  A node whose tokens are all masked (``node_visible=False``) gets a learned *masked node*
  type, so the encoder never sees a hidden category.
* **node input** = type embedding + projection of the mean input embedding of the node's tokens
  (noised ids, so masked tokens contribute only the ``[MASK]`` embedding).
* **edges**: child→parent, parent→child, next sibling, previous sibling (types 0..3), fed to
  ``GATv2Conv`` as learned edge-type embeddings (``edge_dim``).  GATv2 rather than ``RGCNConv``:
  RGCN loops over relations with boolean edge masks (a host sync per relation on GPU) and holds
  one weight matrix per relation; GATv2 handles typed edges in one gather/scatter pass.
* **edges of the visible program** (``config.structure_edges`` ``ast`` / ``ast+cfg``,
  :func:`structure_from_visible`): the same four AST types over the parse of what is visible
  (masked runs as a placeholder), then one type per CFG label and Python dataflow label.  A
  statement's edge to itself (``loop_back`` of an empty loop) is dropped by ``GATv2Conv``,
  which adds its own self-loops.
* **back to tokens**: token ``t`` receives the *mean* of ``out(h_v)`` over every node ``v`` whose
  span ``[s_v, e_v)`` covers it (sum would grow with nesting depth).  Computed with difference
  arrays and a cumulative sum: no loop over tokens or nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.nn import GATv2Conv

from treediff.model.config import TreediffConfig
from treediff.syntax import parse
from treediff.syntax.cfg_flow import FLOW_LABELS, TokenText, VisibleProgram, flow_edges, named_rows
from treediff.tokens.alignment import align
from treediff.tokens.batch import AlignedBatch

__all__ = ["StructureBatch", "StructureEncoder", "structure_from_batch", "reconstruct_parents", "EDGE_TYPES",
           "AST_EDGE_TYPES", "structure_from_visible", "VisibleStructure", "structure_source"]

AST_EDGE_TYPES = ("child_to_parent", "parent_to_child", "next_sibling", "prev_sibling")
#: Edge type ``i`` of the encoder: the AST's four, then the CFG labels and the dataflow labels
#: (:data:`treediff.syntax.cfg_flow.FLOW_LABELS`); a table, so a new label is a new row, not a branch.
EDGE_TYPES = (*AST_EDGE_TYPES, *FLOW_LABELS)
_EDGE_TYPE = {name: i for i, name in enumerate(EDGE_TYPES)}


@dataclass(frozen=True)
class StructureBatch:
    """AST nodes of a padded batch, in padded-sequence token coordinates.

    * ``node_kind``: ``[N]`` long, node type (``category + 1``; 0 = none);
    * ``edge_index``: ``[2, E]`` long, ``(source, target)`` node rows;
    * ``edge_type``: ``[E]`` long, index into :data:`EDGE_TYPES` (AST types 0..3, then CFG and dataflow);
    * ``node_batch``: ``[N]`` long, sample of each node;
    * ``node_token_spans``: ``[N, 2]`` long, token span ``[s, e)``;
    * ``node_visible``: ``[N]`` bool, ``False`` when every token of the node is masked.
    """

    node_kind: Tensor
    edge_index: Tensor
    edge_type: Tensor
    node_batch: Tensor
    node_token_spans: Tensor
    node_visible: Tensor

    @property
    def num_nodes(self) -> int:
        return int(self.node_kind.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "StructureBatch":
        return replace(self, **{f.name: getattr(self, f.name).to(device, non_blocking=non_blocking) for f in fields(self)})

    def validate(
        self, batch_size: int | None = None, seq_len: int | None = None, num_node_types: int | None = None,
        num_edge_types: int | None = None,
    ) -> "StructureBatch":
        """Check shapes, dtypes and index bounds; return self (raises ``ValueError``)."""
        n, e = self.num_nodes, self.num_edges
        expect = {
            "node_kind": ((n,), torch.long), "edge_index": ((2, e), torch.long), "edge_type": ((e,), torch.long),
            "node_batch": ((n,), torch.long), "node_token_spans": ((n, 2), torch.long), "node_visible": ((n,), torch.bool),
        }
        for name, (shape, dtype) in expect.items():
            t = getattr(self, name)
            if tuple(t.shape) != shape or t.dtype != dtype:
                raise ValueError(f"{name} must be {dtype} of shape {shape}, got {t.dtype} {tuple(t.shape)}")
        if e and (int(self.edge_index.min()) < 0 or int(self.edge_index.max()) >= n):
            raise ValueError(f"edge_index refers to nodes outside [0, {n})")
        if e and (int(self.edge_type.min()) < 0 or (num_edge_types is not None and int(self.edge_type.max()) >= num_edge_types)):
            raise ValueError(f"edge_type outside [0, {num_edge_types})")
        if n:
            if int(self.node_kind.min()) < 0 or (num_node_types is not None and int(self.node_kind.max()) >= num_node_types):
                raise ValueError(f"node_kind outside [0, {num_node_types})")
            if int(self.node_batch.min()) < 0 or (batch_size is not None and int(self.node_batch.max()) >= batch_size):
                raise ValueError(f"node_batch outside [0, {batch_size})")
            s, t = self.node_token_spans[:, 0], self.node_token_spans[:, 1]
            if bool((s < 0).any()) or bool((s > t).any()) or (seq_len is not None and int(t.max()) > seq_len):
                raise ValueError(f"node_token_spans must satisfy 0 <= s <= e <= {seq_len}")
        return self


def reconstruct_parents(batch_index: np.ndarray, starts: np.ndarray, ends: np.ndarray, seq_len: int) -> np.ndarray:
    """Parent row of each span (−1 for roots), for spans grouped by sample, pre-order, nested.

    In pre-order every earlier span either contains span ``i`` (an ancestor) or ends at or before
    ``s_i``; so the parent is the *nearest earlier span with* ``e_j >= e_i`` (same sample).
    Found for all rows at once by binary lifting over a range-max sparse table (O(N log N) numpy).
    Exact for non-empty spans of a syntax-aligned tokenizer; a zero-width span (tree-sitter MISSING)
    or a token straddling two siblings (external tokenizer) can attach a node to its left sibling.

    >>> reconstruct_parents(np.array([0, 0, 0, 0, 1]), np.array([0, 0, 2, 2, 0]), np.array([5, 2, 5, 3, 1]), 5).tolist()
    [-1, 0, 0, 2, -1]
    """
    n = int(len(ends))
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # Offsetting by sample makes every span of an earlier sample smaller than any of a later one.
    key = ends.astype(np.int64) + batch_index.astype(np.int64) * (seq_len + 1)
    levels = [key]
    while (1 << len(levels)) <= n:
        prev, w = levels[-1], 1 << (len(levels) - 1)
        levels.append(np.maximum(prev[:-w], prev[w:]))  # max over key[p : p + 2w]
    pos = np.arange(n, dtype=np.int64)
    for k in range(len(levels) - 1, -1, -1):
        cand = pos - (1 << k)
        ok = cand >= 0
        table = levels[k]
        blk = np.zeros(n, dtype=np.int64)
        blk[ok] = table[cand[ok]]
        move = ok & (blk < key)
        pos = np.where(move, cand, pos)
    j = pos - 1
    parent = np.full(n, -1, dtype=np.int64)
    has = j >= 0
    has[has] = key[j[has]] >= key[has]
    parent[has] = j[has]
    return parent


def _ast_edges(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    child = np.nonzero(parent >= 0)[0]
    par = parent[child]
    order = np.argsort(parent, kind="stable")  # children of one parent stay in pre-order
    a, b = order[:-1], order[1:]
    sib = (parent[a] == parent[b]) & (parent[a] >= 0)
    left, right = a[sib], b[sib]
    src = np.concatenate([child, par, left, right])
    dst = np.concatenate([par, child, right, left])
    etype = np.repeat(np.arange(4), [len(child), len(child), len(left), len(left)])
    return np.stack([src, dst]).astype(np.int64), etype.astype(np.int64)


def structure_from_batch(batch: AlignedBatch, mask: Tensor | None = None, drop_masked: bool = False) -> StructureBatch:
    """One node per ``batch.spans`` row (grouped by sample, stable), AST edges rebuilt from nesting.

    ``mask`` (``[B, L]`` bool, ``True`` = masked) sets ``node_visible``; ``None`` = all visible.
    ``drop_masked=True`` removes fully masked nodes instead of marking them (their subtrees are
    fully masked too, so no visible node loses its parent): the graph then shows neither the kinds
    nor the shape of hidden subtrees.  Returned tensors live on ``batch.input_ids.device``.
    """
    device = batch.input_ids.device
    bsz, seq_len = batch.input_ids.shape
    spans = batch.spans.detach().cpu().numpy().astype(np.int64).reshape(-1, 4)
    order = np.argsort(spans[:, 0], kind="stable")
    spans = spans[order]
    bi, s, e, cat = spans[:, 0], spans[:, 1], spans[:, 2], spans[:, 3]
    if mask is None:
        visible = e > s
    else:
        unmasked = (~mask.detach().bool().cpu()).numpy().astype(np.int64)
        cs = np.concatenate([np.zeros((bsz, 1), np.int64), np.cumsum(unmasked, axis=1)], axis=1)
        visible = (cs[bi, e] - cs[bi, s]) > 0
    parent = reconstruct_parents(bi, s, e, seq_len)
    if drop_masked:
        keep = visible
        new_index = np.cumsum(keep) - 1
        parent = np.where(parent >= 0, new_index[np.maximum(parent, 0)], -1)[keep]
        bi, s, e, cat, visible = bi[keep], s[keep], e[keep], cat[keep], visible[keep]
    edge_index, edge_type = _ast_edges(parent)
    t = lambda a, dt=torch.long: torch.from_numpy(np.ascontiguousarray(a)).to(dtype=dt, device=device)  # noqa: E731
    return StructureBatch(
        node_kind=t(np.clip(cat, -1, None) + 1),
        edge_index=t(edge_index.reshape(2, -1)),
        edge_type=t(edge_type),
        node_batch=t(bi),
        node_token_spans=t(np.stack([s, e], axis=1).reshape(-1, 2)),
        node_visible=t(visible, torch.bool),
    )


def _visible_row(program: VisibleProgram, language: str, with_flow: bool, shown: np.ndarray, seq_len: int):
    """Nodes and edges of one row's visible program: ``(kind, spans, visible, edge_index, edge_type)``."""
    tree = parse(program.source, language)
    al = align(tree, program.offsets)
    s, e = al.node_spans[:, 0], al.node_spans[:, 1]
    pstart = np.append(program.token_start, seq_len)  # piece index → first token of the row
    pend = np.append(program.token_end, seq_len)
    ts = pstart[s]
    te = np.where(e > s, pend[np.maximum(e - 1, 0)], ts)
    visible = (shown[te] - shown[ts]) > 0
    edge_index, edge_type = _ast_edges(al.node_parent.astype(np.int64))
    if with_flow:
        rows = named_rows(tree)
        flows = [(_EDGE_TYPE[label], rows[u], rows[v]) for label, u, v in flow_edges(tree)]
        flows = [f for f in flows if f[1] >= 0 and f[2] >= 0]
        if flows:
            f = np.asarray(flows, dtype=np.int64)
            edge_index = np.concatenate([edge_index, f[:, 1:].T], axis=1)
            edge_type = np.concatenate([edge_type, f[:, 0]])
    kind = np.clip(al.node_category.astype(np.int64), -1, None) + 1
    return kind, np.stack([ts, te], axis=1), visible, edge_index, edge_type


def structure_from_visible(
    ids: Tensor, masked: Tensor, text: TokenText, *, with_flow: bool = True, attention_mask: Tensor | None = None,
) -> StructureBatch:
    """The graph of what is visible: each row's tokens as text, masked runs as a placeholder, parsed.

    ``text`` turns ids into bytes and finds each row's language (its language tag).  Nodes are the
    named nodes of that parse (spans in row token coordinates; a node made only of masked tokens
    is not ``visible``), edges the AST's four types and, with ``with_flow``, the CFG's labelled
    statement edges plus Python's dataflow edges (:func:`treediff.syntax.cfg_flow.flow_edges`).
    Training and sampling call this same function, so the encoder never sees structure that
    decoding will not have.
    """
    device = ids.device
    bsz, seq_len = ids.shape
    ids_np = ids.detach().cpu().numpy()
    masked_np = masked.detach().bool().cpu().numpy()
    attn = np.ones_like(masked_np) if attention_mask is None else attention_mask.detach().bool().cpu().numpy()
    parts = []
    offset = 0
    for i in range(bsz):
        row = ids_np[i].tolist()
        program = text.program(row, masked_np[i], attn[i])
        real = attn[i] & ~masked_np[i] & np.array([text.token_bytes[x] != b"" for x in row], dtype=bool)
        shown = np.concatenate([[0], np.cumsum(real)])
        kind, spans, visible, ei, et = _visible_row(program, text.language(row), with_flow, shown, seq_len)
        parts.append((kind, spans, visible, ei + offset, et, np.full(len(kind), i)))
        offset += len(kind)

    def cat(k: int, shape: tuple[int, ...]) -> np.ndarray:
        return np.concatenate([p[k] for p in parts], axis=-1 if k == 3 else 0) if parts else np.zeros(shape)

    t = lambda a, dt=torch.long: torch.from_numpy(np.ascontiguousarray(a)).to(dtype=dt, device=device)  # noqa: E731
    return StructureBatch(
        node_kind=t(cat(0, (0,))), edge_index=t(cat(3, (2, 0)).reshape(2, -1)), edge_type=t(cat(4, (0,))),
        node_batch=t(cat(5, (0,))), node_token_spans=t(cat(1, (0, 2)).reshape(-1, 2)),
        node_visible=t(cat(2, (0,)), torch.bool),
    )


@dataclass(frozen=True)
class VisibleStructure:
    """``(ids, masked, attention_mask) -> StructureBatch``: :func:`structure_from_visible` for one tokenizer."""

    text: TokenText
    with_flow: bool

    @classmethod
    def from_tokenizer(cls, tokenizer, with_flow: bool) -> "VisibleStructure":
        return cls(TokenText.from_tokenizer(tokenizer), with_flow)

    def __call__(self, ids: Tensor, masked: Tensor, attention_mask: Tensor | None = None) -> StructureBatch:
        return structure_from_visible(ids, masked, self.text, with_flow=self.with_flow, attention_mask=attention_mask)


def structure_source(config: TreediffConfig, tokenizer) -> "bool | VisibleStructure":
    """How a model with ``config`` gets its graph: ``False`` (no encoder), ``True`` (the batch's spans,
    :func:`structure_from_batch`) or a :class:`VisibleStructure` (``ast`` / ``ast+cfg``)."""
    if not getattr(config, "use_structure_encoder", False):
        return False
    mode = getattr(config, "structure_edges", "spans")
    if mode == "spans":
        return True
    return VisibleStructure.from_tokenizer(tokenizer, with_flow=mode == "ast+cfg")


class StructureEncoder(nn.Module):
    """GATv2 over AST nodes → one ``[B, L, d_model]`` term added to the token embeddings."""

    def __init__(self, config: TreediffConfig) -> None:
        super().__init__()
        h = config.gnn_hidden
        self.num_node_types = config.num_node_types
        self.node_type = nn.Embedding(config.num_node_types + 1, h)  # last row: masked node
        self.edge_type = nn.Embedding(config.num_edge_types, h)
        self.token_proj = nn.Linear(config.d_model, h, bias=False)
        self.norms = nn.ModuleList(nn.RMSNorm(h, eps=config.norm_eps) for _ in range(config.gnn_layers))
        self.convs = nn.ModuleList(
            GATv2Conv(h, h // config.gnn_heads, heads=config.gnn_heads, edge_dim=h, dropout=config.dropout)
            for _ in range(config.gnn_layers)
        )
        self.out_norm = nn.RMSNorm(h, eps=config.norm_eps)
        self.out = nn.Linear(h, config.d_model, bias=False)

    def forward(self, token_embeds: Tensor, structure: StructureBatch) -> Tensor:
        bsz, seq_len, d = token_embeds.shape
        nb = structure.node_batch
        s, e = structure.node_token_spans[:, 0], structure.node_token_spans[:, 1]
        # Mean input embedding over each span via a prefix sum (fp32: long sums in bf16 drift).
        cs = torch.cat([token_embeds.new_zeros(bsz, 1, d, dtype=torch.float32), token_embeds.float().cumsum(1)], dim=1)
        length = (e - s).clamp(min=1).unsqueeze(-1)
        pooled = (cs[nb, e] - cs[nb, s]) / length
        kind = torch.where(structure.node_visible, structure.node_kind, torch.full_like(structure.node_kind, self.num_node_types))
        x = self.node_type(kind) + self.token_proj(pooled.to(self.token_proj.weight.dtype))
        edge_attr = self.edge_type(structure.edge_type)
        for norm, conv in zip(self.norms, self.convs):
            x = x + nn.functional.gelu(conv(norm(x), structure.edge_index, edge_attr))
        node_out = self.out(self.out_norm(x)).float()
        # Difference arrays: +h at s, −h at e, then a cumulative sum spreads h over [s, e).
        weight = (e > s).to(node_out.dtype).unsqueeze(-1)
        flat_s, flat_e = nb * (seq_len + 1) + s, nb * (seq_len + 1) + e
        vals = torch.cat([node_out * weight, weight], dim=-1)
        diff = node_out.new_zeros(bsz * (seq_len + 1), d + 1)
        diff.index_add_(0, flat_s, vals).index_add_(0, flat_e, -vals)
        acc = diff.view(bsz, seq_len + 1, d + 1).cumsum(1)[:, :seq_len]
        tokens = acc[..., :d] / acc[..., d:].clamp(min=1.0)
        return tokens.to(token_embeds.dtype)
