"""Context drafts (treediff.sample.context): fragments of the program proposed to remasking rounds, counted."""

from __future__ import annotations

import shutil

import pytest
import torch

from treediff.errors import ConfigError
from treediff.sample.config import SamplerConfig
from treediff.sample.context import MAX_BYTES, context_rows, fragments
from treediff.syntax.holes import find_holes
from treediff.syntax.tree import parse

C_MIRROR = """struct point { int x; int y; };

struct point mirror(struct point p) {
    struct point q = p;
    q.x = p.y;
    q.y = p.x;
    return <|hole:expression|>;
}
"""


def _template(code: str, language: str, fill: str):
    template = find_holes(code, language)
    filled, spans = template.fill([fill])
    return template, filled, list(spans)


def test_fragments_are_nodes_of_the_category_outside_the_holes_nearest_first():
    template, code, spans = _template(C_MIRROR, "c", "p.x + 1")
    frags = fragments(parse(code, "c"), spans[0], spans, "expression")
    assert "p.x + 1" not in frags and "1" not in frags, "nothing inside the hole itself"
    assert len(frags) == len(set(frags))
    assert {"p", "q", "p.x", "p.y", "q.x", "q.y"} <= set(frags)
    assert frags.index("p.x") < frags.index("q.x"), "the nearest occurrence first (q.y = p.x is the last line)"
    stmts = fragments(parse(code, "c"), spans[0], spans, "statement")
    assert stmts[0] == "q.y = p.x;" and "struct point q = p;" in stmts


def test_fragments_in_the_regions_role_come_first():
    """Code repeats itself in the same places: another declaration's value for a declaration's value, before the
    nearer names and sums; a region whose draft is broken has no role, and nearness alone orders them."""
    code = ("int g(int v) { return v; }\nint f(int a, int b) {\n    int x = g(a);\n    int y = a + b;\n"
            "    int z = 0;\n    return x + y + z;\n}\n")
    a = code.index("0;")
    assert fragments(parse(code, "c"), (a, a + 1), [(a, a + 1)], "expression")[:3] == ["a + b", "g(a)", "z"]
    broken = code.replace("int z = 0;", "int z = (;")
    assert fragments(parse(broken, "c"), (a, a + 1), [(a, a + 1)], "expression")[:3] == ["z", "x", "x + y"]


def test_no_top_level_line_is_copied_into_a_body():
    code = "import os\nfrom sys import argv\n\n\ndef f(x):\n    y = x + 1\n    pass\n    return y\n"
    a = code.index("pass")
    got = fragments(parse(code, "python"), (a, a + 4), [(a, a + 4)], "statement")
    assert sorted(got) == ["return y", "y = x + 1"], got
    # an expression may come from the top level: the name of a module-level call
    code = "import flag\n\ndebug = flag.Bool()\n\n\ndef main():\n    x.Parse()\n"
    a = code.index("x.Parse")
    assert "flag" in fragments(parse(code, "python"), (a, a + 1), [(a, a + 1)], "expression")


def test_fragments_skip_broken_long_multiline_and_block_nodes():
    code = ("def f(a):\n    if a:\n        b = 1\n        return b\n    x = (\n    return 0\n\n\n"
            "def g(c):\n    for y in c:\n        <|hole:statement|>\n")
    template, filled, spans = _template(code, "python", "pass")
    tree = parse(filled, "python")
    frags = fragments(tree, spans[0], spans, "statement")
    assert all("(" not in f for f in frags), "a node with a parse error is never proposed"
    assert all("\n" not in f for f in frags), "one-line nodes only: no `if` statement with its block"
    assert {"b = 1", "return b"} <= set(frags)
    assert fragments(tree, spans[0], spans, "block") == [], "no block is ever proposed"
    long_expr = "z = " + " + ".join(["abc"] * 60) + "\n"
    tree = parse(long_expr + filled, "python")
    shift = len(long_expr)
    long_spans = [(a + shift, b + shift) for a, b in spans]
    assert all(len(f.encode()) <= MAX_BYTES["expression"] for f in fragments(tree, long_spans[0], long_spans, "expression"))


def test_context_rows_rank_fragments_by_the_denoiser(untrained_lm):
    template, code, spans = _template(C_MIRROR, "c", "0")
    tree = parse(code, "c")
    a, b = spans[0]
    rows, scores = context_rows(untrained_lm, "c", tree, [(a, b, "expression")], spans, 3)
    frags = fragments(tree, (a, b), spans, "expression")
    assert 1 <= len(rows) <= 3 and len(rows) == len(scores)
    assert all(len(r) == 1 and r[0] in frags for r in rows)
    assert scores == sorted(scores, reverse=True) and all(s <= 0.0 for s in scores)
    assert context_rows(untrained_lm, "c", tree, [(a, b, "expression")], spans, 0) == ([], [])
    # a region with no fragment of its category: no rows (a row must fill every region)
    lone = parse("int f(void) { return 0; }\n", "c")
    z = lone.source.index(b"0")
    assert context_rows(untrained_lm, "c", lone, [(z, z + 1, "literal")], [(z, z + 1)], 4) == ([], [])


def test_context_drafts_is_validated():
    with pytest.raises(ConfigError, match="context_drafts"):
        SamplerConfig(context_drafts=-1)
    with pytest.raises(ConfigError, match="context_sweep"):
        SamplerConfig(context_sweep=65)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
@pytest.mark.parametrize("drafts,sweep", [(0, 0), (16, 0), (0, 16)])
def test_a_context_draft_that_passes_is_kept_and_counted(untrained_lm, monkeypatch, drafts, sweep):
    """The model's drafts all fail the compiler (an int where a struct is returned); a fragment of the
    program (``p`` or ``q``) passes: with context drafts a round keeps it, with the sweep the fragments are checked
    after the last round, and the record counts it either way; with neither the hole gets the fallback."""
    from treediff.sample import remask as rm

    template, code, spans = _template(C_MIRROR, "c", "0")

    def failing_round(lm, language, code, regions, holes, config, generator, counts):
        return [["0"] * len(regions), ["1"] * len(regions)], [-1.0, -2.0], counts

    monkeypatch.setattr(rm, "redo_round", failing_round)
    config = SamplerConfig(context_drafts=drafts, context_sweep=sweep, max_rounds=2)
    out = rm.remask(untrained_lm, "c", code, spans, template.holes, config, torch.Generator().manual_seed(0),
                    given=template.source)
    s, e = out.spans[0]
    fill = out.code.encode()[s:e].decode()
    if drafts:
        assert out.verdict.ok and fill in {"p", "q"}
        assert out.num_context == 1 and out.num_fallback == 0 and out.rounds == 1
    elif sweep:  # both rounds fail; then the sweep's first passing fragment
        assert out.verdict.ok and fill in {"p", "q"}
        assert out.num_context == 1 and out.num_fallback == 0 and out.rounds == 2
    else:  # the typed fallback: a compound literal of the function's return type
        assert out.verdict.ok and fill == "(struct point){0}"
        assert out.num_context == 0 and out.num_fallback == 1 and out.rounds == 2
