"""Typed holes: markers, spans and selectors become a HoleTemplate; fills are checked in context."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treediff.errors import InputError, NotFound
from treediff.syntax.holes import (
    HOLE_PATTERN,
    Hole,
    HoleTemplate,
    enclosing_region,
    fill_parses_as,
    filler,
    find_holes,
)
from treediff.syntax import get_language, list_languages, parse
from treediff.syntax.language import HOLE_MARKER

LANGUAGES = list_languages()


def cats(template: HoleTemplate) -> list[str]:
    return [h.category for h in template.holes]


def span_of(code: str, text: str, occurrence: int = 0) -> tuple[int, int]:
    data = code.encode()
    start = -1
    for _ in range(occurrence + 1):
        start = data.index(text.encode(), start + 1)
    return start, start + len(text.encode())


# -- markers -------------------------------------------------------------------------
def test_hole_pattern_matches_both_forms_only():
    assert [m.group("category") for m in HOLE_PATTERN.finditer("<|hole|> <|hole:block|> <hole> <|hole")] == [
        None,
        "block",
    ]


def test_marker_offsets_refer_to_code_without_markers():
    code = 's = "é"\n<|hole|>\nx = f(<|hole:expression|>, <|hole|>)\n'
    t = find_holes(code, "python")
    assert t.source == HOLE_PATTERN.sub("", code).encode()
    assert b"<|" not in t.source
    first, second, third = t.holes
    assert (first.start, first.end) == (9, 9)  # "é" is two bytes
    assert t.source[second.start - 2 : second.start] == b"f("
    assert t.source[third.start - 2 : third.start] == b", "
    assert [h.index for h in t.holes] == [0, 1, 2]
    assert all(h.original is None and h.start == h.end for h in t.holes)
    assert cats(t) == ["statement", "expression", "expression"]
    assert t.prefix(1).endswith(b"f(") and t.suffix(1).startswith(b", ")


def test_fill_returns_code_and_byte_spans():
    t = find_holes("def f():\n    <|hole|>\n    return <|hole|>\n", "python")
    code, spans = t.fill(["é = 1", "é"])
    assert code == "def f():\n    é = 1\n    return é\n"
    data = code.encode()
    assert [data[s:e].decode() for s, e in spans] == ["é = 1", "é"]
    with pytest.raises(InputError, match="one fill per hole \\(2\\), got 1 fills"):
        t.fill(["x"])
    with pytest.raises(InputError, match="a single string"):
        t.fill("xy")


def test_minimal_fillers_indent_multi_line_fills():
    t = find_holes("class A:\n    <|hole:definition|>\n", "python")
    assert t.holes[0].indent == "    "
    code, spans = t.fill(t.fillers())
    assert code == "class A:\n    def _():\n        pass\n"
    assert fill_parses_as("python", code, spans[0], "definition")


@pytest.mark.parametrize(
    ("language", "code", "expected"),
    [
        ("python", "def f():\n    <|hole|>\n", ["statement"]),
        ("python", "x = <|hole|>\n", ["expression"]),
        ("python", "print(<|hole|>)\n", ["expression"]),
        ("python", "x = (\n    <|hole|>\n)\n", ["expression"]),
        ("python", "while x: <|hole|>\n", ["block"]),
        ("python", "def <|hole|>(): pass\n", ["identifier"]),
        ("python", "def f(x):\n    <|hole|>\n    return <|hole|>\n", ["statement", "expression"]),
        ("javascript", "function f() {\n  <|hole|>\n}\n", ["statement"]),
        ("javascript", "function f() { <|hole|> }\n", ["statement"]),
        ("javascript", "function f() <|hole|>\n", ["block"]),
        ("javascript", "if (x) <|hole|>\n", ["block"]),
        ("javascript", "const y = <|hole|>;\n", ["expression"]),
        ("javascript", "f(<|hole|>, <|hole|>);\n", ["expression", "expression"]),
        ("javascript", "function <|hole|>() {}\n", ["identifier"]),
        ("java", "class C {\n  void f() <|hole|>\n}\n", ["block"]),
    ],
)
def test_category_inference_uses_context(language, code, expected):
    t = find_holes(code, language)
    assert cats(t) == expected
    filled, spans = t.fill(t.fillers())
    assert all(fill_parses_as(language, filled, s, h.category) for s, h in zip(spans, t.holes))


def test_explicit_marker_category_wins():
    t = find_holes("def f():\n    <|hole:block|>\n", "python")
    assert cats(t) == ["block"]


@pytest.mark.parametrize(
    ("code", "match"),
    [
        ("x = 1\n", "code has no holes: mark one with <\\|hole\\|>.*or pass spans= / select="),
        ("x = <|hole:lambda|>\n", "hole:lambda.*no hole category 'lambda'; choose one of: block, .*statement"),
        ("x = <|hole:foo bar|>\n", "malformed hole marker '<\\|hole:foo bar\\|>"),
    ],
)
def test_marker_errors(code, match):
    with pytest.raises(InputError, match=match):
        find_holes(code, "python")


# -- spans ---------------------------------------------------------------------------
def test_span_categories_come_from_the_node_they_cover():
    code = "def f(x):\n    y = x + 1\n    z = 2\n    return y\n"
    spans = [(4, 5), span_of(code, "x + 1"), span_of(code, "2"), span_of(code, "return y\n")]
    t = find_holes(code, "python", spans=spans)
    assert t.source == code.encode()
    assert cats(t) == ["identifier", "expression", "literal", "statement"]
    assert [h.original for h in t.holes] == ["f", "x + 1", "2", "return y\n"]
    assert t.holes[3].indent == "    "
    assert t.fill([h.original for h in t.holes])[0] == code


def test_span_run_of_statements_is_a_statement_hole_and_whole_body_a_statement_block():
    code = "def f(x):\n    y = x + 1\n    z = 2\n    return y\n"
    run = (span_of(code, "y = x")[0], span_of(code, "z = 2")[1])
    assert cats(find_holes(code, "python", spans=[run])) == ["statement"]
    js = "function f() {\n  a();\n  b();\n}\n"
    assert cats(find_holes(js, "javascript", spans=[span_of(js, "{\n  a")[:1] + (len(js) - 1,)])) == ["block"]
    assert cats(find_holes(js, "javascript", spans=[(span_of(js, "a()")[0], span_of(js, "b();")[1])])) == [
        "statement"
    ]


def test_span_with_explicit_category_and_empty_span():
    code = "x = 1\n\ny = 2\n"
    t = find_holes(code, "python", spans=[(4, 5, "expression"), (6, 6)])
    assert cats(t) == ["expression", "statement"]
    assert t.holes[1].original == ""
    assert find_holes(code, "python", spans=(4, 5)).holes[0].category == "literal"  # one bare span


@pytest.mark.parametrize(
    ("spans", "match"),
    [
        ([(4, 99)], "span \\(4, 99\\) is outside the code: need 0 <= start <= end <= 12"),
        ([(5, 4)], "span \\(5, 4\\) is reversed"),
        ([(0, 5), (4, 5)], "holes overlap: \\(0, 5\\) and \\(4, 5\\)"),
        ([(2, 5)], "span \\(2, 5\\) '= 1' is not exactly one syntax node.*category one of: block"),
        ([(4, 5, "lambda")], "no hole category 'lambda'; choose one of"),
        ([(4,)], "must be \\(start, end\\) or \\(start, end, category\\)"),
        ([], "code has no holes"),
    ],
)
def test_span_errors(spans, match):
    with pytest.raises(InputError, match=match):
        find_holes("x = 1\ny = 2\n", "python", spans=spans)


def test_spans_take_code_literally():
    code = 'x = "<|hole|>"\n'
    t = find_holes(code, "python", spans=[(0, 1)])
    assert t.source == code.encode() and cats(t) == ["identifier"]


# -- selectors -----------------------------------------------------------------------
PY = "def f(x):\n    return g(h(x))\n\n\ndef g(y):\n    if y:\n        return 1\n    return 2\n"
JS = "function f(x) {\n  return x + 1;\n}\nclass K {\n  m() { return 2; }\n}\n"


def test_select_body_of_function_in_python():
    t = find_holes(PY, "python", select="function_definition:g.body")
    (hole,) = t.holes
    assert hole.category == "block"
    assert hole.original == "if y:\n        return 1\n    return 2"
    assert hole.indent == "    "
    alias = find_holes(PY, "python", select="body of g")
    assert alias.holes == t.holes
    code, spans = t.fill(t.fillers())
    assert code == "def f(x):\n    return g(h(x))\n\n\ndef g(y):\n    pass\n"
    assert fill_parses_as("python", code, spans[0], "block")


def test_select_body_of_in_javascript_function_and_method():
    t = find_holes(JS, "javascript", select=["body of f", "body of m"])
    assert [h.original for h in t.holes] == ["{\n  return x + 1;\n}", "{ return 2; }"]
    assert cats(t) == ["block", "block"]
    assert find_holes(JS, "js", select="function_declaration:f.body").holes[0] == t.holes[0]


def test_select_body_of_in_c_follows_declarators():
    code = "int *f(int x) { return 0; }\n"
    assert find_holes(code, "c", select="body of f").holes[0].original == "{ return 0; }"


def test_select_nested_matches_keep_outermost_and_nth_picks_one():
    assert [h.original for h in find_holes(PY, "python", select="call").holes] == ["g(h(x))"]
    assert [h.original for h in find_holes(PY, "python", select="call#1").holes] == ["h(x)"]
    stmts = find_holes(PY, "python", select="statement")
    assert [h.original.split("\n")[0] for h in stmts.holes] == ["def f(x):", "def g(y):"]
    second = find_holes(PY, "python", select="return_statement#1")
    assert second.holes[0].original == "return 1" and cats(second) == ["statement"]
    assert cats(find_holes(PY, "python", select="expression#0")) == ["expression"]


@pytest.mark.parametrize(
    ("select", "error", "match"),
    [
        ("body of nope", NotFound, "no definition named 'nope'.*available: f, g"),
        ("function_definition:nope", NotFound, "no function_definition named 'nope'; available: f, g"),
        ("function_definition.bdy", NotFound, "has no field 'bdy'; its fields: body, name, parameters"),
        ("return_statement#9", NotFound, "#9 is out of range; 3 matches \\(#0..#2\\)"),
        ("while_statement", NotFound, "no while_statement in the code"),
        ("functon_definition", InputError, "not a python node kind; did you mean function_definition"),
        ("function_definition::f", InputError, "unknown selector syntax 'function_definition::f'; use KIND"),
        ("function_definition:f.parameters", InputError, "picks a parameters, which has no hole category"),
    ],
)
def test_selector_errors(select, error, match):
    with pytest.raises(error, match=match):
        find_holes(PY, "python", select=select)


def test_overlapping_selectors_are_an_error_duplicates_are_not():
    assert len(find_holes(PY, "python", select=["body of f", "function_definition:f.body"]).holes) == 1
    with pytest.raises(InputError, match="holes overlap"):
        find_holes(PY, "python", select=["body of g", "return_statement#1"])


# -- fill_parses_as ------------------------------------------------------------------
def check(language: str, template: str, fill: str, category: str) -> bool:
    before, after = template.split(HOLE_MARKER)
    start = len(before.encode())
    return fill_parses_as(language, before + fill + after, (start, start + len(fill.encode())), category)


@pytest.mark.parametrize(
    ("language", "template", "fill", "category", "expected"),
    [
        ("python", "def f():\n    {hole}\n", "x + 1", "statement", True),  # expression statement
        ("python", "def f():\n    {hole}\n    return 1\n", "a = 1\n    b = 2", "statement", True),  # a run
        ("python", "def f():\n    {hole}\n", "a = 1\n    b = 2", "block", True),
        ("python", "def f():\n    {hole}\n", "  x = 1  \n", "statement", True),  # whitespace ignored
        ("python", "def f():\n    return {hole}\n", "x = 1", "expression", False),
        ("python", "y = [{hole}]\n", "x = 1", "expression", False),
        ("python", "y = {hole}\n", "a +", "expression", False),
        ("python", "y = {hole} * 2\n", "a + b", "expression", False),  # precedence moves the node
        ("python", "y = {hole} * 2\n", "(a + b)", "expression", True),
        ("python", "y = {hole}\n", "f(a)", "statement", False),
        ("python", "y = {hole}\n", "a", "identifier", True),
        ("python", "y = 1\n{hole}\n", "", "statement", True),  # a statement hole may close empty
        ("python", "y = {hole}\n", "", "expression", False),
        ("javascript", "function f() {\n  {hole}\n}\n", "", "statement", True),
        ("javascript", "function f() {\n  {hole}\n}\n", "a(); b();", "statement", True),
        ("javascript", "function f() {\n  {hole}\n}\n", "a()", "expression", True),
        ("javascript", "if (x) {hole}\n", "{ a(); b(); }", "block", True),
        ("javascript", "if (x) {hole}\n", "a(); b();", "block", False),  # b() falls outside the if
        ("javascript", "let y = {hole};\n", "a ? b : c", "expression", True),
        ("javascript", "let y = {hole};\n", "a +", "expression", False),
        ("javascript", "let y = {hole};\n", "", "block", False),
    ],
)
def test_fill_parses_as(language, template, fill, category, expected):
    assert check(language, template, fill, category) is expected


def test_fill_parses_as_rejects_bad_arguments():
    with pytest.raises(InputError, match="unknown category 'stmt'"):
        fill_parses_as("python", "x\n", (0, 1), "stmt")
    with pytest.raises(InputError, match="outside the code"):
        fill_parses_as("python", "x\n", (0, 5), "expression")


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.name)
def test_every_filler_fills_its_typed_hole_in_context(language):
    for category, template in language.hole_contexts.items():
        t = find_holes(template.replace(HOLE_MARKER, f"<|hole:{category}|>"), language)
        code, spans = t.fill(t.fillers())
        assert fill_parses_as(language, code, spans[0], category), f"{language.name} {category}: {code!r}"
        bare = find_holes(template.replace(HOLE_MARKER, "<|hole|>"), language)
        code, spans = bare.fill(bare.fillers())
        assert fill_parses_as(language, code, spans[0], bare.holes[0].category), f"{language.name}: {code!r}"


# -- enclosing_region ----------------------------------------------------------------
def test_enclosing_region_on_broken_python_statement():
    code = "def f():\n    x = (1 +\n    return x\n"
    tree = parse(code, "python")
    within = span_of(code, "x = (1 +\n    return x")
    regions = {enclosing_region(tree, n.start_byte, n.end_byte, within=within) for n in tree.errors()}
    assert regions == {span_of(code, "x = (1 +")}
    (s, e), = regions
    assert within[0] <= s < e <= within[1]
    only = enclosing_region(tree, *span_of(code, "+"), within=within, categories=("statement",))
    assert only == span_of(code, "x = (1 +")


def test_enclosing_region_in_javascript_picks_the_smallest_covering_node():
    code = "function f() {\n  let a = g(1 +);\n  return a;\n}\n"
    tree = parse(code, "javascript")
    within = span_of(code, "let a = g(1 +);\n  return a;")
    bad = next(tree.errors())
    s, e = enclosing_region(tree, bad.start_byte, bad.end_byte, within=within)
    assert within[0] <= s < e <= within[1] and s <= bad.start_byte and bad.end_byte <= e
    s, e = enclosing_region(tree, bad.start_byte, bad.end_byte, within=within, categories=("statement",))
    assert code.encode()[s:e] == b"let a = g(1 +);"


def test_enclosing_region_clamps_and_never_returns_empty():
    code = "def f():\n    return g(1, 2)\n"
    tree = parse(code, "python")
    one = span_of(code, "1")
    assert enclosing_region(tree, *one, within=(0, len(code))) == one  # an integer is an expression
    inner = span_of(code, "1, 2")
    assert enclosing_region(tree, *one, within=inner, categories=("statement",)) == inner
    assert enclosing_region(tree, 0, 3, within=inner) == inner  # problem outside: all of within
    assert enclosing_region(tree, *one, within=(5, 5)) == (5, 5)
    assert enclosing_region(tree, one[0], one[0], within=one) == one  # zero-width problem
    with pytest.raises(InputError, match="within=\\(0, 999\\) is outside the source"):
        enclosing_region(tree, 0, 1, within=(0, 999))
    with pytest.raises(InputError, match="unknown categories \\['stmt'\\]"):
        enclosing_region(tree, 0, 1, within=(0, 5), categories=("stmt",))


BROKEN = "def f(x):\n    y = (x +\n    return y * 2\n\n"


@given(*[st.integers(0, len(BROKEN))] * 4)
def test_enclosing_region_stays_inside_within(a, b, c, d):
    code = BROKEN
    tree = parse(code, "python")
    lo, hi = sorted((a, b))
    start, end = sorted((c, d))
    s, e = enclosing_region(tree, start, end, within=(lo, hi))
    assert lo <= s <= e <= hi
    assert (s < e) == (lo < hi)


# -- filler ----------------------------------------------------------------------------
def test_filler_indents_every_line_after_the_first():
    assert filler("python", "definition", indent="\t") == "def _():\n\t    pass"
    assert filler("javascript", "block", indent="    ") == "{}"
    assert filler(get_language("go"), "statement") == "_ = 0"
    with pytest.raises(InputError, match="no hole category 'lambda'"):
        filler("python", "lambda")


# -- invariants ------------------------------------------------------------------------
def test_template_validates_its_holes():
    lang = get_language("python")
    with pytest.raises(InputError, match="out of order or outside"):
        HoleTemplate(b"x = 1\n", lang, (Hole(0, 4, 9, "expression"),))


def test_deep_nesting_needs_no_recursion():
    depth = 10_000
    code = "x = " + "(" * depth + "<|hole|>" + ")" * depth + "\n"
    started = time.perf_counter()
    t = find_holes(code, "python")
    filled, spans = t.fill(t.fillers())
    assert cats(t) == ["expression"] and fill_parses_as("python", filled, spans[0], "expression")
    broken = parse("x = " + "(" * depth + "1 +" + ")" * depth + "\n", "python")
    bad = next(broken.errors())
    s, e = enclosing_region(broken, bad.start_byte, bad.end_byte, within=(4, len(broken.source) - 1))
    assert 4 <= s < e <= len(broken.source) - 1
    assert time.perf_counter() - started < 10
