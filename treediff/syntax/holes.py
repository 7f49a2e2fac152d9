"""Typed holes in existing code: find them, check fills, pick regions to remask.

A *hole* is a region of a program that a sampler fills with code of one category
(``statement``, ``block``, ``expression``, ``identifier``, ``literal``, and
``definition`` where the grammar has a filler for it).  Everything here is a pure
function over source bytes and tree-sitter trees; no model is involved:
:func:`find_holes` makes a :class:`HoleTemplate` (markers, spans or selectors),
:func:`fill_parses_as` checks a fill in its real context, :func:`enclosing_region`
picks the range to remask around a problem, :func:`filler` gives minimal text.

Hole semantics (what :func:`fill_parses_as` accepts):

* a **statement** hole holds one *or more* whole statements: the fill is exactly one
  node of category statement (an expression statement counts), or a run of sibling
  statements, comments and ``;`` separators between them;
* a **block** hole holds whatever the grammar's block node holds: ``{...}`` in
  C-like languages, one or more indented statements in Python; a run of sibling
  statements is accepted too, as it is for statement holes;
* every other category needs one node of that category covering the fill exactly;
* an **empty** (or whitespace-only) fill is accepted only for a statement hole, and
  only when the program still parses: zero statements is a valid run, the way a
  variable-length hole closes completely.  Every other empty fill is rejected.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from treediff.errors import InputError, NotFound
from treediff.syntax.language import CATEGORIES, Language, get_language
from treediff.syntax.tree import Node, SyntaxTree, decode_source, parse

__all__ = [
    "HOLE_PATTERN", "Hole", "HoleTemplate", "find_holes", "fill_parses_as", "fills_parse_as", "enclosing_region",
    "filler", "indent_at", "starts_line", "splice",
]

#: ``<|hole|>`` or ``<|hole:CATEGORY|>``; group ``category`` is ``None`` for the bare marker.
HOLE_PATTERN = re.compile(r"<\|hole(?::(?P<category>[^|<>\s]*))?\|>")
_HOLE_BYTES = re.compile(HOLE_PATTERN.pattern.encode())
_MARKER_START = b"<|hole"
_WS = frozenset(b" \t\r\n\f\v")
# Inference order for an unmarked hole: alone on its line it is most likely a
# statement; inside a line most likely an expression.
_LINE_ORDER = ("statement", "block", "expression", "definition", "identifier", "literal")
_INLINE_ORDER = ("expression", "statement", "block", "identifier", "literal", "definition")
_SELECTOR = re.compile(r"(?P<kind>[A-Za-z_]\w*)(?::(?P<name>[\w$]+))?(?:\.(?P<field>\w+))?(?:#(?P<n>\d+))?")
_BODY_OF = re.compile(r"body\s+of\s+(?P<name>[\w$]+)")
_SELECTOR_HELP = "KIND[:NAME][.FIELD][#N] (e.g. function_definition:f.body, statement#2) or 'body of NAME'"


@dataclass(frozen=True)
class Hole:
    """One hole of a :class:`HoleTemplate`; offsets are bytes of ``HoleTemplate.source``."""

    index: int
    start: int
    end: int
    category: str
    original: str | None = None
    indent: str = ""

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


@dataclass(frozen=True)
class HoleTemplate:
    """Code with holes: fixed ``source`` bytes and the ordered, non-overlapping ``holes``."""

    source: bytes
    language: Language
    holes: tuple[Hole, ...]

    def __post_init__(self) -> None:
        prev = 0
        for i, hole in enumerate(self.holes):
            if hole.index != i or not prev <= hole.start <= hole.end <= len(self.source):
                raise InputError(f"hole {hole!r} is out of order or outside the source (0..{len(self.source)})")
            prev = hole.end

    def prefix(self, i: int) -> bytes:
        """The source before hole ``i``."""
        return self.source[: self.holes[i].start]

    def suffix(self, i: int) -> bytes:
        """The source after hole ``i``."""
        return self.source[self.holes[i].end :]

    def fillers(self) -> list[str]:
        """The minimal filler of each hole, indented for its line."""
        return [filler(self.language, h.category, indent=h.indent) for h in self.holes]

    def fill(self, fills: Sequence[str | bytes]) -> tuple[str, list[tuple[int, int]]]:
        """The code with hole ``i`` replaced by ``fills[i]`` (verbatim), and each fill's byte span in it."""
        if isinstance(fills, (str, bytes)) or len(fills) != len(self.holes):
            got = "a single string" if isinstance(fills, (str, bytes)) else f"{len(fills)} fills"
            raise InputError(f"need one fill per hole ({len(self.holes)}), got {got}")
        code, spans = splice(self.source, [h.span for h in self.holes], fills)
        return code.decode("utf-8", "replace"), spans


def splice(source: bytes, bounds: Sequence[tuple[int, int]], texts: Sequence[str | bytes]) -> tuple[bytes, list]:
    """``source`` with each ``bounds[i]`` byte range (sorted, disjoint) replaced by ``texts[i]``, and the new ranges.

    >>> splice(b"a = 1", [(4, 5)], ["22"])
    (b'a = 22', [(4, 6)])
    """
    out, spans, pos = bytearray(), [], 0
    for (start, end), text in zip(bounds, texts):
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        out += source[pos:start]
        spans.append((len(out), len(out) + len(data)))
        out += data
        pos = end
    return bytes(out + source[pos:]), spans


def filler(language: str | Language, category: str, *, indent: str = "") -> str:
    """The language's minimal filler for ``category``, every line after the first prefixed by ``indent``.

    >>> filler("python", "definition", indent="    ")
    'def _():\\n        pass'
    """
    return get_language(language).filler(category).replace("\n", "\n" + indent)


def fill_parses_as(language: str | Language, code: str | bytes, span: tuple[int, int], category: str) -> bool:
    """Whether ``code`` parses cleanly and its bytes ``span`` hold a ``category`` fill.

    Leading and trailing whitespace inside ``span`` is ignored; see the module
    docstring for what each category accepts.

    >>> fill_parses_as("python", "def f():\\n    x + 1\\n", (13, 18), "statement")
    True
    >>> fill_parses_as("python", "def f():\\n    return x = 1\\n", (20, 25), "expression")
    False
    >>> fill_parses_as("python", 'def f():\\n    "doc"\\n    return 1\\n', (23, 31), "block")  # after a docstring
    True
    """
    return fills_parse_as(language, code, [span], [category])[0]


def fills_parse_as(language: str | Language, code: str | bytes, spans: Sequence[tuple[int, int]],
                   categories: Sequence[str]) -> tuple[bool, ...]:
    """:func:`fill_parses_as` for several holes of one program, parsed once."""
    lang = get_language(language)
    for category in categories:
        if category not in lang.categories:
            raise InputError(f"unknown category {category!r}; choose one of: {', '.join(CATEGORIES)}")
    data = _to_bytes(code)
    for start, end in spans:
        if not 0 <= start <= end <= len(data):
            raise InputError(f"span {(start, end)!r} is outside the code (0 <= start <= end <= {len(data)})")
    tree = parse(data, lang)
    return tuple(not tree.has_errors and _covers(tree, a, b, c) for (a, b), c in zip(spans, categories))


def enclosing_region(
    tree: SyntaxTree, start: int, end: int, *, within: tuple[int, int],
    categories: Sequence[str] = ("statement", "expression"),
    widen: int = 0,
) -> tuple[int, int]:
    """The byte range to remask for a problem at ``[start, end)``, inside the editable ``within``.

    The smallest node of one of ``categories``, or ERROR node, covering the problem,
    clamped to ``within``; the whole ``within`` when the problem lies outside it or no
    such node exists.  ``widen``: climb that many more such nodes (each strictly larger),
    as a remasking round does when the smaller region did not fix the problem.  Node ends
    are leaf (token) boundaries; an end clamped to the edge of ``within`` stays there even
    inside a token, because the context is fixed.

    >>> tree = parse("def f():\\n    x = (1 +\\n    return x\\n", "python")
    >>> bad = next(tree.errors())
    >>> enclosing_region(tree, bad.start_byte, bad.end_byte, within=(13, 35))
    (13, 21)
    """
    size, (lo, hi) = len(tree.source), within
    for what, (a, b) in (("within=", within), ("problem span ", (start, end))):
        if not 0 <= a <= b <= size:
            raise InputError(f"{what}({a}, {b}) is outside the source (0 <= start <= end <= {size})")
    unknown = [c for c in categories if c not in tree.language.categories]
    if unknown:
        raise InputError(f"unknown categories {unknown}; choose from: {', '.join(CATEGORIES)}")
    outside = not lo <= start <= hi if start == end else (end <= lo or start >= hi)
    if lo == hi or outside:
        return lo, hi
    kinds = frozenset().union(*(tree.language.categories[c] for c in categories))
    node = tree.node_at(start, end, named=False).ts_node

    def climb(node):
        while node.parent is not None and not (node.is_error or node.type in kinds):
            node = node.parent
        return node

    node = climb(node)
    for _ in range(max(0, widen)):
        if node.parent is None or (node.start_byte <= lo and node.end_byte >= hi):
            break
        span = (node.start_byte, node.end_byte)
        up = node.parent
        while up.parent is not None and (up.start_byte, up.end_byte) == span:
            up = up.parent
        node = climb(up)
    s, e = max(node.start_byte, lo), min(node.end_byte, hi)
    return (s, e) if s < e else (lo, hi)


def find_holes(
    code: str | bytes, language: str | Language, *,
    spans: Iterable[tuple] | None = None, select: str | Sequence[str] | None = None,
) -> HoleTemplate:
    """Find the holes of ``code``: ``<|hole|>`` markers, or ``spans``/``select`` over code taken literally.

    * Markers: ``<|hole|>`` (category inferred: the first category, in a preference
      order that puts ``statement`` first for a hole alone on its line and
      ``expression`` first otherwise, whose filler parses cleanly in place and covers
      the hole; an inline expression that forms a whole statement becomes a statement
      hole, and an inline statement slot that is a whole body, as in ``if (c) <|hole|>``,
      a block hole) or ``<|hole:CATEGORY|>``.  Offsets refer to the code without markers.
      When no category fits (the code is broken elsewhere) errors away from the hole are
      ignored; failing that the hole takes the first category of its order.
    * ``spans``: ``(start, end)`` or ``(start, end, category)`` byte ranges of the
      code; the category defaults to that of the smallest named node covering the
      span exactly (or ``statement`` for a run of statements).  An empty span is
      inferred like a marker.
    * ``select``: one selector or a list, ``KIND[:NAME][.FIELD][#N]``: ``KIND`` is a
      node kind or a category name, ``:NAME`` keeps nodes whose name field reads
      NAME, ``.FIELD`` takes a child by field name, ``#N`` picks the N-th match
      (0-based); without it every match is a hole, nested matches keep the
      outermost.  ``function_definition:f.body`` is the body of f, ``statement#0``
      the first statement, ``call_expression`` every outermost call.  The alias
      ``body of f`` takes the body of any definition or named scope called f
      (field names from ``[cfg.scopes]`` in the grammar file).

    >>> t = find_holes("def f(x):\\n    <|hole|>\\n    return <|hole|>\\n", "python")
    >>> [(h.category, h.start, h.end) for h in t.holes]
    [('statement', 14, 14), ('expression', 26, 26)]
    >>> t.fill(["y = x", "y"])
    ('def f(x):\\n    y = x\\n    return y\\n', [(14, 19), (31, 32)])
    >>> find_holes("def f(x):\\n    return x\\n", "py", select="body of f").holes[0].original
    'return x'
    """
    lang = get_language(language)
    data = _to_bytes(code)
    if spans is None and select is None:
        data, items = _strip_markers(data, lang)
    else:
        tree = parse(data, lang)
        items = [] if spans is None else _span_items(tree, spans)
        if select is not None:
            for selector in [select] if isinstance(select, str) else select:
                items += _select(tree, str(selector))
        items = _ordered(items)
    if not items:
        raise InputError(
            "code has no holes: mark one with <|hole|> or <|hole:CATEGORY|> "
            f"(CATEGORY one of: {_choices(lang)}), or pass spans= / select="
        )
    _infer_categories(data, lang, items)
    holes = tuple(Hole(i, s, e, cat, orig, indent_at(data, s)) for i, (s, e, cat, orig) in enumerate(items))
    return HoleTemplate(data, lang, holes)


# -- helpers -------------------------------------------------------------------------
def _to_bytes(code: str | bytes) -> bytes:
    if isinstance(code, str):
        return decode_source(code.encode("utf-8", "surrogatepass"), name="<string>")
    if isinstance(code, (bytes, bytearray, memoryview)):
        return decode_source(bytes(code), name="<bytes>")
    raise InputError(f"code must be str or bytes, not {type(code).__name__}")


def _choices(lang: Language) -> str:
    return ", ".join(sorted(lang.fillers))


def _check_category(lang: Language, category: object, where: str) -> str:
    if category not in lang.fillers:
        raise InputError(f"{where}: {lang.name} has no hole category {category!r}; choose one of: {_choices(lang)}")
    return category  # type: ignore[return-value]


def starts_line(data: bytes, pos: int) -> bool:
    """Whether byte ``pos`` is where a line starts (a region there, with an empty :func:`indent_at`, stands
    at the program's top level in a brace language)."""
    return pos == 0 or data[pos - 1:pos] == b"\n"


def indent_at(data: bytes, pos: int) -> str:
    """The leading blanks of the line that holds byte ``pos`` (up to ``pos``)."""
    line = data[data.rfind(b"\n", 0, pos) + 1 : pos]
    return line[: len(line) - len(line.lstrip(b" \t"))].decode("utf-8")


def _strip(data: bytes, start: int, end: int) -> tuple[int, int]:
    while start < end and data[start] in _WS:
        start += 1
    while end > start and data[end - 1] in _WS:
        end -= 1
    return start, end


def _exact_chain(tree: SyntaxTree, start: int, end: int) -> tuple[Node, list[Node]]:
    """The smallest named node around ``[start, end)`` and its ancestors spanning exactly it."""
    node = tree.node_at(start, end)
    chain, n = [], node
    while n is not None and n.span == (start, end):
        chain.append(n)
        n = n.parent
    return node, chain


def _is_statement_run(parent: Node, start: int, end: int) -> bool:
    """Whether ``[start, end)`` is a run of ``parent``'s children: statements, comments, ``;``."""
    lang = parent.tree.language
    statements = lang.categories.get("statement", frozenset())
    comments = lang.categories.get("comment", frozenset())
    kids = parent.ts_node.children
    first = next((i for i, k in enumerate(kids) if k.start_byte == start), None)
    last = next((i for i, k in enumerate(kids) if k.end_byte == end), None)
    if first is None or last is None or last < first:
        return False
    run = kids[first : last + 1]
    if run[0].type not in statements or run[-1].type not in statements:
        return False
    return all((k.type in statements or k.type in comments) if k.is_named else k.type == ";" for k in run)


def _covers(tree: SyntaxTree, start: int, end: int, category: str) -> bool:
    start, end = _strip(tree.source, start, end)
    if start == end:
        return category == "statement"
    node, chain = _exact_chain(tree, start, end)
    if any(category in n.categories for n in chain):
        return True
    # a run of statements lies among the children of the node around it (for one whole statement: the
    # parent of its exact chain, e.g. the block a lone `return` sits in after a docstring)
    parent = chain[-1].parent if chain else node
    return category in ("statement", "block") and parent is not None and _is_statement_run(parent, start, end)


def _hole_category(node: Node) -> str | None:
    """The node's primary category if it is a hole category, else its first one that is."""
    lang, cats = node.tree.language, node.categories
    return next((c for c in (node.category, *lang.category_order) if c in cats and c in lang.fillers), None)


def _snippet(data: bytes, start: int, end: int) -> str:
    text = data[start:end].decode("utf-8", "replace")
    return text if len(text) <= 40 else text[:37] + "..."


# -- markers -------------------------------------------------------------------------
def _strip_markers(data: bytes, lang: Language) -> tuple[bytes, list[list]]:
    """The code without markers, and one ``[start, end, category or None, None]`` item per marker."""
    marks = list(_HOLE_BYTES.finditer(data))
    source, spans = splice(data, [m.span() for m in marks], [b""] * len(marks))
    items = []
    for m, (pos, _) in zip(marks, spans):
        cat = m.group("category")
        if cat is not None:
            cat = _check_category(lang, cat.decode("utf-8"), f"hole marker {m.group().decode('utf-8')}")
        items.append([pos, pos, cat, None])
    bad = source.find(_MARKER_START)
    if bad >= 0:
        raise InputError(
            f"malformed hole marker {_snippet(source, bad, bad + 20)!r} at byte {bad}; "
            f"write <|hole|> or <|hole:CATEGORY|> with CATEGORY one of: {_choices(lang)}"
        )
    return source, items


def _alone_on_line(data: bytes, start: int, end: int) -> bool:
    line_end = data.find(b"\n", end) % (len(data) + 1)  # -1 (no newline) becomes len(data)
    return not data[data.rfind(b"\n", 0, start) + 1 : start].strip() and not data[end:line_end].strip()


def _infer_categories(data: bytes, lang: Language, items: list[list]) -> None:
    """Give every hole without a category the first one whose filler fits (see :func:`find_holes`)."""
    unknown = [i for i, item in enumerate(items) if item[2] is None]
    orders = {}
    for i in unknown:
        order = _LINE_ORDER if _alone_on_line(data, items[i][0], items[i][1]) else _INLINE_ORDER
        orders[i] = [c for c in order if c in lang.fillers]
        items[i][2] = orders[i][0]  # the guess other holes see meanwhile
    pending = list(unknown)
    for strict in (True, True, False):  # a second strict pass sees the others' final guesses
        failed = []
        for i in pending:
            category = _first_fitting(data, lang, items, i, orders[i], strict=strict)
            items[i][2] = category or orders[i][0]
            failed += [] if category else [i]
        pending = failed


def _trial(data: bytes, lang: Language, items: list[list], i: int, category: str) -> tuple[SyntaxTree, int, int]:
    """The code with hole ``i`` holding the ``category`` filler, the others their text or filler."""
    texts = [
        filler(lang, category if j == i else cat, indent=indent_at(data, s)) if j == i or orig is None else orig
        for j, (s, _, cat, orig) in enumerate(items)
    ]
    code, spans = splice(data, [(s, e) for s, e, _, _ in items], texts)
    return parse(code, lang), *spans[i]


def _first_fitting(data: bytes, lang: Language, items: list[list], i: int, order: list[str], *, strict: bool):
    inline = order[0] == "expression"
    for category in order:
        tree, s, e = _trial(data, lang, items, i, category)
        if strict and tree.has_errors:
            continue
        if not strict and any(n.start_byte <= e and s <= n.end_byte for n in tree.errors()):
            continue  # relaxed: errors elsewhere are the code's own, but none may touch the fill
        if not _covers(tree, s, e, category):
            continue
        if category == "expression" and inline and "statement" in lang.fillers and _covers(tree, s, e, "statement"):
            stmt_tree, s2, e2 = _trial(data, lang, items, i, "statement")
            if not stmt_tree.has_errors and _covers(stmt_tree, s2, e2, "statement"):
                category = "statement"  # the expression forms a whole statement: a statement slot
        if category == "statement" and inline and _is_block_slot(data, lang, items, i):
            category = "block"
        return category
    return None


def _is_block_slot(data: bytes, lang: Language, items: list[list], i: int) -> bool:
    """Whether the block filler at hole ``i`` is a whole body (``if (c) {}``), not a block among statements."""
    if "block" not in lang.fillers:
        return False
    tree, s, e = _trial(data, lang, items, i, "block")
    if tree.has_errors:
        return False
    _, chain = _exact_chain(tree, *_strip(tree.source, s, e))
    blocks = lang.categories.get("block", frozenset())
    parent = chain[-1].parent if chain and chain[-1].kind in blocks else None
    return parent is not None and parent.kind not in blocks and parent.parent is not None


# -- spans and selectors -------------------------------------------------------------
def _span_items(tree: SyntaxTree, spans: Iterable[tuple]) -> list[list]:
    data, lang = tree.source, tree.language
    spans = list(spans)
    if len(spans) in (2, 3) and all(isinstance(x, int) for x in spans[:2]):
        spans = [tuple(spans)]  # one span passed bare
    items = []
    for span in spans:
        t = tuple(span) if isinstance(span, (tuple, list)) else ()
        if len(t) not in (2, 3) or not all(isinstance(x, int) and not isinstance(x, bool) for x in t[:2]):
            raise InputError(f"span {span!r} must be (start, end) or (start, end, category)")
        s, e = t[0], t[1]
        if not 0 <= s <= e <= len(data):
            why = "is reversed" if s > e else "is outside the code"
            raise InputError(f"span {span!r} {why}: need 0 <= start <= end <= {len(data)}")
        if any(0 < x < len(data) and data[x] & 0xC0 == 0x80 for x in (s, e)):
            raise InputError(f"span {span!r} cuts a UTF-8 character; use byte offsets of character boundaries")
        cat = _check_category(lang, t[2], f"span {span!r}") if len(t) == 3 else None
        if cat is None and s < e:
            cat = _span_category(tree, s, e)
        items.append([s, e, cat, data[s:e].decode("utf-8")])
    return items


def _span_category(tree: SyntaxTree, start: int, end: int) -> str:
    s, e = _strip(tree.source, start, end)
    if s == e:
        raise InputError(f"span ({start}, {end}) holds only whitespace; pass (start, end, category)")
    node, chain = _exact_chain(tree, s, e)
    cat = next((c for c in map(_hole_category, chain) if c), None)
    if cat is None and _is_statement_run(node, s, e):
        cat = "statement"
    if cat is None:
        what = f"a {chain[-1].kind}, which has no hole category" if chain else (
            f"not exactly one syntax node (the smallest around it is {node.kind} {node.span})")
        raise InputError(
            f"span ({start}, {end}) {_snippet(tree.source, s, e)!r} is {what}; "
            f"pass (start, end, category) with category one of: {_choices(tree.language)}"
        )
    return cat


def _ordered(items: list[list]) -> list[list]:
    """Holes sorted by position, duplicates dropped; overlapping holes are an error."""
    out: list[list] = []
    for item in sorted(items, key=lambda it: (it[0], it[1])):
        if out and item[:2] == out[-1][:2]:
            continue
        if out and item[0] < out[-1][1]:
            raise InputError(f"holes overlap: {tuple(out[-1][:2])} and {tuple(item[:2])}; holes must be disjoint")
        out.append(item)
    return out


def _name_of(node: Node) -> str | None:
    """The text of a node's name field, following nested declarators (C's ``int *f(void)``)."""
    scope = node.tree.language.cfg.get("scopes", {}).get(node.kind, {})
    child = node.ts_node.child_by_field_name(scope.get("name") or "name")
    while child is not None:
        inner = child.child_by_field_name("declarator")
        inner = child.child_by_field_name("name") if inner is None else inner
        if inner is None:
            return node.tree.text(child)
        child = inner
    return None


def _some(names: Iterable[str | None]) -> str:
    seen = sorted({n for n in names if n})
    return ", ".join(seen[:8]) + (", ..." if len(seen) > 8 else "") if seen else "(none)"


def _select(tree: SyntaxTree, selector: str) -> list[list]:
    lang, text = tree.language, selector.strip()
    scopes = lang.cfg.get("scopes", {})
    alias, m = _BODY_OF.fullmatch(text), _SELECTOR.fullmatch(text)
    if alias:  # any definition or named scope called NAME, then its body
        kind, name, field, nth, hint = "definition", alias["name"], "body", None, None
        kinds = lang.categories.get("definition", frozenset()) | {k for k, v in scopes.items() if v.get("name")}
    elif m is None:
        raise InputError(f"unknown selector syntax {selector!r}; use {_SELECTOR_HELP}")
    else:
        kind, name, field, nth = m["kind"], m["name"], m["field"], m["n"]
        hint = kind if kind in lang.fillers and field is None else None
        kinds = lang.categories[kind] if kind in lang.categories else {kind} if kind in lang.kinds else None
    if kinds is None:
        close = ", ".join(difflib.get_close_matches(kind, lang.kinds, n=3))
        raise InputError(
            f"selector {selector!r}: {kind!r} is not a {lang.name} node kind; "
            f"{f'did you mean {close}? ' if close else ''}a category works too: {', '.join(CATEGORIES)}"
        )
    matches = [n for n in tree.nodes(tuple(kinds), named=True) if not n.is_error]
    if not matches:
        raise NotFound(f"selector {selector!r}: no {kind} in the code")
    if name is not None:
        named = [n for n in matches if _name_of(n) == name]
        if not named:
            available = _some(map(_name_of, matches))
            raise NotFound(f"selector {selector!r}: no {kind} named {name!r}; available: {available}")
        matches = named
    if field is not None:  # "body" means each scope kind's body field from [cfg.scopes]
        fields = [(scopes.get(n.kind, {}).get("body") or field) if field == "body" else field for n in matches]
        picked = [c for n, f in zip(matches, fields) if (c := n.child_by_field(f)) is not None]
        if not picked:
            have = {n.ts_node.field_name_for_child(i) for n in matches for i in range(n.ts_node.child_count)}
            raise NotFound(f"selector {selector!r}: {kind} has no field {field!r}; its fields: {_some(have)}")
        matches = sorted(picked, key=lambda n: (n.start_byte, -n.end_byte))
    if nth is not None:
        if int(nth) >= len(matches):
            num = len(matches)
            raise NotFound(f"selector {selector!r}: #{nth} is out of range; {num} matches (#0..#{num - 1})")
        matches = [matches[int(nth)]]
    return _holes_of(matches, hint, selector)


def _holes_of(nodes: list[Node], hint: str | None, selector: str) -> list[list]:
    items, end = [], -1
    for node in nodes:
        if node.start_byte < end:  # nested in a match already taken: keep the outermost
            continue
        cat = hint or _hole_category(node)
        if cat is None:
            raise InputError(
                f"selector {selector!r} picks a {node.kind}, which has no hole category; "
                f"select a node of one of: {_choices(node.tree.language)}"
            )
        items.append([node.start_byte, node.end_byte, cat, node.text])
        end = node.end_byte
    return items
