"""Python dataflow: access classification, evaluation order and golden LAST_* edges.

The golden tests build their CFGs by hand (following the ``treediff.syntax.cfg``
contract), so they pin the dataflow semantics independently of the CFG builder;
``test_graph.py`` checks the same programs end to end with the real one.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import pytest

from treediff.syntax import parse
from treediff.syntax.dataflow import collect_accesses, compute_dataflow, supports_dataflow


@dataclass(frozen=True)
class FakeCFG:
    name: str
    kind: str
    scope_id: int
    graph: nx.DiGraph


def stmt(tree, line: int) -> int:
    """Id of the outermost statement starting on a 1-based line."""
    for n in tree.nodes(category="statement"):
        if n.start_point.row + 1 == line:
            return n.id
    raise AssertionError(f"no statement on line {line}")


def module_cfg(tree, edges) -> FakeCFG:
    """A module CFG from ``(line | "ENTRY" | "EXIT", ..., label)`` triples."""
    g = nx.DiGraph()
    for u, v, label in edges:
        u = u if isinstance(u, str) else stmt(tree, u)
        v = v if isinstance(v, str) else stmt(tree, v)
        g.add_edge(u, v, label=label)
    return FakeCFG("<module>", "module", 0, g)


def named(tree, edges):
    """Edges as ``(type, "name@line:col", "name@line:col")`` for readable goldens."""
    nodes = {n.id: n for n in tree.nodes(named=True)}

    def tag(i):
        n = nodes[i]
        return f"{n.text}@{n.start_point.row + 1}:{n.start_point.column}"

    return {(t, tag(s), tag(d)) for t, s, d in edges}


def test_three_line_program_golden():
    tree = parse("a = 1\nb = a + 2\na = a * b\n", "python")
    cfg = module_cfg(tree, [("ENTRY", 1, "next"), (1, 2, "next"), (2, 3, "next"), (3, "EXIT", "next")])
    assert named(tree, compute_dataflow(tree, [cfg])) == {
        ("LAST_WRITE", "a@2:4", "a@1:0"),
        ("LAST_READ", "a@3:4", "a@2:4"),
        ("LAST_WRITE", "a@3:4", "a@1:0"),
        ("LAST_WRITE", "b@3:8", "b@2:0"),
        # the target is written after the right-hand side is read
        ("LAST_READ", "a@3:0", "a@3:4"),
        ("LAST_WRITE", "a@3:0", "a@1:0"),
        ("COMPUTED_FROM", "b@2:0", "a@2:4"),
        ("COMPUTED_FROM", "a@3:0", "a@3:4"),
        ("COMPUTED_FROM", "a@3:0", "b@3:8"),
    }


def test_loop_makes_a_last_write_back_edge():
    tree = parse("x = 0\nwhile x < 10:\n    x = x + 1\n", "python")
    cfg = module_cfg(
        tree,
        [("ENTRY", 1, "next"), (1, 2, "next"), (2, 3, "true"), (3, 2, "loop_back"), (2, "EXIT", "false")],
    )
    edges = named(tree, compute_dataflow(tree, [cfg]))
    last_writes = {(s, d) for t, s, d in edges if t == "LAST_WRITE"}
    assert ("x@2:6", "x@1:0") in last_writes
    assert ("x@2:6", "x@3:4") in last_writes  # around the loop
    assert ("x@3:8", "x@3:4") in last_writes  # the body's read sees the previous iteration's write
    assert ("LAST_READ", "x@2:6", "x@3:8") in edges


def test_if_else_merges_two_writes():
    src = "if c:\n    y = 1\nelse:\n    y = 2\nprint(y)\n"
    tree = parse(src, "python")
    s_if, s_then, s_else, s_print = stmt(tree, 1), stmt(tree, 2), stmt(tree, 4), stmt(tree, 5)
    g = nx.DiGraph()
    g.add_edge("ENTRY", s_if, label="next")
    g.add_edge(s_if, s_then, label="true")
    g.add_edge(s_if, s_else, label="false")
    g.add_edge(s_then, s_print, label="next")
    g.add_edge(s_else, s_print, label="next")
    g.add_edge(s_print, "EXIT", label="next")
    edges = named(tree, compute_dataflow(tree, [FakeCFG("<module>", "module", 0, g)]))
    assert {d for t, s, d in edges if t == "LAST_WRITE" and s == "y@5:6"} == {"y@2:4", "y@4:4"}


def test_augmented_assignment_is_read_then_written():
    tree = parse("x = 1\nx += y\n", "python")
    assert named(tree, compute_dataflow(tree, [])) == {
        ("LAST_WRITE", "x@2:0", "x@1:0"),
        ("COMPUTED_FROM", "x@2:0", "y@2:5"),
    }


def test_without_cfg_a_scope_is_straight_line():
    tree = parse("a = 1\nb = a\n", "python")
    assert named(tree, compute_dataflow(tree, [])) == {
        ("LAST_WRITE", "a@2:4", "a@1:0"),
        ("COMPUTED_FROM", "b@2:0", "a@2:4"),
    }


def accesses(src):
    tree = parse(src, "python")
    out = []
    for a in collect_accesses(tree):
        out.append((a.name, "rw"[a.is_write] if a.is_read != a.is_write else "?"))
    return out


@pytest.mark.parametrize(
    "src, expected",
    [
        ("a.b.c = x[i]\n", [("x", "r"), ("i", "r"), ("a", "r")]),
        ("f(k=v)\n", [("f", "r"), ("v", "r")]),
        ("import os.path as p, sys\n", [("p", "w"), ("sys", "w")]),
        ("from a.b import c as d, e\n", [("d", "w"), ("e", "w")]),
        ("y += a\n", [("y", "r"), ("a", "r"), ("y", "w")]),
        ("for i, j in z:\n    pass\n", [("z", "r"), ("i", "w"), ("j", "w")]),
        ("u = (u := t)\n", [("t", "r"), ("u", "w"), ("u", "w")]),
        ("with open(q) as h:\n    pass\n", [("open", "r"), ("q", "r"), ("h", "w")]),
        ("global g\ng = 1\n", [("g", "w")]),
        ("a, *b = c\n", [("c", "r"), ("a", "w"), ("b", "w")]),
    ],
)
def test_access_classification_and_order(src, expected):
    assert accesses(src) == expected


def test_scopes_parameters_and_defaults():
    tree = parse("def f(a, b=x, *args, c: int = 2, **kw) -> T:\n    return a\n", "python")
    acc = collect_accesses(tree)
    func = next(tree.nodes("function_definition")).id
    by_name = {(a.name, a.is_write): a for a in acc}
    for p in ("a", "b", "args", "c", "kw"):
        assert by_name[(p, True)].scope == func and by_name[(p, True)].owner == "ENTRY"
    for outer in ("x", "int", "T"):  # defaults and annotations run in the enclosing scope
        assert by_name[(outer, False)].scope == 0
    assert by_name[("f", True)].scope == 0
    assert [a.name for a in acc if a.scope == 0] == ["x", "int", "T", "f"]  # the name is bound last
    edges = named(tree, compute_dataflow(tree, []))
    assert ("LAST_WRITE", "a@2:11", "a@1:6") in edges


def test_comprehension_scope_and_order():
    tree = parse("r = [v * k for v in w if v]\n", "python")
    acc = collect_accesses(tree)
    comp = next(tree.nodes("list_comprehension")).id
    assert [(a.name, a.scope == comp) for a in acc] == [
        ("w", False),  # the first iterable belongs to the enclosing scope
        ("v", True),
        ("v", True),
        ("v", True),
        ("k", True),
        ("r", False),
    ]
    edges = named(tree, compute_dataflow(tree, []))
    assert ("LAST_WRITE", "v@1:5", "v@1:15") in edges
    assert ("LAST_READ", "v@1:5", "v@1:25") in edges  # the filter runs before the element
    assert ("COMPUTED_FROM", "r@1:0", "w@1:20") in edges


def test_match_captures_are_writes():
    acc = accesses("match s:\n    case Point(x=a, y=[b, *c]):\n        pass\n")
    assert acc == [("s", "r"), ("Point", "r"), ("a", "w"), ("b", "w"), ("c", "w")]


def test_only_python_is_supported():
    tree = parse("let x = 1; x;\n", "javascript")
    assert not supports_dataflow(tree.language)
    assert compute_dataflow(tree, []) == []


def test_deep_nesting_does_not_recurse():
    depth = 3000
    src = "y = " + "(" * depth + "x" + ")" * depth + "\n"
    tree = parse(src, "python")
    assert {t for t, _, _ in compute_dataflow(tree, [])} == {"COMPUTED_FROM"}
