"""Flow edges, CFG units, the visible program and the CFG-guided remask region."""

from __future__ import annotations

import numpy as np

from treediff.syntax import parse, walk
from treediff.tokens import leaf_alignment
from treediff.syntax.cfg import EDGE_LABELS
from treediff.syntax.cfg_flow import (
    FLOW_LABELS,
    PLACEHOLDER,
    cfg_region,
    flow_edges,
    flow_units,
    named_rows,
    visible_program,
)
from treediff.syntax.holes import enclosing_region


def test_labels_table_is_cfg_then_dataflow():
    assert FLOW_LABELS[: len(EDGE_LABELS)] == EDGE_LABELS
    assert FLOW_LABELS[len(EDGE_LABELS):] == ("LAST_READ", "LAST_WRITE", "COMPUTED_FROM")


def test_return_and_raise_edges_land_on_the_scope_node():
    tree = parse("def f(x):\n    if x:\n        raise E\n    return 1\n", "python")
    rows = named_rows(tree)
    func = next(n for n in tree.nodes("function_definition"))
    ends = {label: v for label, _, v in flow_edges(tree) if label in ("return", "raise")}
    assert ends == {"return": func.id, "raise": func.id}
    assert rows[func.id] >= 0


def test_named_rows_index_named_nodes_in_preorder():
    tree = parse("x = f(1)\n", "python")
    rows = named_rows(tree)
    named = [n.is_named for n, _, _ in walk(tree.ts_tree.root_node)]
    assert rows.tolist() == [r if ok else -1 for r, ok in zip(np.cumsum(named) - 1, named)]
    assert rows.max() + 1 == len(leaf_alignment(tree).node_spans)


def test_units_in_a_language_without_dataflow():
    src = "int f(int x) {\n  int y = 1;\n  while (x) { x--; y++; }\n  return y;\n}\n"
    tree = parse(src, "c")
    texts = {(k, tree.source[s:e].decode()) for k, s, e in flow_units(tree).tolist()}
    assert (1, "while (x) { x--; y++; }") in texts
    assert (0, "x--; y++;") in texts
    assert not [e for e in flow_edges(tree) if e[0].isupper()]  # no dataflow outside Python


def test_visible_program_keeps_masked_runs_apart_from_words():
    prog = visible_program([b"return", b" ", None, b"x", None, b"\n"])
    assert prog.source == b"return __ x __\n"
    assert prog.token_start.tolist() == [0, 1, 2, 3, 4, 5] and prog.token_end.tolist() == [1, 2, 3, 4, 5, 6]
    assert [prog.source[a:b] for a, b in prog.offsets.tolist()][2] == PLACEHOLDER
    assert visible_program([b"\xc3", b"\xa9"]).source == b"__"  # a cut UTF-8 character stays parseable
    assert visible_program([b"a", b"b"], skip=[True, False]).source == b"b"


def test_partially_masked_program_parses_with_error_recovery():
    prog = visible_program([b"def f(x):\n    ", None, None, b"\n    return y\n"])
    tree = parse(prog.source, "python")
    assert [k for k, _, _ in flow_edges(tree)]  # a CFG despite the hole


def test_cfg_region_takes_the_block_and_the_definition_a_use_needs():
    src = "def g(n):\n    total = 0\n    for i in range(n):\n        total += i\n        print(total\n    return total\n"
    tree = parse(src, "python")
    p = next(tree.errors())
    a, b = cfg_region(tree, p.start_byte, p.end_byte, within=(0, len(src)))
    s, e = enclosing_region(tree, p.start_byte, p.end_byte, within=(0, len(src)))
    assert a <= s and e <= b and (a, b) != (s, e)
    assert src[a:b].startswith("total = 0")  # the write the erroneous statement reads
    a, b = cfg_region(tree, p.start_byte, p.end_byte, within=(40, 70))
    assert 40 <= a < b <= 70


def test_cfg_region_is_none_outside_every_statement():
    tree = parse("", "python")
    assert cfg_region(tree, 0, 0, within=(0, 0)) is None
    assert np.asarray(flow_units(tree)).shape == (0, 3)
