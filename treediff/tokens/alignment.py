"""Tokens aligned to syntax nodes: the bridge from ``syntax/`` to ``noise/``.

Two pieces live here and are shared by every tokenizer:

* :func:`pretokenize` cuts a source into *pieces* that never cross a tree-sitter
  leaf boundary: each leaf is a piece, and the bytes between leaves are cut into
  newline+indentation units and runs of blanks.  A syntax-aligned BPE merges only
  inside a piece, so every token lies inside one piece.
* :func:`align` maps byte-offset tokens to node token spans.  Each named node
  ``v`` gets the contiguous token span ``[s_v, e_v)`` of every token that overlaps
  its bytes.  With a syntax-aligned tokenizer the span is *exact* (its first token
  starts at the node's first byte and its last ends at the node's last byte).
  With an external tokenizer a token may overlap several nodes; the rule is
  **cover**: the token belongs to every node it overlaps, so node spans may
  be wider than the node and ``is_exact`` is ``False`` for those nodes.
  Zero-width nodes (tree-sitter MISSING) get the empty span at their position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from treediff.syntax.language import CATEGORIES
from treediff.syntax.tree import SyntaxTree, walk

__all__ = ["Piece", "Alignment", "pretokenize", "piece_bounds", "align", "leaf_alignment"]

_GAP = re.compile(rb"\r?\n[ \t]*|[ \t]+|\r|[^\s]+|\s")


@dataclass(frozen=True)
class Piece:
    """A pre-token: ``source[start:end]``; ``is_leaf`` tells a leaf from inter-leaf text."""

    start: int
    end: int
    is_leaf: bool


def pretokenize(tree: SyntaxTree) -> list[Piece]:
    """Cut ``tree.source`` into pieces that cover every byte and never cross a leaf.

    >>> from treediff.syntax import parse
    >>> t = parse("if x:\\n    y = 1\\n", "python")
    >>> [t.source[p.start:p.end] for p in pretokenize(t)]
    [b'if', b' ', b'x', b':', b'\\n    ', b'y', b' ', b'=', b' ', b'1', b'\\n']
    """
    return [Piece(s, e, leaf) for s, e, leaf in piece_bounds(tree)]


def piece_bounds(tree: SyntaxTree) -> list[tuple[int, int, bool]]:
    """The pieces of :func:`pretokenize` as plain ``(start, end, is_leaf)`` tuples (the fast path)."""
    src = tree.source
    pieces: list[tuple[int, int, bool]] = []
    append = pieces.append
    finditer = _GAP.finditer
    pos = 0
    for node, _, _ in walk(tree.ts_tree.root_node):
        if node.child_count:
            continue
        s, e = node.start_byte, node.end_byte
        if e <= s or s < pos:  # zero width (MISSING) or nested inside an earlier leaf
            continue
        if s > pos:
            if s == pos + 1 and src[pos] == 32:  # the common single-blank gap
                append((pos, s, False))
            else:
                for m in finditer(src, pos, s):
                    append((m.start(), m.end(), False))
        append((s, e, True))
        pos = e
    if pos < len(src):
        for m in finditer(src, pos, len(src)):
            append((m.start(), m.end(), False))
    return pieces


@dataclass(frozen=True)
class Alignment:
    """Token ↔ node alignment of one source.

    Arrays (numpy, one row per token or per named node in pre-order):

    * ``token_offsets``: ``[T, 2]`` byte ``[start, end)`` of each token;
    * ``node_spans``: ``[N, 2]`` token span ``[s, e)`` of each named node;
    * ``node_byte_spans``: ``[N, 2]`` byte span of each named node;
    * ``node_kind``: ``[N]`` index into ``language.kinds``;
    * ``node_category``: ``[N]`` index into :data:`CATEGORIES` of the primary category, −1 for none;
    * ``node_depth``: ``[N]`` depth below the root (root = 0);
    * ``node_parent``: ``[N]`` row of the parent named node, −1 for the root;
    * ``node_exact``: ``[N]`` whether the span starts and ends on the node's bytes.
    """

    language: str
    token_offsets: np.ndarray
    node_spans: np.ndarray
    node_byte_spans: np.ndarray
    node_kind: np.ndarray
    node_category: np.ndarray
    node_depth: np.ndarray
    node_parent: np.ndarray
    node_exact: np.ndarray

    @property
    def num_tokens(self) -> int:
        return int(self.token_offsets.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.node_spans.shape[0])

    def spans_of(self, category: str) -> np.ndarray:
        """Token spans ``[K, 2]`` of the named nodes whose primary category is ``category``."""
        idx = CATEGORIES.index(category)
        return self.node_spans[self.node_category == idx]

    def shifted(self, offset: int) -> "Alignment":
        """The same alignment with token indices moved by ``offset`` (for a prefix such as BOS)."""
        return Alignment(
            self.language,
            self.token_offsets,
            self.node_spans + offset,
            self.node_byte_spans,
            self.node_kind,
            self.node_category,
            self.node_depth,
            self.node_parent,
            self.node_exact,
        )


def align(tree: SyntaxTree, token_offsets: np.ndarray | list[tuple[int, int]]) -> Alignment:
    """Map tokens given as byte offsets onto the named nodes of ``tree`` (the *cover* rule)."""
    offs = np.asarray(token_offsets, dtype=np.int64).reshape(-1, 2)
    lang = tree.language
    kind_index = lang.kind_index
    cat_index = {c: i for i, c in enumerate(CATEGORIES)}
    spans: list[tuple[int, int]] = []
    kinds: list[int] = []
    cats: list[int] = []
    depths: list[int] = []
    parents: list[int] = []
    stack: list[tuple[int, int]] = []  # (depth, row) of open named ancestors
    for node, _, depth in walk(tree.ts_tree.root_node):
        if not node.is_named:
            continue
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents.append(stack[-1][1] if stack else -1)
        row = len(spans)
        stack.append((depth, row))
        spans.append((node.start_byte, node.end_byte))
        t = node.type
        kinds.append(kind_index.get(t, len(lang.kinds)))
        c = lang.category(t)
        cats.append(-1 if c is None else cat_index.get(c, -1))
        depths.append(depth)
    byte_spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    starts, ends = offs[:, 0], offs[:, 1]
    s = np.searchsorted(ends, byte_spans[:, 0], side="right")
    e = np.searchsorted(starts, byte_spans[:, 1], side="left")
    zero = byte_spans[:, 0] == byte_spans[:, 1]
    s = np.where(zero, np.searchsorted(starts, byte_spans[:, 0], side="left"), s)
    e = np.maximum(e, s)
    e = np.where(zero, s, e)
    num = offs.shape[0]
    exact = zero.copy()  # with no tokens only zero-width nodes are exact
    if num:
        nonempty = e > s
        first = np.clip(s, 0, num - 1)
        last = np.clip(e - 1, 0, num - 1)
        exact = np.where(
            nonempty,
            (starts[first] == byte_spans[:, 0]) & (ends[last] == byte_spans[:, 1]),
            zero,
        )
    return Alignment(
        language=lang.name,
        token_offsets=offs,
        node_spans=np.stack([s, e], axis=1).astype(np.int64) if len(spans) else np.zeros((0, 2), np.int64),
        node_byte_spans=byte_spans,
        node_kind=np.asarray(kinds, dtype=np.int32),
        node_category=np.asarray(cats, dtype=np.int8),
        node_depth=np.asarray(depths, dtype=np.int32),
        node_parent=np.asarray(parents, dtype=np.int64),
        node_exact=exact,
    )


def leaf_alignment(tree: SyntaxTree) -> Alignment:
    """Alignment where each pre-token piece is one token (handy for tests and analysis).

    >>> from treediff.syntax import parse
    >>> a = leaf_alignment(parse("x = f(1)\\n", "python"))
    >>> bool(a.node_exact.all()), a.num_tokens
    (True, 9)
    """
    return align(tree, [(p.start, p.end) for p in pretokenize(tree)])
