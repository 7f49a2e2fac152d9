"""Repair by the smallest edit: failure points, edit sites, early-closing holes, the statement pass's regions."""

from __future__ import annotations

import pytest

from treediff import repair
from treediff.repairs import changes, edit_size, edit_sites, failure_point
from treediff.repairs.statements import whole_lines
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
    assert edit_size(broken, r.code) <= 4, r.code  # the user's code is kept, not rewritten
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
    a, b = whole_lines(data, 8, 10)
    assert data[a:b] == b"def f(a)::\n    x = 1\n\n    return x"
    data = b"def f():\n    y = (x +\n    return y\n"
    a, b = whole_lines(data, 17, 22)
    assert data[a:b] == b"y = (x +"  # indentation kept outside, the next statement untouched
    data = b"if (x) {\n  y();\n}\nz();\n"
    a, b = whole_lines(data, 7, 8)
    assert data[a:b] == b"if (x) {\n  y();\n}"  # a closing bracket at the header's depth comes along


def test_changes_are_the_diff():
    holes, changed = changes("x = foo(1, 2))\n", "x = foo(1, 2)\n")
    assert changed == 1 and len(holes) == 1 and holes[0].text == ""
    holes, changed = changes("if x\n", "if x:\n")
    assert changed == 0 and holes[0].text == ":" and holes[0].span == (4, 5)
    assert changes("same\n", "same\n") == ((), 0)


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


def test_parser_inserts_are_the_missing_tokens():
    from treediff.repairs import parser_inserts

    assert parser_inserts("int f(void) { return g(1; }\n", "c") == [(24, ")")]
    assert parser_inserts("x = 1\n", "python") == []


def test_without_a_grammar_progress_needs_the_problem_to_move():
    from treediff.repairs import made_progress

    bad = "function f(a) {\n  return g(a\n}\nlet y = [1\n"
    assert not made_progress(bad, bad.replace("return", "return  "), 17, 23, "javascript", None)  # still at line 2
    fixed = bad.replace("g(a\n", "g(a)\n")
    assert made_progress(bad, fixed, 29, 29, "javascript", None)  # now the problem is at line 4


def test_a_brace_header_is_not_replaced_without_its_block():
    from treediff.repairs import statement_regions

    code = "function f(a) {\n  if (g(a) {\n    return 1\n  }\n  return 2\n}\n"
    (a, b), = statement_regions(code, "javascript", check(code, "javascript"))
    assert code.encode()[a:b].decode() == "if (g(a) {\n    return 1\n  }"  # the `if` with its block, not its line


def _long_js(n: int, broken: int) -> tuple[str, str]:
    methods = [f"  m{i} (x) {{\n    if (x.slice(0, {i}) !== x) {{\n      return x + {i}\n    }}\n"
               f"    return [x, {i}]\n  }}\n\n" for i in range(n)]
    good = "class A extends B {\n" + "".join(methods) + "}\n\nmodule.exports = A\n"
    return good, good.replace(f"x.slice(0, {broken}) !==", f"x.slice(0, {broken} !==")


def test_a_long_brace_file_is_repaired_inside_its_class(untrained_lm):
    good, bad = _long_js(40, 23)
    assert len(untrained_lm.encode(bad, "javascript")) > untrained_lm.max_length
    r = repair(bad, "javascript", model=untrained_lm)
    assert r.record.ok and not r.record.fallback and check(r.code, "javascript").ok
    # tree-sitter's recovery marks the `)` MISSING: put in over the whole file, no block needed
    assert r.record.extra["model_free_edits"] == 1 and r.record.extra["chunks"] == 0 and r.record.nfe == 0
    changed = [i for i, (x, y) in enumerate(zip(bad.splitlines(), r.code.splitlines())) if x != y]
    assert len(r.code.splitlines()) == len(bad.splitlines()) and changed == [1 + 7 * 23 + 1]
    # an operand left out: no edit without a model, so the method is repaired as a block inside its class
    bad = good.replace("x.slice(0, 23) !== x", "x.slice(0, 23) !== ")
    r = repair(bad, "javascript", model=untrained_lm)
    assert r.record.ok and check(r.code, "javascript").ok and r.record.extra["chunks"] == 1 and r.record.nfe > 0
    changed = [i for i, (x, y) in enumerate(zip(bad.splitlines(), r.code.splitlines())) if x != y]
    assert changed and all(1 + 7 * 23 <= i < 1 + 7 * 24 for i in changed), changed
    assert r.code.endswith("}\n\nmodule.exports = A\n") and r.code.startswith("class A extends B {\n  m0 (x) {")


def test_a_slip_in_a_signature_over_several_lines_of_a_long_method(untrained_lm):
    body = "".join(f"        self.y{i} = x + {i}\n" for i in range(300))
    bad = "class A:\n    def __init__(self, x,\n                 short_first==0):\n" + body + "\n\nprint(A)\n"
    assert len(untrained_lm.encode(bad, "python")) > untrained_lm.max_length
    r = repair(bad, "python", model=untrained_lm)
    assert r.record.ok and check(r.code, "python").ok
    assert r.code.endswith(body + "\n\nprint(A)\n")  # only the header's lines changed
    assert r.code.startswith("class A:\n    def __init__(self, x,\n")


@pytest.mark.parametrize("good, bad", [
    ("f(function () {\n  g(1)\n})\nh(2)\n", "f(function () {\n  g(1)\n}\nh(2)\n"),         # `)` of `})` left out
    ("x = [\n  1,\n  2\n]\ny = 3\n", "x = [\n  1,\n  2\ny = 3\n"),                           # a `]` line left out
    ("a = g(\n  1\n), 2\n", "a = g(\n  1\n, 2\n"),                                            # `),` became `,`
    ("a = b || c\n", "a = b |||| c\n"),                                                       # a doubled `||`
    ("f(1, 2)\n", "f(1,, 2)\n"),
    ("f(a);\n", "f(a));\n"),                                                                  # a stray `)` before `;`
])
def test_layout_edits_put_back_what_the_indentation_says(good, bad):
    from treediff.repairs import layout_edits

    edits = layout_edits(bad, "javascript", check(bad, "javascript"))
    assert any(bad[:a] + t + bad[b:] == good for a, b, t in edits), edits
    assert layout_edits(bad.replace("  ", "    "), "python", check("x = (\n", "python")) == []  # indentation layout


def test_a_long_file_slip_far_from_its_problem_takes_no_forward_pass(untrained_lm):
    good, _ = _long_js(40, 0)
    bad = good.replace("      return x + 17\n    }\n", "      return x + 17\n\n", 1)  # the `if`'s `}` left out
    v = check(bad, "javascript")
    assert not v.ok and min(p.start_line for p in v.problems) > 1 + 7 * 17 + 4  # it shows lines later
    r = repair(bad, "javascript", model=untrained_lm)
    assert r.record.ok and not r.record.fallback and r.record.nfe == 0
    assert r.record.extra["model_free_edits"] == 1 and r.record.extra["chunks"] == 0
    assert r.code.replace("\n\n", "\n") == good.replace("\n\n", "\n")


JAVA_WITH_IMPORT = "import com.foo.Bar;\n\nclass A {\n    Bar b;\n    int f(int x) {\n        return (x + 1;\n    }\n}\n"
C_WITH_HEADER = '#include "nowhere.h"\n\nint f(int x) {\n    return (x + 1;\n}\n'


@pytest.mark.parametrize("language, code, fixed", [
    ("java", JAVA_WITH_IMPORT, "        return (x + 1);\n"),
    ("c", C_WITH_HEADER, "    return (x + 1);\n"),
])
def test_repair_leaves_references_to_code_this_machine_lacks_alone(language, code, fixed, untrained_lm):
    """An import of a package that is not installed is no slip: the repair fixes the slip and keeps it."""
    from treediff.syntax import get_language
    from treediff.validity.compilers import compiler_spec

    if not compiler_spec(get_language(language)).is_available:
        pytest.skip(f"no {language} compiler here")
    result = repair(code, language, model=untrained_lm, seed=0)
    record = result.record
    assert record.ok and not record.fallback
    assert record.unresolved, "the outside reference is reported, not hidden"
    assert result.code.splitlines()[0] == code.splitlines()[0]
    assert fixed in result.code
    strict = check(result.code, language)  # the strict check still fails it, on the outside reference alone
    assert not strict.ok and {p.kind for p in strict.problems} == {"unresolved"}


def _javac():
    from treediff.syntax import get_language
    from treediff.validity.compilers import compiler_spec

    if not compiler_spec(get_language("java")).is_available:
        pytest.skip("no javac here")


def _long_java(n: int) -> str:
    methods = "".join(f"    int m{i}(int x) {{\n        if (x > {i}) {{\n            return x + {i};\n        }}\n"
                      f"        return x - {i};\n    }}\n\n" for i in range(n))
    imports = "import java.util.List;\nimport java.util.Map;\nimport java.io.File;\n"
    return "package p;\n\n" + imports + "\nclass A {\n" + methods + "}\n"


@pytest.mark.slow
def test_a_slip_among_a_long_java_files_imports_is_repaired(untrained_lm):
    """Import lines are a block of their own: no statement stands among them (javac takes no `{}` there)."""
    _javac()
    good = _long_java(40)
    assert len(untrained_lm.encode(good, "java")) > untrained_lm.max_length
    bad = good.replace("java.util.Map;", "java.util..Map;")  # a doubled `.`: deleted, no model needed
    r = repair(bad, "java", model=untrained_lm, seed=0)
    assert r.code == good and r.record.ok and r.record.nfe == 0 and r.record.extra["model_free_edits"] == 1
    bad = good.replace("java.util.Map;", "java.util Map;")  # a `.` left out: put back, no model needed
    r = repair(bad, "java", model=untrained_lm, seed=0)
    assert r.record.ok and r.record.nfe == 0 and r.code.replace(". Map", ".Map") == good
    bad = good.replace("java.util.Map;", "java.util.;")  # a name left out: the import lines, as a chunk
    r = repair(bad, "java", model=untrained_lm, seed=0)
    assert r.record.ok and r.record.extra["chunks"] == 1 and check(r.code, "java").ok
    assert r.code.startswith("package p;\n\nimport java.util.List;\n")
    assert r.code.endswith("import java.io.File;\n" + good[good.index("\nclass A {"):])


@pytest.mark.slow
def test_references_the_model_makes_up_are_no_outside_code(untrained_lm):
    """An import of a class that does not exist is set aside only when the user's code names it."""
    from treediff.sample.record import check as sampler_check

    _javac()
    src = "import java.util.List;\nimport com.foo.Bar;\n\nclass A {\n    Bar b;\n}\n"
    assert sampler_check(src, "java", given=src).ok and sampler_check(src, "java").ok
    made_up = src.replace("com.foo.Bar", "com.foo.Baz")
    v = sampler_check(made_up, "java", given=src)
    assert not v.ok and any("com.foo" in p.message for p in v.problems), v.problems
    assert [p.message for p in v.unresolved] == ["cannot find symbol"]  # `Bar b;`: a name the user gave
    assert sampler_check(made_up, "java").ok  # without `given`, every outside reference is set aside
    # the untrained model's fill of a broken import names nothing real: remasked, then the typed fallback
    # (nothing, for an import: no statement stands among them)
    code = "import java.util.List;\nimport java.util.Map.;\nimport java.io.File;\n\nclass A {\n    List<File> f;\n}\n"
    for attempts in (0, 3):
        r = repair(code, "java", model=untrained_lm, seed=0, max_rounds=1, edit_attempts=attempts)
        assert r.record.ok and not r.record.unresolved
        assert check(r.code, "java").ok, r.code  # the strict check: every import is a real class
        lines = r.code.splitlines()
        assert lines[0] == "import java.util.List;" and "import java.io.File;" in lines


def test_a_deleted_separator_is_put_back_from_the_files_own_statistics(untrained_lm):
    """`return [x 23]`: the token the file writes between the same leaves in the same kind of node."""
    from treediff.repairs import token_inserts

    good, _ = _long_js(40, 0)
    bad = good.replace("return [x, 23]", "return [x 23]")
    v = check(bad, "javascript")
    pos, token = token_inserts(bad, "javascript", v)[0]
    assert bad[:pos] + token + bad[pos:] == good
    r = repair(bad, "javascript", model=untrained_lm)
    assert r.code == good and r.record.ok and r.record.nfe == 0 and r.record.extra["model_free_edits"] == 1
    # between the same two leaves the file writes `,` in a call's arguments and `=` in a declaration
    code = "const a = f(x, y);\nconst b = g(x, z);\nlet c = 1;\nlet d = 2;\nh(x y);\n"
    (pos, token), *_ = token_inserts(code, "javascript", check(code, "javascript"))
    assert code[:pos] + token + code[pos:] == code.replace("h(x y)", "h(x, y)")
    code = "let c = 1;\nlet d = 2;\nlet e  3;\n"  # the blanks of a deleted `=` on both sides: between them
    (pos, token), *_ = token_inserts(code, "javascript", check(code, "javascript"))
    assert code[:pos] + token + code[pos:] == code.replace("let e  3", "let e = 3")
    code = "if (a) {\n  f(a)\n}\nif b) {\n  f(b)\n}\n"  # `(` follows a blank and precedes none
    (pos, token), *_ = token_inserts(code, "javascript", check(code, "javascript"))
    assert code[:pos] + token + code[pos:] == code.replace("if b)", "if (b)")
    assert token_inserts("h(x, y);\n", "javascript", check("h(x, y);\n", "javascript")) == []  # valid: none


def test_a_guessed_token_that_leaves_the_code_invalid_is_not_kept():
    """Without an incremental grammar, a token insert counts only when the program is then valid: one that
    merely moves the check's first problem is often wrong, and wrong guesses pile up."""
    from treediff.sample.config import SamplerConfig
    from treediff.repairs.model_free import model_free_results
    from treediff.repairs import token_inserts

    code = "f(x, y);\ng(a b);\nh(c d);\n"  # two slips: the first one's fix leaves the code invalid
    v = check(code, "javascript")
    fixed = "f(x, y);\ng(a, b);\nh(c d);\n"
    assert any(code[:p] + t + code[p:] == fixed for p, t in token_inserts(code, "javascript", v))
    found = model_free_results(code, "javascript", v, None, SamplerConfig(), 0.0)
    assert all(f[0] == 0 and f[3].record.ok for f in found)
    one = "f(x, y);\ng(a b);\n"
    found = model_free_results(one, "javascript", check(one, "javascript"), None, SamplerConfig(), 0.0)
    assert "f(x, y);\ng(a, b);\n" in [f[3].code for f in found]


def test_point_edits_that_leave_an_invalid_program_are_undone(untrained_lm, monkeypatch):
    """When the point edits end invalid, the statement pass alone runs again on the user's code."""
    from dataclasses import replace as dc_replace

    import treediff.repairs.driver as driver

    real = driver.repair_whole

    def spoiled(always):
        def whole(lm, code, language, config, verdict, **kw):  # the point edits' chain ends invalid
            result = real(lm, code, language, config, verdict, **kw)
            if config.edit_attempts == 0 and not always:
                return result
            bad = code + "x = (\n"
            return dc_replace(result, code=bad, verdict=check(bad, language),
                              record=dc_replace(result.record, ok=False, nfe=7))
        return whole

    code = "def f(x):\n    return [x, 2\n"
    monkeypatch.setattr(driver, "repair_whole", spoiled(always=False))
    r = repair(code, "python", model=untrained_lm, seed=0)
    assert r.record.ok and check(r.code, "python").ok and r.record.extra["point_edits_undone"]
    assert r.record.nfe > 7 and r.record.rounds >= 1  # both passes counted
    monkeypatch.setattr(driver, "repair_whole", spoiled(always=True))  # the second pass fails too
    r = repair(code, "python", model=untrained_lm, seed=0)
    assert not r.record.ok and "point_edits_undone" not in r.record.extra  # the first result, as it was


def test_a_word_two_words_ran_into_is_split_by_the_missing_token():
    """`superexplanation)`: a deleted `(` between two words the file uses; and the blanks a deleted token
    leaves choose among the tokens that fit (none for `.`, two for `=`)."""
    from treediff.repairs import token_inserts

    code = "function f (explanation) {\n  super(explanation)\n  g(explanation)\n  superexplanation)\n}\n"
    fixed = code.replace("superexplanation)", "super(explanation)")
    edits = token_inserts(code, "javascript", check(code, "javascript"))
    assert any(code[:p] + t + code[p:] == fixed for p, t in edits), edits
    # `)` then a name is `) + name` three times here and `).name` twice, but no blank is left: a `.`
    code = "f().g()\nf().h()\nk() + m()\nn() + p()\nq() + r()\ns()t()\n"
    (pos, token), *_ = token_inserts(code, "javascript", check(code, "javascript"))
    assert code[:pos] + token + code[pos:] == code.replace("s()t()", "s().t()")
