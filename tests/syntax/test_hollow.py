"""Hollow fills (treediff.syntax.hollow): a statement or block fill that parses but holds no code."""

import pytest

from treediff.syntax import list_languages
from treediff.syntax.hollow import hollow_fills, hollow_text, hollow_words


def _span(code: str, fill: str) -> tuple[int, int]:
    data, part = code.encode(), fill.encode()
    start = data.index(part)
    return start, start + len(part)


@pytest.mark.parametrize("language, code, fill, hollow", [
    ("java", "class A {\n    void f() {\n        return;\n    }\n}\n", "{\n        return;\n    }", True),
    ("java", "class A {\n    int f() {\n        return 0;\n    }\n}\n", "{\n        return 0;\n    }", False),
    ("java", "class A {\n    void f() {\n        // just a note\n    }\n}\n", "{\n        // just a note\n    }",
     True),
    ("rust", "fn f() -> u8 {\n    //fmt::fmt::::\"\")  { { ::::new\n}\n", "{\n    //fmt::fmt::::\"\")  { { ::::new\n}",
     True),
    ("rust", "fn f() {\n\n}\n", "{\n\n}", True),
    ("rust", "fn f() -> u8 {\n    0\n}\n", "{\n    0\n}", False),
    ("typescript", "function f(): boolean { return  \n}\n", "{ return  \n}", True),
    ("typescript", "function f() { { ' '}\n}\n", "{ { ' '}\n}", True),  # a literal alone does nothing
    ("typescript", "function f() { return ' '\n}\n", "{ return ' '\n}", False),  # a literal is a value
    ("go", "package p\n\nfunc f() {\n\t/* later */\n}\n", "{\n\t/* later */\n}", True),
    ("go", "package p\n\nfunc f() {\n\tfor {\n\t\tbreak\n\t}\n}\n", "{\n\t\tbreak\n\t}", False),
    ("c", "int f(void) { ; ; }\n", "{ ; ; }", True),
    ("cpp", "int f() { return x++; }\n", "{ return x++; }", False),
    ("javascript", "function f() {\n  return;\n}\n", "{\n  return;\n}", True),
    ("python", "def f():\n    pass\n", "pass", True),
    ("python", "def f():\n    return ''\n", "return ''", False),
    ("python", "def f():\n    ...\n", "...", True),
    ("python", 'def f():\n    """Doc."""\n', '"""Doc."""', True),
])
def test_a_fill_of_comments_brackets_and_bare_returns_is_hollow(language, code, fill, hollow):
    assert hollow_text(code, language, _span(code, fill)) is hollow


def test_only_statement_and_block_fills_can_be_hollow():
    code = "int f(void) { return; }\n"
    a, b = _span(code, "{ return; }")
    assert hollow_fills(code, "c", [(a, b), (a, b)], ["block", "statement"]) == (True, True)
    assert hollow_fills(code, "c", [(a, b)], ["expression"]) == (False,)


@pytest.mark.parametrize("language", [lang.name for lang in list_languages()])
def test_every_language_says_which_words_make_no_code(language):
    assert b"return" in hollow_words(language)
