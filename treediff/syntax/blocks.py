"""Basic blocks and plain-function analyses over a :class:`~treediff.syntax.cfg.CFG`.

Each function takes a CFG (anything with a ``.graph`` networkx DiGraph whose
entry is ``"ENTRY"``) and returns a new value; nothing is mutated.

>>> from treediff.syntax import parse
>>> from treediff.syntax.cfg import build_cfg
>>> cfg = build_cfg(parse("x = 1\\ny = 2\\nraise E\\nz = 3\\n", "python"))
>>> [d["statements"] for _, d in basic_blocks(cfg).nodes(data=True)]
[[], [], [1, 6, 11], [14]]
>>> unreachable_statements(cfg)
[14]
"""

from __future__ import annotations

from typing import Any

import networkx as nx

__all__ = ["basic_blocks", "reachable", "unreachable_statements", "dominators"]

_ENTRY, _EXIT = "ENTRY", "EXIT"


def basic_blocks(cfg: Any) -> nx.DiGraph:
    """Maximal straight-line runs of statements.

    Block ids are the id of the block's first statement (``"ENTRY"``/``"EXIT"`` stay
    their own empty blocks); node attribute ``statements`` lists the statement ids
    in order; an edge between blocks keeps the label of the CFG edge it stands for.
    """
    g = cfg.graph
    pred, succ = g._pred, g._succ

    def joins(u: Any, v: Any) -> bool:  # v continues u's block
        return (len(succ[u]) == 1 and len(pred[v]) == 1 and u not in (_ENTRY, _EXIT)
                and v not in (_ENTRY, _EXIT) and u != v)

    leaders = [n for n in g if not (len(pred[n]) == 1 and joins(next(iter(pred[n])), n))]
    out = nx.DiGraph()
    block_of: dict[Any, Any] = {}
    for lead in leaders:
        run = [] if lead in (_ENTRY, _EXIT) else [lead]
        block_of[lead] = lead
        n = lead
        while len(succ[n]) == 1:
            (v,) = succ[n]
            if not joins(n, v) or v in block_of:
                break
            run.append(v)
            block_of[v] = lead
            n = v
        out.add_node(lead, statements=run)
        if lead is leaders[-1]:  # an unentered cycle has no natural leader: give it one
            leaders.extend(n for n in g if n not in block_of and n not in leaders[:-1])
    for u, v, label in g.edges(data="label"):
        bu, bv = block_of.get(u), block_of.get(v)
        if bu is None or bv is None:
            continue
        if bu != bv or v == bv:  # an edge inside a block is implied by the order
            if not out.has_edge(bu, bv):
                out.add_edge(bu, bv, label=label)
    return out


def reachable(cfg: Any) -> set[Any]:
    """Nodes reachable from ``"ENTRY"`` (ENTRY included)."""
    return nx.descendants(cfg.graph, _ENTRY) | {_ENTRY}


def unreachable_statements(cfg: Any) -> list[int]:
    """Statement ids no path from ENTRY reaches (dead code), in source order."""
    seen = reachable(cfg)
    return sorted(n for n in cfg.graph if n not in seen and n not in (_ENTRY, _EXIT))


def dominators(cfg: Any) -> dict[Any, Any]:
    """Immediate dominators of the reachable nodes (``networkx.immediate_dominators``)."""
    return nx.immediate_dominators(cfg.graph, _ENTRY)
