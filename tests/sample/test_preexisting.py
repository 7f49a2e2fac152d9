"""Problems the given file already had are not a fill's (treediff.sample.record.GivenCode)."""

import pytest

from treediff.sample.record import check, given_code
from treediff.syntax.holes import find_holes

_GO = ("package shapes\n\nimport \"fmt\"\n\n// Area comes from area.go, a sibling file of this package.\n"
       "func Describe(s Shape) string {\n\ttotal := 0\n\tfor i := 0; i < 3; i++ {\n\t\ttotal += i\n\t}\n"
       "\treturn fmt.Sprintf(\"%v: %d\", s, Area(s)+total)\n}\n")
_CPP = ("int twice(int x) {\n    int y = x;\n    y = y * 2;\n    return helper(y);  // declared in another file\n}\n")


def _template(src: str, language: str, part: str):
    a = src.encode().index(part.encode())
    return find_holes(src, language, spans=[(a, a + len(part.encode()), "statement")])


@pytest.mark.parametrize("language, src, part, new, typo, message", [
    ("go", _GO, "total += i", "total++", "totl += i", "undefined: totl"),
    ("cpp", _CPP, "y = y * 2;", "y += y;", "z = y * 2;", "'z' was not declared"),
])
def test_a_fill_is_judged_by_the_problems_it_adds(language, src, part, new, typo, message):
    first = check(src, language)
    if first.level == "tree-sitter":
        pytest.skip(f"no {language} compiler here")
    assert not first.ok, "the file alone fails its check: a name its package declares elsewhere"
    template = _template(src, language, part)
    given = given_code(template.source, language, template.holes)
    assert sum(given.preexisting.values()) == len(first.problems)
    good = check(src.replace(part, new), language, given=given)
    assert good.ok and len(good.preexisting) == len(first.problems) and not good.problems
    bad = check(src.replace(part, typo), language, given=given)
    assert not bad.ok and any(message in p.message for p in bad.problems), bad.problems
    assert not check(src.replace(part, new), language, given=str(given)).ok, "a plain text sets nothing aside"


def test_a_problem_inside_a_hole_is_no_baseline_and_one_before_it_on_its_line_is():
    src = _CPP.replace("    y = y * 2;\n", "    y = other(y);\n").replace("int twice(int x) {", "Num twice(int x) {")
    if check(src, "cpp").level == "tree-sitter":
        pytest.skip("no g++ here")
    a = src.index("{\n")
    template = find_holes(src, "cpp", spans=[(a, len(src) - 1, "block")])  # the whole body, after `Num twice(...)`
    given = given_code(template.source, "cpp", template.holes)
    assert [line for _, line in given.preexisting] == [b"Num"], given.preexisting  # `other`, `helper`: inside
    body = "{\n    return x;\n}"
    good = check(src[:a] + body + "\n", "cpp", given=given)
    assert good.ok and [p.message for p in good.preexisting] == [m for m, _ in given.preexisting]


def test_infill_of_a_file_that_fails_alone_keeps_a_fill_that_adds_no_problem(untrained_lm):
    import treediff

    if check(_CPP, "cpp").level == "tree-sitter":
        pytest.skip("no g++ here")
    a = _CPP.index("y = y * 2;")
    res = treediff.infill(_CPP, "cpp", model=untrained_lm, spans=[(a, a + 10, "statement")], max_rounds=1)
    assert res.record.ok, res.record.problems
    assert res.record.preexisting and all("helper" in m for m in res.record.preexisting)
    assert "return helper(y);" in res.code, "the file outside the hole is unchanged"


def _slipped(src: str, good: str, bad: str) -> str:
    assert good in src
    return src.replace(good, bad, 1)


def test_a_repair_baseline_comes_from_the_file_with_its_damaged_lines_blanked():
    """A slip's syntax error hides the file's own type errors; the copy with the slip's line blanked shows
    them, and only names a sibling file may declare, not mentioned on that line, are set aside."""
    from treediff.sample.record import GivenCode

    if check(_GO, "go").level == "tree-sitter":
        pytest.skip("no go here")
    broken = _slipped(_GO, "\ttotal := 0\n", "\ttotal := 0)\n")
    given = GivenCode(broken, "go", (), damaged=True)
    assert sorted(m for m, _ in given.preexisting) == ["undefined: Area", "undefined: Shape"], given.preexisting
    fixed = check(_GO, "go", given=given)
    assert fixed.ok and sorted(p.message for p in fixed.preexisting) == ["undefined: Area", "undefined: Shape"]
    # `total` is on the damaged line (its declaration, here): a repair that drops it is no success
    for wrong in ("\t_ = 0\n", "\ttotal = 0\n", ""):
        bad = check(_slipped(_GO, "\ttotal := 0\n", wrong), "go", given=given)
        assert not bad.ok and any("total" in p.message for p in bad.problems), (wrong, bad.problems)
    assert GivenCode(_GO, "go", (), damaged=True).preexisting == {}, "a file that parses gives no repair baseline"


def test_repair_of_a_package_file_restores_the_slip(untrained_lm):
    import treediff

    if check(_GO, "go").level == "tree-sitter":
        pytest.skip("no go here")
    res = treediff.repair(_slipped(_GO, "\ttotal := 0\n", "\ttotal := 0)\n"), "go", model=untrained_lm)
    assert res.record.ok, res.record.problems  # before: no candidate passed (the siblings' names), `_ = 0`, ok false
    changed = [(a, b) for a, b in zip(_GO.splitlines(), res.code.splitlines()) if a != b]
    assert len(res.code.splitlines()) == len(_GO.splitlines()) and [a for a, _ in changed] == ["\ttotal := 0"], changed
    assert sorted(res.record.preexisting) == ["undefined: Area", "undefined: Shape"]


def test_an_import_path_the_given_code_lacks_is_made_up():
    """A repair turned `"bytes"` into the relative `".bytes"`: the go command stops at it ("unresolved"), but the
    path is the repair's own, not one the user's code has, so it is a problem (session 14's failing-alone slips)."""
    given = "package p\n\nimport (\n\t\"bytes\"\n\t\"./local\"\n)\n\nvar _ = bytes.MinRead\nvar _ = local.X\n"
    if check(given, "go").level == "tree-sitter" and not check(given, "go").compiler_note:
        pytest.skip("no go here")
    kept = check(given, "go", given=given)
    assert kept.ok and kept.unresolved, (kept.problems, kept.unresolved)  # the user's own relative import
    made_up = check(given.replace('"bytes"', '".bytes"'), "go", given=given)
    assert not made_up.ok and any(".bytes" in p.message for p in made_up.problems), made_up.problems
