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


def _hole_row(lm, head: str, n_masks: int, after: str, language: str):
    ids = np.array(lm.encode(head, language) + [lm.mask_id] * n_masks + lm.encode(after, language))
    masked = np.zeros(len(ids), dtype=bool)
    start = len(lm.encode(head, language))
    masked[start:start + n_masks] = True
    return ids, masked


def test_a_hole_inside_a_program_closes_what_it_opened(untrained_lm):
    """A model that always ranks ``(`` first: without the closing horizon the hole's brackets stay open and
    the program cannot complete; with it, the hole's last positions take a token that keeps the opened
    brackets closable, then the grammar's closer (counted as forced), and the program is complete."""
    lm = untrained_lm
    head, after = "class A {\n  int f(int x) {\n    return ", ";\n  }\n}\n"
    opener, name = lm.encode("(", "java"), lm.encode("x", "java")
    assert len(opener) == 1 and len(name) == 1
    results = {}
    for horizon in (0, 4):
        ids, masked = _hole_row(lm, head, 3, after, "java")
        guard = GrammarGuard(lm, guard_grammar_for("java"), masked[None].copy(), 0, len(ids), language="java",
                             horizon=horizon)
        for pos in np.flatnonzero(masked):
            guard(0, int(pos), [opener[0], name[0]], ids, masked)
        results[horizon] = (lm.text_of(ids[ids != lm.end_id]), guard.stats.num_forced)
    assert results[4] == (head + "(x)" + after, 1)
    text0 = results[0][0]
    assert text0 != results[4][0] and not guard.sessions[0].complete(text0)


def test_a_hole_closes_no_bracket_opened_before_it(untrained_lm):
    """A statement hole in a Java method whose model ranks `}` first: `}` would end the method (and `{` after
    it open a block the method's own `}` closes, a program tree-sitter accepts but no compiler wants: held-out
    TypeScript drafts `}\\n{` and `} {;`).  With ``closed_holes`` the guard takes the model's next candidate;
    without it (repair, which may restore a deleted closer), the `}` stands."""
    lm = untrained_lm
    head, after = "class A {\n  void f() {\n    ", "\n  }\n}\n"
    close, opener, semi = lm.encode("}", "java"), lm.encode("{", "java"), lm.encode(";", "java")
    assert len(close) == len(opener) == len(semi) == 1
    texts = {}
    for rule in (True, False):
        ids, masked = _hole_row(lm, head, 2, after, "java")
        guard = GrammarGuard(lm, guard_grammar_for("java"), masked[None].copy(), 0, len(ids), language="java",
                             horizon=0, closed_holes=rule)
        for pos in np.flatnonzero(masked):
            guard(0, int(pos), [close[0], opener[0], semi[0]], ids, masked)
        texts[rule] = lm.text_of(ids[ids != lm.end_id])
    assert texts[False] == head + "}{" + after
    assert texts[True] == head + "{}" + after  # the second `}` closes the hole's own `{`
    assert guard.sessions[0].complete(texts[True])


def test_a_word_glued_onto_a_keyword_must_start_a_name_of_the_program(untrained_lm):
    """`return` + `1` is the identifier `return1`, which parses (`{ return1; }`) but names nothing: the guard
    refuses it and takes the model's next candidate.  The syntax-aligned tokenizer writes `returnValue` as
    `return` + `Value`, so where the program holds that name the glue stands; and without the rule, `return1`."""
    lm = untrained_lm
    one, space, value = lm.encode("1", "java"), lm.encode(" ", "java"), lm.encode("Value", "java")
    kw = lm.encode("return", "java")
    assert len(one) == len(space) == len(value) == len(kw) == 1
    texts = {}
    for name, rule, field in (("on", True, "x"), ("off", False, "x"), ("named", True, "returnValue")):
        head = "class A {\n  int " + field + " = 1;\n  int f() {\n    return"
        ids = np.array(lm.encode(head, "java") + [lm.mask_id] + lm.encode(";\n  }\n}\n", "java"))
        masked = np.zeros(len(ids), dtype=bool)
        pos = len(lm.encode(head, "java"))
        assert lm.token_text(int(ids[pos - 1])) == "return"
        masked[pos] = True
        guard = GrammarGuard(lm, guard_grammar_for("java"), masked[None].copy(), 0, len(ids), language="java",
                             horizon=0, glued_keywords=rule)
        guard(0, pos, [one[0], value[0], space[0]], ids, masked)
        texts[name] = lm.token_text(int(ids[pos]))
    assert texts == {"on": " ", "off": "1", "named": "Value"}
