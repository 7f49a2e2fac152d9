"""CFG engine on the non-Python languages: same engine, their `[cfg]` tables."""

from __future__ import annotations

import pathlib

import pytest

from treediff.syntax import detect_language, list_languages, parse
from treediff.syntax.cfg import EDGE_LABELS, build_cfg, build_cfgs, cfg_to_json, reachable, unreachable_statements
from treediff.syntax.cfg_tables import cfg_table

from tests.syntax.test_cfg import check_golden, readable_edges

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def edge(cfg, src_line, src_kind, dst_line, dst_kind):
    """The label of the edge between the unique nodes with these (line, kind), or None."""
    at = {(d["line"], d["kind"]): n for n, d in cfg.graph.nodes(data=True)}
    u, v = at[(src_line, src_kind)] if src_line else src_kind, at[(dst_line, dst_kind)] if dst_line else dst_kind
    return cfg.graph.edges[u, v]["label"] if cfg.graph.has_edge(u, v) else None


GOLDEN_SWITCH = {
    "c_switch_fallthrough": ("c", """\
int f(int x) {
  switch (x) {
    case 1:
      a();
    case 2:
      b();
      break;
    default:
      c();
  }
  return x;
}
"""),
    "java_switch_fallthrough": ("java", """\
class K { int f(int x) {
  switch (x) {
    case 1:
      a();
    case 2:
      b();
      break;
    default:
      c();
  }
  return x;
} }
"""),
    "js_switch_fallthrough": ("javascript", """\
function f(x) {
  switch (x) {
    case 1:
      a();
    case 2:
      b();
      break;
    default:
      c();
  }
  return x;
}
"""),
    "go_explicit_fallthrough": ("go", """\
package p

func f(x int) int {
	switch x {
	case 1:
		a()
		fallthrough
	case 2:
		b()
	case 3:
		c()
	}
	return x
}
"""),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_SWITCH))
def test_golden_switch(name):
    language, source = GOLDEN_SWITCH[name]
    check_golden(name, source, language)


def test_c_family_fall_through_but_go_does_not():
    for name in ("c_switch_fallthrough", "java_switch_fallthrough", "js_switch_fallthrough"):
        cfg = build_cfg(parse(GOLDEN_SWITCH[name][1], GOLDEN_SWITCH[name][0]), "f")
        assert "[fallthrough]" in " ".join(readable_edges(cfg)), name
        assert edge(cfg, 7, "break_statement", 11, "return_statement") == "break", name
        assert edge(cfg, 2, "switch_statement" if name != "java_switch_fallthrough" else "switch_expression",
                    11, "return_statement") is None  # a default exists
    go = build_cfg(parse(GOLDEN_SWITCH["go_explicit_fallthrough"][1], "go"), "f")
    assert edge(go, 7, "fallthrough_statement", 9, "expression_statement") == "fallthrough"
    assert edge(go, 9, "expression_statement", 13, "return_statement") == "next"  # no implicit fall into case 3
    assert edge(go, 4, "expression_switch_statement", 13, "return_statement") == "false"  # no default


def test_java_arrow_cases_do_not_fall_through():
    src = "class K { void f(int x) {\n switch (x) {\n  case 1 -> a();\n  default -> b();\n }\n done();\n} }\n"
    cfg = build_cfg(parse(src, "java"), "f")
    assert "fallthrough" not in {d["label"] for _, _, d in cfg.graph.edges(data=True)}
    assert edge(cfg, 3, "expression_statement", 6, "expression_statement") == "next"


JS_LIKE = """\
function f(a, o) {
  outer: for (let i = 0; ; i++) {
    for (const k in o) {
      if (k) continue outer;
      if (a) break outer;
    }
  }
  do { a--; } while (a > 0);
  while (a) { a = g(a); }
  try {
    h();
  } catch (e) {
    return 1;
  } finally {
    done();
  }
  const q = async () => await a;
  return 2;
}
"""


@pytest.mark.parametrize("language", ["javascript", "typescript", "tsx"])
def test_js_like(language):
    cfgs = build_cfgs(parse(JS_LIKE, language))
    assert [(c.kind, c.qualname) for c in cfgs] == [("module", "<module>"), ("function", "f"), ("lambda", "f.<arrow>")]
    cfg = cfgs[1]
    assert edge(cfg, 4, "continue_statement", 2, "for_statement") == "continue"
    assert edge(cfg, 5, "break_statement", 8, "expression_statement") == "break"  # labelled break, past the loops
    assert edge(cfg, 2, "for_statement", 8, "expression_statement") is None  # for (;;) only exits by break
    assert edge(cfg, 8, "do_statement", 8, "expression_statement") == "loop_back"
    assert edge(cfg, 8, "do_statement", 9, "while_statement") == "false"
    assert edge(cfg, 11, "expression_statement", 12, "catch_clause") == "exception"
    assert edge(cfg, 13, "return_statement", 15, "expression_statement") == "return"  # through finally
    assert edge(cfg, 15, "expression_statement", 0, "EXIT") == "finally"
    assert cfgs[2].graph.nodes[next(n for n in cfgs[2].graph if isinstance(n, int))]["has_await"]
    assert unreachable_statements(cfg) == []


def test_java():
    src = """\
class A {
  int m(int x) {
    lbl: for (int i = 0; i < x; i++) {
      for (int y : ys) { if (y > 0) continue lbl; }
    }
    try { risky(); }
    catch (IOException e) { return -1; } finally { close(); }
    if (x > 0) throw new E();
    return x;
  }
}
"""
    cfgs = build_cfgs(parse(src, "java"))
    assert [(c.kind, c.qualname) for c in cfgs] == [
        ("module", "<module>"), ("class", "A"), ("function", "A.m")]
    m = cfgs[2]
    assert edge(m, 4, "continue_statement", 3, "for_statement") == "continue"
    assert edge(m, 3, "for_statement", 6, "try_statement") == "false"
    assert edge(m, 6, "expression_statement", 7, "catch_clause") == "exception"
    assert edge(m, 7, "return_statement", 7, "expression_statement") == "return"  # into finally
    assert edge(m, 8, "throw_statement", 0, "EXIT") == "raise"
    assert edge(m, 9, "return_statement", 0, "EXIT") == "return"


def test_c_and_cpp():
    c_src = "int *f(int a) {\n  for (;;) {\n    if (a) break;\n    a--;\n  }\n  while (a) a++;\n  return 0;\n  a = 1;\n}\n"
    cfg = build_cfg(parse(c_src, "c"), "f")
    assert edge(cfg, 3, "break_statement", 6, "while_statement") == "break"
    assert edge(cfg, 2, "for_statement", 6, "while_statement") is None
    assert edge(cfg, 6, "expression_statement", 6, "while_statement") == "loop_back"
    assert [cfg.graph.nodes[n]["line"] for n in unreachable_statements(cfg)] == [8]
    cpp_src = """\
int g(int x) {
  try {
    h(x);
  } catch (const E& e) {
    return 1;
  }
  for (auto v : xs) { if (v) continue; }
  auto l = [](int y) { return y; };
  throw 2;
}
class K { int m() { return 1; } };
"""
    cfgs = build_cfgs(parse(cpp_src, "cpp"))
    assert [(c.kind, c.qualname) for c in cfgs] == [
        ("module", "<module>"), ("function", "g"), ("lambda", "g.<lambda>"), ("class", "K"), ("function", "K.m")]
    g = cfgs[1]
    assert edge(g, 3, "expression_statement", 4, "catch_clause") == "exception"
    assert edge(g, 7, "continue_statement", 7, "for_range_loop") == "continue"
    assert edge(g, 9, "throw_statement", 0, "EXIT") == "raise"


def test_go():
    src = """\
package p

func f(a int) int {
L:
	for {
		if a > 0 {
			break L
		} else if a < 0 {
			continue
		} else {
			a++
		}
	}
	for i := 0; i < 3; i++ {
	}
	select {
	case v := <-c:
		use(v)
	}
	g := func() { return }
	return a
}
"""
    cfgs = build_cfgs(parse(src, "go"))
    assert [(c.kind, c.qualname) for c in cfgs] == [("module", "<module>"), ("function", "f"), ("lambda", "f.<func>")]
    f = cfgs[1]
    assert edge(f, 7, "break_statement", 14, "for_statement") == "break"
    assert edge(f, 9, "continue_statement", 5, "for_statement") == "continue"
    assert edge(f, 5, "for_statement", 14, "for_statement") is None  # bare `for {}` never exits by its test
    assert edge(f, 14, "for_statement", 16, "select_statement") == "false"
    assert edge(f, 16, "select_statement", 20, "short_var_declaration") is None  # select waits for a case
    assert unreachable_statements(f) == []


def test_rust():
    src = """\
fn f(a: i32) -> i32 {
    'outer: loop {
        while a > 0 {
            if a > 5 { break 'outer; }
            continue;
        }
    }
    for i in 0..3 { g(i); }
    let c = |x| x + 1;
    match a {
        1 => one(),
        _ => { return 2; }
    }
    a + 1
}
"""
    cfgs = build_cfgs(parse(src, "rust"))
    assert [(c.kind, c.qualname) for c in cfgs] == [("module", "<module>"), ("function", "f"), ("lambda", "f.<closure>")]
    f = cfgs[1]
    assert edge(f, 4, "break_expression", 8, "for_expression") == "break"
    assert edge(f, 5, "continue_expression", 3, "while_expression") == "continue"
    assert edge(f, 3, "while_expression", 2, "loop_expression") == "loop_back"
    assert edge(f, 2, "loop_expression", 8, "for_expression") is None
    assert edge(f, 12, "return_expression", 0, "EXIT") == "return"
    assert edge(f, 11, "call_expression", 14, "binary_expression") == "next"  # tail expression is a statement
    assert edge(f, 10, "match_expression", 14, "binary_expression") is None  # match is exhaustive


def _example_files():
    if not EXAMPLES.is_dir():
        return []
    names = {lang.name for lang in list_languages()}
    return sorted(p for p in EXAMPLES.rglob("*") if p.is_file() and p.parent.name in names)


@pytest.mark.parametrize("path", _example_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_examples_every_statement_in_its_cfg(path):
    language = detect_language(path)
    tree = parse(path)
    table = cfg_table(language)
    cfgs = build_cfgs(tree)
    in_graph = {n for c in cfgs for n in c.graph if isinstance(n, int)}
    assert len(in_graph) == sum(len(c.statements) for c in cfgs)  # each statement in exactly one scope
    for c in cfgs:
        assert {d["label"] for _, _, d in c.graph.edges(data=True)} <= set(EDGE_LABELS)
        assert "EXIT" in reachable(c) or any(c.graph.nodes[n]["kind"] in table.loops for n in c.graph
                                              if isinstance(n, int)), c
    # every direct child of a statement block (outside ERROR nodes) is a node, or its unwrapped child is
    root = tree.ts_tree.root_node
    stack = [(root, 0)]
    blocks = table.blocks | {k for k, s in table.scopes.items() if s.kind == "module"}
    while stack:
        node, nid = stack.pop()
        cursor = node.walk()
        if not cursor.goto_first_child():
            continue
        while True:
            child, cid = cursor.node, nid + cursor.descendant_index
            if child.is_named and node.type in blocks and child.type not in table.skip | blocks:
                inner = [c for c in child.named_children if c.type not in table.skip]
                ok = cid in in_graph or (child.type in table.unwrap and len(inner) == 1)
                assert ok, f"{path.name}:{child.start_point[0] + 1}: {child.type} is in no CFG"
            if child.type != "ERROR":
                stack.append((child, cid))
            if not cursor.goto_next_sibling():
                break
    assert [cfg_to_json(c) for c in cfgs] == [cfg_to_json(c) for c in build_cfgs(parse(path))]


def test_every_language_has_a_valid_table():
    for lang in list_languages():
        table = cfg_table(lang)
        assert table.scopes and table.jumps and table.loops, lang.name
