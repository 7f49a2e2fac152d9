"""Compiler verdicts for TypeScript (tsc) and Go (go build): issue 17's wrong verdicts, what is unresolved.

The tools come from ``make setup`` (``make checker-tools``: typescript into ``.tools/node``, Debian's
golang-go); each test is skipped, saying so, only where its tool is absent.
"""

from __future__ import annotations

import os
import stat

import pytest

from treediff.sandbox import Sandbox
from treediff.syntax import get_language
from treediff.validity import CompilerSpec, check, compiler_spec


def tool_or_skip(lang: str) -> CompilerSpec:
    spec = compiler_spec(get_language(lang))
    if not spec.is_available:
        pytest.skip(f"{spec.binary} is not installed (make checker-tools installs it)")
    return spec


def kinds(result) -> set[str]:
    return {p.kind for p in result.problems}


# -- TypeScript ------------------------------------------------------------------------------
# what tree-sitter accepts and tsc rejects: the file's own errors, never set aside
TS_INVALID = {
    "TS1233": "function f() {\n  const a = 1;\n  export { a };\n}\n",
    "TS2339": "const s = 'a';\nconsole.log(s.nope);\n",
    "TS2339 on a class of the file": "class Stack {\n  items: number[] = [];\n}\nexport const n = new Stack().size;\n",
    "TS2322": "export const n: number = 'text';\n",
    "TS2552": "let total = 1;\nexport const z = totl;\n",
    "TS2304 despite an import": "import { join } from 'path';\nexport const z = helper(join('a', 'b'));\n",
    "TS2552 beside a namespace import": "import * as equal from 'fast-deep-equal';\nexport const e = equax(1, 2);\n",
}
# code that refers to modules and type definitions this machine lacks: unresolved, nothing else wrong
TS_OUTSIDE = {
    "npm module": "import { camelCase } from 'lodash';\nexport const k = camelCase('a b');\n",
    "relative module": "import Ajv from './core';\nexport default new Ajv({ strict: true });\n",
    "node globals": "export const home = process.env.HOME;\nexport const dir = __dirname;\n",
    "multi-line import": "import {\n  parse,\n  stringify,\n} from 'yaml';\nexport const y = stringify(parse('a: 1'));\n",
    "class extending an import": ("import React from 'react';\nexport class W extends React.Component<{ n: number }> {\n"
                                  "  render() { return this.props.n; }\n}\n"),
}


@pytest.mark.parametrize("name", sorted(TS_INVALID))
def test_tsc_errors_are_compile_errors(name):
    spec = tool_or_skip("typescript")
    r = check(TS_INVALID[name], "typescript", allow_unresolved=True)
    assert (r.ok, r.verdict, r.level) == (False, "invalid", f"compiler:{spec.name}"), r.problems
    assert kinds(r) == {"compile_error"}, r.problems
    assert all(u.start_line == 1 for u in r.unresolved), r.unresolved  # at most the import itself (a node module)
    assert r.problems[0].message.startswith(name.split()[0]), r.problems


@pytest.mark.parametrize("name", sorted(TS_OUTSIDE))
def test_tsc_outside_references_are_unresolved(name):
    spec = tool_or_skip("typescript")
    strict = check(TS_OUTSIDE[name], "typescript")
    assert (strict.ok, strict.verdict) == (False, "invalid") and kinds(strict) == {"unresolved"}, strict.problems
    lenient = check(TS_OUTSIDE[name], "typescript", allow_unresolved=True)
    assert (lenient.ok, lenient.level, lenient.problems) == (True, f"compiler:{spec.name}", ())
    assert len(lenient.unresolved) == len(strict.problems)


def test_tsc_valid_programs_and_tsx():
    spec = tool_or_skip("typescript")
    ok = ("interface Point { x: number; y: number }\n"
          "export function norm(p: Point): number { return Math.hypot(p.x, p.y); }\n"
          "export const m = new Map<string, Point>([['o', { x: 0, y: 0 }]]);\n")
    r = check(ok, "typescript")
    assert (r.ok, r.level) == (True, f"compiler:{spec.name}"), r.problems
    jsx = "import React from 'react';\nexport const Hi = ({ who }: { who: string }) => <p>Hi {who}</p>;\n"
    r = check(jsx, "tsx", allow_unresolved=True)
    assert (r.ok, r.level) == (True, f"compiler:{spec.name}"), r.problems
    assert check(jsx.replace("</p>", "</b>"), "tsx", allow_unresolved=True).ok is False


# -- Go ----------------------------------------------------------------------------------------
GO_INVALID = {
    "top-level statement": ("package main\n\n_ = 0\n\nfunc main() {}\n", 3, "non-declaration statement"),
    "unused variable": ("package main\n\nfunc main() {\n\tx := 1\n}\n", 4, "declared but not used"),
    "unused import": ('package main\n\nimport "os"\n\nfunc main() {}\n', 3, "imported and not used"),
    "undeclared name": ("package calc\n\nfunc F() int {\n\ttotal := 1\n\treturn totl + total\n}\n", 5, "undefined: totl"),
    "type error": ('package calc\n\nfunc F() int {\n\treturn "s"\n}\n', 4, "cannot use"),
}


@pytest.mark.parametrize("name", sorted(GO_INVALID))
def test_go_errors_are_compile_errors(name):
    spec = tool_or_skip("go")
    code, line, fragment = GO_INVALID[name]
    r = check(code, "go", allow_unresolved=True)
    assert (r.ok, r.verdict, r.level) == (False, "invalid", f"compiler:{spec.name}"), r.problems
    assert kinds(r) == {"compile_error"}, r.problems
    assert any(p.start_line == line and fragment in p.message for p in r.problems), r.problems


def test_go_valid_programs():
    spec = tool_or_skip("go")
    main = ('package main\n\nimport (\n\t"fmt"\n\t"strings"\n)\n\n'
            'func main() {\n\tfmt.Println(strings.ToUpper("go"))\n}\n')
    generic = "package calc\n\nfunc Map[T, U any](xs []T, f func(T) U) []U {\n\tvar out []U\n" \
              "\tfor _, x := range xs {\n\t\tout = append(out, f(x))\n\t}\n\treturn out\n}\n"
    for code in (main, generic):
        r = check(code, "go")
        assert (r.ok, r.level, r.compiler_note) == (True, f"compiler:{spec.name}", None), r.problems
    # go vet would reject this (printf verb); the compiler accepts it, and so does the verdict
    assert check('package main\n\nimport "fmt"\n\nfunc main() { fmt.Printf("%d", "s") }\n', "go").ok


def test_go_missing_module_is_unresolved_and_stops_the_build():
    tool_or_skip("go")
    code = 'package web\n\nimport "github.com/missing/router"\n\nfunc F() { router.Serve() }\n'
    strict = check(code, "go")
    assert (strict.ok, strict.verdict, strict.level) == (False, "invalid", "tree-sitter")
    assert kinds(strict) == {"unresolved"}
    lenient = check(code, "go", allow_unresolved=True)
    assert (lenient.ok, lenient.level) == (True, "tree-sitter")  # the go command compiled nothing
    assert "stopped at line 3" in lenient.compiler_note and "nothing after it was compiled" in lenient.compiler_note
    broken = check(code.replace("router.Serve() }", "router.Serve( }"), "go", allow_unresolved=True)
    assert broken.ok is False and {p.kind for p in broken.problems} <= {"ts_error", "ts_missing"}


# -- lookup and sandbox plumbing -----------------------------------------------------------------
def test_bin_paths_are_searched_before_path(tmp_path, monkeypatch):
    tools = tmp_path / "tools" / "bin"
    tools.mkdir(parents=True)
    fake = tools / "fakecc"
    fake.write_text("#!/bin/sh\necho fakecc 1.0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("TREEDIFF_TOOLS", str(tmp_path / "tools"))
    monkeypatch.setenv("PATH", os.defpath)
    spec = CompilerSpec.from_table({"name": "fake", "driver": "command", "binary": "fakecc", "argv": ["fakecc", "{file}"],
                                    "bin_paths": ["{tools}/bin"], "version": ["fakecc"]}, "x.toml")
    assert spec.binary_path() == str(fake)
    assert CompilerSpec.from_table({**{"name": "f", "driver": "command", "binary": "fakecc"}, "argv": ["x"]},
                                   "x.toml").binary_path() is None


def test_compiler_env_is_validated_and_reaches_the_program():
    with pytest.raises(Exception, match="env"):
        CompilerSpec.from_table({"name": "x", "driver": "command", "argv": ["x"], "env": {"A": 1}}, "x.toml")
    with pytest.raises(Exception, match="named group"):
        CompilerSpec.from_table({"name": "x", "driver": "command", "argv": ["x"], "inherits": "class (\\w+)"}, "x.toml")
    with Sandbox() as box:
        r = box.run(["sh", "-c", 'echo "$GOCACHE"'], env={"GOCACHE": box.path("out/cache")})
    assert r.ok and r.stdout.decode().strip() == box.path("out/cache")
