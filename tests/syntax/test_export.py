"""Exports: DOT, node-link JSON, PyG Data/HeteroData, files, and syntax-tree JSON/DOT."""

from __future__ import annotations

import json

import networkx as nx
import pytest
import torch

from treediff.errors import GrammarError, InputError
from treediff.syntax import CATEGORIES, parse, walk
from treediff.syntax.export import (
    EDGE_ATTRS,
    export_graph,
    export_tree,
    save_graph,
    to_dot,
    to_hetero,
    to_node_link,
    to_pyg,
    tree_to_dot,
    tree_to_json,
)
from treediff.syntax.graph import CFG_LABELS, EDGE_TYPES, add_dataflow_edges, build_graph

SRC = "a = 1\nb = a + 2\na = a * b\n"


@pytest.fixture
def cfg_ready():
    """The CFG builder, or a skip while treediff.syntax.cfg (or its Python data) is missing."""
    cfg = pytest.importorskip("treediff.syntax.cfg")
    try:
        cfg.build_cfgs(parse("x = 1\n", "python"))
    except GrammarError as exc:
        pytest.skip(f"the CFG builder has no Python data yet: {exc}")
    return cfg


@pytest.fixture
def graph():
    tree = parse(SRC, "python")
    G = build_graph(tree, cfg=False, dataflow=False)
    return add_dataflow_edges(G, tree, cfgs=[])


def test_pyg_shapes_dtypes_and_validate(graph):
    data = to_pyg(graph)
    assert data.validate()
    N, E = graph.number_of_nodes(), graph.number_of_edges()
    assert data.num_nodes == N and data.x.shape == (N, 2) and data.x.dtype == torch.long
    assert data.edge_index.shape == (2, E) and data.edge_index.dtype == torch.long
    assert data.edge_type.shape == (E,) and data.edge_type.dtype == torch.long
    assert data.edge_attr.shape == (E, len(EDGE_ATTRS)) and data.edge_attr.dtype == torch.long
    assert data.node_id.tolist() == sorted(graph.nodes)
    lang = parse("", "python").language
    assert int(data.x[:, 0].max()) <= len(lang.kinds) and int(data.x[:, 1].max()) <= len(CATEGORIES)
    # every edge maps back to a typed edge of the graph
    node_id = data.node_id.tolist()
    for (u, v), t in zip(data.edge_index.t().tolist(), data.edge_type.tolist()):
        assert graph.has_edge(node_id[u], node_id[v], key=EDGE_TYPES[t])
    counts = torch.bincount(data.edge_type, minlength=len(EDGE_TYPES)).tolist()
    assert counts[EDGE_TYPES.index("COMPUTED_FROM")] == 3


def test_pyg_edge_attr_columns(graph):
    data = to_pyg(graph)
    lang = parse("", "python").language
    node_id = data.node_id.tolist()
    left = lang.ts_language.field_id_for_name("left")
    for (u, v), t, attr in zip(data.edge_index.t().tolist(), data.edge_type.tolist(), data.edge_attr.tolist()):
        if EDGE_TYPES[t] == "AST_CHILD":
            d = graph.edges[node_id[u], node_id[v], "AST_CHILD"]
            assert attr[1] == d["index"]
            assert (attr[0] == left) == (d["field"] == "left")
        else:
            assert attr[:2] == [-1, -1]
        if EDGE_TYPES[t] != "CFG":
            assert attr[2] == -1


def test_pyg_cfg_labels():
    G = nx.MultiDiGraph(language="python")
    G.add_node(0, kind="module", category=None)
    G.add_node(1, kind="expression_statement", category="statement")
    G.add_edge(0, 1, key="CFG", type="CFG", label="loop_back")
    data = to_pyg(G)
    assert data.validate()
    assert data.edge_attr.tolist() == [[-1, -1, CFG_LABELS.index("loop_back")]]
    assert data.x[:, 1].tolist() == [len(CATEGORIES), CATEGORIES.index("statement")]


def test_hetero_edge_types(graph):
    data = to_hetero(graph, "python")
    assert data.validate()
    assert data.node_types == ["node"]
    assert data.edge_types == [("node", t, "node") for t in EDGE_TYPES]
    assert data["node"].num_nodes == graph.number_of_nodes()
    for t in EDGE_TYPES:
        store = data["node", t, "node"]
        n = sum(1 for _, _, k in graph.edges(keys=True) if k == t)
        assert store.edge_index.shape == (2, n) and store.edge_attr.shape == (n, len(EDGE_ATTRS))


@pytest.mark.parametrize(
    "lang, src",
    [
        ("javascript", "function f(a) { return a + 1; }\n"),
        ("java", "class A { int f(int a) { return a + 1; } }\n"),
        ("c", "int f(int a) { return a + 1; }\n"),
        ("go", "package p\nfunc f(a int) int { return a + 1 }\n"),
        ("rust", "fn f(a: i32) -> i32 { a + 1 }\n"),
    ],
)
def test_other_languages_export_to_pyg(lang, src):
    G = build_graph(parse(src, lang), cfg=False, dataflow=False)
    assert to_pyg(G).validate() and to_hetero(G).validate()


def test_node_link_round_trip_and_json(graph):
    data = to_node_link(graph)
    text = json.dumps(data)
    back = nx.node_link_graph(json.loads(text), edges="edges")
    assert isinstance(back, nx.MultiDiGraph)
    assert sorted(back.edges(keys=True)) == sorted(graph.edges(keys=True))
    assert dict(back.nodes(data=True)) == dict(graph.nodes(data=True))
    assert back.graph["language"] == "python"


def test_dot_lists_every_node_and_edge(graph):
    dot = to_dot(graph)
    assert dot.startswith("digraph program {") and dot.rstrip().endswith("}")
    assert sum(1 for line in dot.splitlines() if "->" in line) == graph.number_of_edges()
    assert 'label="COMPUTED_FROM"' in dot and 'label="AST_CHILD:left"' in dot
    assert to_dot(parse_graph('s = "a\\"b"\n')).count('\\"') >= 1  # quotes are escaped


def parse_graph(src):
    return build_graph(parse(src, "python"), cfg=False, dataflow=False)


def test_save_graph_formats(graph, tmp_path):
    j = save_graph(graph, tmp_path / "g.json", "json")
    assert json.loads(j.read_text())["edges"]
    d = save_graph(graph, tmp_path / "g.dot", "DOT")
    assert d.read_text().startswith("digraph")
    p = save_graph(graph, tmp_path / "g.pt", "pyg")
    data = torch.load(p, weights_only=False)
    assert data.validate() and data.num_nodes == graph.number_of_nodes()
    with pytest.raises(InputError, match="choose one of: json, dot, pyg"):
        save_graph(graph, tmp_path / "g.x", "xml")


def test_export_graph_from_a_file(tmp_path, cfg_ready):
    src = tmp_path / "m.py"
    src.write_text(SRC)
    text = export_graph(src, "json")
    assert {e["type"] for e in json.loads(text)["edges"]} >= {"AST_CHILD", "CFG", "LAST_WRITE", "COMPUTED_FROM"}
    out = tmp_path / "m.pt"
    assert export_graph(src, "pyg", out=out) is None
    assert torch.load(out, weights_only=False).validate()
    assert export_graph(parse("x = 1\n", "python"), "dot").startswith("digraph")
    with pytest.raises(InputError, match="--out"):
        export_graph(src, "pyg")


@pytest.mark.parametrize("src", ["x = 1  # c\n", "def f(:\n", "", 's = "\\u00e9\\"" \n'])
def test_export_tree_json_text_matches_json_dumps(src):
    tree = parse(src, "python")
    assert export_tree(tree, "json") == json.dumps(tree_to_json(tree), ensure_ascii=False)


def test_export_tree_formats(tmp_path):
    p = tmp_path / "a.py"
    p.write_text("x = 1\n")
    assert export_tree(p, "sexp").startswith("(module")
    assert export_tree(p, "dot").startswith("digraph tree")
    deep = export_tree(parse("(" * 10_000 + "x" + ")" * 10_000 + "\n", "python"), "json")
    assert deep.startswith('{"id": 0, "kind": "module"') and deep.endswith("]}")
    with pytest.raises(InputError, match="choose one of: sexp, json, dot"):
        export_tree(p, "xml")


def test_tree_to_json_structure():
    tree = parse("x = 1  # c\n", "python")
    root = tree_to_json(tree)
    assert root["kind"] == "module" and root["id"] == 0 and root["field"] is None
    assign = root["children"][0]["children"][0]
    assert [(c["kind"], c["field"], c["named"]) for c in assign["children"]] == [
        ("identifier", "left", True), ("=", None, False), ("integer", "right", True)
    ]
    assert assign["children"][0]["text"] == "x" and assign["children"][0]["span"] == [0, 1]
    assert assign["children"][2]["start_point"] == [0, 4]
    assert root["children"][1]["kind"] == "comment"
    json.dumps(root)
    # ids are the pre-order ids
    stack, ids = [root], []
    while stack:
        n = stack.pop()
        ids.append(n["id"])
        stack.extend(reversed(n["children"]))
    assert ids == list(range(sum(1 for _ in walk(tree.ts_tree.root_node))))


def test_tree_to_json_flags_errors_and_survives_depth():
    root = tree_to_json(parse("def f(:\n", "python"))
    flat, stack = [], [root]
    while stack:
        n = stack.pop()
        flat.append(n)
        stack.extend(n["children"])
    assert any(n.get("is_error") or n.get("is_missing") for n in flat)
    deep = tree_to_json(parse("(" * 10_000 + "x" + ")" * 10_000 + "\n", "python"))
    assert deep["kind"] == "module"


def test_tree_to_dot():
    tree = parse("x = 1\n", "python")
    dot = tree_to_dot(tree)
    n = sum(1 for _ in walk(tree.ts_tree.root_node))
    assert sum(1 for line in dot.splitlines() if "->" in line) == n - 1
    assert 'n2 -> n3 [label="left"]' in dot
    assert tree_to_dot(parse("(" * 10_000 + "x" + ")" * 10_000 + "\n", "python")).endswith("}\n")
