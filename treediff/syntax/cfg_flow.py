"""Control flow and dataflow as data for learning: labelled node edges, CFG units, the visible program.

* :func:`flow_edges`: the CFG's labelled statement edges (``ENTRY``/``EXIT`` stand for the scope
  node, so ``return`` and ``raise`` edges land on the function they leave) plus, for Python, the
  dataflow edges ``LAST_READ``/``LAST_WRITE``/``COMPUTED_FROM`` between identifier occurrences.
  Labels come from :data:`FLOW_LABELS`, a table (the structure encoder turns it into edge types).
* :func:`flow_units`: byte spans the control-flow masker can hide whole: straight-line runs of a
  basic block (``block``), whole compound statements, a loop with its condition and body
  (``control``), and the arms of one (``branch``: an if/else body, a handler, a case).
* :func:`visible_program`: what a model sees of a partially masked token row, as source text:
  each run of masked tokens becomes one placeholder identifier, so tree-sitter's error recovery
  parses the rest (training and sampling build their structure from this, never from the clean
  program).

>>> from treediff.syntax import parse
>>> tree = parse("def f(x):\\n    if x:\\n        return 1\\n    return 2\\n", "python")
>>> sorted({label for label, _, _ in flow_edges(tree)})
['LAST_WRITE', 'false', 'next', 'return', 'true']
>>> [(UNIT_KINDS[k], tree.source[s:e].decode()) for k, s, e in flow_units(tree).tolist()]
[('control', 'if x:\\n        return 1'), ('block', 'return 1'), ('block', 'return 2')]
>>> program = visible_program([b"x", b" = ", None, None, b"\\n"])
>>> program.source, program.token_start.tolist(), program.token_end.tolist()
(b'x = __\\n', [0, 1, 2, 4], [1, 2, 4, 5])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from treediff.errors import TreediffError
from treediff.syntax.cfg import EDGE_LABELS, build_cfgs
from treediff.syntax.dataflow import compute_dataflow, supports_dataflow
from treediff.syntax.tree import SyntaxTree, parse, walk  # parse: the doctests

__all__ = ["DATAFLOW_LABELS", "FLOW_LABELS", "UNIT_KINDS", "PLACEHOLDER", "VisibleProgram", "named_rows",
           "flow_edges", "flow_units", "visible_program", "token_spans",
           "TokenText", "cfg_region"]

DATAFLOW_LABELS = ("LAST_READ", "LAST_WRITE", "COMPUTED_FROM")
#: Every label :func:`flow_edges` can emit: the CFG's, then the dataflow ones.
FLOW_LABELS = (*EDGE_LABELS, *DATAFLOW_LABELS)
#: What a :func:`flow_units` row is (its first column indexes this).
UNIT_KINDS = ("block", "control", "branch")
#: The identifier that stands for a run of masked tokens.
PLACEHOLDER = b"__"
_ASCII = bytes(range(128)) + b"_" * 128  # a token may hold part of a UTF-8 character
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


def named_rows(tree: SyntaxTree) -> np.ndarray:
    """``[num_nodes]`` long: row of each node id among the named nodes in pre-order (−1 if anonymous).

    The rows are those of :func:`treediff.tokens.align` (and so of ``AlignedBatch.spans``).
    """
    named = np.fromiter((n.is_named for n, _, _ in walk(tree.ts_tree.root_node)), dtype=bool)
    return np.where(named, np.cumsum(named) - 1, -1).astype(np.int64)


def _cfgs(tree: SyntaxTree) -> list:
    try:
        return build_cfgs(tree)
    except TreediffError:  # a language without a [cfg] table
        return []


def flow_edges(tree: SyntaxTree, *, dataflow: bool = True, cfgs: list | None = None) -> list[tuple[str, int, int]]:
    """``(label, source id, target id)`` over node ids; ``ENTRY``/``EXIT`` map to the scope's node."""
    cfgs = _cfgs(tree) if cfgs is None else cfgs
    edges: list[tuple[str, int, int]] = []
    for cfg in cfgs:
        def node(n):
            return n if isinstance(n, int) else cfg.scope_id
        edges.extend((label, node(u), node(v)) for u, v, label in cfg.graph.edges(data="label"))
    if dataflow and cfgs and supports_dataflow(tree.language):
        try:
            edges.extend(compute_dataflow(tree, cfgs))
        except TreediffError:
            pass
    return edges


def _branches(tree: SyntaxTree, stmt_id: int) -> list[tuple[int, int]]:
    out = []
    for child in tree.node_by_id(stmt_id).children:
        if child.category == "block" or child.kind.endswith("_clause") or child.kind.endswith("_case"):
            out.append(child.span)
    return out


def flow_units(tree: SyntaxTree, cfgs: list | None = None) -> np.ndarray:
    """``[K, 3]`` long rows ``(unit kind, start byte, end byte)``, unique extents, sorted by start.

    A statement is *compound* when another statement lies strictly inside it; ``block`` units are
    runs of consecutive simple statements of one basic block, ``control`` units the compound
    statements that are not scopes (loops, ifs, try, with, switch), ``branch`` units their arms.
    """
    from treediff.syntax.blocks import basic_blocks

    cfgs = _cfgs(tree) if cfgs is None else cfgs
    span: dict[int, tuple[int, int]] = {}
    for cfg in cfgs:
        for n, d in cfg.graph.nodes(data=True):
            if isinstance(n, int):
                span[n] = (int(d["start_byte"]), int(d["end_byte"]))
    scopes = {cfg.scope_id for cfg in cfgs}
    ordered = sorted(span.items(), key=lambda kv: (kv[1][0], -kv[1][1]))
    compound = set()
    open_: list[tuple[int, int]] = []  # (end, id) of enclosing statements
    for n, (s, e) in ordered:
        while open_ and open_[-1][0] <= s:
            open_.pop()
        if open_:
            compound.add(open_[-1][1])
        open_.append((e, n))
    units: dict[tuple[int, int], int] = {}
    for cfg in cfgs:
        for _, d in basic_blocks(cfg).nodes(data=True):
            run: list[int] = []
            for n in [*d["statements"], None]:
                if n is not None and n not in compound:
                    run.append(n)
                    continue
                if run:
                    units.setdefault((span[run[0]][0], span[run[-1]][1]), 0)
                run = []
    for n in sorted(compound - scopes):
        units.setdefault(span[n], 1)
        for s, e in _branches(tree, n):
            units.setdefault((s, e), 2)
    rows = sorted((s, -e, k) for (s, e), k in units.items() if e > s)
    return np.asarray([(k, s, -ne) for s, ne, k in rows], dtype=np.int64).reshape(-1, 3)


def token_spans(byte_spans: np.ndarray, token_offsets: np.ndarray) -> np.ndarray:
    """``[K, 2]`` token spans ``[s, e)`` of byte spans: the tokens that overlap each one (the cover rule)."""
    byte_spans = np.asarray(byte_spans, dtype=np.int64).reshape(-1, 2)
    offs = np.asarray(token_offsets, dtype=np.int64).reshape(-1, 2)
    s = np.searchsorted(offs[:, 1], byte_spans[:, 0], side="right")
    e = np.maximum(np.searchsorted(offs[:, 0], byte_spans[:, 1], side="left"), s)
    return np.stack([s, e], axis=1)


@dataclass(frozen=True)
class VisibleProgram:
    """Source text of a partially masked token row.

    ``offsets [P, 2]``: byte span of each *piece* (a visible token, or the placeholder of a masked
    run); piece ``p`` stands for the row's tokens ``[token_start[p], token_end[p])``.
    """

    source: bytes
    offsets: np.ndarray
    token_start: np.ndarray
    token_end: np.ndarray


def visible_program(pieces: Sequence[bytes | None], skip: Sequence[bool] | None = None) -> VisibleProgram:
    """Join token bytes; each run of ``None`` (masked) becomes one :data:`PLACEHOLDER`.

    Tokens with ``skip[k]`` (specials, padding) are left out; empty tokens too.  A space separates
    the placeholder from a neighbouring word character, so it never glues onto an identifier.
    Bytes above 127 become ``_`` (same length): a token may cut a UTF-8 character in two.
    """
    out = bytearray()
    offs: list[tuple[int, int]] = []
    first: list[int] = []
    last: list[int] = []
    k, n = 0, len(pieces)
    while k < n:
        piece = pieces[k]
        if skip is not None and skip[k]:
            k += 1
            continue
        if piece is None:
            j = k
            while j < n and pieces[j] is None and not (skip is not None and skip[j]):
                j += 1
            if out and out[-1] in _WORD:
                out += b" "
            start = len(out)
            out += PLACEHOLDER
            nxt = next((p for p in pieces[j:] if p), b"")
            offs.append((start, len(out)))
            if nxt and nxt[0] in _WORD:
                out += b" "
            first.append(k)
            last.append(j)
            k = j
            continue
        if piece:
            offs.append((len(out), len(out) + len(piece)))
            out += piece.translate(_ASCII)
            first.append(k)
            last.append(k + 1)
        k += 1
    return VisibleProgram(bytes(out), np.asarray(offs, dtype=np.int64).reshape(-1, 2),
                          np.asarray(first, dtype=np.int64), np.asarray(last, dtype=np.int64))


@dataclass(frozen=True)
class TokenText:
    """What a token row says as text: each id's bytes (``b""`` for specials) and its language tags.

    ``from_tokenizer`` takes any tokenizer with ``vocab_size``, ``is_special``, ``decode_bytes``,
    ``languages`` and ``lang_id`` (a :class:`~treediff.tokens.tokenizer.SyntaxTokenizer`).
    """

    token_bytes: tuple[bytes, ...]
    lang_of_id: dict[int, str]
    default: str = "python"

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "TokenText":
        special = tokenizer.is_special(np.arange(tokenizer.vocab_size))
        token_bytes = tuple(b"" if special[i] else tokenizer.decode_bytes([i]) for i in range(tokenizer.vocab_size))
        langs = list(tokenizer.languages)
        default = "python" if "python" in langs or not langs else langs[0]
        return cls(token_bytes, {tokenizer.lang_id(name): name for name in langs}, default)

    def language(self, row: Sequence[int]) -> str:
        """The row's first language tag, else :attr:`default`."""
        return next((self.lang_of_id[x] for x in row if x in self.lang_of_id), self.default)

    def program(self, row: Sequence[int], masked: Sequence[bool], attended: Sequence[bool]) -> VisibleProgram:
        """:func:`visible_program` of one row (specials and unattended positions skipped)."""
        pieces = [None if m else self.token_bytes[int(x)] for x, m in zip(row, masked)]
        skip = [not a or p == b"" for p, a in zip(pieces, attended)]
        return visible_program(pieces, skip)


def cfg_region(tree: SyntaxTree, start: int, end: int, *, within: tuple[int, int]) -> tuple[int, int] | None:
    """The byte range to remask for a problem at ``[start, end)`` chosen from the CFG and dataflow.

    The statements of the problem's basic block (its straight-line run, cut at compound
    statements), plus the statements that flow into it: those holding the last writes of the
    names it reads (the definition a use needs; Python's dataflow).  The covering range, clamped
    to ``within``; ``None`` when no statement of a CFG covers the problem.

    >>> tree = parse("def f(a):\\n    b = a + 1\\n    c = 2\\n    return b +\\n", "python")
    >>> p = next(tree.errors()); s, e = cfg_region(tree, p.start_byte, p.end_byte, within=(10, 49))
    >>> tree.source[s:e].decode()
    'b = a + 1\\n    c = 2\\n    return b +'
    """
    from treediff.syntax.blocks import basic_blocks

    lo, hi = within
    cfgs = _cfgs(tree)
    best = None  # (size, cfg, statement)
    for cfg in cfgs:
        for n, d in cfg.graph.nodes(data=True):
            if isinstance(n, int) and d["start_byte"] <= start and end <= max(d["end_byte"], start + 1):
                size = d["end_byte"] - d["start_byte"]
                if best is None or size < best[0]:
                    best = (size, cfg, n)
    if best is None:
        return None
    _, cfg, stmt = best
    g = cfg.graph
    block = next((d["statements"] for _, d in basic_blocks(cfg).nodes(data=True) if stmt in d["statements"]), [stmt])
    picked = {stmt}
    i = block.index(stmt)
    for step in (-1, 1):  # the straight-line run around the statement, inside its block
        j = i + step
        while 0 <= j < len(block) and not _contains_others(g, block[j]):
            picked.add(block[j])
            j += step
    names = _reads_in(tree, g, picked)
    for label, u, v in flow_edges(tree, cfgs=cfgs):
        if label == "LAST_WRITE" and u in names:
            owner = _statement_of(g, tree, v)
            if owner is not None:
                picked.add(owner)
    a = min(start, *(g.nodes[n]["start_byte"] for n in picked))
    b = max(end, *(g.nodes[n]["end_byte"] for n in picked))
    a, b = max(a, lo), min(b, hi)
    return (a, b) if a < b else None


def _contains_others(g, n) -> bool:
    s, e = g.nodes[n]["start_byte"], g.nodes[n]["end_byte"]
    return any(isinstance(m, int) and m != n and s <= d["start_byte"] and d["end_byte"] <= e
               and (d["start_byte"], d["end_byte"]) != (s, e) for m, d in g.nodes(data=True))


def _reads_in(tree: SyntaxTree, g, stmts: set) -> set[int]:
    """Node ids of identifiers inside the given statements."""
    spans = [(g.nodes[n]["start_byte"], g.nodes[n]["end_byte"]) for n in stmts]
    out = set()
    for i, (node, _, _) in enumerate(walk(tree.ts_tree.root_node)):
        if node.type == "identifier" and any(s <= node.start_byte and node.end_byte <= e for s, e in spans):
            out.add(i)
    return out


def _statement_of(g, tree: SyntaxTree, node_id: int):
    """The smallest statement of ``g`` around a node id."""
    node = tree.node_by_id(node_id)
    s, e = node.span
    inside = [(d["end_byte"] - d["start_byte"], n) for n, d in g.nodes(data=True)
              if isinstance(n, int) and d["start_byte"] <= s and e <= d["end_byte"]]
    return min(inside)[1] if inside else None
