"""No silent deletions (issue 17): a repair that removes the user's code is no success; misspelt keywords
are repair sites.  The "Why" cases: C++ ``clas Stack`` must not become `` ;``, a Java file must not shrink to
its imports, a Rust ``impl`` block must not vanish."""

from __future__ import annotations

import shutil

import pytest

from treediff import repair
from treediff.repairs.diff import removed_lines
from treediff.repairs.driver import MAX_REMOVED_LINES, refuse_deletions
from treediff.repairs.keyword_edits import keyword_edits
from treediff.sample.record import FillResult, ValidityRecord, check, verdict_fields
from treediff.syntax.keywords import glued_keyword, glued_names, keywords

JAVA = """import java.util.List;
import java.util.ArrayList;

public class Main {
    static int total(List<Integer> xs) {
        int t = 0;
        for (int x : xs) {
            t += x;
        }
        retrun t;
    }
}
"""

CPP = """#include <vector>
clas Stack {
  std::vector<int> items;
 public:
  void push(int x) { items.push_back(x); }
  bool empty() const { return items.empty(); }
};
"""

RUST = """struct Stack {
    items: Vec<i32>,
}

imp Stack {
    fn push(&mut self, x: i32) {
        self.items.push(x);
    }
    fn len(&self) -> usize {
        self.items.len()
    }
}
"""


def _as_result(code: str, language: str) -> FillResult:
    verdict = check(code, language)
    record = ValidityRecord(**verdict_fields(verdict), rounds=1, fallback=False, nfe=0, seconds=0.0,
                            constraint="full")
    return FillResult(code=code, record=record, verdict=verdict)


def test_a_repair_that_keeps_only_the_imports_is_refused_unless_allowed():
    imports_only = "import java.util.List;\nimport java.util.ArrayList;\n"
    given = check(JAVA, "java")
    refused = refuse_deletions(JAVA, _as_result(imports_only, "java"), given, allow=False)
    assert not refused.record.ok and "would remove" in refused.record.reason
    assert refused.code == JAVA  # the user's code, as given
    assert "retrun t;" in refused.record.extra["would_remove"]
    assert len(refused.record.extra["would_remove"]) > MAX_REMOVED_LINES
    allowed = refuse_deletions(JAVA, _as_result(imports_only, "java"), given, allow=True)
    assert allowed.code == imports_only and allowed.record.extra["removed_lines"] > MAX_REMOVED_LINES


def test_removed_lines_counts_a_class_reduced_to_a_semicolon():
    assert len(removed_lines(CPP, " ;\n")) == len(CPP.splitlines()) - 1  # all but `};`, like ` ;`
    assert removed_lines(CPP, CPP.replace("clas ", "class ")) == []


@pytest.mark.parametrize("code, language, word, keyword", [
    (JAVA, "java", "retrun", "return"), (CPP, "cpp", "clas", "class"), (RUST, "rust", "imp", "impl"),
    ("def f(x):\n    whlie x:\n        x -= 1\n", "python", "whlie", "while"),
])
def test_misspelt_keywords_are_repair_sites(code, language, word, keyword):
    edits = keyword_edits(code, language, check(code, language))
    at = code.index(word)
    assert (at, at + len(word), keyword) in edits


@pytest.mark.slow
@pytest.mark.parametrize("code, language, keep", [
    (CPP, "cpp", ["class Stack", "void push", "bool empty"]),
    (JAVA, "java", ["public class Main", "static int total", "return t;"]),
    (RUST, "rust", ["impl Stack", "fn push", "fn len"]),
])
def test_why_cases_keep_their_structure(untrained_lm, code, language, keep):
    """Whatever the model (an untrained one here): the misspelt keyword is restored in place, nothing lost."""
    r = repair(code, language, model=untrained_lm)
    assert r.record.ok and all(k in r.code for k in keep), r.code
    assert r.record.extra["removed_lines"] == 0


GLUED = """package p;

import java.io.IOException;

public class Provider extends Base {
    public Object open() throws IOException {
        return new SelectorImplthis);
    }
}
"""


def test_named_literal_words_are_keywords_and_glued_words_split():
    assert {"this", "super"} <= keywords("java") and "this" not in keywords("java", named=False)
    assert "nil" in keywords("go") and "self" in keywords("rust")
    assert glued_keyword("SelectorImplthis", "java") == (("SelectorImpl", "this"),)
    assert glued_keyword("this", "java") == () and glued_keyword("count", "c") == ()


def test_a_word_glued_by_a_slip_is_no_reference_to_set_aside():
    """A deleted ``(`` glued ``SelectorImpl`` to ``this``: the glued word is written once, on the line of the
    syntax error, so it is suspect; a word used elsewhere, or on a clean line, is not."""
    assert glued_names(GLUED, "java") == {"SelectorImplthis"}
    assert glued_names(GLUED.replace("Implthis)", "Implthis()"), "java") == frozenset()
    twice = GLUED.replace("    }\n}", "    }\n    Object g() { return SelectorImplthis; }\n}")
    assert glued_names(twice, "java") == frozenset()
    edits = keyword_edits(GLUED, "java", check(GLUED, "java"))
    at = GLUED.index("this);")
    assert (at, at, "(") in edits


@pytest.mark.skipif(shutil.which("javac") is None, reason="javac not installed")
def test_a_glued_word_is_a_problem_and_its_name_is_not():
    """The repair that keeps the glued word (``SelectorImplthis();``) is rejected (it was a false ok: javac's
    "cannot find symbol" was set aside as a reference to a class this machine lacks); the one that splits it
    keeps ``SelectorImpl``, a class of the package this machine lacks, set aside as before."""
    kept = GLUED.replace("SelectorImplthis)", "SelectorImplthis()")
    assert not check(kept, "java", given=GLUED).ok
    split = GLUED.replace("SelectorImplthis)", "SelectorImpl(this)")
    v = check(split, "java", given=GLUED)
    assert v.ok and v.level == "compiler:javac" and v.unresolved


@pytest.mark.skipif(shutil.which("javac") is None, reason="javac not installed")
def test_repair_restores_a_glued_keyword(untrained_lm):
    r = repair(GLUED, "java", model=untrained_lm)
    assert r.record.ok and "return new SelectorImpl(this);" in r.code, r.code
