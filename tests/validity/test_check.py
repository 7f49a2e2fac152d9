"""treediff.validity.check: tree-sitter + compiler verdicts, positions, missing compilers."""

from __future__ import annotations

import shutil
import time
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treediff.errors import GrammarError, LanguageNotFound
from treediff.syntax import get_language, list_languages
from treediff.validity import CompilerSpec, ValidityResult, check, compiler_spec

# -- Python: what tree-sitter accepts and compile() rejects ---------------------------
PERMISSIVE = [
    ("x = 1\nreturn x\n", 2, "'return' outside function"),
    ("x = 1\n\nbreak\n", 3, "'break' outside loop"),
    ("def f():\n    continue\n", 2, "'continue' not properly in loop"),
    ("def f(a, a):\n    pass\n", 1, "duplicate argument"),
    ("yield 1\n", 1, "'yield' outside function"),
    ("def f():\n    await g()\n", 2, "'await' outside async function"),
    ("print 'x'\n", 1, "Missing parentheses"),
    ("exec 'x = 1'\n", 1, "Missing parentheses"),
]


@pytest.mark.parametrize("code,line,fragment", PERMISSIVE)
def test_python_permissive_cases_are_compile_errors(code, line, fragment):
    r = check(code, "python")
    assert r.ok is False
    assert r.level == "compiler:python"
    assert r.problems[0].kind == "compile_error"
    assert r.problems[0].start_line == line
    assert fragment in r.problems[0].message
    # tree-sitter alone lets these through: that is why the compiler decides
    assert check(code, "python", compiler=False).ok is True


def test_python_valid_at_compiler_level():
    r = check("async def f(xs):\n    for x in xs:\n        await x\n    return 1\n", "python")
    assert (r.ok, r.level, r.problems, r.compiler_missing) == (True, "compiler:python", (), None)
    assert r.language == "python" and r.num_lines == 4


def test_problem_positions_map_to_bytes():
    code = "s = 'é'\nx = (1,\n"
    r = check(code, "python")
    assert not r.ok
    p = r.problems[0]
    data = code.encode()
    assert (p.start_line, p.start_col) == (2, 5)
    assert data[p.start_byte : p.start_byte + 1] == b"("
    assert p.start_byte <= p.end_byte <= len(data)
    d = r.to_dict()
    assert d["problems"][0]["kind"] == "compile_error" and isinstance(d["problems"], list)


def test_tree_sitter_only_reports_errors():
    r = check("def f(:\n", "python", compiler=False)
    assert r.level == "tree-sitter" and not r.ok
    assert {p.kind for p in r.problems} <= {"ts_error", "ts_missing"}


def test_verdict_follows_compiler_when_tree_sitter_rejects():
    # valid Python (found in the stdlib's test_compile.py) that tree-sitter-python cannot parse:
    # ok must equal compile()'s verdict and the tree-sitter findings become warnings
    code = "def f():\n    (bar.\n baz)\n"
    assert check(code, "python", compiler=False).ok is False
    r = check(code, "python")
    assert (r.ok, r.level, r.problems) == (True, "compiler:python", ())
    assert r.warnings and all(w.kind in ("ts_error", "ts_missing") for w in r.warnings)


def test_bad_arguments_still_raise():
    with pytest.raises(LanguageNotFound):
        check("x", "cobol")
    with pytest.raises(Exception):
        check(42, "python")  # type: ignore[arg-type]


def test_input_errors_are_results_not_exceptions():
    for data in (b"\x00\x01\x02", b"\xff\xfe x = 1", "x = '\ud800'\n"):
        r = check(data, "python")
        assert r.ok is False and r.problems[0].kind == "input_error"


def test_deep_nesting_does_not_crash_or_hang():
    t0 = time.perf_counter()
    r = check("(" * 10_000 + ")" * 10_000 + "\n", "python")
    assert r.ok is False and r.level == "compiler:python"
    r = check("x = " + "[" * 10_000 + "\n", "python")
    assert r.ok is False
    if shutil.which("node"):
        assert check("(" * 10_000 + ")" * 10_000 + ";\n", "javascript").level == "compiler:node"
    assert time.perf_counter() - t0 < 30


# -- missing compilers ----------------------------------------------------------------
def test_missing_compiler_stays_at_tree_sitter(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: node cannot be found
    r = check("const x = 1;\n", "javascript")
    assert r.level == "tree-sitter"
    assert r.compiler_missing == "node"
    assert r.ok is True  # tree-sitter's verdict, flagged as such
    bad = check("const x = 1;\nconst x = 2;\n", "javascript")
    assert bad.level == "tree-sitter" and bad.compiler_missing == "node"


@pytest.mark.parametrize("lang", [lang.name for lang in list_languages()])
def test_every_language_has_a_valid_compiler_table(lang):
    spec = compiler_spec(get_language(lang))
    assert spec is not None and spec.name and spec.driver
    if not spec.is_available:
        r = check(get_language(lang).fillers.get("statement", "") or " ", lang)
        assert r.level == "tree-sitter" and r.compiler_missing == spec.binary


def test_compiler_table_is_validated():
    with pytest.raises(GrammarError):
        CompilerSpec.from_table({"name": "x", "driver": "nope", "argv": ["x"]}, "x.toml")
    with pytest.raises(GrammarError):
        CompilerSpec.from_table({"name": "x", "driver": "command"}, "x.toml")
    with pytest.raises(GrammarError):
        CompilerSpec.from_table({"name": "x", "driver": "command", "argv": ["x"], "error_regex": "("}, "x.toml")
    assert CompilerSpec.from_table({}, "x.toml") is None


def test_unresolved_patterns_are_validated():
    base = {"name": "x", "driver": "command", "argv": ["x"]}
    with pytest.raises(GrammarError, match="unresolved"):
        CompilerSpec.from_table({**base, "unresolved": ["("]}, "x.toml")
    with pytest.raises(GrammarError, match="unresolved"):
        CompilerSpec.from_table({**base, "unresolved": "no such file"}, "x.toml")
    spec = CompilerSpec.from_table({**base, "unresolved": ["^cannot find", "No such file$"]}, "x.toml")
    assert spec.unresolved == ("^cannot find", "No such file$")
    assert spec.is_unresolved("cannot find symbol") and spec.is_unresolved("a.h: No such file")
    assert not spec.is_unresolved("incompatible types: String cannot be converted to int")


def compiler_or_skip(lang: str):
    """The language's compiler spec; the test is skipped when its binary is not installed."""
    spec = compiler_spec(get_language(lang))
    if not spec.is_available:
        pytest.skip(f"{spec.binary} is not installed")
    return spec


# -- references to code outside the file: kind "unresolved", set aside on request --------
# (code that refers to packages/headers/crates this machine lacks, the same with a real error too, its line)
UNRESOLVED_CASES = {
    "java": ("import com.example.Missing;\n\nclass A extends Base {\n    Missing m = Helper.make();\n}\n",
             "import com.example.Missing;\n\nclass A {\n    Missing m;\n    int x = \"text\";\n}\n", 5),
    "c": ('#include "nowhere/missing.h"\nint f(void) { return 1; }\n',
          '#include "nowhere/missing.h"\nint f(void) { return 1 }\n', 2),
    "cpp": ("#include <nowhere/missing.hpp>\nint f() { return 1; }\n",
            "#include <nowhere/missing.hpp>\nint f() { return 1 }\n", 2),
    "rust": ("use missing_crate::Thing;\n\npub fn f(t: Thing) -> i32 {\n    missing_crate::helper(t)\n}\n",
             "use missing_crate::Thing;\n\npub fn f() -> i32 {\n    let s: i32 = \"text\";\n    s\n}\n", 4),
}


@pytest.mark.parametrize("lang", sorted(UNRESOLVED_CASES))
def test_unresolved_references_are_their_own_kind(lang):
    spec = compiler_or_skip(lang)
    outside, broken, line = UNRESOLVED_CASES[lang]
    strict = check(outside, lang)
    assert strict.ok is False and strict.problems
    assert {p.kind for p in strict.problems} == {"unresolved"}, strict.problems
    lenient = check(outside, lang, allow_unresolved=True)
    # gcc stops at a missing header: what was really checked after it is tree-sitter, and a note says so
    stops = lang in ("c", "cpp")
    assert (lenient.ok, lenient.level, lenient.problems) == (True, "tree-sitter" if stops else f"compiler:{spec.name}", ())
    assert (lenient.compiler_note is not None) == stops and (strict.level == "tree-sitter") == stops
    if stops:
        assert "stopped at line 1" in lenient.compiler_note and "No such file" in lenient.compiler_note
        # the missing header is a real error on this machine: invalid, not unknown (--allow-unknown must not pass it)
        assert lenient.verdict == "valid" and strict.verdict == "invalid"
    assert [p.message for p in lenient.unresolved] == [p.message for p in strict.problems]
    assert lenient.to_dict()["unresolved"][0]["kind"] == "unresolved"
    # a real error beside the outside references still counts
    bad = check(broken, lang, allow_unresolved=True)
    assert bad.ok is False
    assert any(p.start_line == line for p in bad.problems), bad.problems


def test_early_stop_is_no_compiler_verdict():
    """After gcc's fatal missing header nothing is compiled: an error after it is tree-sitter's to find."""
    compiler_or_skip("c")
    after = '#include "nowhere/missing.h"\nint f(void) { return 1 +; }\n'
    r = check(after, "c", allow_unresolved=True)
    assert (r.ok, r.level) == (False, "tree-sitter") and "nothing after it was compiled" in r.compiler_note
    assert r.verdict == "invalid"
    assert [p.kind for p in r.problems] and all(p.kind.startswith("ts_") for p in r.problems), r.problems
    clean = check("int f(void) { return 1; }\n", "c")
    assert (clean.ok, clean.level, clean.compiler_note) == (True, "compiler:gcc", None)


# -- a name declared nowhere, in a file that imports nothing that could provide it, is a real error --
UNDECLARED_CASES = {
    "java": ("class A { int f() { int total = 1; return totl; } }\n",
             "import java.util.List;\nclass A { List<String> f() { return lst; } }\n",
             # supertypes and globs javac resolved provide nothing it reports missing (held-out fills, session 14)
             # (on lines of their own: an error on an import's line is what makes it provide names)
             "import java.util.concurrent.Future;\nabstract class A implements Future<String> {\n"
             "  int g() { return size(); }\n}\n",
             "import java.util.*;\nclass A {\n  int g() { return size(); }\n}\n",
             "import java.io.IOException;\nclass A implements Runnable {\n"
             "  public void run() { new IOException.get(); }\n}\n",
             "class A implements Runnable {\n  public void run() {}\n  Object g() { return Long; }\n}\n",
             "class A implements Runnable {\n  public void run() {}\n"
             "  String g() { return this.toString(String); }\n}\n",
             "class A {\n  void f() { Override(); }\n}\n",
             "class A {\n  int n = java.util.List.nothing;\n}\n"),
    "rust": ("fn f() -> i32 { let total = 1; totl }\n",
             "use std::collections::HashMap;\nfn f() -> i32 { let total = 1; totl }\n",
             "use std::{\n    sync::atomic::{AtomicUsize, Ordering},\n};\nfn f() { sync(); }\n",
             "use std::future::Future;\n\n#[Future]\nfn f() {}\n"),
}
# names an import (a glob, a supertype, a named import, a crate path) could provide: still set aside
OUTSIDE_NAME_CASES = {
    "java": ("import com.foo.Bar;\nclass A { Bar b; }\n", "import com.foo.*;\nclass A { Baz b; }\n",
             "class A extends com.foo.Base { int g() { return size(); } }\n",
             "import static com.foo.Util.helper;\nclass A { int g() { return helper(); } }\n",
             # a supertype from an import javac could not resolve; a package's type in a type's place
             "import com.foo.Base;\nclass A extends Base {\n  int g() { return this.size() + SIZE; }\n}\n",
             "class A {\n  void f() throws Sibling {\n    Object o = new Other();\n"
             "    boolean b = o instanceof Third;\n"
             "    @Fourth(1) int x = 0;\n"
             "  }\n}\n",
             # a type of the file's package named by its path (javac's caret on the dot before it)
             "package p.q;\n\nclass A {\n  Object o = new p.q.Sibling();\n}\n"),
    "rust": ("use missing::Thing;\nfn f(t: Thing) {}\n", "use missing::*;\nfn f() { helper(); }\n",
             "fn f() { missing::helper(); }\n", "#[macro_use]\nextern crate missing;\nfn f() { thing!(); }\n",
             "fn f() {\n    debug!(\"from the crate root's #[macro_use] extern crate log;\");\n}\n"),
}


@pytest.mark.parametrize("lang", sorted(UNDECLARED_CASES))
def test_undeclared_names_are_errors_not_unresolved(lang):
    compiler_or_skip(lang)
    for src in UNDECLARED_CASES[lang]:
        r = check(src, lang, allow_unresolved=True)
        assert r.ok is False and r.unresolved == (), (src, r.problems, r.unresolved)
        assert {p.kind for p in r.problems} == {"compile_error"}, (src, r.problems)
    for src in OUTSIDE_NAME_CASES[lang]:
        r = check(src, lang, allow_unresolved=True)
        assert r.ok is True and r.unresolved, (src, r.problems)


def test_outside_names_option_is_validated():
    base = {"name": "x", "driver": "command", "argv": ["x"]}
    with pytest.raises(GrammarError, match="outside_names"):
        CompilerSpec.from_table({**base, "outside_names": ["^[A-Z]"]}, "x.toml")
    with pytest.raises(GrammarError, match="imports"):
        CompilerSpec.from_table({**base, "imports": ["("]}, "x.toml")
    spec = CompilerSpec.from_table({**base, "imports": [r"^import\s(?=(?P<glob>[^;]*\*)?)[^;]*;"]}, "x.toml")
    assert spec.imported("import a.B;\nimport c.*;") == (frozenset({"import", "a", "B", "c"}), True)
    assert spec.imported("class A {}") == (frozenset(), False)


# -- subprocess compilers: valid + injected error, skipped when the binary is missing ----
SUBPROCESS_CASES = {
    "javascript": ("const x = 1;\nfunction f() { return x; }\n", "const x = 1;\nconst x = 2;\n", 2),
    "java": (
        "public class Hello {\n  public static void main(String[] a) { int x = 1; }\n}\n",
        "public class Hello {\n  void f() {\n    int x = 1\n  }\n}\n",
        3,
    ),
    "c": ("int main(void) { return 0; }\n", "int main(void) {\n  int x = 1\n  return x;\n}\n", 2),
    "cpp": ("#include <vector>\nint main() { std::vector<int> v; return (int)v.size(); }\n", "int main() {\n  int x = ;\n}\n", 2),
    "rust": ("pub fn f() -> i32 { 1 }\n", "pub fn f() -> i32 {\n    1\n}\npub fn g() { let y = ; }\n", 4),
    "go": ("package main\n\nfunc main() {}\n", "package main\n\nfunc main() {\n\tx := \n}\n", 5),
}


@pytest.mark.parametrize("lang", sorted(SUBPROCESS_CASES))
def test_subprocess_compilers(lang):
    spec = compiler_or_skip(lang)
    good, bad, line = SUBPROCESS_CASES[lang]
    r = check(good, lang)
    assert (r.ok, r.level) == (True, f"compiler:{spec.name}"), r.problems
    r = check(bad, lang)
    assert r.ok is False and r.level == f"compiler:{spec.name}"
    first = r.problems[0]
    assert first.kind == "compile_error" and first.message
    assert first.start_line in (line, line - 1, line + 1)  # "expected ';'" may point at the line before


def test_node_tree_sitter_accepts_but_node_rejects():
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    code = "const x = 1;\nconst x = 2;\n"
    assert check(code, "javascript", compiler=False).ok is True
    r = check(code, "javascript")
    assert not r.ok and (r.problems[0].start_line, r.problems[0].start_col) == (2, 7)


def test_node_module_files_by_extension(tmp_path):
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    code = "export const x = 1;\nawait Promise.resolve(x);\n"
    assert check(code, "javascript", path=str(tmp_path / "m.mjs")).ok is True
    assert check("return 1;\n", "javascript", path=str(tmp_path / "m.mjs")).ok is False
    assert check("return 1;\n", "javascript", path=str(tmp_path / "c.cjs")).ok is True  # CommonJS wrapper


# -- never raises ---------------------------------------------------------------------
@given(st.binary(max_size=300))
def test_check_never_raises_on_bytes(data):
    assert isinstance(check(data, "python"), ValidityResult)


@given(st.text(max_size=300))
def test_check_never_raises_on_text(text):
    r = check(text, "python")
    assert r.ok in (True, False)
    assert all(0 <= p.start_byte <= p.end_byte for p in r.problems)


BASE = "def f(xs):\n    total = 0\n    for x in xs:\n        if x > 2:\n            break\n        total += x\n    return total\n"


@given(st.lists(st.tuples(st.integers(0, len(BASE)), st.integers(0, 6), st.sampled_from(["", "(", ")", ":", "return", "\n", "  ", "yield", "'"])), max_size=4))
def test_check_never_raises_on_mutants(edits):
    code = BASE
    for at, length, text in edits:
        at = min(at, len(code))
        code = code[:at] + text + code[at + length :]
    r = check(code, "python")
    with_compile = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(code, "<m>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            with_compile = False
    assert r.ok == with_compile
