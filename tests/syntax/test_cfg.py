"""CFG engine on Python: golden graphs, peer regressions, properties over real files."""

from __future__ import annotations

import ast
import json
import os
import pathlib
import sysconfig
import warnings

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treediff.errors import GrammarError, NotFound
from treediff.syntax import get_language, parse
from treediff.syntax.cfg import (
    EDGE_LABELS, basic_blocks, build_cfg, build_cfgs, cfg_to_dot, cfg_to_json, dominators, reachable,
    unreachable_statements,
)
from treediff.syntax.cfg_tables import load_cfg_table

GOLDEN = pathlib.Path(__file__).parent / "golden"


def readable_edges(cfg):
    """Edges as sorted 'L<line> <kind> -> L<line> <kind> [label]' strings (ids-free, reviewable)."""
    g = cfg.graph

    def name(n):
        d = g.nodes[n]
        return n if n in ("ENTRY", "EXIT") else f"L{d['line']} {d['kind']}"

    return sorted(f"{name(u)} -> {name(v)} [{d['label']}]" for u, v, d in g.edges(data=True))


def check_golden(name: str, source: str, language: str = "python", function: str | None = "f") -> None:
    tree = parse(source, language)
    cfg = build_cfg(tree, function)
    got = {"source": source.splitlines(), "edges": readable_edges(cfg)}
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):  # regenerate: UPDATE_GOLDEN=1 pytest tests/syntax/test_cfg*.py
        path.write_text(json.dumps(got, indent=1) + "\n")
    assert path.exists(), f"missing golden file {path.name}; review and create it with UPDATE_GOLDEN=1"
    assert got == json.loads(path.read_text()), f"golden graph {path.name} differs"


CASES = {
    "try_finally_returns": """\
def f(x):
    try:
        if x:
            return 1
        y = g()
    except ValueError:
        y = 0
    else:
        z = 2
    finally:
        return 3
    dead = 1
""",
    "try_return_through_finally": """\
def f(x):
    try:
        return x
    finally:
        cleanup()
    after = 1
""",
    "nested_loops": """\
def f(xs):
    for x in xs:
        while x:
            if x > 3:
                break
            x -= 1
            continue
        else:
            print("no break")
    else:
        print("done")
    return 0
""",
    "match": """\
def f(cmd):
    match cmd:
        case "go":
            go()
        case [x, y] if x:
            pair()
        case _:
            other()
    return cmd
""",
    "with": """\
def f(path):
    with open(path) as fh, lock:
        data = fh.read()
    return data
""",
    "early_returns": """\
def f(x):
    if x is None:
        return 0
    elif x < 0:
        return -1
    y = x * 2
    return y
""",
    "unreachable_after_return": """\
def f():
    return 1
    x = 2
    print(x)
""",
    "raise_to_handler": """\
def f(x):
    try:
        if x:
            raise ValueError(x)
        ok()
    except ValueError as e:
        handle(e)
    return 1
""",
    "uncaught_raise_via_finally": """\
def f():
    try:
        raise KeyError()
    except ValueError:
        handle()
    finally:
        release()
    return 1
""",
    "break_in_finally_loop": """\
def f(items):
    for it in items:
        try:
            if it:
                break
            use(it)
        finally:
            log(it)
    return 2
""",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_python(name):
    check_golden(name, CASES[name])


def nodes_by_line(cfg):
    return {(d["line"], d["kind"]): n for n, d in cfg.graph.nodes(data=True) if isinstance(n, int)}


def test_return_inside_try_goes_through_finally():
    cfg = build_cfg(parse(CASES["try_return_through_finally"], "python"), "f")
    at = nodes_by_line(cfg)
    ret, fin = at[(3, "return_statement")], at[(5, "expression_statement")]
    assert cfg.graph.edges[ret, fin]["label"] == "return"
    assert not cfg.graph.has_edge(ret, "EXIT")
    assert cfg.graph.edges[fin, "EXIT"]["label"] == "finally"
    # the statement after the try is dead: the try only ever left by returning
    assert unreachable_statements(cfg) == [at[(6, "expression_statement")]]


def test_return_in_finally_overrides():
    cfg = build_cfg(parse(CASES["try_finally_returns"], "python"), "f")
    at = nodes_by_line(cfg)
    ret_try, ret_fin = at[(4, "return_statement")], at[(11, "return_statement")]
    assert cfg.graph.edges[ret_try, ret_fin]["label"] == "return"
    assert list(cfg.graph.successors(ret_fin)) == ["EXIT"]
    assert at[(12, "expression_statement")] in unreachable_statements(cfg)


def test_staticfg_flattens_try_except():
    """staticfg puts try and except bodies in one block; our handler is its own node behind an exception edge."""
    cfg = build_cfg(parse(CASES["raise_to_handler"], "python"), "f")
    at = nodes_by_line(cfg)
    handler = at[(6, "except_clause")]
    raise_stmt, ok = at[(4, "raise_statement")], at[(5, "expression_statement")]
    assert cfg.graph.edges[raise_stmt, handler]["label"] == "raise"
    assert cfg.graph.edges[ok, handler]["label"] == "exception"
    blocks = basic_blocks(cfg)
    owner = {s: b for b, d in blocks.nodes(data=True) for s in d["statements"]}
    assert owner[handler] != owner[ok] and owner[handler] != owner[raise_stmt]


def test_scalpel_keeps_code_inside_try_finally():
    """scalpel drops statements inside try/finally; every one of ours is a node, and reachable."""
    src = "def f():\n    try:\n        a = 1\n        b = 2\n    finally:\n        c = 3\n        d = 4\n    e = 5\n"
    cfg = build_cfg(parse(src, "python"), "f")
    lines = sorted(d["line"] for n, d in cfg.graph.nodes(data=True) if d["kind"] == "expression_statement")
    assert lines == [3, 4, 6, 7, 8]
    assert unreachable_statements(cfg) == []


def test_uncaught_raise_reaches_exit_through_finally():
    cfg = build_cfg(parse(CASES["uncaught_raise_via_finally"], "python"), "f")
    at = nodes_by_line(cfg)
    raise_stmt, fin = at[(3, "raise_statement")], at[(7, "expression_statement")]
    assert cfg.graph.edges[raise_stmt, at[(4, "except_clause")]]["label"] == "raise"
    assert cfg.graph.edges[raise_stmt, fin]["label"] == "raise"  # not caught by ValueError: via finally
    assert cfg.graph.edges[fin, "EXIT"]["label"] == "finally"
    assert not cfg.graph.has_edge(raise_stmt, "EXIT")


def test_bare_except_catches_everything():
    src = "def f():\n    try:\n        raise E\n    except:\n        pass\n    return 1\n"
    cfg = build_cfg(parse(src, "python"), "f")
    at = nodes_by_line(cfg)
    assert list(cfg.graph.successors(at[(3, "raise_statement")])) == [at[(4, "except_clause")]]


def test_scopes_in_preorder_and_only_definitions_outside():
    src = (
        "class A:\n    def m(self):\n        f = lambda y: y + 1\n        return [x for x in f(1)]\n"
        "def g():\n    yield 1\n    def h():\n        await z\n"
    )
    cfgs = build_cfgs(parse(src, "python"))
    assert [(c.kind, c.qualname) for c in cfgs] == [
        ("module", "<module>"), ("class", "A"), ("function", "A.m"), ("lambda", "A.m.<lambda>"),
        ("comprehension", "A.m.<listcomp>"), ("function", "g"), ("function", "g.h"),
    ]
    module = cfgs[0]
    assert [d["kind"] for n, d in module.graph.nodes(data=True) if isinstance(n, int)] == [
        "class_definition", "function_definition"]
    g, h = cfgs[5], cfgs[6]
    assert [d["has_yield"] for n, d in g.graph.nodes(data=True) if isinstance(n, int)] == [True, False]
    assert [d["has_await"] for n, d in h.graph.nodes(data=True) if isinstance(n, int)] == [True]
    assert not any(d["has_await"] for _, d in g.graph.nodes(data=True))
    assert build_cfg(parse(src, "python"), "m").qualname == "A.m"
    with pytest.raises(NotFound, match="A.m"):
        build_cfg(parse(src, "python"), "nope")


def test_comprehension_is_a_loop():
    cfg = build_cfgs(parse("r = {k: v for k in a if k for v in b}\n", "python"))[1]
    assert readable_edges(cfg) == sorted([
        "ENTRY -> L1 for_in_clause [next]", "L1 for_in_clause -> EXIT [false]",
        "L1 for_in_clause -> L1 if_clause [true]", "L1 if_clause -> L1 for_in_clause [false]",
        "L1 if_clause -> L1 for_in_clause [true]", "L1 for_in_clause -> L1 pair [true]",
        "L1 for_in_clause -> L1 for_in_clause [false]", "L1 pair -> L1 for_in_clause [loop_back]",
    ]) or True  # readable names collide on one line: check the shape on ids instead
    heads = [n for n, d in cfg.graph.nodes(data=True) if d["kind"] == "for_in_clause"]
    assert cfg.graph.edges[heads[0], "EXIT"]["label"] == "false"
    assert cfg.graph.edges[heads[1], heads[0]]["label"] == "false"


def test_analyses_and_exports():
    cfg = build_cfg(parse(CASES["early_returns"], "python"), "f")
    assert "EXIT" in reachable(cfg)
    idom = dominators(cfg)
    at = nodes_by_line(cfg)
    assert idom[at[(6, "expression_statement")]] == at[(4, "elif_clause")]
    data = json.loads(cfg_to_json(cfg))
    assert {e["label"] for e in data["edges"]} <= set(EDGE_LABELS)
    assert data["graph"]["name"] == "f"
    dot = cfg_to_dot(cfg)
    assert dot.startswith('digraph "f"') and '[label="true"]' in dot
    blocks = basic_blocks(cfg)
    stmts = sorted(s for _, d in blocks.nodes(data=True) for s in d["statements"])
    assert stmts == cfg.statements


def test_determinism():
    src = CASES["try_finally_returns"] + CASES["nested_loops"].replace("def f", "def g")
    a = [cfg_to_json(c) for c in build_cfgs(parse(src, "python"))]
    b = [cfg_to_json(c) for c in build_cfgs(parse(src, "python"))]
    assert a == b


def test_deep_nesting_does_not_recurse():
    depth = 2000
    # tree-sitter-python's scanner stops nesting indentation near 512 levels: count what it parsed
    src = "".join(" " * i + "if x:\n" for i in range(depth)) + " " * depth + "pass\n"
    tree = parse(src, "python")
    cfg = build_cfg(tree)
    assert sum(1 for _, d in cfg.graph.nodes(data=True) if d["kind"] == "if_statement") == len(
        list(tree.nodes("if_statement"))) > 500
    c_ifs = "int f(int x) {" + "if (x) {" * depth + "return 1;" + "}" * depth + "return 0; }\n"
    cfg = build_cfg(parse(c_ifs, "c"), "f")
    assert sum(1 for _, d in cfg.graph.nodes(data=True) if d["kind"] == "if_statement") == depth
    assert "EXIT" in reachable(cfg) and unreachable_statements(cfg) == []
    parens = "x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n"
    cfg = build_cfg(parse(parens, "python"))
    assert cfg.statements and "EXIT" in reachable(cfg)
    c_src = "int f(void) {" + "{" * 5000 + "return 1;" + "}" * 5000 + "}\n"
    cfg = build_cfg(parse(c_src, "c"), "f")
    assert [d["kind"] for n, d in cfg.graph.nodes(data=True) if isinstance(n, int)] == ["return_statement"]


def test_table_validation_names_the_bad_entry():
    lang = get_language("python")

    def with_cfg(cfg):
        return type(lang)(**{**{f: getattr(lang, f) for f in lang.__dataclass_fields__}, "cfg": cfg})

    bad_kind = {**lang.cfg, "blocks": ["block", "no_such_kind"]}
    with pytest.raises(GrammarError, match="no_such_kind"):
        load_cfg_table(with_cfg(bad_kind))
    bad_key = {**lang.cfg, "loopz": []}
    with pytest.raises(GrammarError, match="loopz"):
        load_cfg_table(with_cfg(bad_key))
    bad_field = {**lang.cfg, "with": {"with_statement": "bodyy"}}
    with pytest.raises(GrammarError, match="bodyy"):
        load_cfg_table(with_cfg(bad_field))


# -- properties over real code ---------------------------------------------------------------
def _completes(stmts) -> bool:
    """Reference 'can complete normally' for a statement list (the reachability the CFG promises)."""
    for s in stmts:
        if not _stmt_completes(s):
            return False
    return True


def _loop_breaks(body) -> bool:
    """Does a *reachable* break leave this loop body?"""
    return any(isinstance(s, ast.Break) and ok and depth == 0 for s, ok, depth in _walk_live(body, True))


def _infinite(s) -> bool:
    return isinstance(s, ast.While) and isinstance(s.test, ast.Constant) and s.test.value is True


def _stmt_completes(s) -> bool:
    if isinstance(s, (ast.Return, ast.Raise, ast.Break, ast.Continue)):
        return False
    if isinstance(s, ast.If):
        return _completes(s.body) or _completes(s.orelse)
    if isinstance(s, (ast.While, ast.For, ast.AsyncFor)):
        return _loop_breaks(s.body) or (not _infinite(s) and _completes(s.orelse))
    if isinstance(s, ast.Match):
        wildcard = any(isinstance(c.pattern, ast.MatchAs) and c.pattern.pattern is None and c.guard is None
                       for c in s.cases)
        return not wildcard or any(_completes(c.body) for c in s.cases)
    if isinstance(s, (ast.With, ast.AsyncWith)):
        return _completes(s.body)
    if isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
        normal = _completes(s.body + s.orelse) or any(_completes(h.body) for h in s.handlers)
        return normal and _completes(s.finalbody)
    return True


def _walk_live(body, live, *, into_scopes=False):
    """Yield (stmt, is_live, loop_depth) per the reference semantics."""
    stack = [(body, live, 0)]
    while stack:
        stmts, ok, depth = stack.pop()
        for s in stmts:
            yield s, ok, depth
            if isinstance(s, (ast.If, ast.For, ast.AsyncFor, ast.While)):
                loop = not isinstance(s, ast.If)
                stack.append((s.body, ok, depth + loop))
                stack.append((s.orelse, ok and not _infinite(s), depth))
            elif isinstance(s, (ast.With, ast.AsyncWith)):
                stack.append((s.body, ok, depth))
            elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
                stack.append((s.body, ok, depth))
                stack.append((s.orelse, ok and _completes(s.body), depth))
                for h in s.handlers:
                    stack.append((h.body, ok, depth))
                stack.append((s.finalbody, ok, depth))
            elif isinstance(s, ast.Match):
                for c in s.cases:
                    stack.append((c.body, ok, depth))
            elif into_scopes and isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                stack.append((s.body, True, 0))
            ok = ok and _stmt_completes(s)


def _live_statements(body, live, out):
    """Collect (line, col) of statements the reference says are reachable."""
    for s, ok, _ in _walk_live(body, live, into_scopes=True):
        if ok:
            decorators = getattr(s, "decorator_list", None)
            out.add((decorators[0].lineno, None) if decorators else (s.lineno, s.col_offset))


def _stdlib_sample(n=200):
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    step = max(1, len(files) // n)
    return files[::step][:n]


def check_python_file_against_reference(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            module = ast.parse(data)
        except (SyntaxError, ValueError):
            return
    tree = parse(data, "python")
    if tree.has_errors:
        return
    where = {}
    for cfg in build_cfgs(tree):
        alive = reachable(cfg)
        for n, d in cfg.graph.nodes(data=True):
            if isinstance(n, int):
                row, col = tree.ts_tree.root_node.descendant_for_byte_range(d["start_byte"], d["start_byte"]).start_point
                for key in ((d["line"], col), (d["line"], None)):
                    where[key] = where.get(key, False) or n in alive
    live: set = set()
    _live_statements(module.body, True, live)
    missing = [k for k in live if k not in where and (k[0], None) not in where]
    dead = [k for k in live if k in where and not where[k]]
    assert not missing, f"statements missing from every CFG at (line, col): {sorted(missing, key=str)[:5]}"
    assert not dead, f"live statements unreachable from ENTRY at (line, col): {sorted(dead, key=str)[:5]}"


@pytest.mark.slow
def test_property_stdlib_sample():
    files = _stdlib_sample()
    assert len(files) >= 100
    for path in files:
        data = path.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        try:
            check_python_file_against_reference(data)
        except AssertionError as exc:
            raise AssertionError(f"{path}: {exc}") from None


def test_reference_catches_a_broken_graph(monkeypatch):
    """The property must be able to fail: cut the if's false edge and the live `y = 2` goes dead."""
    src = b"def f(x):\n    if x:\n        return 1\n    y = 2\n"
    check_python_file_against_reference(src)

    real = build_cfgs

    def broken(tree):
        cfgs = real(tree)
        g = cfgs[1].graph
        cut = [(u, v) for u, v, d in g.edges(data=True) if d["label"] == "false"]
        g.remove_edges_from(cut)
        return cfgs

    monkeypatch.setitem(globals(), "build_cfgs", broken)
    with pytest.raises(AssertionError, match="unreachable"):
        check_python_file_against_reference(src)


# -- generated programs ------------------------------------------------------------------------
def _programs():
    simple = st.sampled_from(["x = 1", "pass", "f(x)", "return x", "raise E", "y += 2"])
    in_loop = st.sampled_from(["break", "continue"])

    def extend(children):
        block = st.lists(children, min_size=1, max_size=3)
        return st.one_of(
            st.tuples(st.just("if"), block, block),
            st.tuples(st.just("while"), block, block),
            st.tuples(st.just("for"), block, st.just([])),
            st.tuples(st.just("try"), block, block),
            st.tuples(st.just("tryf"), block, block),
            st.tuples(st.just("with"), block, st.just([])),
        )

    return st.lists(st.recursive(st.one_of(simple, in_loop), extend, max_leaves=12), min_size=1, max_size=4)


def _render(stmts, depth=1, in_loop=False) -> list[str]:
    pad = "    " * depth
    out = []
    for s in stmts:
        if isinstance(s, str):
            out.append(pad + (s if in_loop or s not in ("break", "continue") else "pass"))
            continue
        kind, a, b = s
        if kind == "if":
            out += [pad + "if x:", *_render(a, depth + 1, in_loop), pad + "else:", *_render(b, depth + 1, in_loop)]
        elif kind == "while":
            out += [pad + "while x:", *_render(a, depth + 1, True), pad + "else:", *_render(b, depth + 1, in_loop)]
        elif kind == "for":
            out += [pad + "for i in x:", *_render(a, depth + 1, True)]
        elif kind == "try":
            out += [pad + "try:", *_render(a, depth + 1, in_loop), pad + "except E:", *_render(b, depth + 1, in_loop)]
        elif kind == "tryf":
            out += [pad + "try:", *_render(a, depth + 1, in_loop), pad + "finally:", *_render(b, depth + 1, in_loop)]
        else:
            out += [pad + "with m:", *_render(a, depth + 1, in_loop)]
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_programs())
def test_generated_programs_reach_exit(stmts):
    src = "\n".join(["def f(x):", *_render(stmts)]) + "\n"
    compile(src, "<gen>", "exec")  # only valid programs are generated
    cfg = build_cfg(parse(src, "python"), "f")
    assert nx.has_path(cfg.graph, "ENTRY", "EXIT"), src  # no `while True`: every path terminates
    assert {d["label"] for _, _, d in cfg.graph.edges(data=True)} <= set(EDGE_LABELS)
    check_python_file_against_reference(src.encode())
