"""Control-flow graphs for every language, from one table-driven engine.

:func:`build_cfgs` turns a :class:`~treediff.syntax.tree.SyntaxTree` into one :class:`CFG`
per scope: the module first, then every function, method, lambda, class body and
comprehension in pre-order.  Which node kinds are scopes, blocks, branches, loops,
jumps, ``try``, ``switch``/``match`` and ``with`` comes from the ``[cfg]`` section of
the language's grammar file (:mod:`treediff.syntax.cfg_tables`); no language is
named here.  The semantics, labels and approximations are documented in ``docs/cfg.md``.

Speed and depth: only statements are visited (a shared tree cursor gives their ids
without :class:`~treediff.syntax.tree.Node` wrappers); nested scopes and ``yield``/
``await`` inside expressions are found by one compiled tree-sitter query.  Compound
statements are expanded by generators run on an explicit stack, so nesting depth is
bounded by memory, not by Python's recursion limit.

>>> from treediff.syntax import parse
>>> cfg = build_cfg(parse("def f(x):\\n    if x:\\n        return 1\\n    return 2\\n", "python"), "f")
>>> sorted((str(u), str(v), d["label"]) for u, v, d in cfg.graph.edges(data=True))
[('10', '15', 'true'), ('10', '18', 'false'), ('15', 'EXIT', 'return'), ('18', 'EXIT', 'return'), ('ENTRY', '10', 'next')]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import networkx as nx
import tree_sitter as ts

from treediff.errors import NotFound
from treediff.syntax.blocks import basic_blocks, dominators, reachable, unreachable_statements
from treediff.syntax.cfg_tables import CfgTable, cfg_table, scope_query
from treediff.syntax.tree import SyntaxTree

__all__ = ["EDGE_LABELS", "CFG", "build_cfgs", "build_cfg", "node_order", "basic_blocks", "reachable",
           "unreachable_statements", "dominators", "cfg_to_node_link", "cfg_to_json", "cfg_to_dot", "cfg_to_png",
           "export_cfg"]

#: Every edge label the engine emits (meanings in docs/cfg.md).
EDGE_LABELS = (
    "next", "true", "false", "loop_back", "loop_else", "break", "continue", "return",
    "raise", "exception", "finally", "case", "fallthrough",
)

ENTRY, EXIT = "ENTRY", "EXIT"
_KEEP = frozenset({"break", "continue", "return", "raise", "exception", "finally", "fallthrough"})
_LOOP, _SWITCH, _LABEL, _HANDLER, _FINALLY = range(5)


@dataclass(frozen=True)
class CFG:
    """The control-flow graph of one scope.

    ``graph`` nodes are ``"ENTRY"``, ``"EXIT"`` and statement ids (``Node.id``) with
    attributes ``kind``, ``start_byte``, ``end_byte``, ``line`` (1-based), ``has_yield``
    and ``has_await``; every edge has a ``label`` from :data:`EDGE_LABELS`.
    """

    name: str
    kind: str
    scope_id: int
    graph: nx.DiGraph
    qualname: str = ""

    @property
    def statements(self) -> list[int]:
        """Statement ids in the graph, in source (pre-order) order."""
        return sorted(n for n in self.graph if isinstance(n, int))

    def __repr__(self) -> str:
        return (f"CFG({self.kind} {self.qualname or self.name!r}, {self.graph.number_of_nodes()} nodes, "
                f"{self.graph.number_of_edges()} edges)")


class _Ctx:
    """One enclosing construct a jump may target or pass through."""

    __slots__ = ("type", "label", "head", "breaks", "falls", "handlers", "catch_all", "pending")

    def __init__(self, type_: int, *, label: str | None = None, head: int | None = None,
                 handlers: list[int] | None = None, catch_all: bool = False) -> None:
        self.type = type_
        self.label = label
        self.head = head
        self.breaks: list[tuple[Any, str]] = []
        self.falls: list[tuple[Any, str]] = []
        self.handlers = handlers or []
        self.catch_all = catch_all
        self.pending: list[tuple[list[Any], str, str | None, str]] = []


def _run(gen: Iterator[Any]) -> Any:
    """Drive generator-based builders on an explicit stack (no Python recursion)."""
    stack = [gen]
    value = None
    while stack:
        try:
            sub = stack[-1].send(value)
        except StopIteration as stop:
            stack.pop()
            value = stop.value
            continue
        stack.append(sub)
        value = None
    return value


class _ScopeBuilder:
    """Builds the graph of one scope; jumps are resolved against an explicit context stack."""

    def __init__(self, tree: SyntaxTree, table: CfgTable, cursor: ts.TreeCursor, registered: dict) -> None:
        self.t = table
        self.src = tree.source
        self.cur = cursor
        self.registered = registered
        self.g = nx.DiGraph()
        self.nodes, self.succ, self.pred = self.g._node, self.g._succ, self.g._pred
        self.ctx: list[_Ctx] = []
        self.n_try = 0  # handler/finally contexts on the stack: statements there may raise
        self.next_label: str | None = None
        self.compound = table.compound

    # -- primitives ----------------------------------------------------------------
    def kids(self, node: ts.Node, nid: int) -> list[tuple[ts.Node, str | None, int]]:
        """Named children as ``(node, field, id)``; ids come free from the cursor."""
        cur = self.cur
        cur.reset(node)
        out = []
        if cur.goto_first_child():
            while True:
                n = cur.node
                if n.is_named:
                    out.append((n, cur.field_name, nid + cur.descendant_index))
                if not cur.goto_next_sibling():
                    break
        return out

    # The hot path writes networkx's adjacency dicts directly (``_node``/``_succ``/``_pred``,
    # stable across networkx 2.x-3.x): the public add_* methods cost more than the whole walk.
    def edge(self, u: Any, v: Any, label: str) -> None:
        succ = self.succ[u]
        if v not in succ:  # a DiGraph holds one edge per pair: the first label wins
            succ[v] = self.pred[v][u] = {"label": label}

    def add_node(self, n: Any, attrs: dict) -> None:
        self.nodes[n] = attrs
        self.succ[n] = {}
        self.pred[n] = {}

    def add(self, node: ts.Node, nid: int, preds: list, *, may_raise: bool = True) -> None:
        self.add_node(nid, {"kind": node.type, "start_byte": node.start_byte, "end_byte": node.end_byte,
                            "line": node.start_point[0] + 1, "has_yield": False, "has_await": False})
        succ = self.succ
        for src, label in preds:
            s = succ[src]
            if nid not in s:
                s[nid] = self.pred[nid][src] = {"label": label}
        self.registered[node.id] = (self.g, nid)
        if self.n_try and may_raise:
            self.jump([nid], "raise", None, "exception")

    def text(self, node: ts.Node) -> str:
        return self.src[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def body(self, kids: list, field: str | None, exclude: frozenset[str] = frozenset()) -> list:
        """Children in ``field``; ``""``/None: the unfielded named children."""
        if field:
            return [k for k in kids if k[1] == field]
        return [k for k in kids if k[1] is None and k[0].type not in exclude]

    def label_of(self, kids: list, *, fielded: bool = True) -> str | None:
        for n, f, _ in kids:
            if n.type in self.t.label_kinds and (fielded or f is None):
                return self.text(n)
        return None

    def jump(self, srcs: list[Any], kind: str, name: str | None, label: str) -> None:
        """Route a jump out through the enclosing contexts (finally bodies intercept it)."""
        for c in reversed(self.ctx):
            t = c.type
            if t == _FINALLY:
                c.pending.append((srcs, kind, name, label))
                return
            if t == _HANDLER:
                if kind == "raise":
                    for h in c.handlers:
                        for s in srcs:
                            self.edge(s, h, label)
                    if c.catch_all:
                        return
            elif kind == "break" and (
                (t == _LOOP and (name is None or name == c.label))
                or (t == _SWITCH and name is None)
                or (t == _LABEL and name == c.label)
            ):
                c.breaks.extend((s, label) for s in srcs)
                return
            elif kind == "continue" and t == _LOOP and (name is None or name == c.label):
                for s in srcs:
                    self.edge(s, c.head, label)
                return
            elif kind == "fallthrough" and t == _SWITCH:
                c.falls.extend((s, label) for s in srcs)
                return
        for s in srcs:  # return, uncaught raise, and stray jumps leave the scope
            self.edge(s, EXIT, label)

    # -- statement lists -----------------------------------------------------------
    def seq(self, items: list, preds: list) -> Iterator[Any]:
        """Build a statement list; nested blocks are flattened in place. Returns the exits."""
        t = self.t
        stack = [items[::-1]]
        while stack:
            top = stack[-1]
            if not top:
                stack.pop()
                continue
            node, _, nid = top.pop()
            k = node.type
            if k in t.skip:
                continue
            if k in t.unwrap:
                inner = [x for x in self.kids(node, nid) if x[0].type not in t.skip]
                if len(inner) == 1:
                    ik = inner[0][0].type
                    if ik in self.compound or ik in t.jumps or ik in t.blocks:
                        node, _, nid = inner[0]
                        k = ik
            if k in t.blocks:
                stack.append(self.kids(node, nid)[::-1])
                continue
            if k in self.compound:
                preds = yield self.compound_stmt(node, nid, preds)
                continue
            field = t.values.get(k)
            if field:  # `let x = loop {..}`: run the control-flow value first, then the statement
                for inner, f, iid in self.kids(node, nid):
                    if f == field and inner.type in self.compound:
                        preds = yield self.compound_stmt(inner, iid, preds)
            jump = t.jumps.get(k)
            if jump is None:
                self.add(node, nid, preds)
                preds = [(nid, "next")]
                continue
            self.add(node, nid, preds, may_raise=False)
            name = self.label_of(self.kids(node, nid)) if t.label_kinds else None
            self.jump([nid], jump, name, jump)
            if self.n_try and jump != "raise":  # after the jump, so its own label wins
                self.jump([nid], "raise", None, "exception")
            preds = []
        return preds

    def compound_stmt(self, node: ts.Node, nid: int, preds: list) -> Iterator[Any]:
        t, k = self.t, node.type
        self.add(node, nid, preds)
        kids = self.kids(node, nid)
        if k in t.ifs:
            return self.if_stmt(kids, t.ifs[k], nid)
        if k in t.loops:
            return self.loop_stmt(node, kids, t.loops[k], nid)
        if k in t.tries:
            return self.try_stmt(kids, t.tries[k], nid)
        if k in t.switches:
            return self.switch_stmt(kids, t.switches[k], nid)
        if k in t.withs:
            return self.seq(self.body(kids, t.withs[k]), [(nid, "next")])
        return self.labeled_stmt(kids, nid)

    def clause(self, node: ts.Node, nid: int) -> list:
        """The statements of a clause (else/except/finally/case) per ``[cfg.bodies]``."""
        return self.body(self.kids(node, nid), self.t.bodies.get(node.type, ""))

    # -- compound statements -------------------------------------------------------
    def if_stmt(self, kids: list, spec: Any, nid: int) -> Iterator[Any]:
        t = self.t
        exits = list((yield self.seq(self.body(kids, spec.consequence), [(nid, "true")])))
        false = [(nid, "false")]
        if spec.alternative:
            for alt in kids:
                if alt[1] != spec.alternative:
                    continue
                anode, _, aid = alt
                ak = anode.type
                sub = t.ifs.get(ak)
                if sub is not None and not sub.alternative:  # elif-like: a test inside this chain
                    self.add(anode, aid, false)
                    akids = self.kids(anode, aid)
                    exits += yield self.seq(self.body(akids, sub.consequence), [(aid, "true")])
                    false = [(aid, "false")]
                elif ak in t.bodies:
                    exits += yield self.seq(self.clause(anode, aid), false)
                    false = []
                else:
                    exits += yield self.seq([alt], false)
                    false = []
        return exits + false

    def _is_true(self, kids: list, field: str) -> bool:
        t = self.t
        for n, f, _ in kids:
            if f == field:
                while n.type in t.parens and n.named_child_count == 1:
                    n = n.named_children[0]
                return n.type in t.true_literals
        return bool(field)  # a loop with no condition at all (C `for (;;)`) never exits by its test

    def loop_stmt(self, node: ts.Node, kids: list, spec: Any, nid: int) -> Iterator[Any]:
        t = self.t
        label, self.next_label = self.next_label, None
        if label is None and t.label_kinds:
            label = self.label_of(kids, fielded=False)
        if spec.style == "loop":
            infinite = True
        elif spec.bare_infinite:
            infinite = all(f == spec.body or n.type in t.skip or n.type in t.label_kinds for n, f, _ in kids)
        else:
            infinite = bool(spec.condition) and self._is_true(kids, spec.condition)
        body = self.body(kids, spec.body)
        loop = _Ctx(_LOOP, label=label, head=nid)
        self.ctx.append(loop)
        if spec.style == "do":
            # body first, the test (this node) after; find the body's entries with a sentinel
            g = self.g
            real_preds = list(g.in_edges(nid, data="label"))
            g.remove_edges_from([(s, v) for s, v, _ in real_preds])
            sentinel = ("entry", nid)
            self.add_node(sentinel, {})
            outer = yield self.seq(body, [(sentinel, "next")])
            entries = list(g.successors(sentinel))
            for e in entries:
                for s, _, l in real_preds:
                    self.edge(s, e, l)
                self.edge(nid, e, "loop_back")
            g.remove_node(sentinel)
            for s, l in outer:
                if s == sentinel:
                    for p, _, pl in real_preds:
                        self.edge(p, nid, pl)
                else:
                    self.edge(s, nid, l)
            if not entries:
                self.edge(nid, nid, "loop_back")
        else:
            enter = "next" if spec.style == "loop" else "true"
            outer = yield self.seq(body, [(nid, enter)])
            for s, label in outer:
                self.edge(s, nid, label if label in _KEEP else "loop_back")
        self.ctx.pop()
        exits = [] if infinite else [(nid, "false")]
        if spec.else_field and exits:
            for enode, _, eid in self.body(kids, spec.else_field):
                exits = yield self.seq(self.clause(enode, eid), [(nid, "loop_else")])
        return exits + loop.breaks

    def try_stmt(self, kids: list, spec: Any, nid: int) -> Iterator[Any]:
        handlers = [k for k in kids if k[0].type in spec.handlers]
        fin = _Ctx(_FINALLY) if any(k[0].type in spec.finally_kinds for k in kids) else None
        if fin is not None:
            self.ctx.append(fin)
            self.n_try += 1
        hkids, catch_all = [], False
        for hnode, _, hid in handlers:
            self.add(hnode, hid, [], may_raise=False)
            hk = self.kids(hnode, hid)
            hkids.append(hk)
            if hnode.type in spec.catch_all or (
                spec.catch_all_without and not any(f == spec.catch_all_without for _, f, _ in hk)
            ):
                catch_all = True
        if handlers:
            self.ctx.append(_Ctx(_HANDLER, handlers=[h[2] for h in handlers], catch_all=catch_all))
            self.n_try += 1
        exits = yield self.seq(self.body(kids, spec.body), [(nid, "next")])
        if handlers:
            self.ctx.pop()
            self.n_try -= 1
        for enode, _, eid in kids:
            if enode.type in spec.else_kinds:
                exits = yield self.seq(self.clause(enode, eid), exits)
        exits = list(exits)
        for (hnode, _, hid), hk in zip(handlers, hkids):
            exits += yield self.seq(self.body(hk, self.t.bodies.get(hnode.type, "")), [(hid, "next")])
        if fin is None:
            return exits
        self.ctx.pop()
        self.n_try -= 1
        fexits = exits + [(s, label) for srcs, _, _, label in fin.pending for s in srcs]
        for fnode, _, fid in kids:
            if fnode.type in spec.finally_kinds:
                fexits = yield self.seq(self.clause(fnode, fid), fexits)
        resumed = set()
        for _, kind, name, _ in fin.pending:  # after the finally body, each pending jump goes on
            if (kind, name) not in resumed:
                resumed.add((kind, name))
                self.jump([s for s, _ in fexits], kind, name, "finally")
        return fexits if exits else []

    def _is_default(self, kids: list, spec: Any) -> bool:
        for n, f, _ in kids:
            if f in spec.label_fields or (n.type in spec.labels and n.named_child_count):
                return False
        return True

    def switch_stmt(self, kids: list, spec: Any, nid: int) -> Iterator[Any]:
        t = self.t
        cases, stray = [], []
        containers = [k for k in kids if k[1] == spec.body] if spec.body else [(None, None, None)]
        for cnode, _, cid in containers:
            for k in (kids if cnode is None else self.kids(cnode, cid)):
                if k[0].type in spec.cases:
                    cases.append(k)
                elif cnode is not None and k[0].type not in t.skip:
                    stray.append(k)  # code before the first case label: kept, unreachable
        if stray:
            yield self.seq(stray, [])
        sw = _Ctx(_SWITCH)
        self.ctx.append(sw)
        exits: list = []
        fall_in: list = []
        has_default = False
        for cnode, _, cid in cases:
            ck = self.kids(cnode, cid)
            has_default = has_default or cnode.type in spec.default_cases or self._is_default(ck, spec)
            self.add(cnode, cid, [(nid, "case")])
            stmts = self.body(ck, t.bodies.get(cnode.type, ""), spec.labels)
            sw.falls = []
            out = yield self.seq(stmts, [(cid, "next")] + [(s, "fallthrough") for s, _ in fall_in])
            if spec.fallthrough == "implicit" and cnode.type not in spec.no_fallthrough:
                fall_in = out
            else:
                exits += out
                fall_in = sw.falls if spec.fallthrough == "explicit" else []
        self.ctx.pop()
        exits += fall_in + sw.breaks
        if not has_default and not spec.exhaustive:
            exits.append((nid, "false"))
        return exits

    def labeled_stmt(self, kids: list, nid: int) -> Iterator[Any]:
        kids = [k for k in kids if k[0].type not in self.t.skip]
        if len(kids) < 2:
            return [(nid, "next")]
        name = self.text(kids[0][0])
        lab = _Ctx(_LABEL, label=name)
        self.ctx.append(lab)
        if kids[-1][0].type in self.t.loops:
            self.next_label = name
        exits = yield self.seq([kids[-1]], [(nid, "next")])
        self.next_label = None
        self.ctx.pop()
        return list(exits) + lab.breaks

    # -- scopes --------------------------------------------------------------------
    def scope(self, node: ts.Node, sid: int, spec: Any) -> nx.DiGraph:
        g = self.g
        line0, line1 = node.start_point[0] + 1, node.end_point[0] + 1
        flags = {"has_yield": False, "has_await": False}
        self.add_node(ENTRY, {"kind": ENTRY, "start_byte": node.start_byte, "end_byte": node.start_byte,
                              "line": line0, **flags})
        self.add_node(EXIT, {"kind": EXIT, "start_byte": node.end_byte, "end_byte": node.end_byte,
                             "line": line1, **flags})
        kids = self.kids(node, sid)
        if spec is not None and (spec.loop_clauses or spec.filter_clauses):
            exits = self.comprehension(kids, spec)
        else:
            body = self.body(kids, spec.body if spec is not None else "")
            exits = _run(self.seq(body, [(ENTRY, "next")]))
        for s, label in exits:
            self.edge(s, EXIT, label)
        return g

    def comprehension(self, kids: list, spec: Any) -> list:
        """``for`` clauses are loop headers, ``if`` clauses tests, the element the body."""
        preds: list = [(ENTRY, "next")]
        heads: list[int] = []
        element = None
        for k in kids:
            n, f, kid = k
            if f == spec.body:
                element = k
            elif n.type in spec.loop_clauses:
                self.add(n, kid, preds)
                self.edge(kid, heads[-1] if heads else EXIT, "false")
                heads.append(kid)
                preds = [(kid, "true")]
            elif n.type in spec.filter_clauses:
                self.add(n, kid, preds)
                self.edge(kid, heads[-1] if heads else EXIT, "false")
                preds = [(kid, "true")]
        if element is None:
            return preds
        self.add(element[0], element[2], preds)
        if heads:
            self.edge(element[2], heads[-1], "loop_back")
            return []
        return [(element[2], "next")]


# -- discovery of scopes and yield/await marks ----------------------------------------
def node_order(node: object) -> tuple[int, int]:
    """Sort key for CFG graph nodes: ENTRY, then statements by id, then EXIT."""
    if node == "ENTRY":
        return (0, 0)
    if node == "EXIT":
        return (2, 0)
    return (1, int(node))  # type: ignore[call-overload]


def _scope_name(node: ts.Node, spec: Any, src: bytes) -> str:
    if spec is not None and spec.name:
        last, n = None, node
        while (n := n.child_by_field_name(spec.name)) is not None:
            last = n
        if last is not None:
            return src[last.start_byte:last.end_byte].decode("utf-8", "replace")
    if spec is None or spec.kind == "module":
        return "<module>"
    return spec.anonymous or f"<{spec.kind}>"


def build_cfgs(tree: SyntaxTree) -> list[CFG]:
    """One :class:`CFG` per scope: the module first, then nested scopes in pre-order.

    >>> from treediff.syntax import parse
    >>> [(c.kind, c.name) for c in build_cfgs(parse("f = lambda: [x for x in y]\\n", "py"))]
    [('module', '<module>'), ('lambda', '<lambda>'), ('comprehension', '<listcomp>')]
    """
    table = cfg_table(tree.language)
    root = tree.ts_tree.root_node
    cursor = root.walk()
    captures = ts.QueryCursor(scope_query(tree.language, table)).captures(root)
    src = tree.source
    scopes = [(0, root)]
    scopes += [(tree.id_of(n), n) for n in captures.get("scope", ()) if n != root]
    scopes.sort(key=lambda s: s[0])
    registered: dict[int, tuple[nx.DiGraph, int]] = {}
    out: list[CFG] = []
    chain: list[tuple[ts.Node, str]] = []  # enclosing named scopes, for qualified names
    for sid, node in scopes:
        spec = table.scopes.get(node.type)
        if sid and spec is not None and spec.body and node.child_by_field_name(spec.body) is None:
            continue  # a declaration without a body (abstract method, prototype)
        builder = _ScopeBuilder(tree, table, cursor, registered)
        graph = builder.scope(node, sid, spec)
        name = _scope_name(node, spec, src)
        qualname = name
        if sid:
            while chain and not (chain[-1][0].start_byte <= node.start_byte and node.end_byte <= chain[-1][0].end_byte):
                chain.pop()
            if chain:
                qualname = f"{chain[-1][1]}.{name}"
            chain.append((node, qualname))
        kind = spec.kind if spec is not None else "module"
        graph.graph.update(name=name, qualname=qualname, kind=kind, scope_id=sid, language=tree.language.name)
        out.append(CFG(name=name, kind=kind, scope_id=sid, graph=graph, qualname=qualname))
    for capture, attr in (("yield", "has_yield"), ("await", "has_await")):
        for n in captures.get(capture, ()):
            p = n
            while p is not None and p.id not in registered:
                p = p.parent
            if p is not None:
                g, nid = registered[p.id]
                g.nodes[nid][attr] = True
    return out


def build_cfg(tree: SyntaxTree, function: str | None = None) -> CFG:
    """The CFG of one scope: the module when ``function`` is None, else by (qualified) name."""
    cfgs = build_cfgs(tree)
    if function is None:
        return cfgs[0]
    for attr in ("qualname", "name"):
        for cfg in cfgs:
            if getattr(cfg, attr) == function:
                return cfg
    names = ", ".join(dict.fromkeys(c.qualname for c in cfgs[1:] if not c.name.startswith("<"))) or "(none)"
    raise NotFound(f"no function {function!r} in this source; choose one of: {names}")


_EXPORTS = ("cfg_to_dot", "cfg_to_json", "cfg_to_node_link", "cfg_to_png", "export_cfg")


def __getattr__(name: str) -> Any:
    """Exports live in ``cfg_export`` (which imports this module); served lazily from here."""
    if name in _EXPORTS:
        from treediff.syntax import cfg_export

        return getattr(cfg_export, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
