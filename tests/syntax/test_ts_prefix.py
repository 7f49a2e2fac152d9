"""The incremental tree-sitter prefix guard (treediff.syntax.ts_prefix) in every language without a lark grammar."""

from __future__ import annotations

import pytest

from treediff.errors import GrammarError
from treediff.sample.constraints import grammar_for, guard_grammar_for
from treediff.syntax.language import HOLE_MARKER, get_language
from treediff.syntax.tree import parse
from treediff.syntax.ts_prefix import GuardSpec, TreeSitterGrammar

TS_LANGS = ("c", "cpp", "go", "java", "javascript", "rust", "typescript", "tsx")


def _programs(language: str) -> list[str]:
    """Small valid programs of the language: its hole contexts with their fillers (checked error-free)."""
    lang = get_language(language)
    out = []
    for cat, ctx in lang.hole_contexts.items():
        out.append(ctx.replace(HOLE_MARKER, lang.filler(cat)))
    assert len(out) >= 5
    return out


@pytest.mark.parametrize("language", TS_LANGS)
def test_every_prefix_of_a_valid_program_is_viable_and_the_program_complete(language):
    grammar = TreeSitterGrammar.for_language(language)
    assert grammar is not None and grammar_for(language) is None and guard_grammar_for(language) is grammar
    for src in _programs(language):
        assert not parse(src, language).ts_tree.root_node.has_error
        session = grammar.session()
        for cut in range(1, len(src) + 1):  # one character at a time: the incremental path
            assert session.viable(src[:cut]), (language, src[:cut])
        assert session.complete(src), (language, src)


@pytest.mark.parametrize("language,bad", [("java", "class A { int x = 1 ); }"), ("c", "int f() { return 1; }}"),
                                          ("rust", "fn f() { let x = [1, 2); }"), ("go", "package main\nfunc f() { x := (1] }"),
                                          ("typescript", "let x = f(1 2, ); let y = 1;"),
                                          ("java", "class A { void f() { int x = = 3; } }")])
def test_an_error_no_suffix_repairs_is_refused(language, bad):
    assert not TreeSitterGrammar.for_language(language).session().viable(bad)


def test_open_end_errors_are_accepted_and_closing_text_completes():
    s = TreeSitterGrammar.for_language("java").session()
    head = "class A {\n  int f() {\n    return g(1"
    assert s.viable(head) and not s.complete(head)
    closing = s.closing_suffix(head)
    assert closing == ");\n}\n}" and s.complete(head + closing)
    assert s.viable('class A { String s = "unterminated') and s.swallows('class A { String s = "ab')
    assert s.swallows("class A { /* open") and not s.swallows('class A { String s = "a";')
    assert s.closing_suffix("class A { int x = 1 ); }") is None


def test_template_substitution_brackets_match():
    s = TreeSitterGrammar.for_language("javascript").session()
    assert s.complete("const s = `a ${f(1)} b`;\n")


def test_bad_table_is_one_grammar_error():
    with pytest.raises(GrammarError, match="unknown keys"):
        GuardSpec.from_table({"bracket": ["()"]}, "x.toml")
    with pytest.raises(GrammarError, match="two characters"):
        GuardSpec.from_table({"brackets": ["((("]}, "x.toml")
