"""Python dataflow over the CFG: python-graphs' LAST_READ, LAST_WRITE and COMPUTED_FROM.

Every variable occurrence (a node of the language's ``identifier`` category that
names a variable) becomes an *access*: a read, a write, or both (the target of
``x += 1``).  Accesses are put in evaluation order inside each statement
(``a = b`` reads ``b`` before it writes ``a``), attached to the CFG statement
that owns them, and then a forward "last access" analysis over each scope's CFG
(iterated to a fixed point, like reaching definitions) gives, for every access:

- ``LAST_READ``: edges to the reads of the same name that may have been the most
  recent read of it on some path;
- ``LAST_WRITE``: edges to the writes that may have been the most recent write.

``COMPUTED_FROM`` links each assignment target to the variables read on the
right-hand side (``=``, ``+=``, ``:=`` and ``for`` targets).

Each scope (module, function, lambda, class body, comprehension) is analysed on
its own CFG: a read of a name never written in its own scope (a global, a free
variable) has no ``LAST_WRITE``.  Parameters are written at the scope's entry.

What is language data and what is Python: occurrence kinds come from the
``identifier`` category of ``grammars/python.toml``; the rules that decide read
versus write, the scope boundaries and the evaluation order (the ``_PY_*``
tables below) are the ``python`` rule set, which a grammar file selects with
``[dataflow] rules = "python"`` (as ``grammars/python.toml`` does); other
languages get no dataflow edges until a rule set exists for them.  All traversal is the one iterative :func:`~treediff.syntax.walk`.

>>> from treediff.syntax import parse
>>> tree = parse("x = 1\\ny = x\\n", "python")
>>> [(a.name, a.is_read, a.is_write) for a in collect_accesses(tree)]
[('x', False, True), ('x', True, False), ('y', False, True)]
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Hashable, Iterable

from treediff.syntax.cfg import node_order
from treediff.syntax.language import Language
from treediff.syntax.tree import SyntaxTree, walk

__all__ = ["Access", "supports_dataflow", "collect_accesses", "compute_dataflow"]

# -- Python rules --------------------------------------------------------------------------
_PY_COMPREHENSIONS = frozenset(
    {"list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression"}
)
_PY_FUNCTIONS = frozenset({"function_definition", "lambda"})
_PY_SCOPES = _PY_FUNCTIONS | _PY_COMPREHENSIONS | {"class_definition", "module"}
#: Nodes through which an assignment target stays a target (``a, (b, *c) = ...``).
_PY_TARGET_CONTAINERS = frozenset(
    {
        "pattern_list",
        "tuple_pattern",
        "list_pattern",
        "list_splat_pattern",
        "tuple",
        "list",
        "parenthesized_expression",
        "expression_list",
        "as_pattern_target",
    }
)
#: Parent kinds whose ``left`` child is an assignment target.
_PY_TARGET_PARENTS = frozenset({"assignment", "augmented_assignment", "for_statement", "for_in_clause"})
#: Evaluation order: fields listed first are evaluated first; unlisted children
#: keep source order after them, except fields listed under "last".
_PY_ORDER_FIRST = {
    "assignment": ("right", "type"),
    "for_statement": ("right",),
    "for_in_clause": ("right",),
    "named_expression": ("value",),
}
_PY_ORDER_LAST = {
    "function_definition": ("name",),
    "class_definition": ("name",),
    **{k: ("body",) for k in _PY_COMPREHENSIONS},
}
#: COMPUTED_FROM: node kind → (target field, source field).
_PY_COMPUTED_FROM = {
    "assignment": ("left", "right"),
    "augmented_assignment": ("left", "right"),
    "named_expression": ("name", "value"),
    "for_statement": ("left", "right"),
    "for_in_clause": ("left", "right"),
}

# roles of a syntax node for the identifiers below it
_READ, _WRITE, _AUG, _PARAMS, _PARAM, _SKIP, _IMPORT, _IMPORT_ALIASED, _CASE = range(9)


@dataclass(frozen=True)
class Access:
    """One variable occurrence: node id, name, read/write and where it belongs.

    ``owner`` is the CFG statement id that evaluates it, or ``"ENTRY"`` for
    parameters (and for expressions the scope's CFG does not list).
    """

    node: int
    name: str
    is_read: bool
    is_write: bool
    scope: int
    owner: Hashable


#: Rule sets this module implements; a grammar file opts in with ``[dataflow] rules = "python"``.
RULE_SETS = ("python",)


def supports_dataflow(language: Language) -> bool:
    """Whether the language's data names a dataflow rule set this module implements."""
    return language.extra.get("dataflow", {}).get("rules") in RULE_SETS


def _child_role(parent_kind: str, parent_role: int, field: str | None, kind: str, ts_node) -> int:
    """The role of a node, given its parent's role (Python rules)."""
    if parent_role == _SKIP:
        return _SKIP
    if parent_kind == "attribute" and field == "attribute":
        return _SKIP
    if parent_kind == "keyword_argument" and field == "name":
        return _SKIP
    if parent_kind in ("global_statement", "nonlocal_statement"):
        return _SKIP
    if field == "left" and parent_kind in _PY_TARGET_PARENTS:
        return _AUG if parent_kind == "augmented_assignment" else _WRITE
    if parent_kind == "named_expression" and field == "name":
        return _WRITE
    if kind == "as_pattern_target":
        return _WRITE
    if field == "name" and parent_kind in ("function_definition", "class_definition"):
        return _WRITE
    if field == "parameters" and parent_kind in _PY_FUNCTIONS:
        return _PARAMS
    if parent_kind == "import_from_statement" and field == "module_name":
        return _SKIP
    if field == "name" and parent_kind in ("import_statement", "import_from_statement"):
        return _IMPORT_ALIASED if kind == "aliased_import" else _IMPORT
    if parent_role == _IMPORT_ALIASED:
        return _WRITE if field == "alias" else _SKIP
    if parent_role == _IMPORT:  # `import a.b` binds `a`
        return _WRITE if ts_node.prev_sibling is None else _SKIP
    if parent_role == _PARAMS:
        if field in ("value", "type"):
            return _READ
        return _PARAM if kind == "identifier" else _PARAMS
    if parent_role in (_WRITE, _AUG):
        return parent_role if kind == "identifier" or kind in _PY_TARGET_CONTAINERS else _READ
    if kind == "case_pattern" and parent_role != _CASE:
        return _CASE
    if parent_role == _CASE:
        if parent_kind == "keyword_pattern" and kind == "identifier":
            return _SKIP  # the attribute name in `Point(x=a)`
        if kind == "dotted_name":
            is_class = parent_kind == "class_pattern" and ts_node.prev_sibling is None
            return _WRITE if ts_node.named_child_count == 1 and not is_class else _READ
        return _WRITE if kind == "identifier" else _CASE
    return _READ


def _cfg_maps(tree: SyntaxTree, cfgs: Iterable) -> tuple[dict[int, object], dict[int, int]]:
    """``scope node id → CFG`` and ``statement id → scope node id``."""
    scope_cfg: dict[int, object] = {}
    for cfg in cfgs:
        sid = cfg.scope_id
        node = tree.node_by_id(sid).ts_node if isinstance(sid, int) else None
        if node is not None and node.type == "decorated_definition":
            # a CFG keyed by the decorated_definition serves the definition inside it
            for child, field, child_id in _children(node, sid):
                if field == "definition":
                    sid = child_id
        scope_cfg.setdefault(sid, cfg)
    stmt_scope: dict[int, int] = {}
    for sid, cfg in scope_cfg.items():
        for n in cfg.graph.nodes:
            if isinstance(n, int):
                stmt_scope.setdefault(n, sid)
    return scope_cfg, stmt_scope


def _children(ts_node, node_id: int) -> list[tuple[object, str | None, int]]:
    """``(child, field, child id)`` for each child, ids from pre-order arithmetic."""
    out = []
    child_id = node_id + 1
    for i, child in enumerate(ts_node.children):
        out.append((child, ts_node.field_name_for_child(i), child_id))
        child_id += child.descendant_count
    return out


def _collect(tree: SyntaxTree, cfgs: Iterable,  # long: one pass, one branch per kind of access
             ) -> tuple[list[Access], list[tuple[int, int, int, int]], dict]:
    """Accesses in evaluation order, COMPUTED_FROM candidates, and the scope → CFG map."""
    scope_cfg, stmt_scope = _cfg_maps(tree, cfgs)
    id_kinds = tree.language.categories.get("identifier", frozenset())
    source = tree.source
    # per depth: (id, kind, scope, role, owner, param_scope, outer_scope_for_right, aug_end, first_clause)
    stack: list[tuple] = []
    events: list[tuple[tuple[int, int], Access]] = []
    reorders: list[tuple[int, object]] = []
    computed: list[tuple[str, object, int]] = []
    for node_id, (ts_node, field, depth) in enumerate(walk(tree.ts_tree.root_node)):
        del stack[depth:]
        kind = ts_node.type
        if not stack:
            entry = (node_id, kind, node_id, _READ, None, node_id, None, -1, None)
            stack.append(entry)
            continue
        p_id, p_kind, scope, p_role, owner, param_scope, alt_scope, aug_end, first_clause = stack[-1]
        role = _child_role(p_kind, p_role, field, kind, ts_node) if ts_node.is_named else _SKIP
        # scope boundaries
        child_alt = None
        if p_kind in _PY_FUNCTIONS or p_kind == "class_definition":
            if field == "body":
                scope = p_id
            if role == _PARAMS:
                param_scope = p_id
        elif p_kind in _PY_COMPREHENSIONS:
            if node_id == first_clause:
                child_alt = scope  # the first iterable is evaluated in the enclosing scope
            scope = p_id
        elif alt_scope is not None and field == "right":
            scope = alt_scope
        if node_id in stmt_scope:
            owner = (node_id, owner)  # a linked chain of enclosing CFG statements
        if kind == "augmented_assignment":
            aug_end = node_id + ts_node.descendant_count - 1
        my_first = None
        if kind in _PY_COMPREHENSIONS:
            for i, c in enumerate(ts_node.children):
                if c.type == "for_in_clause":
                    my_first = node_id + 1 + sum(x.descendant_count for x in ts_node.children[:i])
                    break
        stack.append((node_id, kind, scope, role, owner, param_scope, child_alt, aug_end, my_first))
        if kind in _PY_ORDER_FIRST or kind in _PY_ORDER_LAST:
            reorders.append((node_id, ts_node))
        if kind in _PY_COMPUTED_FROM:
            computed.append((kind, ts_node, node_id))
        if kind not in id_kinds or role == _SKIP or ts_node.child_count:
            continue
        name = source[ts_node.start_byte : ts_node.end_byte].decode("utf-8", "replace")
        if role == _PARAM:
            events.append(((node_id, 0), Access(node_id, name, False, True, param_scope, "ENTRY")))
            continue
        own: Hashable = "ENTRY"
        link = owner
        while link is not None:
            if stmt_scope[link[0]] == scope:
                own = link[0]
                break
            link = link[1]
        if role == _AUG:
            events.append(((node_id, 0), Access(node_id, name, True, False, scope, own)))
            events.append(((aug_end, 1), Access(node_id, name, False, True, scope, own)))
        else:
            is_write = role in (_WRITE, _CASE)
            events.append(((node_id, 0), Access(node_id, name, not is_write, is_write, scope, own)))
    events.sort(key=lambda e: e[0])
    positions = [pos for pos, _ in events]
    original = [a for _, a in events]
    ordered = list(original)

    def span(ts_node, start: int) -> tuple[int, int]:
        lo = bisect.bisect_left(positions, (start, -1))
        hi = bisect.bisect_left(positions, (start + ts_node.descendant_count, -1))
        return lo, hi

    # innermost first: a block keeps its place in the list when its inside is permuted
    for node_id, ts_node in reversed(reorders):
        first = _PY_ORDER_FIRST.get(ts_node.type, ())
        last = _PY_ORDER_LAST.get(ts_node.type, ())
        blocks = []
        for i, (child, f, child_id) in enumerate(_children(ts_node, node_id)):
            rank = first.index(f) if f in first else len(first) + 1 if f in last else len(first)
            blocks.append((rank, i, span(child, child_id)))
        lo, hi = span(ts_node, node_id)
        if lo == hi:
            continue
        pieces = []
        for _, _, (a, b) in sorted(blocks):
            pieces.extend(ordered[a:b])
        covered = sum(b - a for _, _, (a, b) in blocks)
        if covered == hi - lo:  # defensive: every access of the block lies in some child
            ordered[lo:hi] = pieces
    cf_pairs: list[tuple[int, int, int, int]] = []
    for kind, ts_node, node_id in computed:
        tgt_field, src_field = _PY_COMPUTED_FROM[kind]
        parts = {f: (c, cid) for c, f, cid in _children(ts_node, node_id) if f in (tgt_field, src_field)}
        if len(parts) < 2:
            continue
        (tgt, t_id), (src, s_id) = parts[tgt_field], parts[src_field]
        lo, hi = span(ts_node, node_id)  # by node id: an augmented target is written after its value
        inside = original[lo:hi]
        targets = [a for a in inside if a.is_write and t_id <= a.node < t_id + tgt.descendant_count]
        sources = [a for a in inside if a.is_read and s_id <= a.node < s_id + src.descendant_count]
        for t in targets:
            for s in sources:
                if s.scope == t.scope and s.node != t.node:
                    cf_pairs.append((t.node, s.node, t.scope, s.scope))
    return ordered, cf_pairs, scope_cfg


def collect_accesses(tree: SyntaxTree, cfgs: Iterable | None = None) -> list[Access]:
    """Every variable access of a Python tree, in evaluation order.

    ``cfgs`` (from :func:`treediff.syntax.cfg.build_cfgs`) only sets each
    access's ``owner``; without it every owner is ``"ENTRY"``.  The target of an
    augmented assignment appears twice: as a read, then (after the right-hand
    side) as a write.
    """
    return _collect(tree, cfgs or ())[0]


State = dict  # name -> (frozenset of reads, frozenset of writes)


def _transfer(state: State, gen: dict[str, tuple[int | None, int | None]]) -> State:
    if not gen:
        return state
    out = dict(state)
    for name, (read, write) in gen.items():
        reads, writes = out.get(name, (frozenset(), frozenset()))
        out[name] = (
            frozenset((read,)) if read is not None else reads,
            frozenset((write,)) if write is not None else writes,
        )
    return out


def _merge(states: list[State]) -> State:
    if len(states) == 1:
        return states[0]
    out: State = {}
    for st in states:
        for name, (r, w) in st.items():
            if name in out:
                r0, w0 = out[name]
                out[name] = (r0 | r, w0 | w)
            else:
                out[name] = (r, w)
    return out


def _analyse_scope(accesses: list[Access], cfg, edges: set[tuple[str, int, int]]) -> None:
    """Last-access analysis of one scope; adds (type, src, dst) triples to ``edges``."""
    by_owner: dict[Hashable, list[Access]] = {}
    for a in accesses:
        by_owner.setdefault(a.owner, []).append(a)
    if cfg is None:
        graph_nodes: list[Hashable] = ["ENTRY"]
        preds: dict[Hashable, list[Hashable]] = {"ENTRY": []}
        # without a CFG the scope is one straight-line block
        by_owner = {"ENTRY": accesses}
    else:
        g = cfg.graph
        graph_nodes = sorted(g.nodes, key=node_order)
        preds = {n: sorted(g.predecessors(n), key=node_order) for n in graph_nodes}
        for owner in list(by_owner):
            if owner not in g:  # defensive: an owner the CFG does not know runs at entry
                by_owner.setdefault("ENTRY", []).extend(by_owner.pop(owner))
    gen: dict[Hashable, dict[str, tuple[int | None, int | None]]] = {}
    for n, accs in by_owner.items():
        g_n: dict[str, tuple[int | None, int | None]] = {}
        for a in accs:
            r, w = g_n.get(a.name, (None, None))
            g_n[a.name] = (a.node if a.is_read else r, a.node if a.is_write else w)
        gen[n] = g_n
    empty: State = {}
    out: dict[Hashable, State] = {n: _transfer(empty, gen.get(n, {})) if n == "ENTRY" else empty for n in graph_nodes}
    changed = True
    while changed:  # round-robin to a fixed point; sets only grow, so this ends
        changed = False
        for n in graph_nodes:
            if n == "ENTRY":
                continue
            ins = [out[p] for p in preds[n]]
            new = _transfer(_merge(ins) if ins else empty, gen.get(n, {}))
            if new != out[n]:
                out[n] = new
                changed = True
    for n in graph_nodes:
        ins = [out[p] for p in preds[n]] if n != "ENTRY" else []
        state = _merge(ins) if ins else empty
        for a in by_owner.get(n, ()):
            reads, writes = state.get(a.name, (frozenset(), frozenset()))
            edges.update(("LAST_READ", a.node, r) for r in reads if r != a.node)
            edges.update(("LAST_WRITE", a.node, w) for w in writes if w != a.node)
            state = _transfer(state, {a.name: (a.node if a.is_read else None, a.node if a.is_write else None)})


def compute_dataflow(tree: SyntaxTree, cfgs: Iterable) -> list[tuple[str, int, int]]:
    """Dataflow edges ``(type, source id, target id)`` of a Python tree, sorted.

    ``type`` is ``LAST_READ``, ``LAST_WRITE`` or ``COMPUTED_FROM``; edges point
    from the later occurrence (or the assignment target) to the earlier one (or
    the right-hand-side variable).  Returns ``[]`` for unsupported languages.
    """
    if not supports_dataflow(tree.language):
        return []
    accesses, cf_pairs, scope_cfg = _collect(tree, cfgs)
    by_scope: dict[int, list[Access]] = {}
    for a in accesses:
        by_scope.setdefault(a.scope, []).append(a)
    edges: set[tuple[str, int, int]] = set()
    for scope in sorted(by_scope):
        _analyse_scope(by_scope[scope], scope_cfg.get(scope), edges)
    edges.update(("COMPUTED_FROM", t, s) for t, s, _, _ in cf_pairs)
    order = {t: i for i, t in enumerate(("LAST_READ", "LAST_WRITE", "COMPUTED_FROM"))}
    return sorted(edges, key=lambda e: (e[1], order[e[0]], e[2]))
