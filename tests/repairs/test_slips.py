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
