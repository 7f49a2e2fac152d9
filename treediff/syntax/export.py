"""Exports of syntax trees and program graphs: DOT, JSON and PyTorch Geometric.

Program graphs (from :func:`treediff.syntax.graph.build_graph`):
:func:`to_dot`, :func:`to_node_link`, :func:`to_pyg`, :func:`to_hetero`,
:func:`save_graph`, and :func:`export_graph` (the one call behind
``treediff graph FILE --format json|dot|pyg``).  Syntax trees (for
``treediff parse FILE --format json|dot``): :func:`tree_to_json`,
:func:`tree_to_dot`.  Everything is built iteratively and deterministically:
the same input gives byte-identical output.  The schema is in ``docs/graphs.md``.

>>> from treediff.syntax import parse
>>> tree = parse("x = 1\\n", "python")
>>> tree_to_json(tree)["children"][0]["kind"]
'expression_statement'
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import networkx as nx

from treediff.errors import InputError
from treediff.syntax.graph import CFG_LABELS, EDGE_TYPES, build_graph
from treediff.syntax.language import CATEGORIES, Language, get_language
from treediff.syntax.tree import SyntaxTree, parse, walk

__all__ = [
    "indent_sexp",
    "FORMATS",
    "TREE_FORMATS",
    "EDGE_ATTRS",
    "to_dot",
    "to_node_link",
    "to_pyg",
    "to_hetero",
    "save_graph",
    "export_graph",
    "export_tree",
    "tree_to_json",
    "tree_to_dot",
]

#: Formats of :func:`save_graph` and :func:`export_graph`.
FORMATS = ("json", "dot", "pyg")
#: Formats of :func:`export_tree`.
TREE_FORMATS = ("sexp", "json", "dot")
#: Columns of ``edge_attr`` in :func:`to_pyg` (``-1`` where a column does not apply).
EDGE_ATTRS = ("field_id", "child_index", "cfg_label")

_EDGE_TYPE_ID = {t: i for i, t in enumerate(EDGE_TYPES)}
_CFG_LABEL_ID = {t: i for i, t in enumerate(CFG_LABELS)}
_CATEGORY_ID = {c: i for i, c in enumerate(CATEGORIES)}
_EDGE_STYLE = {
    "AST_CHILD": 'color="black"',
    "NEXT_TOKEN": 'color="gray60", style="dotted", constraint=false',
    "NEXT_SIBLING": 'color="gray80", style="dashed", constraint=false',
    "CFG": 'color="blue", constraint=false',
    "LAST_READ": 'color="darkgreen", constraint=false',
    "LAST_WRITE": 'color="red", constraint=false',
    "COMPUTED_FROM": 'color="purple", constraint=false',
}


def _quote(text: str) -> str:
    """A DOT double-quoted string (newlines shown as ``\\n``)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n") + '"'


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sorted_edges(G: nx.MultiDiGraph) -> list[tuple[int, int, str, dict]]:
    return sorted(G.edges(keys=True, data=True), key=lambda e: (_EDGE_TYPE_ID.get(e[2], len(EDGE_TYPES)), e[0], e[1]))


# -- program graphs -------------------------------------------------------------------------
def to_dot(G: nx.MultiDiGraph) -> str:
    """The graph as Graphviz DOT text; one colour per edge type.

    >>> from treediff.syntax import parse
    >>> from treediff.syntax.graph import build_graph
    >>> print(to_dot(build_graph(parse("x\\n", "python"), cfg=False, dataflow=False)).splitlines()[2])
      n0 [label="module"];
    """
    lines = ["digraph program {", '  node [shape=box, fontname="monospace"];']
    for n, data in sorted(G.nodes(data=True)):
        label = data.get("kind", str(n))
        if data.get("text") is not None and data.get("is_named", True):
            label += "\n" + _short(data["text"])
        shape = ", style=filled, fillcolor=mistyrose" if data.get("is_error") or data.get("is_missing") else ""
        lines.append(f"  n{n} [label={_quote(label)}{shape}];")
    for u, v, key, data in _sorted_edges(G):
        extra = data.get("field") if key == "AST_CHILD" else data.get("label") if key == "CFG" else None
        label = key if extra is None else f"{key}:{extra}"
        style = _EDGE_STYLE.get(key, 'color="orange"')
        lines.append(f"  n{u} -> n{v} [label={_quote(label)}, {style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_node_link(G: nx.MultiDiGraph) -> dict[str, Any]:
    """A JSON-serialisable dict: ``networkx.node_link_data`` with ``edges="edges"``.

    Nodes and edges are listed in a fixed order (ids; edge type, source, target),
    so equal graphs give identical JSON.  Read it back with
    ``networkx.node_link_graph(d, edges="edges")``.
    """
    H = nx.MultiDiGraph()
    H.graph.update(G.graph)
    H.add_nodes_from(sorted(G.nodes(data=True)))
    H.add_edges_from((u, v, k, d) for u, v, k, d in _sorted_edges(G))
    try:
        return nx.node_link_data(H, edges="edges")
    except TypeError:  # networkx < 3.4 has no `edges` argument and says "links"
        data = nx.node_link_data(H)
        data["edges"] = data.pop("links")
        return data


def _pyg_arrays(G: nx.MultiDiGraph, language: Language | str | None):
    import torch

    lang = get_language(language if language is not None else G.graph["language"])
    ts_lang = lang.ts_language
    nodes = sorted(G.nodes)
    pos = {n: i for i, n in enumerate(nodes)}
    unknown_kind = len(lang.kinds)
    kind_ids = [lang.kind_index.get(G.nodes[n]["kind"], unknown_kind) for n in nodes]
    none_cat = len(CATEGORIES)
    cat_ids = [_CATEGORY_ID.get(G.nodes[n].get("category"), none_cat) for n in nodes]
    x = torch.tensor([kind_ids, cat_ids], dtype=torch.long).t().contiguous().view(len(nodes), 2)
    src, dst, types, attrs = [], [], [], []
    for u, v, key, data in _sorted_edges(G):
        if key not in _EDGE_TYPE_ID:
            raise InputError(f"edge type {key!r} is not one of: {', '.join(EDGE_TYPES)}")
        src.append(pos[u])
        dst.append(pos[v])
        types.append(_EDGE_TYPE_ID[key])
        field = data.get("field")
        field_id = ts_lang.field_id_for_name(field) if field else None
        label = data.get("label")
        attrs.append(
            (
                -1 if key != "AST_CHILD" else (field_id or 0),
                data.get("index", -1) if key == "AST_CHILD" else -1,
                _CFG_LABEL_ID.get(label, len(CFG_LABELS)) if key == "CFG" else -1,
            )
        )
    edge_index = torch.tensor([src, dst], dtype=torch.long).view(2, len(src))
    edge_type = torch.tensor(types, dtype=torch.long)
    edge_attr = torch.tensor(attrs, dtype=torch.long).view(len(attrs), len(EDGE_ATTRS))
    node_id = torch.tensor(nodes, dtype=torch.long)
    return x, edge_index, edge_type, edge_attr, node_id


def to_pyg(G: nx.MultiDiGraph, language: Language | str | None = None):
    """A ``torch_geometric.data.Data`` for a homogeneous GNN.

    ``x [N, 2]`` long: node-kind id (``language.kind_index``; ``len(language.kinds)``
    for unknown kinds) and category id (index in ``CATEGORIES``; ``len(CATEGORIES)``
    for none).  Rows follow sorted node ids; ``node_id [N]`` maps a row back to
    the syntax node id.  ``edge_index [2, E]`` long, ``edge_type [E]`` long (index
    in :data:`~treediff.syntax.graph.EDGE_TYPES`), ``edge_attr [E, 3]`` long with
    the columns of :data:`EDGE_ATTRS`.  ``language`` defaults to the graph's.
    """
    from torch_geometric.data import Data

    x, edge_index, edge_type, edge_attr, node_id = _pyg_arrays(G, language)
    return Data(
        x=x,
        edge_index=edge_index,
        edge_type=edge_type,
        edge_attr=edge_attr,
        node_id=node_id,
        num_nodes=x.size(0),
    )


def to_hetero(G: nx.MultiDiGraph, language: Language | str | None = None):
    """A ``torch_geometric.data.HeteroData`` with one node type and one edge type per relation.

    Node type ``"node"`` carries ``x`` and ``node_id`` as in :func:`to_pyg`;
    every relation in :data:`~treediff.syntax.graph.EDGE_TYPES` is an edge type
    ``("node", TYPE, "node")`` (empty ones included, so every graph has the same
    metadata and batches cleanly), each with ``edge_index`` and ``edge_attr``.
    """
    import torch
    from torch_geometric.data import HeteroData

    x, edge_index, edge_type, edge_attr, node_id = _pyg_arrays(G, language)
    data = HeteroData()
    data["node"].x = x
    data["node"].node_id = node_id
    data["node"].num_nodes = x.size(0)
    for i, name in enumerate(EDGE_TYPES):
        mask = edge_type == i
        store = data["node", name, "node"]
        store.edge_index = edge_index[:, mask].contiguous() if mask.any() else torch.empty(2, 0, dtype=torch.long)
        store.edge_attr = edge_attr[mask] if mask.any() else torch.empty(0, len(EDGE_ATTRS), dtype=torch.long)
    return data


def _check_format(format: str) -> str:
    fmt = str(format).strip().lower()
    if fmt not in FORMATS:
        raise InputError(f"unknown graph format {format!r}; choose one of: {', '.join(FORMATS)}")
    return fmt


def save_graph(G: nx.MultiDiGraph, path: str | os.PathLike[str], format: str = "json") -> Path:
    """Write a program graph: ``json`` (node-link), ``dot``, or ``pyg`` (``torch.save`` of :func:`to_pyg`).

    A ``pyg`` file loads with ``torch.load(path, weights_only=False)`` (it holds a
    ``Data`` object, not just tensors).  Returns the path written.
    """
    fmt = _check_format(format)
    path = Path(path)
    if fmt == "json":
        path.write_text(json.dumps(to_node_link(G), ensure_ascii=False) + "\n", encoding="utf-8")
    elif fmt == "dot":
        path.write_text(to_dot(G), encoding="utf-8")
    else:
        import torch

        torch.save(to_pyg(G), path)
    return path


def export_graph(
    path_or_tree: SyntaxTree | str | os.PathLike[str],
    format: str = "json",
    *,
    language: Language | str | None = None,
    out: str | os.PathLike[str] | None = None,
) -> str | None:
    """Parse (if needed), build the program graph and export it: ``treediff graph``.

    ``path_or_tree`` is a :class:`SyntaxTree` or a file path (its language comes
    from ``language`` or the extension).  With ``out`` the graph is written there
    by :func:`save_graph` and ``None`` is returned; without it the JSON or DOT
    text is returned.  ``pyg`` is binary and needs ``out`` (an
    :class:`~treediff.errors.InputError` otherwise); in Python, call
    :func:`to_pyg` on :func:`~treediff.syntax.graph.build_graph` instead.
    """
    fmt = _check_format(format)
    if fmt == "pyg" and out is None:
        raise InputError("the pyg format is binary; give an output file (--out/-o)")
    tree = path_or_tree if isinstance(path_or_tree, SyntaxTree) else parse(Path(path_or_tree), language)
    G = build_graph(tree)
    if out is not None:
        save_graph(G, out, fmt)
        return None
    return json.dumps(to_node_link(G), ensure_ascii=False) if fmt == "json" else to_dot(G)


def export_tree(
    path_or_tree: SyntaxTree | str | os.PathLike[str],
    format: str = "sexp",
    *,
    language: Language | str | None = None,
) -> str:
    """The syntax tree as text: ``sexp`` (tree-sitter's, indented), ``json`` or ``dot``: ``treediff parse``.

    The JSON text equals ``json.dumps(tree_to_json(tree))`` but is written
    iteratively, so 10,000-deep trees serialise too.
    """
    fmt = str(format).strip().lower()
    if fmt not in TREE_FORMATS:
        raise InputError(f"unknown tree format {format!r}; choose one of: {', '.join(TREE_FORMATS)}")
    tree = path_or_tree if isinstance(path_or_tree, SyntaxTree) else parse(Path(path_or_tree), language)
    if fmt == "sexp":
        return indent_sexp(tree.sexp())
    if fmt == "dot":
        return tree_to_dot(tree)
    return _tree_json_text(tree)


_SEXP_TOKEN = re.compile(r'\(|\)|"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[^\s()"\']+')


def indent_sexp(sexp: str, indent: str = "  ") -> str:
    """A one-line S-expression over lines: a node with children opens a line, each child (with its field
    name) is indented under it, and the closing parentheses end the last child's line.

    >>> print(indent_sexp('(module (expression_statement (assignment left: (identifier) right: (integer))))'))
    (module
      (expression_statement
        (assignment
          left: (identifier)
          right: (integer))))
    """
    tokens = _SEXP_TOKEN.findall(sexp)
    stack: list[list] = [[]]  # each open node: [head atoms..., child nodes...] as a list
    field: str | None = None
    for tok in tokens:
        if tok == "(":
            node: list = [field]
            field = None
            stack[-1].append(node)
            stack.append(node)
        elif tok == ")":
            if len(stack) > 1:
                stack.pop()
        elif tok.endswith(":") and not tok.startswith('"'):
            field = tok
        else:
            stack[-1].append(tok)
    lines: list[str] = []

    def emit(node: list, depth: int) -> None:
        label, parts = node[0], node[1:]
        atoms = [p for p in parts if isinstance(p, str)]
        kids = [p for p in parts if isinstance(p, list)]
        head = (f"{label} " if label else "") + "(" + " ".join(atoms)
        if not kids:
            lines.append(indent * depth + head + ")")
            return
        lines.append(indent * depth + head)
        for kid in kids:
            emit(kid, depth + 1)
        lines[-1] += ")"

    for top in stack[0]:
        if isinstance(top, list):
            emit(top, 0)
    return "\n".join(lines) if lines else sexp


# -- syntax trees ---------------------------------------------------------------------------
def _tree_item(ts_node, node_id: int, field: str | None, source: bytes) -> dict[str, Any]:
    start, end = ts_node.start_byte, ts_node.end_byte
    item: dict[str, Any] = {
        "id": node_id,
        "kind": ts_node.type,
        "named": ts_node.is_named,
        "field": field,
        "span": [start, end],
        "start_point": list(ts_node.start_point),
        "end_point": list(ts_node.end_point),
    }
    if ts_node.is_error:
        item["is_error"] = True
    if ts_node.is_missing:
        item["is_missing"] = True
    if ts_node.child_count == 0:
        item["text"] = source[start:end].decode("utf-8", "replace")
    return item


def tree_to_json(tree: SyntaxTree) -> dict[str, Any]:
    """The whole syntax tree (named and anonymous nodes) as nested dicts.

    Each node: ``id`` (stable pre-order id), ``kind``, ``named``, ``field``,
    ``span`` ``[start_byte, end_byte]``, ``start_point``/``end_point``
    ``[row, column]`` (zero-based, as tree-sitter), ``children``; leaves add
    ``text``; ERROR/MISSING nodes add ``is_error``/``is_missing``.  Built
    iteratively, so any depth works; ``json.dumps`` itself recurses, so for
    text use :func:`export_tree` (``format="json"``), which does not.
    """
    path: list[dict[str, Any]] = []
    root: dict[str, Any] = {}
    for node_id, (ts_node, field, depth) in enumerate(walk(tree.ts_tree.root_node)):
        item = _tree_item(ts_node, node_id, field, tree.source)
        item["children"] = []
        del path[depth:]
        if path:
            path[-1]["children"].append(item)
        else:
            root = item
        path.append(item)
    return root


def _tree_json_text(tree: SyntaxTree) -> str:
    """``json.dumps(tree_to_json(tree))``, written with an explicit stack of open nodes."""
    parts: list[str] = []
    open_depth = -1  # depth of the deepest node whose children list is still open
    for node_id, (ts_node, field, depth) in enumerate(walk(tree.ts_tree.root_node)):
        while open_depth >= depth:
            parts.append("]}")
            open_depth -= 1
        if depth and not parts[-1].endswith("["):
            parts.append(", ")
        head = json.dumps(_tree_item(ts_node, node_id, field, tree.source), ensure_ascii=False)
        parts.append(head[:-1] + ', "children": [')
        open_depth = depth
    parts.append("]}" * (open_depth + 1))
    return "".join(parts)


def tree_to_dot(tree: SyntaxTree) -> str:
    """The syntax tree as Graphviz DOT: one box per node, edges labelled by field."""
    source = tree.source
    lines = ["digraph tree {", '  node [shape=box, fontname="monospace"];']
    parents: list[int] = []
    for node_id, (ts_node, field, depth) in enumerate(walk(tree.ts_tree.root_node)):
        label = ts_node.type
        if ts_node.child_count == 0 and ts_node.is_named:
            label += "\n" + _short(source[ts_node.start_byte : ts_node.end_byte].decode("utf-8", "replace"))
        if ts_node.is_error or ts_node.is_missing:
            style = ", style=filled, fillcolor=mistyrose"
        else:
            style = "" if ts_node.is_named else ", style=dashed"
        lines.append(f"  n{node_id} [label={_quote(label)}{style}];")
        del parents[depth:]
        if parents:
            edge_label = f" [label={_quote(field)}]" if field else ""
            lines.append(f"  n{parents[-1]} -> n{node_id}{edge_label};")
        parents.append(node_id)
    lines.append("}")
    return "\n".join(lines) + "\n"
