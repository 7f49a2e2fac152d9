"""One-token slips put back exactly, no model needed (issue 17): a lost opener the indentation shows, a closer's
own blank line, a `(` put back into two words run together rather than the `)` deleted, a `{` at a line's end."""

from __future__ import annotations

from treediff import repair
from treediff.repairs import drops_lone_token, opener_edits, token_inserts
from treediff.sample.record import check


def test_a_lost_opener_goes_back_where_the_indentation_shows(untrained_lm):
    good = "def f():\n    content = [\n        1,\n        2,\n    ]\n    return content\n"
    bad = good.replace("content = [", "content = ")
    edits = opener_edits(bad, "python", check(bad, "python"))
    assert (bad.index("= ") + 2, bad.index("= ") + 2, "[") in edits
    assert repair(bad, "python", model=untrained_lm).code == good
    js = "function f(x) {\n  if (x) {\n    g(x);\n  }\n  return x;\n}\n"
    bad = js.replace("if (x) {", "if (x) ")
    assert repair(bad, "javascript", model=untrained_lm).code == js


def test_a_lost_closer_takes_back_its_own_blank_line(untrained_lm):
    good = "def f():\n    out = g(\n        1,\n        2\n    )\n    return out\n"
    bad = good.replace("    )\n", "    \n")
    r = repair(bad, "python", model=untrained_lm)
    assert r.code == good and r.record.ok


def test_a_token_the_user_wrote_once_is_put_back_not_its_partner_deleted(untrained_lm):
    assert drops_lone_token("f(a)\nb)\n", "f(a)\nb\n") and not drops_lone_token("f(a))\n", "f(a)\n")
    good = "def run(args):\n    return helper(args[0])\n\n\ndef helper(x):\n    return x\n"
    bad = good.replace("helper(args[0])", "helperargs[0])")
    r = repair(bad, "python", model=untrained_lm)
    assert r.code == good  # not `helperargs[0]`, valid Python too
    # a name the file uses once, made of a word the file uses and another name: the `(` between them
    code = "import os\n\ndef f(path):\n    return os.path.dirnamepath)\n"
    fixed = code.replace("dirnamepath)", "dirname(path)")
    assert any(code[:p] + t + code[p:] == fixed for p, t in token_inserts(code, "python", check(code, "python")))


def test_an_opener_at_a_lines_end_goes_after_the_blank_the_slip_left():
    code = "const f = (a) => {\n  return a;\n};\nconst g = (b) => \n  return b;\n};\n"
    fixed = code.replace("(b) => \n", "(b) => {\n")
    edits = token_inserts(code, "javascript", check(code, "javascript"))
    assert any(code[:p] + t + code[p:] == fixed for p, t in edits), edits


def test_a_closer_line_that_lost_its_head_gets_it_back():
    from treediff.repairs import layout_edits

    good = "f(function () {\n  g(1)\n})\nh(2)\n"
    bad = good.replace("})", ")")
    edits = layout_edits(bad, "javascript", check(bad, "javascript"))
    assert any(bad[:a] + t + bad[b:] == good for a, b, t in edits), edits


def test_closers_go_between_the_blanks_a_slip_left_or_make_an_empty_pair():
    from treediff.repairs import bracket_inserts

    code = 'import { a as X  from "./y";\n'
    fixed = 'import { a as X } from "./y";\n'
    assert any(code[:p] + t + code[p:] == fixed for p, t in bracket_inserts(code, "typescript", check(code, "typescript")))
    code = "package p\n\ntype E [string\n"
    fixed = "package p\n\ntype E []string\n"
    assert any(code[:p] + t + code[p:] == fixed for p, t in bracket_inserts(code, "go", check(code, "go")))


def test_a_separator_the_file_no_longer_uses_goes_between_two_blanks():
    code = "const a = b ? c  [d]\nconst e = f(a)\n"  # the file's only `:` was the one the slip took
    fixed = "const a = b ? c : [d]\nconst e = f(a)\n"
    edits = token_inserts(code, "javascript", check(code, "javascript"))
    assert any(code[:p] + t + code[p:] == fixed for p, t in edits), edits


def test_a_lost_block_closer_goes_where_the_block_ends_not_at_the_end_of_the_file(untrained_lm):
    good = ("export interface A {\n    x: number;\n}\n"
            "export declare function f(a: A): void;\nexport declare function g(a: A): void;\n")
    bad = good.replace("number;\n}\n", "number;\n")
    assert repair(bad, "typescript", model=untrained_lm).code == good


def test_a_misspelt_keyword_near_several_keywords_is_tried_as_each(untrained_lm):
    # `cass` is one edit from `case`, `pass` and `class`: the check picks the one that parses
    assert repair("cass Tool:\n    x = 1\n", "python", model=untrained_lm).code == "class Tool:\n    x = 1\n"


def test_a_lost_semicolon_goes_before_the_comment_and_a_lost_opener_on_its_own_line():
    from treediff.repairs import parser_inserts

    code = "int x /* a */\nint y;\n"
    assert parser_inserts(code, "c")[0] == (5, ";")
    good = "namespace a\n{\nint f()\n{\n    return 1;\n}\nint g()\n{\n    return 2;\n}\n}\n"
    bad = good.replace("int g()\n{\n", "int g()\n\n")
    edits = opener_edits(bad, "cpp", check(bad, "cpp"))
    assert any(bad[:a] + t + bad[b:] == good for a, b, t in edits), edits


def test_a_struct_closer_goes_before_its_semicolon_line(untrained_lm):
    good = "#ifndef H\n#define H\nstruct A {\n    int x;\n    int y;\n};\n\n#define N 1\n#endif\n"
    bad = good.replace("    int y;\n};\n", "    int y;\n;\n")
    assert repair(bad, "c", model=untrained_lm).code == good
