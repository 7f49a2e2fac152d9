"""One-token slips the indentation cannot show (issue 17): a flat namespace's bracket, a key's `:` in a list of keyed
elements, a statement's `;` after a macro call, a bracket a one-line item lost inside a macro's tokens.  Each
case is one the held-out benchmark (bench/repair_slips.py) got wrong before, cut down."""

from __future__ import annotations

from treediff import repair
from treediff.repairs import flat_edits, line_edits, scars_mended, sibling_tokens, token_inserts
from treediff.sample.record import check
from treediff.syntax.tree import parse

HEADER = ("#ifndef H\n#define H\n\nnamespace boost\n{\n\ntemplate<class T>\nstruct A\n{\n   typedef T type;\n};\n\n"
          "template<class T>\nstruct B\n{\n   typedef T* type;\n};\n\n} // namespace boost\n\n#endif // H\n")


def _applied(code: str, edits) -> list[str]:
    return [code[:a] + t + code[b:] for a, b, t in edits]


def test_a_namespace_closer_goes_after_its_last_item_not_right_after_its_opener(untrained_lm):
    bad = HEADER.replace("} // namespace", " // namespace")
    assert _applied(bad, flat_edits(bad, "cpp", check(bad, "cpp")))[0] == HEADER
    r = repair(bad, "cpp", model=untrained_lm)
    assert r.code == HEADER and r.record.ok  # not `{\n}` at the top: an empty namespace, and valid C++ too


def test_a_namespace_opener_goes_on_the_line_the_file_writes_it(untrained_lm):
    bad = HEADER.replace("namespace boost\n{\n", "namespace boost\n\n")
    assert _applied(bad, flat_edits(bad, "cpp", check(bad, "cpp")))[0] == HEADER
    assert repair(bad, "cpp", model=untrained_lm).code == HEADER


def test_a_lost_key_colon_is_a_colon_where_the_other_elements_are_keyed():
    good = 'package p\n\nvar h = &Header{\n\tName: "lorem.txt",\n\tMode: 0600,\n\tSize: 9,\n}\nvar r = R{a, 0}\n'
    bad = good.replace("Mode: 0600", "Mode 0600")
    leaves = [n for n in parse(bad, "go").leaves() if n.end_byte > n.start_byte]
    mode = next(i for i, n in enumerate(leaves) if n.text == "Mode")
    assert sibling_tokens(leaves[mode], leaves[mode + 1]) == {":": 2}
    p, t = token_inserts(bad, "go", check(bad, "go"))[0]  # `Mode, 0600` parses too; the file's `{a, 0}` has `,`
    assert bad[:p] + t + bad[p:] == good


def test_a_statement_semicolon_after_a_macro_call():
    good = ('fn main() {\n    let x = 1;\n    println!("a={}", x);\n    println!("a={}", x + 1);\n'
            '    println!("b={}", std::env::var("B").unwrap());\n    println!("c");\n}\n')
    bad = good.replace(".unwrap());", ".unwrap())")
    p, t = token_inserts(bad, "rust", check(bad, "rust"))[0]  # inside the macro's tokens, `.` `!` `||` parse too
    assert bad[:p] + t + bad[p:] == good


def test_a_bracket_lost_inside_a_macros_tokens_goes_where_the_line_shows_the_scar(untrained_lm):
    good = ("#[cfg(windows)]\nfn t() {\n    assert_eq!(f(min).g(), min);\n    assert_eq!(f(max).g(), max);\n"
            "    assert_eq!(Some(f(max)).unwrap().g(), max);\n}\n")
    for bad in (good.replace("f(max).g(), max", "f(max).g(, max"), good.replace("assert_eq!(f(max)", "assert_eq!f(max)")):
        assert good in _applied(bad, line_edits(bad, "rust", check(bad, "rust")))
        # what only balances the brackets (rustc checks no more where cfg leaves the code out) makes new scars
        assert repair(bad, "rust", model=untrained_lm).code == good
    code = "f(), a;\nf(), b;\ng(, c);\nh(d);\n"
    assert scars_mended(code, code.replace("g(,", "g(),"), "c") > scars_mended(code, code.replace("c);", "c));"), "c")


def test_a_closer_a_composite_element_lost_stays_on_its_line():
    good = "package p\n\nvar pal = []Gray{\n\tGray{Y: 0},\n\tGray{Y: 70},\n\tGray{Y: 160},\n}\n"
    bad = good.replace("{Y: 70},", "{Y: 70,")
    assert good in _applied(bad, line_edits(bad, "go", check(bad, "go")))


def test_pairs_a_comment_writes_are_no_evidence():
    from treediff.repairs.diff import pair_counts

    code = "/// write_to_buf and flush_buf).\nfn f(s: &mut S) {\n    s.flush_buf();\n}\n"
    assert pair_counts(code, "rust").get(("flush_buf", ")"), 0) == 0 and pair_counts(code, "rust")[("flush_buf", "(")] == 1
