"""A prefix guard for every tree-sitter language: "can this prefix still become a program?" by an
incremental tree-sitter parse of the prefix.

Languages without a lark grammar (``[constraint]``, :mod:`treediff.syntax.prefix_grammar`) carry a
``[prefix_guard]`` table in ``grammars/<name>.toml`` (docs/grammars.md).  A :class:`TreeSitterSession`
answers the same questions as the LALR :class:`~treediff.syntax.prefix_grammar.PrefixSession`
(``viable``, ``complete``, ``closing_suffix``, ``swallows``), for texts that mostly grow by a token:

* each check edits the previous tree (``Tree.edit`` from the first changed byte) and reparses with it, so
  tree-sitter reuses everything before the edit; finished, error-free top-level items before the edit are
  left out of the parse altogether (its included range starts after them, :meth:`TreeSitterSession._window_start`);
* a prefix is **not viable** when it holds an error that no suffix can repair: an ``ERROR`` node that ends
  before the prefix's last code, a ``MISSING`` node with code after it, or a closing bracket (from the
  table's ``brackets``) that closes nothing or the wrong opener;
* **complete** means no error at all and no open bracket;
* the **closing text** closes the open brackets innermost first (block openers get their closer on a
  line of its own), trying the table's ``terminators`` (``;``) before it, first one that completes.

What is not guaranteed: tree-sitter's error recovery is a heuristic, so an error may sit inside an
``ERROR`` node that reaches the end and be accepted (no false rejection of a valid program's prefixes was
found in the tests, but a slip may pass until the text around it is closed), and the open-literal test
(:meth:`TreeSitterSession.swallows`) is lexical (the table's ``quotes`` and comment markers).

>>> s = TreeSitterGrammar.for_language("java").session()
>>> s.viable("class A {\\n  int f() {\\n    return 1 +"), s.viable("class A { int x = 1 ); }")
(True, False)
>>> s.complete("class A {}\\n"), s.closing_suffix("class A {\\n  int f() {\\n    return g(1")
(True, ');\\n}\\n}')
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from typing import Any, Mapping

import tree_sitter as ts

from treediff.errors import GrammarError
from treediff.syntax.language import Language, check_table_keys, get_language

__all__ = ["TreeSitterGrammar", "TreeSitterSession", "GuardSpec"]


@dataclass(frozen=True)
class GuardSpec:
    """A validated ``[prefix_guard]`` table: bracket pairs (``"()"``), the openers after which the closer goes on
    its own line, statement terminators tried before the closers, string quotes (those whose literal may span lines,
    those that open a template with ``${...}`` inside), comment markers."""

    brackets: tuple[str, ...] = ("()", "[]", "{}")
    block_openers: tuple[str, ...] = ("{",)
    terminators: tuple[str, ...] = ("", ";")
    quotes: tuple[str, ...] = ('"', "'")
    line_comment: str = "//"
    block_comment: tuple[str, ...] = ("/*", "*/")
    multiline_quotes: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str) -> "GuardSpec":
        check_table_keys(table, cls.__dataclass_fields__, "prefix_guard", where)
        values = {}
        for key, value in table.items():
            if key == "line_comment":
                ok = isinstance(value, str)
            else:
                ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
                value = tuple(value) if ok else value
            if not ok:
                raise GrammarError(f"{where}: [prefix_guard].{key} has the wrong type: {value!r}")
            values[key] = value
        spec = cls(**values)
        if any(len(b) != 2 for b in spec.brackets) or (spec.block_comment and len(spec.block_comment) != 2):
            raise GrammarError(f"{where}: [prefix_guard] brackets are two characters, block_comment two strings")
        return spec


class TreeSitterGrammar:
    """One per language; sessions (one per decoded row, not thread-safe) are made from it."""

    def __init__(self, language: Language, spec: GuardSpec) -> None:
        self.language = language
        self.spec = spec
        self.closer_of = {b[0]: b[1] for b in spec.brackets}
        self.openers = frozenset(self.closer_of)
        self.closers = frozenset(b[1] for b in spec.brackets)

    @classmethod
    def for_language(cls, language: Language | str) -> "TreeSitterGrammar | None":
        """The guard of a language's ``[prefix_guard]`` table; ``None`` when it has none."""
        return _for_language(get_language(language).name)

    def session(self) -> "TreeSitterSession":
        return TreeSitterSession(self)

    def __repr__(self) -> str:
        return f"TreeSitterGrammar({self.language.name!r})"


@functools.lru_cache(maxsize=None)
def _for_language(name: str) -> TreeSitterGrammar | None:
    language = get_language(name)
    table = language.extra.get("prefix_guard")
    if table is None:
        return None
    return TreeSitterGrammar(language, GuardSpec.from_table(table, f"{name}.toml"))


#: The parse's open end: tree-sitter's own default for the end of the included range.
_FAR_BYTE = 0xFFFFFFFF
_FAR = (0xFFFFFFFF, 0xFFFFFFFF)
#: Bytes after a token that may still change how it lexes (`i` + `n` is `in`).
_MARGIN = 2


def _first_leaf_end(node: ts.Node) -> int:
    while node.child_count:
        node = node.child(0)
    return node.end_byte


def _goto_child_ending_after(cursor: ts.TreeCursor, offset: int) -> bool:
    """Move to the first child that ends after ``offset``; ``False`` (cursor unmoved) when none does.  Tree-sitter's
    ``goto_first_child_for_byte`` gives up when a hidden token ends there first (Go's newline terminator after a
    ``}``), so then the children are looked at one by one."""
    if cursor.goto_first_child_for_byte(offset) is not None:
        return True
    if not cursor.goto_first_child():
        return False
    while cursor.node.end_byte <= offset:
        if not cursor.goto_next_sibling():
            cursor.goto_parent()
            return False
    return True


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _point(data: bytes, offset: int) -> tuple[int, int]:
    row = data.count(b"\n", 0, offset)
    return row, offset - (data.rfind(b"\n", 0, offset) + 1)


class TreeSitterSession:
    """Checks on one row's texts, reusing the previous parse (see the module docstring)."""

    def __init__(self, grammar: TreeSitterGrammar) -> None:
        self.grammar = grammar
        self._parser = grammar.language.parser()
        self._data = b""
        self._tree: ts.Tree | None = None
        self._window = 0  # where the parse starts (:meth:`_window_start`)
        self._marks: list[tuple[int, tuple[str, ...] | None]] = []  # (end byte of a bracket, stack after it)
        self._memo: dict[str, tuple[bool, bool]] = {}
        self._closed = {q: re.compile(f"{re.escape(q)}(?:\\\\.|[^{re.escape(q)}\\\\\\n])*{re.escape(q)}")
                        for q in grammar.spec.quotes}
        # where a comment or string may start: the line comment first, then the quotes in the table's order (the
        # order a scan tries them at one offset); one C-level search instead of a Python loop over characters
        marks = ([grammar.spec.line_comment] if grammar.spec.line_comment else []) + list(grammar.spec.quotes)
        self._multiline = tuple(q.encode("utf-8") for q in grammar.spec.multiline_quotes)
        self._opens = re.compile("|".join(re.escape(m) for m in marks)) if marks else None

    @property
    def parse_start(self) -> int:
        """The byte where the last parse started: after the finished top-level items (:meth:`_window_start`)."""
        return self._window

    # -- public checks ---------------------------------------------------------------------------------
    def viable(self, text: str) -> bool:
        """No error that a suffix cannot repair."""
        return self._judge(text)[0]

    def complete(self, text: str) -> bool:
        """A whole program: no error, no open bracket."""
        return self._judge(text)[1]

    def swallows(self, text: str) -> bool:
        """``text`` ends inside a comment or string, so text after it would not be read as code (lexical)."""
        return self._literal_start(text) < len(text)

    def _literal_start(self, text: str) -> int:
        """Where the comment or string that ``text`` ends in starts (lexically), ``len(text)`` if none."""
        spec = self.grammar.spec
        if spec.block_comment:
            at = text.rfind(spec.block_comment[0])
            if at > text.rfind(spec.block_comment[1]) and at >= 0:
                return at
        i = text.rfind("\n") + 1
        while self._opens is not None:  # the last line, one literal at a time
            found = self._opens.search(text, i)
            if found is None:
                break
            i, mark = found.start(), found.group()
            if mark == spec.line_comment:
                return i
            if mark in spec.templates:  # `${...}` may hold code and further templates
                end, at = self._template_end(text, i)
                if end is None:
                    return at
                i = end
                continue
            m = self._closed[mark].match(text, i)
            if m is None:
                return i
            i = m.end()
        return len(text)

    def _template_end(self, text: str, i: int) -> tuple[int | None, int]:
        """The template literal opened at ``text[i]``: ``(end, 0)`` when it closes before ``end``, else ``(None, at)``
        where ``at`` is the start of the literal ``text`` ends in (this template, or one nested in its ``${...}``),
        or ``len(text)`` when it ends in an interpolation's code.

        >>> s = TreeSitterGrammar.for_language("javascript").session()
        >>> s._template_end("`a${b ? `c` : ''}d` + 1", 0), s._template_end("`a${b ? ` (${u", 0)
        ((19, 0), (None, 14))
        >>> s._template_end("x = `a${b ? ` (", 4), s._template_end("x = `a${b ? ` (`", 4)
        ((None, 12), (None, 16))
        """
        quote, n, j = text[i], len(text), i + 1
        while j < n:
            ch = text[j]
            if ch == "\\":
                j += 2
            elif ch == quote:
                return j + 1, 0
            elif text.startswith("${", j):
                j, depth = j + 2, 1
                while j < n and depth:
                    c = text[j]
                    if c == quote:
                        end, at = self._template_end(text, j)
                        if end is None:
                            return None, at
                        j = end
                        continue
                    if c in self._closed:  # a string inside the code
                        m = self._closed[c].match(text, j)
                        if m is None:
                            return None, j
                        j = m.end()
                        continue
                    depth += (c == "{") - (c == "}")
                    j += 1
                if depth:
                    return None, n
            else:
                j += 1
        return None, i

    def open_brackets(self, text: str) -> int | None:
        """How many brackets ``text`` leaves open (block openers included), ``None`` when it is not viable."""
        stack = self._open_stack(text)
        return None if stack is None else len(stack)

    def closes_outer(self, text: str, start: int, end: int) -> bool:
        """A bracket in the bytes ``[start, end)`` of ``text`` closes one that was open at ``start`` (a ``}`` in a
        hole that ends the function around it, even when a ``{`` after it opens another), or closes the wrong one;
        ``text`` must be viable (checked before).

        >>> s = TreeSitterGrammar.for_language("java").session()
        >>> head = "class A {\\n  int f() {\\n    "
        >>> s.closes_outer(head + "g(1); }\\n  {", len(head), len(head) + 11)
        True
        >>> s.closes_outer(head + "if (x) { g(1); }", len(head), len(head) + 16)
        False
        """
        if self._stack(text) is None:
            return True
        at, base = self._stack_at(start)
        if base is None:
            return True
        for _, stack in self._marks[at:self._stack_at(end)[0]]:
            if stack is None or stack[:len(base)] != base:
                return True
        return False

    def _open_stack(self, text: str) -> tuple[str, ...] | None:
        return self._stack(text) if self.viable(text) else None

    def closing_suffix(self, text: str) -> str | None:
        """A short text that makes ``text`` a program: the open brackets' closers (block closers on their own
        lines), one of the table's terminators before the first block closer; the plain closers when none
        completes; ``None`` when
        ``text`` is not viable."""
        stack = self._open_stack(text)
        if stack is None:
            return None
        spec, closer_of = self.grammar.spec, self.grammar.closer_of
        inner = 0  # the closers before the innermost block closer: a terminator goes after them
        while inner < len(stack) and stack[-1 - inner] not in spec.block_openers:
            inner += 1
        head = "".join(closer_of[o] for o in reversed(stack[len(stack) - inner:]))
        tail = "".join("\n" + closer_of[o] if o in spec.block_openers else closer_of[o]
                       for o in reversed(stack[:len(stack) - inner]))
        for term in spec.terminators:
            if self.complete(text + head + term + tail):
                return head + term + tail
        return head + tail

    # -- machinery -------------------------------------------------------------------------------------
    def _judge(self, text: str) -> tuple[bool, bool]:
        hit = self._memo.get(text)
        if hit is None:
            start = self._literal_start(text)
            if start < len(text):  # an open comment or string: judge the code before it
                hit = (self._judge(text[:start])[0], False)
        if hit is None:
            tree = self._parse(text.encode("utf-8"))
            stack = self._stack(text)
            if stack is None:
                hit = (False, False)
            elif not tree.root_node.has_error:
                hit = (True, not stack)
            else:
                hit = (self._errors_at_end(tree.root_node), False)
            if len(self._memo) > 2048:
                self._memo.clear()
            self._memo[text] = hit
        return hit

    def _parse(self, data: bytes) -> ts.Tree:
        if data == self._data and self._tree is not None:
            return self._tree
        if self._tree is None:
            tree = self._parser.parse(data)
        else:
            old = self._data
            cp = _common_prefix(old, data)
            window = self._window_start(cp)
            if window != self._window:
                self._window = window
                self._parser.included_ranges = [ts.Range(_point(data, window), _FAR, window, _FAR_BYTE)]
            start = _point(data, cp)
            relex = self._may_relex(cp)
            self._tree.edit(start_byte=cp, old_end_byte=len(old), new_end_byte=len(data), start_point=start,
                            old_end_point=_point(old, len(old)), new_end_point=_point(data, len(data)))
            tree = self._parser.parse(data, self._tree)
            # bracket marks stay valid before the first changed byte, and where the edit may re-lex text before
            # it, before the first node the reparse changed
            keep = min((r.start_byte for r in self._tree.changed_ranges(tree)), default=cp) if relex else cp
            del self._marks[bisect.bisect_left(self._marks, min(cp, keep), key=lambda mark: mark[0]):]
        self._data, self._tree = data, tree
        return tree

    def _window_start(self, cp: int) -> int:
        """Where the next parse may start: the start of the last top-level node of the current tree whose first
        token ends before the first changed byte ``cp`` (with a margin) and before which every top-level node is
        free of errors and every bracket is closed; the current start when none is later, 0 when the edit
        reaches before it.  Tree-sitter's reparse costs a step per top-level node on its stack even when it
        reuses them, so the parse leaves out the finished ones: tree-sitter grammars start each top-level item
        in the same state, and no finished item depends on the text after the next one's first token."""
        if cp < self._window + _MARGIN:
            return 0
        root, best = self._tree.root_node, self._window
        if root.is_error or root.is_missing or root.child_count < 3:  # nothing to gain
            return best
        cursor = root.walk()  # the root's children are those of the window: few once it has moved on
        more = cursor.goto_first_child()
        while more:
            child = cursor.node
            if child.has_error or child.start_byte + _MARGIN > cp or _first_leaf_end(child) + _MARGIN > cp:
                break
            # never at a comment (an extra): the line after it may go on with the item before it (JavaScript's
            # `})\n  // run async\n  .run()`), which a parse from the comment would read as a new one
            if child.start_byte > best and not child.is_extra and self._closed_before(child.start_byte):
                best = child.start_byte
            more = cursor.goto_next_sibling()
        return best

    def _may_relex(self, cp: int) -> bool:
        """An edit at byte ``cp`` may make the reparse lex text before it anew: a quote that can span lines (the
        table's ``multiline_quotes``: Rust's `"`, the backtick of Go and JavaScript) occurs an odd number of times
        in the parsed text before ``cp`` (escapes aside), or a block comment is open there.  A Rust string left
        open over lines is lexed as an error and code, and its `{` was a bracket to a parse without its end.
        Counting is cheap; only then are the tree's changed ranges asked, which cost a walk of both trees."""
        data, start = self._data, self._window
        for q in self._multiline:
            if (data.count(q, start, cp) - data.count(b"\\" + q, start, cp)) % 2:
                return True
        spec = self.grammar.spec
        if spec.block_comment:
            opener, closer = (m.encode("utf-8") for m in spec.block_comment)
            return data.rfind(opener, start, cp) > data.rfind(closer, start, cp)
        return False

    def _stack_at(self, offset: int) -> tuple[int, tuple[str, ...] | None]:
        """The number of bracket marks ending at or before ``offset``, and the open brackets there (per the marks
        of the current parse; ``None`` after a mismatched closer)."""
        at = bisect.bisect_right(self._marks, offset, key=lambda mark: mark[0])
        return at, self._marks[at - 1][1] if at else ()

    def _closed_before(self, offset: int) -> bool:
        """No bracket is open at ``offset`` (per the bracket marks of the current parse)."""
        return self._stack_at(offset)[1] == ()

    def _errors_at_end(self, root: ts.Node) -> bool:
        """Every ERROR node reaches the last code byte, every MISSING node has no code after it."""
        data = self._data
        end = len(data.rstrip())
        cursor = root.walk()
        while True:
            node = cursor.node
            descend = False
            if node.is_missing:
                rest = data[node.start_byte:end].lstrip()
                if rest and not self._comment_only(rest):
                    return False
            elif node.is_error:
                if node.end_byte < end and not self._comment_only(data[node.end_byte:end].lstrip()):
                    return False
            elif node.has_error:
                descend = True
            if descend and cursor.goto_first_child():
                continue
            while not cursor.goto_next_sibling():
                if not cursor.goto_parent():
                    return True

    def _comment_only(self, rest: bytes) -> bool:
        spec = self.grammar.spec
        marks = [m for m in (spec.line_comment, spec.block_comment[0] if spec.block_comment else "") if m]
        return any(rest.startswith(m.encode()) for m in marks)

    def _stack(self, text: str) -> tuple[str, ...] | None:
        """The open brackets at the end of the current parse (of ``text``), ``None`` when a closer mismatches.
        Walks the leaves after the last bracket mark that the latest edit left valid."""
        tree = self._parse(text.encode("utf-8"))
        start, stack = (self._marks[-1] if self._marks else (0, ()))
        if stack is None:
            return None
        closer_of, openers, closers = self.grammar.closer_of, self.grammar.openers, self.grammar.closers
        cursor = tree.root_node.walk()
        while _goto_child_ending_after(cursor, start):
            pass
        node = cursor.node
        if node.child_count:  # every child ends before ``start``: go on after this node
            node = self._next_leaf(cursor)
        marks = self._marks
        while node is not None:
            kind = node.type
            if not node.is_named and not node.is_missing and node.start_byte >= start:
                if kind[-1:] in openers and not any(ch.isalnum() for ch in kind):  # `(`, also `${`
                    stack = stack + (kind[-1],)
                    marks.append((node.end_byte, stack))
                elif kind in closers:
                    if not stack or closer_of[stack[-1]] != kind:
                        marks.append((node.end_byte, None))
                        return None
                    stack = stack[:-1]
                    marks.append((node.end_byte, stack))
            node = self._next_leaf(cursor)
        return stack

    @staticmethod
    def _next_leaf(cursor: ts.TreeCursor) -> ts.Node | None:
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return None
        while cursor.goto_first_child():
            pass
        return cursor.node
