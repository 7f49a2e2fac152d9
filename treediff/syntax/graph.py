"""Program graphs: one typed multigraph per source, for graph neural networks.

:func:`build_graph` turns a :class:`~treediff.syntax.SyntaxTree` into a
``networkx.MultiDiGraph`` whose nodes are syntax nodes (keyed by their stable
pre-order id, the enumeration index of :func:`~treediff.syntax.walk`) and whose
edges are typed relations: the AST itself, the token chain, sibling order,
control flow (from :mod:`treediff.syntax.cfg`) and, for Python, dataflow (from
:mod:`treediff.syntax.dataflow`).  The schema is documented in ``docs/graphs.md``.

Edges are keyed by their type, so between two nodes there is at most one edge of
each type; the type is also stored as the edge attribute ``type``.

>>> from treediff.syntax import parse
>>> G = build_graph(parse("x = 1\\ny = x\\n", "python"))
>>> G.nodes[0]["kind"], G.graph["language"]
('module', 'python')
>>> sorted({t for _, _, t in G.edges(keys=True)})
['AST_CHILD', 'CFG', 'COMPUTED_FROM', 'LAST_WRITE', 'NEXT_SIBLING', 'NEXT_TOKEN']
"""

from __future__ import annotations

import networkx as nx

from treediff.syntax.cfg import build_cfgs, node_order
from treediff.syntax.dataflow import compute_dataflow, supports_dataflow
from treediff.syntax.tree import SyntaxTree, walk

__all__ = [
    "EDGE_TYPES",
    "AST_EDGE_TYPES",
    "DATAFLOW_EDGE_TYPES",
    "CFG_LABELS",
    "build_graph",
    "add_cfg_edges",
    "add_dataflow_edges",
]

#: Every edge type a program graph may carry, in the fixed order used for ML ids
#: (``edge_type`` in :func:`treediff.syntax.export.to_pyg`).  Append only.
EDGE_TYPES = (
    "AST_CHILD",
    "NEXT_TOKEN",
    "NEXT_SIBLING",
    "CFG",
    "LAST_READ",
    "LAST_WRITE",
    "COMPUTED_FROM",
)
AST_EDGE_TYPES = ("AST_CHILD", "NEXT_TOKEN", "NEXT_SIBLING")
DATAFLOW_EDGE_TYPES = ("LAST_READ", "LAST_WRITE", "COMPUTED_FROM")

#: CFG edge labels of the :mod:`treediff.syntax.cfg` contract, in the order used for ML ids.
CFG_LABELS = (
    "next",
    "true",
    "false",
    "loop_back",
    "loop_else",
    "break",
    "continue",
    "return",
    "raise",
    "exception",
    "finally",
    "case",
    "fallthrough",
)


def build_graph(
    tree: SyntaxTree,
    *,
    cfg: bool = True,
    dataflow: bool = True,
    tokens: bool = True,
) -> nx.MultiDiGraph:
    """Build the program graph of a parsed source.

    Nodes are every named syntax node, plus (when ``tokens``) every anonymous leaf
    (punctuation, keywords, operators), so that ``NEXT_TOKEN`` runs through all
    real tokens.  With ``tokens=False`` only named nodes are kept and
    ``NEXT_TOKEN`` links the named leaves in source order.  Node ids are the
    stable pre-order ids of the full tree, so they may have gaps when
    ``tokens=False``.

    ``cfg`` adds ``CFG`` edges between statements; ``dataflow`` adds
    ``LAST_READ``/``LAST_WRITE``/``COMPUTED_FROM`` for languages that
    :mod:`treediff.syntax.dataflow` supports (Python) and is a no-op elsewhere.
    Both need :mod:`treediff.syntax.cfg`.
    """
    G = nx.MultiDiGraph()
    lang = tree.language
    G.graph.update(language=lang.name, tokens=tokens, cfg=cfg, dataflow=dataflow)
    _add_syntax(G, tree, tokens)
    dataflow = dataflow and supports_dataflow(lang)
    if cfg or dataflow:
        cfgs = build_cfgs(tree)
        if cfg:
            add_cfg_edges(G, cfgs)
        if dataflow:
            add_dataflow_edges(G, tree, cfgs)
    return G


def _add_syntax(G: nx.MultiDiGraph, tree: SyntaxTree, tokens: bool) -> None:
    """Nodes plus AST_CHILD, NEXT_SIBLING and NEXT_TOKEN edges, from one walk."""
    lang = tree.language
    kind_index = lang.kind_index
    unknown_kind = len(lang.kinds)
    source = tree.source
    # parent_at[d]: graph id of the nearest kept node at depth <= d on the current path
    parent_at: list[int | None] = []
    num_children: dict[int, int] = {}
    last_child: dict[int, int] = {}
    prev_leaf: int | None = None
    for node_id, (ts_node, field, depth) in enumerate(walk(tree.ts_tree.root_node)):
        del parent_at[depth:]
        parent = parent_at[-1] if parent_at else None
        is_leaf = ts_node.child_count == 0
        keep = ts_node.is_named or (tokens and is_leaf)
        parent_at.append(node_id if keep else parent)
        if not keep:
            continue
        kind = ts_node.type
        start, end = ts_node.start_byte, ts_node.end_byte
        G.add_node(
            node_id,
            kind=kind,
            kind_id=kind_index.get(kind, unknown_kind),
            category=lang.category(kind),
            is_named=ts_node.is_named,
            start_byte=start,
            end_byte=end,
            start_line=ts_node.start_point[0] + 1,
            text=source[start:end].decode("utf-8", "replace") if is_leaf else None,
            is_error=ts_node.is_error,
            is_missing=ts_node.is_missing,
        )
        if parent is not None:
            index = num_children.get(parent, 0)
            num_children[parent] = index + 1
            G.add_edge(parent, node_id, key="AST_CHILD", type="AST_CHILD", field=field, index=index)
            sibling = last_child.get(parent)
            if sibling is not None:
                G.add_edge(sibling, node_id, key="NEXT_SIBLING", type="NEXT_SIBLING")
            last_child[parent] = node_id
        if is_leaf:
            if prev_leaf is not None:
                G.add_edge(prev_leaf, node_id, key="NEXT_TOKEN", type="NEXT_TOKEN")
            prev_leaf = node_id


def add_cfg_edges(G: nx.MultiDiGraph, cfgs: list) -> nx.MultiDiGraph:
    """Add one ``CFG`` edge per control-flow edge of each CFG (in place; returns ``G``).

    Statement ids are graph node ids.  ``ENTRY`` and ``EXIT`` are mapped onto the
    scope node (``cfg.scope_id``): an edge ``ENTRY → s`` becomes ``scope → s`` with
    ``boundary="entry"``, ``s → EXIT`` becomes ``s → scope`` with
    ``boundary="exit"``; a direct ``ENTRY → EXIT`` edge (an empty scope) is
    dropped.  Every CFG edge carries ``label`` (the CFG's label) and ``scope``
    (the scope node id).  Endpoints absent from ``G`` (for example anonymous
    nodes when ``tokens=False``) are skipped.
    """
    for cfg in cfgs:
        scope = cfg.scope_id
        edges = sorted(cfg.graph.edges(data="label"), key=lambda e: (node_order(e[0]), node_order(e[1])))
        for u, v, label in edges:
            if u == "ENTRY" and v == "EXIT":
                continue
            boundary = "entry" if u == "ENTRY" else "exit" if v == "EXIT" else None
            src = scope if u == "ENTRY" else u
            dst = scope if v == "EXIT" else v
            if src not in G or dst not in G or G.has_edge(src, dst, key="CFG"):
                continue
            G.add_edge(src, dst, key="CFG", type="CFG", label=label, boundary=boundary, scope=scope)
    return G


def add_dataflow_edges(G: nx.MultiDiGraph, tree: SyntaxTree, cfgs: list | None = None) -> nx.MultiDiGraph:
    """Add ``LAST_READ``, ``LAST_WRITE`` and ``COMPUTED_FROM`` edges (in place; returns ``G``).

    A no-op for languages without dataflow rules (see :mod:`treediff.syntax.dataflow`).
    """
    if not supports_dataflow(tree.language):
        return G
    if cfgs is None:
        cfgs = build_cfgs(tree)
    for edge_type, src, dst in compute_dataflow(tree, cfgs):
        if src in G and dst in G:
            G.add_edge(src, dst, key=edge_type, type=edge_type)
    return G
