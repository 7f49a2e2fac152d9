"""Repair by the smallest edit: failure points, edit sites, early-closing holes, the statement pass's regions."""

from __future__ import annotations

import pytest

from treediff.sample import repair
from treediff.sample.edits import _changes, _edit_size, _whole_lines, edit_sites, failure_point
from treediff.validity import check


@pytest.mark.parametrize("code, point", [
    ("if x\n    pass\n", 4),               # the newline where ':' belongs
    ("x = (1,\n", 7),                     # a viable prefix: the end of the code, blanks excluded
    ("x = = 1\n", 4),                     # the second '='
    ("x = foo(1, 2))\n", 13),             # the unmatched ')'
    ("y = (x +\n    return y\n", 13),      # a keyword fails where it starts, not after it
    ("def f(x):\n    return x +\n", 24),   # a dangling operator: the newline after it
])
def test_failure_point(code, point):
    assert failure_point(code, "python") == point
    assert not check(code, "python").ok


def test_failure_point_of_valid_code_and_of_a_language_without_grammar():
    assert failure_point("def f():\n    return 1\n", "python") is None
    assert failure_point("function f( {", "javascript") is None  # no incremental grammar: sites from the check


def test_edit_sites_start_at_the_failure_point_then_the_checks_spans():
    code = "x = foo(1, 2))\n"
    sites = edit_sites(code, "python", check(code, "python"))
    assert sites[:2] == [("insert", 13, 13), ("replace", 13, 14)]
    assert len(sites) == len(set(sites))
    js = "function f() { return 1 +; }\n"
    js_sites = edit_sites(js, "javascript", check(js, "javascript"))
    assert js_sites and all(0 <= a <= b <= len(js) for _, a, b in js_sites)


def test_a_stray_token_is_deleted_whatever_the_model(untrained_lm):
    # the replacement hole at the failure point closes at once (the fixed text already fits), and a
    # deletion beats any insertion of the same size by being shorter
    r = repair("x = foo(1, 2))\n", "python", model=untrained_lm)
    assert r.code == "x = foo(1, 2)\n"
    assert r.record.ok and not r.record.fallback
    assert r.record.extra["edits"] == 1 and r.record.extra["changed_bytes"] == 1
    assert [h.category for h in r.holes] == ["edit"] and r.holes[0].text == ""


@pytest.mark.parametrize("broken", [
    "if x\n    pass\n", "x = (1,\n", "for i in range(3)\n    print(i)\n", "class A:\n    def g(self)\n        pass\n",
    "def f(x):\n    y = (x +\n    return y\n\nprint(f(1))\n",
])
def test_one_slip_is_fixed_in_place_with_the_default_model(broken):
    r = repair(broken, "python")
    assert r.record.ok and check(r.code, "python").ok and not r.record.fallback
    assert r.record.extra["edits"] == 1
    assert _edit_size(broken, r.code) <= 4, r.code  # the user's code is kept, not rewritten
    assert r.record.nfe <= 3 * 8  # a few point edits of a few tokens each


def test_untrained_repairs_are_always_valid_and_counted(untrained_lm):
    for broken in ["if x\n    pass\n", "def f(a, b:\n    return a\n", "f() = 1\n",
                   "def check(a)::\n    x = a\n    return x\n"]:
        r = repair(broken, "python", model=untrained_lm)
        assert r.record.ok and check(r.code, "python").ok, (broken, r.code)
        extra = r.record.extra
        assert extra["edit_attempts"] >= 1 and extra["edits"] in (0, 1)
        assert r.record.rounds >= extra["edit_attempts"] - 1
        assert r.record.nfe > 0
        assert isinstance(extra["changed_bytes"], int) and extra["changed_bytes"] >= 0


def test_edit_attempts_zero_is_the_statement_pass(untrained_lm):
    r = repair("x = foo(1, 2))\n", "python", model=untrained_lm, edit_attempts=0)
    assert r.record.ok and r.record.extra["edit_attempts"] == 0 and r.record.extra["edits"] == 0


def test_statement_regions_are_whole_lines_with_their_block():
    data = b"def f(a)::\n    x = 1\n\n    return x\n\ny = 2\n"
    a, b = _whole_lines(data, 8, 10)
    assert data[a:b] == b"def f(a)::\n    x = 1\n\n    return x"
    data = b"def f():\n    y = (x +\n    return y\n"
    a, b = _whole_lines(data, 17, 22)
    assert data[a:b] == b"y = (x +"  # indentation kept outside, the next statement untouched
    data = b"if (x) {\n  y();\n}\nz();\n"
    a, b = _whole_lines(data, 7, 8)
    assert data[a:b] == b"if (x) {\n  y();\n}"  # a closing bracket at the header's depth comes along


def test_changes_are_the_diff():
    holes, changed = _changes("x = foo(1, 2))\n", "x = foo(1, 2)\n")
    assert changed == 1 and len(holes) == 1 and holes[0].text == ""
    holes, changed = _changes("if x\n", "if x:\n")
    assert changed == 0 and holes[0].text == ":" and holes[0].span == (4, 5)
    assert _changes("same\n", "same\n") == ((), 0)


def _long_module(broken_index: int, n: int = 40) -> tuple[str, str]:
    funcs = [f"def f{i}(x):\n    if x > {i}:\n        return x * {i}\n    return [x, {i}]\n\n\n" for i in range(n)]
    good = "".join(funcs)
    bad_func = funcs[broken_index].replace(f"if x > {broken_index}:", f"if x > {broken_index}")
    return good, "".join(funcs[:broken_index]) + bad_func + "".join(funcs[broken_index + 1:])


def test_code_longer_than_the_model_is_repaired_block_by_block(untrained_lm):
    good, bad = _long_module(17)
    assert len(untrained_lm.encode(bad, "python")) > untrained_lm.max_length
    r = repair(bad, "python", model=untrained_lm)
    assert r.record.ok and check(r.code, "python").ok
    assert r.record.extra["chunks"] >= 1
    import difflib

    ops = difflib.SequenceMatcher(None, bad.splitlines(), r.code.splitlines(), autojunk=False).get_opcodes()
    changed = [(i1, i2) for tag, i1, i2, _, _ in ops if tag != "equal"]
    assert changed and all(17 * 6 <= i1 and i2 <= 18 * 6 for i1, i2 in changed), changed  # only f17's lines


def test_a_nested_block_is_repaired_dedented_and_put_back(untrained_lm):
    methods = "".join(f"    def m{i}(self, x):\n        return x + {i}\n\n" for i in range(60))
    bad = "class A:\n" + methods.replace("def m30(self, x):", "def m30(self, x)") + "\nprint(A)\n"
    assert len(untrained_lm.encode(bad, "python")) > untrained_lm.max_length
    r = repair(bad, "python", model=untrained_lm)
    assert r.record.ok and check(r.code, "python").ok
    assert r.code.startswith("class A:\n    def m0(self, x):") and r.code.endswith("\nprint(A)\n")
    assert "    def m31(self, x):\n        return x + 31\n" in r.code  # the rest stays as it was, indented


def test_a_broken_header_over_a_long_block_is_repaired_over_a_stand_in(untrained_lm):
    body = "".join(f"        y{i} = x + {i}\n" for i in range(400))
    bad = "def f(x):\n    if x\n" + body + "    return x\n"
    r = repair(bad, "python", model=untrained_lm)
    assert r.record.ok and check(r.code, "python").ok
    assert r.code.endswith(body + "    return x\n")  # the long block is untouched; only the header changed
    assert r.code.startswith("def f(x):\n    if x")


def test_no_block_short_enough_is_a_clear_error(untrained_lm):
    from treediff.errors import InputError

    line = "    y = [" + ", ".join(str(i) for i in range(700)) + "\n"  # one statement longer than the model
    bad = "def f(x):\n" + line + "    return y\n"
    with pytest.raises(InputError, match="too long for the model"):
        repair(bad, "python", model=untrained_lm)


def test_repairs_do_not_depend_on_what_ran_before(untrained_lm):
    from treediff.sample import infill

    cases = ["x = foo(1, 2))\ny = [1, 2\n", "def f(a)::\n    return a\n", "if x\n    pass\nz = (1,\n"]
    first = [repair(c, "python", model=untrained_lm, edit_attempts=0).code for c in cases]
    for c in cases:  # other work in between: point edits, infilling
        repair(c, "python", model=untrained_lm)
    infill("def g(x):\n    return <|hole:expression|>\n", "python", model=untrained_lm)
    assert [repair(c, "python", model=untrained_lm, edit_attempts=0).code for c in cases] == first
