"""Typed fallback fillers (issue 17): the filler comes from the hole's context and passes the compiler."""

from __future__ import annotations

import shutil

import pytest

from treediff import infill
from treediff.syntax.fillers import context_type, typed_fillers

JAVA = 'class A {\n    String s = "";\n    int n = 0;\n    void f() {\n        s += <|hole:expression|>;\n    }\n}\n'


def test_the_context_picks_the_filler():
    code = JAVA.replace("<|hole:expression|>", "1").encode()
    at = code.index(b"1;")
    assert context_type("java", code, at, at + 1) == "String"
    assert typed_fillers("java", code, at, at + 1, "expression")[0] == '""'  # not `null`: bad operand types
    rust = b"fn f() -> bool {\n    return 1;\n}\n"
    at = rust.index(b"1;")
    assert typed_fillers("rust", rust, at, at + 1, "expression")[:2] == ["false", "todo!()"]
    go = b"package main\n\nfunc f() string {\n\treturn 1\n}\n"
    at = go.index(b"1\n")
    assert typed_fillers("go", go, at, at + 1, "expression")[0] == '""'


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("javac") is None, reason="javac not installed")
def test_java_string_append_falls_back_to_a_string(untrained_lm):
    r = infill(JAVA, "java", model=untrained_lm, constraint="remask", max_rounds=0)
    assert r.record.ok and r.record.level.startswith("compiler")
    if r.record.fallback:
        assert "s += null" not in r.code
        assert r.record.extra["fallback_typed"] + r.record.extra["fallback_listed"] >= 1


@pytest.mark.parametrize("language, template", [
    ("java", "class A {\n    int f(int x) {hole}\n}\n"),
    ("go", "package main\n\nfunc f(x int) int {hole}\n\nfunc main() {}\n"),
    ("rust", "pub fn f(x: i32) -> i32 {hole}\n"),
    ("typescript", "export function f(x: number): number {hole}\n"),
])
def test_a_body_that_must_return_has_a_filler_that_compiles(language, template):
    # `{}` is "missing return" in a function that returns a value; the ordered list goes on to a body that
    # throws/panics, which the real compiler accepts (checked here when it is installed).
    from treediff.sample.record import check
    from treediff.syntax.fillers import typed_fillers

    a = template.index("{hole}")
    src = template.replace("{hole}", "{ return x; }")
    options = typed_fillers(language, src.encode(), a, a + len("{ return x; }"), "block")
    verdicts = [check(template.replace("{hole}", o), language) for o in options]
    if verdicts[0].level == "tree-sitter":
        pytest.skip(f"no compiler for {language} here: every filler only parses")
    assert not verdicts[0].ok and any(v.ok for v in verdicts[1:])


@pytest.mark.skipif(shutil.which("javac") is None, reason="javac not installed")
def test_a_whole_hole_gets_its_typed_filler_when_its_broken_regions_cannot_be_mended():
    """A block hole of a ``boolean`` method holding ``{ int y = 0; }``: javac's "missing return statement"
    names the block's closing brace, whose own fillers mend nothing; the whole hole, as the block it was
    declared, gets a typed block (the bare ``{}`` would fail the same way)."""
    from treediff.sample import remask as rm
    from treediff.sample.record import check
    from treediff.syntax.holes import find_holes

    template = find_holes("class A {\n    boolean f(int x) <|hole:block|>\n}\n", "java")
    code, spans = template.fill(["{ int y = 0; }"])
    verdict = check(code, "java")
    assert not verdict.ok
    out = rm.typed_fallback("java", template.holes, rm.RemaskOutcome(code, list(spans), 0, verdict, 0, (False,),
                                                               rm.DecodeCounts()), None)
    assert out.verdict.ok and out.verdict.level == "compiler:javac", out.code
    assert out.num_fallback == 1 and len(out.filler_kinds) == 1
    assert "{}" not in out.code


@pytest.mark.parametrize("language, template, expected", [
    ("c", "struct point { int x; int y; };\nstruct point f(struct point p) {\n    return {hole};\n}\n",
     "(struct point){0}"),
    ("cpp", "struct Point { int x; };\nPoint f() {\n    return {hole};\n}\n", "Point{}"),
    ("go", "package main\n\ntype point struct{ x int }\n\nfunc f() point {\n\treturn {hole}\n}\n\nfunc main() {}\n",
     "*new(point)"),
])
def test_a_value_of_any_type_from_the_type_as_written(language, template, expected):
    """The ``"*"`` entry of ``[typed_fillers.types]``: a struct the table does not name still gets a value of
    its type, which the real compiler accepts where one is installed."""
    from treediff.sample.record import check

    a = template.index("{hole}")
    src = template.replace("{hole}", "1").encode()
    assert typed_fillers(language, src, a, a + 1, "expression")[0] == expected
    verdict = check(template.replace("{hole}", expected), language)
    assert verdict.ok, verdict.problems
    const_ref = b"struct P { int x; };\nconst P& f() {\n    return 1;\n}\n"
    if language == "cpp":  # qualifiers and references are dropped from the type as written
        at = const_ref.index(b"1;")
        assert typed_fillers("cpp", const_ref, at, at + 1, "expression")[0] == "P{}"


def test_a_statement_the_compiler_asks_for():
    """A Go hole that held a variable's only use: every filler of the list leaves "declared but not used";
    the compiler's own complaint names the statement that passes (``[typed_fillers.problems]``)."""
    from treediff.sample.record import check
    from treediff.syntax.fillers import problem_fillers

    template = ("package main\n\nimport \"os\"\n\nfunc main() {\n\tdir, err := os.Stat(\"x\")\n\tif err != nil {\n"
                "\t\treturn\n\t}\n\t{hole}\n}\n")
    assert problem_fillers("go", ["dir declared but not used"]) == ["_ = dir"]
    assert problem_fillers("go", ["declared and not used: dir", "declared and not used: err"]) == ["_ = dir\n_ = err"]
    assert problem_fillers("go", ["undefined: dir"])[0] == "dir := false"  # a hole that held its declaration
    assert problem_fillers("java", ["x declared but not used"]) == []
    src = template.replace("{hole}", "_ = 0").encode()
    at = src.index(b"_ = 0")
    said = ["dir declared but not used"]
    options = typed_fillers("go", src, at, at + 5, "statement", said)
    assert options[0] == "_ = dir" and typed_fillers("go", src, at, at + 5, "expression", said)[0] != "_ = dir"
    first = check(template.replace("{hole}", "_ = 0"), "go")
    if first.level == "tree-sitter":
        pytest.skip("no Go compiler here")
    assert not first.ok and check(template.replace("{hole}", options[0]), "go").ok


DECLARED = {
    "go": ("package p\n\nfunc f(xs []int) bool {\n\t{hole}\n\tfor _, x := range xs {\n\t\tok = ok || x > 0\n\t}\n"
           "\treturn ok\n}\n", "_ = 0", "ok := false"),
    "typescript": ("export function f(s: string): number {\n  {hole}\n  c = s[0]\n  return c.length\n}\n", ";",
                   "let c: any"),
    "c": ("int f(int n) {\n    {hole}\n    k = n * 2;\n    return k;\n}\n", ";", "int k = 0;"),
    "cpp": ("int f(int n) {\n    {hole}\n    k = n * 2;\n    return k;\n}\n", ";", "auto k = 0;"),
    "rust": ("pub fn f(n: i32) -> i32 {\n    {hole}\n    if n > 0 {\n        return n;\n    }\n    k\n}\n", ";",
             "let k = Default::default();"),
}


@pytest.mark.parametrize("template, expected", [
    ("class A {\n    private final int level;\n    A(int level) {\n        {hole}\n    }\n}\n", "this.level = level;"),
    ("class A {\n    int f(int n) {\n        int k;\n        {hole}\n        return k + n;\n    }\n}\n", "k = 0;"),
])
def test_a_java_hole_that_held_an_assignment_assigns_again(template, expected):
    """A statement hole that held the assignment of a final field or a local: javac says the variable "might not
    have been initialized" after every listed filler; the filler its complaint asks for passes (seed 8 of
    bench/infill_languages.py: `this.level = level;` in `sun.nio.ch.OptionKey`, invalid before)."""
    from treediff.sample.record import check

    src = template.replace("{hole}", "{}")
    first = check(src, "java")
    if first.level == "tree-sitter":
        pytest.skip("no javac here")
    assert not first.ok and "might not have been initialized" in first.problems[0].message
    at = src.index("        {}") + 8
    options = typed_fillers("java", src.encode(), at, at + 2, "statement", [p.message for p in first.problems])
    passing = [o for o in options[:4] if check(src[:at] + o + src[at + 2:], "java").ok]
    assert passing and passing[0] == expected, (options, passing)


def test_an_expression_hole_that_held_an_assignment_statement_assigns_again():
    """The same complaint for an *expression* hole that held `this.level = level` (the expression of its
    statement, seed 13's `OptionKey`): `null;` is no statement and `new Object();` leaves the field unset, so the
    asked-for assignment, without its `;`, comes first."""
    from treediff.sample.record import check

    src = "class A {\n    private final int level;\n    A(int level) {\n        new Object();\n    }\n}\n"
    at, options = _asked(src, "java", "new Object()", "expression")
    assert options[0] == "this.level = level" and "new Object()" in options[:5], options
    assert check(src[:at] + options[0] + src[at + 12:], "java").ok


@pytest.mark.parametrize("language", sorted(DECLARED))
def test_a_statement_hole_that_held_a_declaration_declares_the_name(language):
    """Every later use of a name the hole declared says it is missing: the statement filler declares it (Go
    guesses its type in order, each guess verified), and the compiler accepts the program."""
    from treediff.sample.record import check

    template, broken, expected = DECLARED[language]
    src = template.replace("{hole}", broken)
    first = check(src, language)
    if first.level == "tree-sitter":
        pytest.skip(f"no {language} compiler here")
    assert not first.ok
    at = src.encode().index(broken.encode())
    options = typed_fillers(language, src.encode(), at, at + len(broken), "statement",
                            [p.message for p in first.problems])
    assert options[0] == expected and check(template.replace("{hole}", expected), language).ok


GO_CALL = 'package p\n\nimport "fmt"\n\nfunc f(err error) {\n\t<|hole:expression|>\n\tfmt.Println(err)\n}\n'


def test_an_expression_that_is_a_whole_statement_gets_a_call():
    """Go and Java take only some expressions as a statement (a call, not `nil` or `0`): a hole that is an
    expression statement's whole expression tries `[typed_fillers] statement_expression` first."""
    go = GO_CALL.replace("<|hole:expression|>", 'return "" {').encode()  # a broken fill in the hole's place
    at = go.index(b'return "" {')
    assert typed_fillers("go", go, at, at + len(b'return "" {'), "expression")[0] == "print()"
    returned = b"package p\n\nfunc f() int {\n\treturn g(1)\n}\n"
    at = returned.index(b"g(1)")
    assert typed_fillers("go", returned, at, at + 4, "expression")[0] != "print()"
    java = b"class A {\n  void f() {\n    g(1);\n  }\n}\n"
    at = java.index(b"g(1)")
    assert typed_fillers("java", java, at, at + 4, "expression")[0] == "new Object()"


@pytest.mark.skipif(shutil.which("go") is None, reason="go not installed")
def test_go_expression_statement_falls_back_to_a_call(untrained_lm):
    out = infill(GO_CALL, "go", model=untrained_lm, seed=0)
    assert out.record.ok and out.record.level == "compiler:go", out.code


def test_a_name_the_compiler_says_is_missing_is_tried_first():
    """A hole that held a declaration's name (``let value: number``) leaves every later use undeclared: the name
    the compiler's message gives is the filler to try, before any literal (none can stand there)."""
    ts = b"let value: number\nvalue = 1\n"
    said = ("TS2304: Cannot find name 'value'.",)
    assert typed_fillers("typescript", ts, 4, 9, "expression", said)[0] == "value"
    assert typed_fillers("typescript", ts, 4, 9, "expression")[0] != "value"  # without the message: no guess
    go = b'package p\n\nimport "flag"\n\nfunc f() {\n\tnil.Parse()\n}\n'
    assert typed_fillers("go", go, go.index(b"nil"), go.index(b"nil") + 3, "expression",
                         ('"flag" imported and not used',))[0] == "flag"
    # Go 1.19's words for the same complaint, and a variable whose only use was in the hole
    assert typed_fillers("go", go, go.index(b"nil"), go.index(b"nil") + 3, "expression",
                         ('imported and not used: "flag"',))[0] == "flag"
    call = b'package p\n\nfunc g(x any) {}\n\nfunc f() {\n\tid := 1\n\tg(nil)\n}\n'
    at = call.index(b"nil")
    for said in ("id declared but not used", "declared and not used: id"):  # after the type's filler
        assert typed_fillers("go", call, at, at + 3, "expression", (said,))[1] == "id"


GO_POP = """package main

import "fmt"

type Stack struct{ items []int }

func (s *Stack) Pop() (int, error) {
	v := s.items[len(s.items)-1]
	s.items = <|hole:expression|>
	return v, nil
}

func main() {
	s := &Stack{items: []int{1}}
	v, err := s.Pop()
	<|hole:statement|>
	fmt.Println(v)
}
"""


@pytest.mark.skipif(shutil.which("go") is None, reason="go not installed")
def test_each_region_takes_its_next_filler_only_where_a_problem_lies(untrained_lm, monkeypatch):
    """Two holes, both drafts broken: the field needs the list's third value (``nil``: ``0`` and the unused
    ``err`` do not type-check there) while the statement's first (``_ = err``, what "err declared but not used"
    asks for) is right from the start; trying the k-th choice of every region together never met both."""
    import torch

    from treediff.sample import remask as rm
    from treediff.sample.config import SamplerConfig
    from treediff.syntax.holes import find_holes

    template = find_holes(GO_POP, "go")
    code, spans = template.fill(['" . ."', "x :="])

    def failing_round(lm, language, code, regions, holes, config, generator, counts):
        return [['" . ."'] * len(regions)], [-1.0], counts

    monkeypatch.setattr(rm, "redo_round", failing_round)
    config = SamplerConfig(context_drafts=0, context_sweep=0, max_rounds=1)
    out = rm.remask(untrained_lm, "go", code, list(spans), template.holes, config, torch.Generator().manual_seed(0),
                    given=template.source)
    fills = [out.code.encode()[s:e].decode() for s, e in out.spans]
    assert out.verdict.ok and fills == ["nil", "_ = err"], (fills, out.verdict.problems)
    assert out.num_fallback == 2


GO_IMPORT = ("package p\n\nimport (\n\t\"encoding/base64\"\n\t{dot}\"io/fs\"\n)\n\nfunc decode(s string) ([]byte, error) "
             "{hole}\n\nfunc keep() bool {\n\treturn true\n}\n")


@pytest.mark.parametrize("dot", ["", ". "])
def test_a_go_body_that_was_an_imports_only_user_uses_it_again(dot):
    """Go rejects an unused import: a block hole whose code was the only user of two imports gets a body that
    uses one exported value of each (named by `go doc`; unqualified for a dot import) and returns by panicking
    (seed 6 of bench/infill_languages.py: `{ return base64.NewDecoder(...) }` in image/png, invalid before)."""
    from treediff.sample.record import check
    from treediff.syntax.fillers import import_uses

    src = GO_IMPORT.replace("{dot}", dot).replace("{hole}", "{}")
    first = check(src, "go")
    if first.level == "tree-sitter":
        pytest.skip("no Go compiler here")
    said = [p.message for p in first.problems]
    assert not first.ok and sum("imported and not used" in m for m in said) == 2, said
    uses = import_uses("go", said, src.encode())
    assert len(uses) == 2 and uses[0].startswith("_ = base64.")
    assert uses[1].startswith("_ = fs.") if not dot else not uses[1].startswith("_ = fs."), uses
    at = src.index("{}\n\nfunc keep")
    options = typed_fillers("go", src.encode(), at, at + 2, "block", said)
    assert "panic(" in options[0] and check(src[:at] + options[0] + src[at + 2:], "go").ok, options[0]
    assert import_uses("go", ["undefined: x"]) == [] and import_uses("rust", said) == []


def test_the_drafts_own_errors_ask_no_filler():
    """A statement hole whose draft `return err` left "undefined: err" inside it and "ok declared but not used"
    outside: the filler answers only the second (`_ = ok`); before, every choice also declared `err`, which then
    stood unused, and the hole ended invalid (seed 7: io/fs's fs_test.go)."""
    from treediff.sample.record import check
    from treediff.sample.remask import DecodeCounts, RemaskOutcome, typed_fallback
    from treediff.syntax.holes import Hole

    code = ("package p\n\nfunc valid(name string) bool {\n\treturn name != \"\"\n}\n\nfunc f(names []string) error {\n"
            "\tfor _, n := range names {\n\t\tok := valid(n)\n\t\treturn err\n\t}\n\treturn nil\n}\n")
    verdict = check(code, "go")
    if verdict.level == "tree-sitter":
        pytest.skip("no Go compiler here")
    assert {p.message for p in verdict.problems} >= {"undefined: err"}, verdict.problems
    a = code.encode().index(b"return err")
    holes = (Hole(0, a, a + 10, "statement", None, "\t\t"),)
    outcome = RemaskOutcome(code, [(a, a + 10)], 0, verdict, 0, (True,), DecodeCounts())
    done = typed_fallback("go", holes, outcome, code.replace("return err", "_ = 0"))
    assert done.verdict.ok and "_ = ok" in done.code and "var err" not in done.code, done.code


@pytest.mark.parametrize("language, template", [
    ("java", "class A {\n    boolean eq(Object obj) {\n        if {hole} {\n            return true;\n        }\n"
             "        return false;\n    }\n}\n"),
    ("c", "int f(int x) {\n    if {hole} {\n        return 1;\n    }\n    return 0;\n}\n"),
    ("javascript", "function f(x) {\n  while {hole} {\n    x -= 1;\n  }\n  return x;\n}\n"),
])
def test_an_expression_hole_that_held_a_parenthesised_condition_gets_parentheses(language, template):
    """A hole that held the whole `(obj == this)` of an `if`: a bare filler (`if false {`) does not even parse, so
    every filler is wrapped (held-out Java, seed 8 of bench/infill_languages.py, invalid before); the first one
    passes the language's check."""
    from treediff.sample.record import check

    src = template.replace("{hole}", "(x)")
    at = src.index("(x)")
    options = typed_fillers(language, src.encode(), at, at + 3, "expression")
    assert options and all(o.startswith("(") and o.endswith(")") for o in options), options
    assert check(src[:at] + options[0] + src[at + 3:], language).ok
    inner = typed_fillers(language, src.encode(), at + 1, at + 2, "expression")  # inside the parentheses: bare
    assert not inner[0].startswith("(")


@pytest.mark.parametrize("language, template", [
    ("go", "package p\n\nfunc f(x int) int {\n\tif {hole} {\n\t\treturn 1\n\t}\n\treturn x\n}\n"),
    ("rust", "fn f(x: i32) -> i32 {\n    while {hole} {\n        return 1;\n    }\n    x\n}\n"),
    ("java", "class A {\n    int f(int x) {\n        return (x > 0) ? 1 : 0;\n    }\n}\n"),
])
def test_a_condition_hole_gets_the_languages_boolean(language, template):
    """`if 0 {` is a type error in Go, Rust and Java: a condition (of `if`, `while`, `?:`) takes the language's
    boolean (`[typed_fillers] condition_type`), which passes the check."""
    from treediff.sample.record import check

    src = template.replace("{hole}", "x > 0")
    at = src.index("x > 0")
    options = typed_fillers(language, src.encode(), at, at + 5, "expression")
    assert options[0] in ("false", "(false)"), options
    result = check(src[:at] + options[0] + src[at + 5:], language)
    assert result.ok or result.level == "tree-sitter", result.problems


def test_a_go_declaration_takes_the_type_its_later_uses_ask_for():
    """A statement hole that held `florp := []byte(s)`, whose later uses need a `[]byte`: every guessed type
    (`florp := false`, `0`, ...) makes go say "cannot use florp (variable of type bool) as []byte value in
    argument to g", and that names the type: the fallback declares `var florp []byte` and passes (held-out Go,
    session 11: three such holes ended invalid)."""
    from treediff.sample.record import check
    from treediff.sample.remask import DecodeCounts, RemaskOutcome, typed_fallback
    from treediff.syntax.holes import Hole

    code = ("package p\n\nfunc g(b []byte) int {\n\treturn len(b)\n}\n\nfunc f(s string) int {\n\t_ = 0\n"
            "\treturn g(florp) + len(s)\n}\n")
    verdict = check(code, "go")
    if verdict.level == "tree-sitter":
        pytest.skip("no Go compiler here")
    assert [p.message for p in verdict.problems] == ["undefined: florp"], verdict.problems
    a = code.encode().index(b"_ = 0")
    holes = (Hole(0, a, a + 5, "statement", None, "\t"),)
    outcome = RemaskOutcome(code, [(a, a + 5)], 0, verdict, 0, (True,), DecodeCounts())
    done = typed_fallback("go", holes, outcome, code)
    assert done.verdict.ok and "var florp []byte" in done.code, done.code


def test_an_expression_hole_that_held_an_unsafe_block_gets_a_block():
    """A hole that held the `{ ... }` of a Rust `unsafe { ... }` (an expression hole: the block is one): no bare
    expression filler parses there, so each comes in a block, and `{ todo!() }` passes rustc (held-out Rust,
    tokio's `reusable_box.rs`: the fill was the draft's unparseable `{ let mut self.f_____(` before)."""
    from treediff.sample.record import check

    src = "pub fn f(p: *const u8) -> u8 {\n    unsafe { *p }\n}\n"
    at = src.index("{ *p }")
    options = typed_fillers("rust", src.encode(), at, at + 6, "expression")
    assert options and all(o.startswith("{ ") and o.endswith(" }") for o in options), options
    result = check(src[:at] + options[0] + src[at + 6:], "rust")
    assert result.ok or result.level == "tree-sitter", result.problems


def test_a_go_for_header_that_declared_its_counter_declares_it_again():
    """The init statement of a `for` header that held `b := 0` (held-out `image/color/palette/gen.go`, seed 14):
    `var b int` is a syntax error there, so the guesses are short declarations."""
    from treediff.sample.record import check

    src = "package p\n\nfunc f() int {\n\tn := 0\n\tfor _ = 0; b != 4; b++ {\n\t\tn += b\n\t}\n\treturn n\n}\n"
    at, options = _asked(src, "go", "_ = 0", "statement")
    passing = [o for o in options[:4] if check(src[:at] + o + src[at + 5:], "go").ok]
    assert passing and passing[0] == "b := 0", (options, passing)


def _asked(src: str, language: str, part: str, category: str) -> tuple[int, list[str]]:
    """Where ``part`` stands in ``src``, and the fillers for it given what the compiler says of ``src`` (the test
    is skipped without the compiler)."""
    from treediff.sample.record import check

    first = check(src, language)
    if first.level == "tree-sitter":
        pytest.skip(f"no {language} compiler here")
    at = src.index(part)
    return at, typed_fillers(language, src.encode(), at, at + len(part), category, [p.message for p in first.problems])
