"""Context drafts: fragments of the program itself, proposed to a remasking round beside the model's drafts.

Code repeats itself.  The expression a hole lost often stands elsewhere in its file (a parameter, a field, a
call made twice), and a statement of the same shape sits next door.  A weak denoiser that fills masks with
``( ( (`` seldom writes them, but it can rank them.  So when a fill fails the check, each remasking round
also proposes, for every region it remasks:

1. the one-line syntax nodes of the region's category (statement, expression, ...) that lie outside every
   hole, a statement inside a body exactly when the region is (no top-level ``use`` line into a function), no parse
   error, and no longer than :data:`MAX_BYTES` (no block: a body copied from another
   function is almost never the one that was lost, nor is a multi-line statement); each distinct text once,
   those in the region's role first (the same field of the same kind of parent), nearest first within each
   (:func:`fragments`), at most :data:`POOL` of them;
2. all scored by the denoiser in one forward pass over the program with the region masked to the longest
   fragment's token count: a fragment's score is the mean log-probability of its tokens and of the
   end-of-hole that ends it, at the first positions (the first decoding step's view, as the model's own
   drafts are scored).  On the 31 one-line expression and statement holes of ``bench/infill_languages.py
   --files 3`` (the lost text added to each hole's fragments) this put the lost text in the top 4 in 12 of
   31 (a forward pass per fragment, at its own length: 13; the whole masked run scored: 10);
3. the best ``config.context_drafts`` of them join the model's drafts in
   :func:`~treediff.sample.remask.pick_draft`, which checks every draft best score first and keeps the first
   that passes.

A kept context draft is a copy, not the model's writing, and the record says so:
``ValidityRecord.num_context_regions`` counts the regions filled that way (``0`` when the model's own drafts
won).  ``context_drafts = 0`` turns the proposals off.

>>> from treediff.syntax.tree import parse
>>> code = "int f(int n) {\\n    int k = n + 1;\\n    return k * 2;\\n}\\n"
>>> a = code.index("k * 2")
>>> fragments(parse(code, "c"), (a, a + 5), [(a, a + 5)], "expression")
['1', 'n + 1', 'n', 'k', 'f']
"""

from __future__ import annotations

from typing import Sequence

import torch

from treediff.errors import InputError
from treediff.model.formats import DiffusionLM
from treediff.sample.segments import Layout, layout_segments
from treediff.syntax.tree import SyntaxTree

__all__ = ["MAX_BYTES", "POOL", "fragments", "context_rows", "ranked_rows", "score_fragments", "score_layout"]

#: the longest fragment proposed for a region of each category, in bytes; a category not named here (``block``:
#: a function body copied from another function is almost never the one that was lost) gets none
MAX_BYTES = {"expression": 120, "identifier": 60, "literal": 60, "statement": 160}
#: fragments scored per region and round (nearest first), in one forward pass
POOL = 16


def fragments(tree: SyntaxTree, region: tuple[int, int], holes: Sequence[tuple[int, int]], category: str, *,
              limit: int = POOL) -> list[str]:
    """Distinct texts of the one-line nodes of ``category`` in ``tree`` outside every span of ``holes`` and
    ``region``, without parse errors, at most :data:`MAX_BYTES` long: first those in the region's role (the
    same field of the same kind of parent: another right-hand side of ``x, err :=``, another operand of a
    selector), then the others, nearest to ``region`` first in each."""
    a, b = region
    data = tree.source
    cap = MAX_BYTES.get(category, 0)
    target = _role(tree, a, b)
    # a statement of a file's or a type's top level (an import, a `var` declaration) is no statement of a body,
    # nor the reverse; an expression may come from anywhere (`flag` of a top-level `flag.Bool(...)`)
    in_body = _in_block(tree.node_at(a, b)) if category == "statement" else None
    found: dict[str, tuple[bool, int]] = {}
    busy = list(holes) + [region]
    for node in tree.nodes(named=True):
        s, e = node.start_byte, node.end_byte
        if e - s > cap or s == e or category not in node.categories:
            continue
        if any(s < he and hs < e for hs, he in busy) or node.has_error or b"\n" in data[s:e]:
            continue
        text = data[s:e].decode("utf-8", "replace")
        if not text.strip() or (in_body is not None and _in_block(node) != in_body):
            continue
        key = (target is None or _role_of(node) != target, a - e if e <= a else s - b)
        if text not in found or key < found[text]:
            found[text] = key
    return sorted(found, key=lambda t: (found[t], len(t)))[:limit]


def _in_block(node) -> bool:
    """Whether ``node`` lies inside a block (a body of statements) rather than at a file's or a type's top level."""
    up = node.parent if node is not None else None
    while up is not None:
        if up.category == "block":
            return True
        up = up.parent
    return False


def _role_of(node) -> tuple[str, str | None] | None:
    """The parent's kind and the field of the outermost node spanning what ``node`` spans."""
    while node.parent is not None and node.parent.span == node.span:
        node = node.parent
    parent = node.parent
    return None if parent is None else (parent.kind, node.field_name)


def _role(tree: SyntaxTree, a: int, b: int) -> tuple[str, str | None] | None:
    """The role of the node spanning exactly ``[a, b)`` (its parent's kind and its field), ``None`` when no
    error-free node spans it (the region holds a broken draft)."""
    try:
        node = tree.node_at(a, b)
    except Exception:  # no named node there
        return None
    if node.span != (a, b) or node.has_error:
        return None
    return _role_of(node)


def score_layout(lm: DiffusionLM, layout: Layout, row: torch.Tensor) -> float:
    """A row's mean log-probability of its tokens at the layout's editable positions, under the denoiser's one
    forward pass over the layout with every one of them masked (its first decoding step's view)."""
    ids = torch.tensor([layout.ids], dtype=torch.long, device=lm.device)
    logits, _ = lm.logits(ids)
    logp = torch.log_softmax(logits[0].float(), -1)
    where = torch.tensor(layout.editable, dtype=torch.bool, device=logp.device)
    picked = row[: len(layout.ids)].to(logp.device)[where]
    return float(logp[where].gather(-1, picked[:, None]).mean())


def score_fragments(lm: DiffusionLM, language: str, data: bytes, region: tuple[int, int], texts: list[str]):
    """``(score, text)`` for each text, best first, from one forward pass: the region masked to the longest
    text's token count; a text's score is the mean log-probability of its tokens and of the end-of-hole after
    them (how the model ends a shorter fill) at the first positions.  ``[]`` when the program does not fit."""
    encoded = [(text, lm.encode(text, language)) for text in texts]
    encoded = [(text, tokens) for text, tokens in encoded if tokens]
    if not encoded:
        return []
    longest = max(len(tokens) for _, tokens in encoded)
    before = data[: region[0]].decode("utf-8", "replace")
    after = data[region[1]:].decode("utf-8", "replace")
    try:
        layout = layout_segments(lm, language, [before, after], [longest], cap=False)
    except InputError:  # the program with this region does not fit the model
        return []
    ids = torch.tensor([layout.ids], dtype=torch.long, device=lm.device)
    logits, _ = lm.logits(ids)
    lo, hi = layout.ranges[0]
    logp = torch.log_softmax(logits[0, lo:hi].float(), -1)
    out = []
    for text, tokens in encoded:  # its tokens, then the end-of-hole that ends it there (none at full length)
        row = torch.tensor(tokens + [lm.end_id] * (len(tokens) < longest), dtype=torch.long, device=logp.device)
        out.append((float(logp[: len(row)].gather(-1, row[:, None]).mean()), text))
    out.sort(key=lambda st: -st[0])
    return out


def context_rows(lm: DiffusionLM, language: str, tree: SyntaxTree, regions: list[tuple[int, int, str]],
                 holes: Sequence[tuple[int, int]], count: int, *,
                 pool: int = POOL) -> tuple[list[list[str]], list[float]]:
    """Up to ``count`` context drafts for a round's ``regions`` (``(start, end, category)`` in ``tree``'s
    source): row ``j`` gives every region its ``j``-th best of its ``pool`` nearest fragments, scored by the
    mean of the regions' scores.  No rows when some region has no fragment (the rows must fill every region)."""
    if count <= 0 or not regions:
        return [], []
    ranked = []
    for a, b, category in regions:
        found = fragments(tree, (a, b), holes, category, limit=pool)
        scored = score_fragments(lm, language, tree.source, (a, b), found)
        if not scored:
            return [], []
        ranked.append(scored)
    picked = ranked_rows(ranked, count)
    return [[text for _, text in row] for row in picked], [sum(s for s, _ in row) / len(row) for row in picked]


def ranked_rows(ranked: Sequence[Sequence], count: int) -> list[list]:
    """Up to ``count`` distinct rows from per-region lists, best first: row ``j`` gives every region its ``j``-th
    choice (its last when it has fewer).

    >>> ranked_rows([["a", "b"], ["x"]], 3)
    [['a', 'x'], ['b', 'x']]
    """
    rows: list[list] = []
    for j in range(min(count, max(map(len, ranked), default=0))):
        row = [r[min(j, len(r) - 1)] for r in ranked]
        if row not in rows:
            rows.append(row)
    return rows
