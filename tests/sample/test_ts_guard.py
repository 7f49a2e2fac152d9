"""The sampler's guard over the tree-sitter prefix guard (languages without a lark grammar)."""

from __future__ import annotations

import numpy as np

from treediff.sample.constraints import GrammarGuard, guard_grammar_for


def test_guard_refuses_a_stray_closer_in_java(untrained_lm):
    lm = untrained_lm
    head = "class A {\n  int f() {\n    return 1"
    ids = np.array(lm.encode(head, "java") + [lm.mask_id] * 3)
    masked = np.zeros(len(ids), dtype=bool)
    masked[-3:] = True
    guard = GrammarGuard(lm, guard_grammar_for("java"), masked[None].copy(), 0, len(ids), language="java",
                         horizon=0)
    pos = int(np.flatnonzero(masked)[0])
    close, semi = lm.encode(")", "java"), lm.encode(";", "java")
    assert len(close) == 1 and len(semi) == 1
    assert guard(0, pos, [close[0], semi[0]], ids, masked)
    assert lm.text_of(ids[: pos + 1]) == head + ";"
