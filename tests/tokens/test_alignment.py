"""Pre-tokenization never crosses leaves; alignment maps nodes to exact token spans."""

from __future__ import annotations

import bisect
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from treediff.syntax import parse
from treediff.tokens import align, leaf_alignment, pretokenize

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _check_pieces(tree) -> None:
    pieces = pretokenize(tree)
    # pieces tile the source exactly
    assert b"".join(tree.source[p.start : p.end] for p in pieces) == tree.source
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:]))
    # no piece crosses a leaf boundary
    bounds = set()
    for leaf in tree.leaves():
        if leaf.end_byte > leaf.start_byte:
            bounds.update((leaf.start_byte, leaf.end_byte))
    ordered = sorted(bounds)
    for p in pieces:  # the first boundary after p.start must not lie inside p
        i = bisect.bisect_right(ordered, p.start)
        assert i == len(ordered) or ordered[i] >= p.end


@pytest.mark.parametrize("name", ["ast.py", "textwrap.py", "json/decoder.py"])
def test_real_files_align_exactly(name: str) -> None:
    tree = parse(STDLIB / name)
    _check_pieces(tree)
    a = leaf_alignment(tree)
    assert a.node_exact.all()
    s, e = a.node_spans[:, 0], a.node_spans[:, 1]
    assert (s <= e).all() and (e <= a.num_tokens).all()
    # spans nest: every node's span lies inside its parent's span
    par = a.node_parent
    has = par >= 0
    assert (a.node_spans[has, 0] >= a.node_spans[par[has], 0]).all()
    assert (a.node_spans[has, 1] <= a.node_spans[par[has], 1]).all()


def test_cover_rule_for_tokens_crossing_nodes() -> None:
    tree = parse("x = ab + c\n", "python")
    # a deliberately bad tokenizer: one token "x = a", then "b + c", then "\n"
    offs = [(0, 5), (5, 10), (10, 11)]
    a = align(tree, offs)
    kinds = [tree.language.kinds[k] for k in a.node_kind]
    ident_ab = [i for i, k in enumerate(kinds) if k == "identifier"][1]
    assert tuple(a.node_spans[ident_ab]) == (0, 2)  # "ab" touches both tokens
    assert not a.node_exact[ident_ab]
    assert a.node_exact[0]  # the module still starts and ends on token boundaries


@given(st.text(alphabet=st.sampled_from(list("ab1 \n\t()[]:=+-.,'\"#é")), max_size=120))
def test_pieces_tile_any_text(text: str) -> None:
    tree = parse(text, "python")
    _check_pieces(tree)
    a = leaf_alignment(tree)
    assert np.all(a.node_spans[:, 0] <= a.node_spans[:, 1])
