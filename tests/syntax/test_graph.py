"""Program graphs: nodes, AST/token/sibling edges, CFG and dataflow edges, invariants."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treediff.errors import GrammarError
from treediff.syntax import parse, walk
from treediff.syntax.export import to_node_link
from treediff.syntax.graph import EDGE_TYPES, add_dataflow_edges, build_graph


def syntax_graph(src, lang="python", **kw):
    return build_graph(parse(src, lang), cfg=False, dataflow=False, **kw)


def edges_of(G, edge_type):
    return {(u, v) for u, v, k in G.edges(keys=True) if k == edge_type}


def tagged(G, edge_type):
    """Edges of one type as ``text@line:column`` pairs (leaves) or kinds (inner nodes)."""
    def tag(n):
        d = G.nodes[n]
        return d["text"] if d["text"] is not None else d["kind"]

    return {(tag(u), tag(v)) for u, v in edges_of(G, edge_type)}


def test_node_ids_and_attributes():
    tree = parse("x = 1\n", "python")
    G = syntax_graph("x = 1\n")
    all_nodes = list(walk(tree.ts_tree.root_node))
    assert sorted(G.nodes) == list(range(len(all_nodes)))  # every node is named or a leaf here
    assert G.nodes[3] == {
        "kind": "identifier",
        "kind_id": tree.language.kind_index["identifier"],
        "category": "identifier",
        "is_named": True,
        "start_byte": 0,
        "end_byte": 1,
        "start_line": 1,
        "text": "x",
        "is_error": False,
        "is_missing": False,
    }
    assert G.nodes[2]["text"] is None and G.nodes[2]["kind"] == "assignment"


def test_ast_child_fields_and_indices():
    G = syntax_graph("x = 1\n")
    children = sorted(
        (d["index"], G.nodes[v]["kind"], d["field"]) for u, v, k, d in G.edges(keys=True, data=True)
        if k == "AST_CHILD" and u == 2
    )
    assert children == [(0, "identifier", "left"), (1, "=", None), (2, "integer", "right")]
    assert all(d["type"] == k for _, _, k, d in G.edges(keys=True, data=True))


def test_next_token_chain_covers_leaves_in_order():
    src = "def f(a, b):\n    return a + b  # sum\n"
    tree = parse(src, "python")
    G = build_graph(tree, cfg=False, dataflow=False)
    leaves = [n.id for n in tree.leaves()]
    chain = edges_of(G, "NEXT_TOKEN")
    assert chain == set(zip(leaves, leaves[1:]))
    assert "".join(G.nodes[i]["text"] for i in leaves).replace(" ", "") == src.replace(" ", "").replace("\n", "")


def test_next_sibling_links_consecutive_children():
    G = syntax_graph("a = 1\nb = 2\nc = 3\n")
    stmts = [v for u, v in edges_of(G, "AST_CHILD") if u == 0]
    assert {(u, v) for u, v in edges_of(G, "NEXT_SIBLING") if u in stmts} == set(zip(sorted(stmts), sorted(stmts)[1:]))


def test_tokens_false_keeps_named_nodes_only():
    tree = parse("f(x, y)\n", "python")
    G = build_graph(tree, cfg=False, dataflow=False, tokens=False)
    assert all(G.nodes[n]["is_named"] for n in G)
    named_leaves = [n.id for n in tree.leaves() if n.is_named]
    assert edges_of(G, "NEXT_TOKEN") == set(zip(named_leaves, named_leaves[1:]))
    # indices are dense among the kept children
    idx = sorted(d["index"] for u, _, k, d in G.edges(keys=True, data=True) if k == "AST_CHILD" and G.nodes[u]["kind"] == "argument_list")
    assert idx == [0, 1]


def test_error_and_missing_nodes_are_flagged():
    G = syntax_graph("def f(:\n    pass\n")
    assert any(d["is_error"] or d["is_missing"] for _, d in G.nodes(data=True))


def test_dataflow_without_cfg_edges():
    tree = parse("a = 1\nb = a + 2\n", "python")
    G = build_graph(tree, cfg=False, dataflow=False)
    add_dataflow_edges(G, tree, cfgs=[])  # straight line without a CFG
    assert tagged(G, "LAST_WRITE") == {("a", "a")}
    assert tagged(G, "COMPUTED_FROM") == {("b", "a")}


@pytest.mark.parametrize(
    "lang, src",
    [
        ("javascript", "function f(a) { let x = a + 1; return x; }\n"),
        ("java", "class A { int f(int a) { int x = a + 1; return x; } }\n"),
        ("c", "int f(int a) { int x = a + 1; return x; }\n"),
        ("go", "package p\nfunc f(a int) int { x := a + 1; return x }\n"),
        ("rust", "fn f(a: i32) -> i32 { let x = a + 1; x }\n"),
    ],
)
def test_other_languages_build_syntax_graphs(lang, src):
    tree = parse(src, lang)
    G = build_graph(tree, cfg=False, dataflow=True)  # dataflow is a no-op outside Python
    assert G.number_of_nodes() > 10
    assert {k for _, _, k in G.edges(keys=True)} == {"AST_CHILD", "NEXT_TOKEN", "NEXT_SIBLING"}
    assert edges_of(G, "NEXT_TOKEN") == set(zip([n.id for n in tree.leaves()], [n.id for n in tree.leaves()][1:]))


def test_deep_nesting_does_not_crash():
    depth = 10_000
    tree = parse("y = " + "(" * depth + "x" + ")" * depth + "\n", "python")
    G = build_graph(tree, cfg=False, dataflow=False)
    add_dataflow_edges(G, tree, cfgs=[])
    assert G.number_of_nodes() == tree.num_nodes
    assert tagged(G, "COMPUTED_FROM") == {("y", "x")}


def test_determinism_without_cfg():
    src = "def f(a):\n    b = a\n    return [b for _ in a]\n"
    one = json.dumps(to_node_link(syntax_graph(src)))
    two = json.dumps(to_node_link(syntax_graph(src)))
    assert one == two


# -- with the real CFG builder ---------------------------------------------------------------
@pytest.fixture
def cfg_ready():
    """The CFG builder, or a skip while treediff.syntax.cfg (or its Python data) is missing."""
    cfg = pytest.importorskip("treediff.syntax.cfg")
    try:
        cfg.build_cfgs(parse("x = 1\n", "python"))
    except GrammarError as exc:
        pytest.skip(f"the CFG builder has no Python data yet: {exc}")
    return cfg


def test_cfg_edges_follow_the_cfgs(cfg_ready):
    tree = parse("x = 0\nwhile x < 10:\n    x = x + 1\nprint(x)\n", "python")
    G = build_graph(tree)
    cfgs = cfg_ready.build_cfgs(tree)
    cfg_edges = {(u, v): d for u, v, k, d in G.edges(keys=True, data=True) if k == "CFG"}
    for c in cfgs:
        for u, v, label in c.graph.edges(data="label"):
            if (u, v) == ("ENTRY", "EXIT"):
                continue
            src = c.scope_id if u == "ENTRY" else u
            dst = c.scope_id if v == "EXIT" else v
            assert cfg_edges[(src, dst)]["label"] == label
            assert cfg_edges[(src, dst)]["boundary"] == ("entry" if u == "ENTRY" else "exit" if v == "EXIT" else None)
    assert any(d["label"] == "loop_back" for d in cfg_edges.values())


def test_golden_dataflow_end_to_end(cfg_ready):
    tree = parse("x = 0\nwhile x < 10:\n    x = x + 1\nprint(x)\n", "python")
    G = build_graph(tree)
    ids = {n.id: (n.text, n.start_point.row + 1, n.start_point.column) for n in tree.nodes("identifier")}
    lw = {(ids[u], ids[v]) for u, v in edges_of(G, "LAST_WRITE")}
    assert (("x", 2, 6), ("x", 1, 0)) in lw
    assert (("x", 2, 6), ("x", 3, 4)) in lw  # loop back-edge
    assert {v for u, v in lw if u == ("x", 4, 6)} == {("x", 1, 0), ("x", 3, 4)}
    assert {(ids[u], ids[v]) for u, v in edges_of(G, "COMPUTED_FROM")} == {(("x", 3, 4), ("x", 3, 8))}


def test_if_else_end_to_end(cfg_ready):
    tree = parse("if c:\n    y = 1\nelse:\n    y = 2\nprint(y)\n", "python")
    G = build_graph(tree)
    ids = {n.id: (n.text, n.start_point.row + 1) for n in tree.nodes("identifier")}
    assert {ids[v] for u, v in edges_of(G, "LAST_WRITE") if ids[u] == ("y", 5)} == {("y", 2), ("y", 4)}


def test_determinism_with_cfg(cfg_ready):
    src = "def f(a):\n    for i in a:\n        if i:\n            break\n    return i\nclass C:\n    z = f(1)\n"
    assert json.dumps(to_node_link(build_graph(parse(src, "python")))) == json.dumps(
        to_node_link(build_graph(parse(src, "python")))
    )


_names = st.sampled_from(["a", "b", "c"])
_exprs = st.one_of(
    _names,
    st.integers(0, 9).map(str),
    st.tuples(_names, _names).map(lambda t: f"{t[0]} + {t[1]}"),
    st.tuples(_names, _names).map(lambda t: f"[{t[0]} for {t[1]} in {t[0]}]"),
)


@st.composite
def programs(draw, depth=0):
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(0, 5 if depth < 2 else 1))
        pad = "    " * depth
        if choice == 0:
            lines.append(f"{pad}{draw(_names)} = {draw(_exprs)}")
        elif choice == 1:
            lines.append(f"{pad}{draw(_names)} += {draw(_exprs)}")
        else:
            head = {2: f"if {draw(_exprs)}:", 3: f"while {draw(_names)}:", 4: f"for {draw(_names)} in {draw(_names)}:",
                    5: f"def {draw(_names)}({draw(_names)}):"}[choice]
            lines.append(pad + head)
            lines.append(draw(programs(depth + 1)))
    return "\n".join(lines)


@given(programs())
def test_every_edge_endpoint_is_a_node(src):
    tree = parse(src + "\n", "python")
    try:
        G = build_graph(tree)
    except (ImportError, GrammarError):  # no CFG builder (data) yet: straight-line scopes
        G = build_graph(tree, cfg=False, dataflow=False)
        add_dataflow_edges(G, tree, cfgs=[])
    for u, v, k in G.edges(keys=True):
        assert u in G.nodes and v in G.nodes and k in EDGE_TYPES
    ident = set(tree.language.categories["identifier"])
    for u, v, k in G.edges(keys=True):
        if k in ("LAST_READ", "LAST_WRITE", "COMPUTED_FROM"):
            assert G.nodes[u]["kind"] in ident and G.nodes[v]["kind"] in ident
            assert G.nodes[u]["text"] == G.nodes[v]["text"] or k == "COMPUTED_FROM"


@pytest.mark.parametrize(
    "lang, src",
    [
        ("javascript", "function f(a) { let x = a + 1; for (;;) { break; } return x; }\n"),
        ("java", "class A { int f(int a) { int x = a; while (x > 0) x--; return x; } }\n"),
        ("c", "int f(int a) { if (a) return 1; return a; }\n"),
        ("go", "package p\nfunc f(a int) int { x := a + 1; return x }\n"),
        ("rust", "fn f(a: i32) -> i32 { let x = a + 1; x }\n"),
    ],
)
def test_other_languages_get_cfg_edges(cfg_ready, lang, src):
    G = build_graph(parse(src, lang))
    kinds = {k for _, _, k in G.edges(keys=True)}
    assert "CFG" in kinds and not kinds & {"LAST_READ", "LAST_WRITE", "COMPUTED_FROM"}


@pytest.mark.parametrize("src", ["def f(:\n x = = 1\n for in :\n", "x +=\n", "[x for in y]\n", "a, = b = c += 1\n"])
def test_broken_python_still_builds(src):
    tree = parse(src, "python")
    G = build_graph(tree, cfg=False, dataflow=False)
    add_dataflow_edges(G, tree, cfgs=[])
    assert all(u in G and v in G for u, v in G.edges())
