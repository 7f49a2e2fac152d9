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


_ITEMS = {
    "javascript": "function f{i}(a) {{\n  return g(a, {i});\n}}\n",
    "c": "int f{i}(int a) {{\n  return g(a, {i});\n}}\n",
    "go": "func f{i}(a int) int {{\n\treturn g(a, {i})\n}}\n",
    "rust": "fn f{i}(a: i32) -> i32 {{\n    g(a, {i})\n}}\n",
}


@pytest.mark.parametrize("language", sorted(_ITEMS))
def test_the_parse_window_gives_a_fresh_sessions_verdicts(language):
    """After many finished top-level items the session parses only from the last of them (the window); its
    verdicts, also after an edit that reaches back before the window, are those of a fresh session."""
    grammar = TreeSitterGrammar.for_language(language)
    src = "".join(_ITEMS[language].format(i=i) for i in range(6))
    session = grammar.session()
    texts = [src[:cut] + tail for cut in range(len(src) // 2, len(src), 7) for tail in ("", " )]", "}")]
    first = src.index("return") if "return" in src else src.index("g(")
    texts += [src[:first] + "= )", src[:first] + "g(", src + "int", src[:first + 4]]  # back before the window
    for text in texts:
        assert session.viable(text) == grammar.session().viable(text), (language, text[-40:])
        assert session.complete(text) == grammar.session().complete(text), (language, text[-40:])
    session = grammar.session()
    session.viable(src[: len(src) - 6])
    session.viable(src[: len(src) - 5])
    assert session.parse_start > 0  # the parse did leave the finished items out


def test_brackets_after_a_hidden_token_are_seen_by_the_incremental_walk():
    """Go ends a line after ``}`` with a hidden newline token, where tree-sitter's ``goto_first_child_for_byte``
    gives up: the bracket walk from the last mark must still see the stray ``)]`` (it once accepted them)."""
    grammar = TreeSitterGrammar.for_language("go")
    session = grammar.session()
    head = "func f(a int) int {\n\treturn g(a, 1)\n}\n"
    assert session.complete(head)
    for tail in (" )]", "}", ")"):
        assert not session.viable(head + tail), tail


_CLOSERS = (")", "]", "}", " )]", "})", ");", "x)", "1]", "\n}", ") {")
_TRICKY = {
    "typescript": ["type U = string |", "let s = `a\n  (${f(1)}", "class A {\n  m() {\n    return x // ("],
    "javascript": ["const s = `line\n(", "f(/[(]/", "const o = {\n  a: [1, 2",
                   # a comment between a call and the line that goes on with it: the parse window once started
                   # at the comment, and `.run(` read as a new statement was refused
                   "var a = 1;\nvar b = 2;\nvar c = 3;\nsuite.add(function () {\n  f(a);\n})\n  // run async\n"
                   "  .run({ async: true });\n"],
    "cpp": ["#define X(a) (a\n", "#if defined(X)\nint f() {\n  return (1\n#endif", "[[nodiscard]] int f() {\n  g(x["],
    "c": ["#define X 0x10\n", "int f(void) {\n  /* ( */ return g(1", "char c = '('; int g() { return ("],
    "rust": ["fn f() {\n    let s = \"a\n(", "fn g() {\n    let v = vec![(1", "fn h<'a>(x: &'a str) {\n    x.len("],
    "go": ["package p\n\nvar s = `raw\n(", "package p\n\nfunc f() {\n\tg(h(1", "package p\n\nvar r = '('"],
    "java": ["class A {\n  char c = '(';\n  int f() { return g(1", "class A {\n  String s = \"(\"",
             "class A {\n  /** ( */"],
    "tsx": ["let s = `(\n${x", "f(a, [1"],  # (JSX text, `<div>(</`, still differs: docs/benchmarks.md)
}


@pytest.mark.parametrize("language", TS_LANGS)
def test_closers_after_literals_get_a_fresh_sessions_verdict(language):
    """One session asked as the sampler asks (closers after every leaf of a program, then the prefix itself) gives
    a fresh session's verdicts, also after strings, comments, templates, preprocessor lines and operators a
    closer could lex into (`|}`)."""
    grammar = TreeSitterGrammar.for_language(language)
    session = grammar.session()
    for src in _programs(language) + _TRICKY[language]:
        for cut in sorted({leaf.span[1] for leaf in parse(src, language).leaves()} | {len(src)}):
            head = src.encode()[:cut].decode("utf-8", "replace")
            for c in _CLOSERS:
                assert session.viable(head + c) == grammar.session().viable(head + c), (language, head[-30:], c)
            session.viable(head)


def test_an_open_string_over_lines_leaves_no_stale_bracket_marks():
    """A Rust string may span lines: a candidate that puts `}` on a new line after `"fatal: {}` is parsed with the
    string open, and a parse without the string's end sees its `{` as a bracket.  The marks of that parse once
    survived the next edit (only marks after the first changed byte were dropped, not those of the nodes the
    reparse changed), and the session then refused viable prefixes for the rest of the file: 1,784 of 93,792
    guard-like queries in one held-out Rust file differed from a fresh session's verdict, 0 after."""
    grammar = TreeSitterGrammar.for_language("rust")
    src = ('macro_rules! abort {\n    ($($t:tt)*) => {\n        {\n            print!("fatal: {}\\n", '
           'format_args!($($t)*));\n            crate::abort();\n        }\n    }\n}\n')
    session = grammar.session()
    for cut in sorted({leaf.span[1] for leaf in parse(src, "rust").leaves()}):
        for c in _CLOSERS + ("\n}", ")\n", "} else {"):
            assert session.viable(src[:cut] + c) == grammar.session().viable(src[:cut] + c), (src[:cut][-30:], c)
        assert session.viable(src[:cut])


@pytest.mark.parametrize("language", ["javascript", "typescript", "tsx"])
def test_every_prefix_of_nested_template_literals_is_viable(language):
    """A template inside a template's `${...}` (`${u ? ` (${u})` : ''}`): the lexical open-literal test once paired
    the backticks in order, cut the text inside the code and refused six valid prefixes of a held-out npm file;
    it now follows `${...}` (``[prefix_guard] templates``)."""
    grammar = TreeSitterGrammar.for_language(language)
    src = "function f(name, e, u) {\n  return `${name}${e ? ` <${e}>` : ''}${u ? ` (${u})` : ''}`\n}\n"
    assert not parse(src, language).ts_tree.root_node.has_error
    session = grammar.session()
    for cut in sorted({leaf.span[1] for leaf in parse(src, language).leaves()}):
        assert session.viable(src[:cut]) and grammar.session().viable(src[:cut]), (language, src[:cut][-30:])
