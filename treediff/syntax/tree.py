"""Parsing: source (bytes, str or path) → :class:`SyntaxTree` of :class:`Node` wrappers.

Nodes are thin, lazily created views over tree-sitter nodes.  Each carries a
stable id: its index in a pre-order walk over *all* nodes (named and anonymous),
so the same input always yields the same ids.  Traversal is written once, as the
cursor generator :func:`walk`; nothing here recurses, so 10,000-deep nesting is fine.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

import tree_sitter as ts

from treediff.errors import InputError
from treediff.files import open_regular
from treediff.syntax.language import Language, resolve_language

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Point",
    "Node",
    "SyntaxTree",
    "Edit",
    "cached_parser",
    "read_source",
    "open_regular",
    "decode_source",
    "parse",
    "walk",
]

#: Default size cap for a single source (override per call or with ``TREEDIFF_MAX_BYTES``).
DEFAULT_MAX_BYTES = int(os.environ.get("TREEDIFF_MAX_BYTES", 5 * 1024 * 1024))


class Point(NamedTuple):
    """Zero-based (row, column-in-bytes), as tree-sitter reports it."""

    row: int
    column: int


def decode_source(data: bytes, *, name: str = "<source>", max_bytes: int | None = None) -> bytes:
    """Check raw bytes are usable source text; return them unchanged.

    Raises :class:`InputError` for oversized, binary (NUL bytes) or non-UTF-8 input.
    """
    cap = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    if cap and len(data) > cap:
        raise InputError(f"{name}: {len(data):,} bytes is over the size cap of {cap:,} bytes")
    if b"\x00" in data:
        raise InputError(f"{name}: looks binary (contains NUL bytes)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not valid UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None
    return data


def read_source(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> bytes:
    """Read a regular file as source bytes, with the same checks as :func:`decode_source`.

    The size cap applies to the bytes actually read (at most one past the cap is read), not to
    what ``stat`` claims.
    """
    path = Path(path)
    cap = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    with open_regular(path) as handle:
        try:
            data = handle.read(cap + 1) if cap else handle.read()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if cap and len(data) > cap:
        raise InputError(f"{path}: more than the size cap of {cap:,} bytes")
    return decode_source(data, name=str(path), max_bytes=max_bytes)


def walk(node: ts.Node) -> Iterator[tuple[ts.Node, str | None, int]]:
    """Pre-order walk below (and including) ``node``: yields ``(ts_node, field_name, depth)``.

    The one cursor traversal of the code base; iterative, so depth is unbounded.
    """
    cursor = node.walk()
    depth = 0
    while True:
        yield cursor.node, cursor.field_name, depth
        if cursor.goto_first_child():
            depth += 1
            continue
        while not cursor.goto_next_sibling():
            if depth == 0 or not cursor.goto_parent():
                return
            depth -= 1
        if depth == 0:  # moved to a sibling of the start node
            return


class Node:
    """A view of one syntax node inside a :class:`SyntaxTree`.

    >>> tree = parse("x = 1\\n", "python")
    >>> [ (n.kind, n.category) for n in tree.nodes(named=True)][:3]
    [('module', None), ('expression_statement', 'statement'), ('assignment', 'expression')]
    """

    __slots__ = ("ts_node", "tree", "_field")

    def __init__(self, ts_node: ts.Node, tree: "SyntaxTree", field: str | None | bool = False) -> None:
        self.ts_node = ts_node
        self.tree = tree
        self._field = field  # False = not computed yet

    # cheap facts
    @property
    def id(self) -> int:
        """Stable pre-order index among all nodes of the tree."""
        return self.tree.id_of(self.ts_node)

    @property
    def kind(self) -> str:
        return self.ts_node.type

    @property
    def category(self) -> str | None:
        return self.tree.language.category(self.ts_node.type)

    @property
    def categories(self) -> frozenset[str]:
        return self.tree.language.categories_of(self.ts_node.type)

    @property
    def start_byte(self) -> int:
        return self.ts_node.start_byte

    @property
    def end_byte(self) -> int:
        return self.ts_node.end_byte

    @property
    def span(self) -> tuple[int, int]:
        return self.ts_node.start_byte, self.ts_node.end_byte

    @property
    def start_point(self) -> Point:
        return Point(*self.ts_node.start_point)

    @property
    def end_point(self) -> Point:
        return Point(*self.ts_node.end_point)

    @property
    def field_name(self) -> str | None:
        if self._field is False:
            parent = self.ts_node.parent
            name = None
            if parent is not None:
                for i, child in enumerate(parent.children):
                    if child == self.ts_node:
                        name = parent.field_name_for_child(i)
                        break
            self._field = name
        return self._field  # type: ignore[return-value]

    @property
    def is_error(self) -> bool:
        return self.ts_node.is_error

    @property
    def is_missing(self) -> bool:
        return self.ts_node.is_missing

    @property
    def is_named(self) -> bool:
        return self.ts_node.is_named

    @property
    def has_error(self) -> bool:
        return self.ts_node.has_error

    @property
    def text(self) -> str:
        return self.tree.source[self.start_byte : self.end_byte].decode("utf-8", "replace")

    # structure
    @property
    def parent(self) -> "Node | None":
        p = self.ts_node.parent
        return None if p is None else Node(p, self.tree)

    @property
    def children(self) -> list["Node"]:
        ts_node = self.ts_node
        return [Node(c, self.tree, ts_node.field_name_for_child(i)) for i, c in enumerate(ts_node.children)]

    @property
    def named_children(self) -> list["Node"]:
        return [c for c in self.children if c.is_named]

    def child_by_field(self, name: str) -> "Node | None":
        c = self.ts_node.child_by_field_name(name)
        return None if c is None else Node(c, self.tree, name)

    def children_by_field(self, name: str) -> list["Node"]:
        return [Node(c, self.tree, name) for c in self.ts_node.children_by_field_name(name)]

    def walk(self) -> Iterator["Node"]:
        """This node and its descendants, pre-order."""
        for ts_node, field, _ in walk(self.ts_node):
            yield Node(ts_node, self.tree, field)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and other.tree is self.tree and other.ts_node == self.ts_node

    def __hash__(self) -> int:
        return hash((id(self.tree), self.ts_node.id))

    def __repr__(self) -> str:
        (r0, c0), (r1, c1) = self.ts_node.start_point, self.ts_node.end_point
        return f"<Node {self.kind} {r0 + 1}:{c0}-{r1 + 1}:{c1}>"


@dataclass(frozen=True)
class Edit:
    """A text edit in bytes: replace ``source[start:old_end]`` by ``new_text``."""

    start: int
    old_end: int
    new_text: bytes


def _point_at(source: bytes, offset: int) -> tuple[int, int]:
    row = source.count(b"\n", 0, offset)
    line_start = source.rfind(b"\n", 0, offset) + 1
    return row, offset - line_start


class SyntaxTree:
    """A parsed source: the tree-sitter tree, its bytes and its :class:`Language`.

    >>> tree = parse("def f(x):\\n    return x\\n", "python")
    >>> tree.language.name, tree.has_errors
    ('python', False)
    >>> tree.node_at(21, 22).kind
    'identifier'
    """

    def __init__(self, ts_tree: ts.Tree, source: bytes, language: Language, path: str | None = None) -> None:
        self.ts_tree = ts_tree
        self.source = source
        self.language = language
        self.path = path

    @property
    def root(self) -> Node:
        return Node(self.ts_tree.root_node, self, None)

    @property
    def has_errors(self) -> bool:
        return self.ts_tree.root_node.has_error

    @functools.cached_property
    def _ids(self) -> dict[int, int]:
        return {n.id: i for i, (n, _, _) in enumerate(walk(self.ts_tree.root_node))}

    @property
    def num_nodes(self) -> int:
        return self.ts_tree.root_node.descendant_count

    def id_of(self, ts_node: ts.Node) -> int:
        """Stable pre-order id of a tree-sitter node of this tree.

        Cheap: it descends from the root with a cursor, jumping to each ancestor by
        byte position (O(depth) C calls), so no full walk is needed.  Walkers that
        visit every node can use the enumeration index of :func:`walk` from the
        root instead: it is the same id.
        """
        ids = self.__dict__.get("_ids")
        if ids is not None:
            return ids[ts_node.id]
        cursor = self.ts_tree.root_node.walk()
        while cursor.node != ts_node:
            child = cursor.node.child_with_descendant(ts_node)
            if child is None:
                raise InputError("node does not belong to this tree")
            landed = cursor.goto_first_child_for_byte(child.start_byte) is not None
            if not landed or cursor.node.start_byte > child.start_byte:
                # a zero-width child ends where it starts: step from the first child instead
                if landed:
                    cursor.goto_parent()
                cursor.goto_first_child()
            while cursor.node != child:
                if not cursor.goto_next_sibling():
                    raise InputError("node does not belong to this tree")
        return cursor.descendant_index

    def node_by_id(self, node_id: int) -> Node:
        """The node with a given stable pre-order id (the inverse of :attr:`Node.id`)."""
        if not 0 <= node_id < self.ts_tree.root_node.descendant_count:
            raise InputError(f"node id {node_id} is outside this tree (0..{self.num_nodes - 1})")
        cursor = self.ts_tree.root_node.walk()
        cursor.goto_descendant(node_id)
        return Node(cursor.node, self)

    def nodes(
        self,
        kind: str | tuple[str, ...] | None = None,
        category: str | None = None,
        *,
        named: bool | None = None,
    ) -> Iterator[Node]:
        """All nodes in pre-order, optionally filtered by kind(s), category and namedness."""
        kinds = (kind,) if isinstance(kind, str) else kind
        cat_kinds = self.language.categories.get(category, frozenset()) if category else None
        for ts_node, field, _ in walk(self.ts_tree.root_node):
            if named is not None and ts_node.is_named != named:
                continue
            t = ts_node.type
            if kinds is not None and t not in kinds:
                continue
            if cat_kinds is not None and t not in cat_kinds:
                continue
            yield Node(ts_node, self, field)

    def leaves(self) -> Iterator[Node]:
        """Terminal nodes (tokens) in source order, zero-width MISSING ones included."""
        for ts_node, field, _ in walk(self.ts_tree.root_node):
            if ts_node.child_count == 0:
                yield Node(ts_node, self, field)

    def errors(self) -> Iterator[Node]:
        """ERROR and MISSING nodes, pre-order (subtrees without errors are skipped).

        tree-sitter sometimes flags a node ``has_error`` with no ERROR or MISSING node
        below it (a token recovered by skipping characters inside it, as in
        ``#includ <x>`` in C++); the innermost such node is reported as well, so an
        erroneous tree never yields nothing.
        """
        root = self.ts_tree.root_node
        if not root.has_error:
            return
        stack = [root]
        while stack:
            n = stack.pop()
            if n.is_error or n.is_missing:
                yield Node(n, self)
                if n.is_missing:
                    continue
            bad = [c for c in n.children if c.has_error or c.is_missing]
            if not bad and not n.is_error:
                yield Node(n, self)
            stack.extend(reversed(bad))

    def node_at(self, start: int, end: int | None = None, *, named: bool = True) -> Node:
        """The smallest node that encloses the byte span ``[start, end)``."""
        end = start if end is None else end
        if not 0 <= start <= end <= len(self.source):
            raise InputError(f"byte span [{start}, {end}) is outside the source (0..{len(self.source)})")
        root = self.ts_tree.root_node
        # tree-sitter's end is inclusive-ish for descendant_for_byte_range; use end-1 for non-empty spans
        last = max(start, end - 1)
        ts_node = (root.named_descendant_for_byte_range if named else root.descendant_for_byte_range)(start, last)
        if ts_node is None:
            ts_node = root
        while ts_node.parent is not None and not (ts_node.start_byte <= start and end <= ts_node.end_byte):
            ts_node = ts_node.parent
        return Node(ts_node, self)

    def text(self, node: Node | ts.Node) -> str:
        """Source text covered by a node."""
        n = node.ts_node if isinstance(node, Node) else node
        return self.source[n.start_byte : n.end_byte].decode("utf-8", "replace")

    def sexp(self) -> str:
        return str(self.ts_tree.root_node)

    def edit(self, start: int, old_end: int, new_text: bytes | str) -> tuple["SyntaxTree", list[tuple[int, int]]]:
        """Apply a text edit and reparse incrementally.

        Returns the new tree and the byte ranges whose syntactic structure changed
        (tree-sitter's ``changed_ranges``).  The old tree is left untouched.

        >>> t = parse("x = 1\\n", "python")
        >>> t2, changed = t.edit(4, 5, "foo(2)")
        >>> t2.source, t2.has_errors
        (b'x = foo(2)\\n', False)
        """
        if isinstance(new_text, str):
            new_text = new_text.encode("utf-8")
        if not 0 <= start <= old_end <= len(self.source):
            raise InputError(f"edit span [{start}, {old_end}) is outside the source")
        new_source = self.source[:start] + new_text + self.source[old_end:]
        new_end = start + len(new_text)
        old = self.ts_tree.copy()
        old.edit(
            start_byte=start,
            old_end_byte=old_end,
            new_end_byte=new_end,
            start_point=_point_at(self.source, start),
            old_end_point=_point_at(self.source, old_end),
            new_end_point=_point_at(new_source, new_end),
        )
        new_tree = cached_parser(self.language).parse(new_source, old)
        changed = [(r.start_byte, r.end_byte) for r in old.changed_ranges(new_tree)]
        return SyntaxTree(new_tree, new_source, self.language, self.path), changed

    def __repr__(self) -> str:
        return f"<SyntaxTree {self.language.name} {len(self.source)} bytes{' with errors' if self.has_errors else ''}>"


_LOCAL = threading.local()


def cached_parser(language: Language) -> ts.Parser:
    """A parser for ``language`` cached per thread and process.

    tree-sitter parsers are not thread-safe, and a forked worker must not share its
    parent's; parsing many sources (batch validity, the corpus pipeline) reuses one.
    """
    parsers = _LOCAL.__dict__.setdefault("parsers", {})
    key = (os.getpid(), language.name)
    parser = parsers.get(key)
    if parser is None:
        parser = parsers[key] = language.parser()
    return parser


def parse(
    source: bytes | str | os.PathLike[str],
    language: str | Language | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    max_bytes: int | None = None,
) -> SyntaxTree:
    """Parse source into a :class:`SyntaxTree`.

    ``source`` is bytes, a str of code, or a :class:`pathlib.Path` to read.  The
    language is a name/alias, a :class:`Language`, or detected from the path.
    """
    if isinstance(source, os.PathLike):
        path = source
        data = read_source(source, max_bytes=max_bytes)
    elif isinstance(source, str):
        data = decode_source(source.encode("utf-8", "surrogatepass"), name=str(path or "<string>"), max_bytes=max_bytes)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = decode_source(bytes(source), name=str(path or "<bytes>"), max_bytes=max_bytes)
    else:
        raise InputError(f"cannot parse a {type(source).__name__}; pass bytes, str or a Path")
    lang = resolve_language(language, path, missing="no language given and no path to detect it from")
    ts_tree = cached_parser(lang).parse(data)
    return SyntaxTree(ts_tree, data, lang, None if path is None else str(path))
