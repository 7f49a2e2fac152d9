"""The parse layer: input checks, node facts, ids, helpers and incremental reparse."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treediff.errors import InputError, LanguageNotFound
from treediff.syntax import detect_language, get_language, parse, walk

SRC = "def f(x):\n    if x:\n        return x + 1\n    return 0\n"


def test_parse_str_bytes_and_path_agree(tmp_path: Path) -> None:
    p = tmp_path / "m.py"
    p.write_text(SRC)
    trees = [parse(SRC, "python"), parse(SRC.encode(), "py"), parse(p)]
    assert {t.sexp() for t in trees} == {trees[0].sexp()}
    assert trees[2].path == str(p) and trees[2].language.name == "python"


def test_node_facts_and_fields() -> None:
    tree = parse(SRC, "python")
    fn = next(tree.nodes("function_definition"))
    assert fn.category in ("definition", "statement")
    assert fn.child_by_field("name").text == "f"
    assert fn.child_by_field("name").field_name == "name"
    assert fn.start_point == (0, 0) and fn.end_point.row == 3
    ret = list(tree.nodes("return_statement"))
    assert [r.text for r in ret] == ["return x + 1", "return 0"]
    assert all(r.category == "statement" for r in ret)
    assert {n.kind for n in tree.nodes(category="literal")} == {"integer"}


def test_ids_are_preorder_and_deterministic() -> None:
    a, b = parse(SRC, "python"), parse(SRC, "python")
    ids_a = [n.id for n in a.root.walk()]
    assert ids_a == list(range(a.num_nodes))
    assert [(n.id, n.kind) for n in a.nodes(named=True)] == [(n.id, n.kind) for n in b.nodes(named=True)]
    # cheap id lookup agrees with the full enumeration, and node_by_id inverts it
    for i, (ts_node, _, _) in enumerate(walk(a.ts_tree.root_node)):
        assert a.id_of(ts_node) == i
        assert a.node_by_id(i).ts_node == ts_node
    with pytest.raises(InputError):
        a.node_by_id(a.num_nodes)


def test_node_at_smallest_enclosing() -> None:
    tree = parse(SRC, "python")
    start = SRC.index("x + 1")
    assert tree.node_at(start, start + 5).kind == "binary_operator"
    assert tree.node_at(start, start + 1).kind == "identifier"
    assert tree.node_at(0, len(SRC)).kind == "module"
    with pytest.raises(InputError):
        tree.node_at(5, 2)


def test_leaves_cover_tokens_in_order() -> None:
    tree = parse("a = [1, 2]\n", "python")
    texts = [leaf.text for leaf in tree.leaves()]
    assert texts == ["a", "=", "[", "1", ",", "2", "]"]


def test_errors_reported() -> None:
    tree = parse("def f(:\n  pass\n", "python")
    assert tree.has_errors
    errs = list(tree.errors())
    assert errs and all(e.is_error or e.is_missing for e in errs)
    assert not list(parse(SRC, "python").errors())


def test_incremental_edit_reparses_and_reports_changes() -> None:
    tree = parse(SRC, "python")
    start = SRC.index("x + 1")
    new, changed = tree.edit(start, start + 5, "(x")
    assert new.source == SRC.replace("x + 1", "(x").encode()
    assert new.has_errors and not tree.has_errors  # the old tree is untouched
    assert changed, "a syntax change must report changed ranges"
    fixed, _ = new.edit(start, start + 2, "(x)")
    assert not fixed.has_errors
    assert fixed.sexp() == parse(fixed.source, "python").sexp()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"x = 1\x00\x01", "binary"),
        (b"x = '\xff\xfe'\n", "UTF-8"),
    ],
)
def test_bad_bytes_raise_input_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(data, "python")


def test_size_cap() -> None:
    with pytest.raises(InputError, match="size cap"):
        parse("x = 1\n" * 100, "python", max_bytes=50)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        parse(tmp_path / "nope.py")
    with pytest.raises(InputError, match="directory"):
        parse(tmp_path, "python")


def test_language_resolution() -> None:
    assert get_language("PY").name == "python"
    assert detect_language("a/b.TSX").name == "tsx"
    with pytest.raises(LanguageNotFound, match="choose one of"):
        get_language("cobol")
    with pytest.raises(LanguageNotFound, match="extension"):
        detect_language("notes.xyz")


def test_ids_with_zero_width_nodes() -> None:
    tree = parse("int main() { return 0 }\n", "c")  # a zero-width MISSING ';'
    assert any(n.is_missing for n, _, _ in walk(tree.ts_tree.root_node))
    for i, (ts_node, _, _) in enumerate(walk(tree.ts_tree.root_node)):
        assert tree.id_of(ts_node) == i


def test_deep_nesting_does_not_crash() -> None:
    src = "x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n"
    tree = parse(src, "python")
    assert tree.num_nodes > 10_000
    assert sum(1 for _ in tree.leaves()) == 20_003
    assert tree.node_at(len(src) // 2).kind in ("integer", "parenthesized_expression")


def test_empty_source() -> None:
    tree = parse("", "python")
    assert tree.root.kind == "module" and not tree.has_errors


@given(st.text(max_size=200))
def test_parse_never_raises_on_text(text: str) -> None:
    try:
        tree = parse(text, "python")
    except InputError:
        assert "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        return
    assert tree.root.end_byte <= len(tree.source)


def test_errors_never_empty_when_tree_has_errors() -> None:
    # tree-sitter-cpp flags this tree has_error without any ERROR or MISSING node
    tree = parse("#include <memory>#include <vector>\nint main() { return 0; }\n", "cpp")
    assert tree.has_errors
    assert list(tree.errors()), "an erroneous tree must report at least one node"
