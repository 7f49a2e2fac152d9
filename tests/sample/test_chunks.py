"""Code longer than the model: blocks of lines that stand alone, infilled one block at a time."""

from __future__ import annotations

from treediff.sample import infill
from treediff.sample.chunks import _reindented, blocks_around, shift
from treediff.validity import check


def test_blocks_grow_from_the_statement_to_the_module():
    lines = "x = 1\nclass A:\n    def f(self):\n        if x:\n            return 1\n        return 2\n".splitlines(True)
    got = [(top, end) for top, end, _ in blocks_around(lines, 4)]
    assert got == [(4, 5), (3, 5), (2, 6), (1, 6)]
    got = [(top, end) for top, end, _ in blocks_around(lines, 4, siblings=1)]
    assert got == [(4, 5), (3, 5), (3, 6), (2, 6), (1, 6)]  # (3, 6): the `if` with its next sibling
    # a closing bracket at the statement's depth belongs to it; blank lines inside are kept, at the end dropped
    lines = "def f():\n    y = g(\n        1,\n    )\n\n    return y\n\n".splitlines(True)
    assert next(blocks_around(lines, 1))[:2] == (1, 4)
    assert list(blocks_around(lines, 5))[-1][:2] == (0, 6)


def test_shift_round_trips_and_positions_follow():
    text = "def f():\n\n    return 1\n"
    moved = shift(text, "    ", remove=False)
    assert shift(moved, "    ", remove=True) == text
    for pos in range(len(text)):
        assert moved[_reindented(text, pos, "    ")] == text[pos] or text[pos] == "\n"


def test_holes_of_a_long_class_are_filled_in_their_methods(untrained_lm):
    methods = "".join(f"    def m{i}(self, x):\n        return x + {i}\n\n" for i in range(60))
    code = ("class A:\n" + methods.replace("return x + 7\n", "return <|hole:expression|>\n")
            .replace("return x + 40\n", "return x + 40\n        <|hole:statement|>\n") + "print(A)\n")
    assert len(untrained_lm.encode(code, "python")) > untrained_lm.max_length
    r = infill(code, "python", model=untrained_lm)
    assert r.record.ok and check(r.code, "python").ok
    assert r.record.extra["chunks"] >= 1
    assert [h.category for h in r.holes] == ["expression", "statement"]
    data = r.code.encode("utf-8")
    for h in r.holes:
        assert data[h.span[0]:h.span[1]].decode() == h.text
        assert h.category_ok
    assert r.code.endswith("print(A)\n") and "    def m59(self, x):\n        return x + 59\n" in r.code
    assert r.code.splitlines()[1 + 3 * 7] == "    def m7(self, x):"
    assert r.code.splitlines()[2 + 3 * 7].startswith("        return ")  # m7's body, indented back in place
