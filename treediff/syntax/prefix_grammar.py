"""Incremental "can this prefix still become a program?" checks for constrained sampling.

:class:`PrefixGrammar` is built once per language from the ``[constraint]`` table of
``grammars/<name>.toml`` (a lark LALR grammar and an indenter kind; docs/grammars.md).
A :class:`PrefixSession` answers :meth:`~PrefixSession.viable`, :meth:`~PrefixSession.complete`
and :meth:`~PrefixSession.closing_suffix` for texts that mostly grow (sometimes shrink)
by a few characters, re-lexing from the last newline whose text is unchanged.

Guarantees hold with respect to the lark grammar, lexed by lark's contextual lexer with
the table's indenter; never with respect to CPython:

- **No false rejections**: ``viable(p)`` holds for every prefix ``p`` of a text the
  grammar accepts, provided the cut last lexeme lexes as at most :data:`WINDOW` tokens
  (``1.5e-`` is three) or fails to lex where it starts (an open string).
- **True means completable, up to the last lexeme**: every earlier token was shifted by
  the LALR parser, which never shifts a token that cannot be continued, and the last
  lexeme is a partial match of a terminal the parser accepts next (judged by that
  terminal's regex, not by which terminal the lexer would prefer).
- Trailing whitespace is never held against a prefix: a newline may still follow, so a
  whitespace-only last line is not yet an (inconsistent) dedent.

On purpose unlike lark: word-like literals (``def``, ``if``) are reserved, as with a
non-contextual lexer, except the table's ``soft_keywords`` (lark accepts ``def def(): pass``);
``complete`` adds the final newline lark needs.

``lark:python.lark`` against CPython 3.11, as found by the tests: lark rejects
``with (a as b):``, ``except*`` and ``f(**a, **b)`` (so stdlib ``shutil.py``); lark accepts
what CPython rejects after parsing: ``return``/``yield``/``await``/``async with`` outside
(async) functions, ``break`` outside loops, ``None = 1``, ``f() = 1``, ``def f(*):``,
``def f(a=1, b):``, and keywords glued to names (``1 ifx else 2``).

The tables come from :mod:`~treediff.syntax.grammar_tables`.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator

import lark
from lark.exceptions import UnexpectedToken
from lark.lexer import Token
from lark.parsers.lalr_parser_state import ParserState
from lark.utils import TextSlice

from treediff.syntax.grammar_tables import WINDOW, CompiledGrammar, ConstraintSpec, compile_grammar
from treediff.syntax.language import Language, get_language

__all__ = ["PrefixGrammar", "PrefixSession"]

#: A checkpoint after a newline at offset ``e`` stays valid while ``text[:e + _MARGIN]``
#: is unchanged: lexing up to ``e`` looks at most one character past it.
_MARGIN = 2
#: Fewest characters between two checkpoints taken after mid-line whitespace.
_SPAN = 16
_QUOTES = "\"'"
#: Deepest parser stack :meth:`PrefixSession.closing_suffix` completes (random token soup nests deeply).
_MAX_COMPLETION_STACK = 400


class PrefixGrammar:
    """One per language, built from grammar data; cheap to share (thread-unsafe sessions are made from it).

    >>> grammar = PrefixGrammar.for_language("python")
    >>> session = grammar.session()
    >>> session.viable("def f(x):\\n    return x +"), session.viable("x = )")
    (True, False)
    >>> session.viable('s = "unterminated'), session.viable("if x:\\n        y\\n    z\\n")
    (True, False)
    >>> session.complete("x = 1"), session.closing_suffix("print((1")
    (True, '))')
    """

    def __init__(self, spec: ConstraintSpec) -> None:
        self.spec = spec

    @classmethod
    def for_language(cls, language: Language | str) -> "PrefixGrammar | None":
        """The grammar of a language's ``[constraint]`` table; ``None`` when it has none."""
        language = get_language(language)
        table = language.extra.get("constraint")
        if table is None:
            return None
        return cls(ConstraintSpec.from_table(table, f"{language.name}.toml"))

    @functools.cached_property
    def compiled(self) -> CompiledGrammar:
        return compile_grammar(self.spec)

    @property
    def lark(self) -> lark.Lark:
        """The underlying Lark object (for full parses, e.g. in benchmarks)."""
        return self.compiled.lark

    def session(self) -> "PrefixSession":
        return PrefixSession(self)

    def __repr__(self) -> str:
        return f"PrefixGrammar({self.spec.grammar!r}, start={self.spec.start!r})"


@dataclass(frozen=True)
class _Point:
    """A parser state stack plus layout state at a text offset (a tuple: checkpoints cost no parser copy)."""

    offset: int
    stack: tuple[int, ...]
    paren: int
    levels: tuple[int, ...]
    recent: tuple = ()  # a mid-line checkpoint keeps the lexing state a fresh run would have there
    last_start: int | None = None


@dataclass
class _Run:
    """Where lexing/feeding the current text stopped."""

    stop: str  # "end": every token fed; "lex": no token matches at `point`; "reject": a token was refused
    point: _Point  # where it stopped
    recent: deque  # _Point before each of the last WINDOW tokens
    open_newline: Token | None  # a newline token touching the end: its indentation may still grow
    last: str  # text of the last token and what follows it


@dataclass(frozen=True)
class _End:
    """One way the text can end: parser stack, layout, and the characters that finish the last lexeme."""

    stack: tuple[int, ...]
    paren: int
    levels: tuple[int, ...]
    line: str  # "mid" | "nl" (at a line start) | "indent" | "dedent"
    ws: str | None  # whitespace already on the current line (None: a newline must come first)
    suffix: str
    last: str


class PrefixSession:
    """Incremental prefix checks over texts that grow and shrink (not thread-safe).

    Keeps checkpoints (parser state stack, indentation stack, bracket depth, offset) after each
    newline, and after whitespace every ``_SPAN`` characters or more within a line; a call re-lexes
    only from the last checkpoint whose text is unchanged.
    ``stats`` counts ``calls``, ``tokens_fed``, ``chars_relexed`` and ``checkpoints_reused``.
    """

    def __init__(self, grammar: PrefixGrammar) -> None:
        self._g = grammar.compiled
        self._points = [_Point(0, (self._g.conf.start_state,), 0, (0,))]
        self._text = ""
        self.stats = {"calls": 0, "tokens_fed": 0, "chars_relexed": 0, "checkpoints_reused": 0}

    # -- public ----------------------------------------------------------------------
    def viable(self, text: str) -> bool:
        """True iff ``text`` is a prefix of some program the grammar accepts (see the module doc)."""
        return next(self._ends(text, self._advance(text)), None) is not None

    def complete(self, text: str) -> bool:
        """True iff ``text``, plus a final newline if missing and with every open indentation level
        closed, is a whole program the grammar accepts (trailing blank or comment lines are fine)."""
        layout = self._g.layout
        if layout is not None and not text.endswith("\n"):
            text += "\n"
        run = self._advance(text)
        if run.stop != "end" or (layout is not None and run.open_newline is None):
            return False  # a cut lexeme, or a line continuation just before the end
        return any(self._finishes(end) for end in self._ends(text, run))

    def swallows(self, text: str) -> bool:
        """``text`` ends inside a comment or string: NUL is no code in any language, so if ``text + NUL`` is
        viable, text after ``text`` would not be read as code."""
        return self.viable(text + "\0")

    def closing_suffix(self, text: str, max_terminals: int = 40) -> str | None:
        """A short ``s`` with ``complete(text + s)``, or ``None`` if none is found within the bound.

        For each way the text may end (a cut lexeme is finished first), the cheapest
        run of terminals the LALR automaton accepts up to end of input: finish the
        innermost open rule of the parser stack, reduce, repeat, each rule by its
        cheapest derivation, one minimal literal per terminal (``_``, ``0``, ``""``,
        ``pass``) and costs in characters. At most ``max_terminals`` terminals; the four
        cheapest candidates are each checked with :meth:`complete` before one is returned.
        """
        ends = list(self._ends(text, self._advance(text), finish=True))
        plans = []
        for end in ends:
            if len(end.stack) > _MAX_COMPLETION_STACK:
                continue  # the memoised completion recurses once per stack level; such a text needs far
                # more than max_terminals closing terminals anyway
            try:
                cost, names = self._g.completion(end.stack)
            except RecursionError:  # pragma: no cover - bounded above; a last guard
                continue
            if cost < float("inf") and len(names) <= max_terminals:
                plans.append((len(end.suffix) + cost, end, names))
        for _, node, names in sorted(plans, key=lambda plan: plan[0])[:4]:
            for name in names:
                node = node and self._move(node, name)
            if node is not None and self._finishes(node):
                for suffix in dict.fromkeys((node.suffix.removesuffix("\n"), node.suffix)):
                    if self.complete(text + suffix):  # complete() adds the last newline itself
                        return suffix
        return None

    # -- incremental lexing and feeding ----------------------------------------------
    def _advance(self, text: str) -> _Run:
        self.stats["calls"] += 1
        g, layout, n = self._g, self._g.layout, len(text)
        keep = _common_prefix_len(self._text, text)
        points = self._points
        while len(points) > 1 and points[-1].offset + _MARGIN > keep:
            points.pop()
        start = points[-1]
        self.stats["checkpoints_reused"] += start.offset > 0
        self.stats["chars_relexed"] += n - start.offset
        self._text = text
        stack, paren, levels = start.stack, start.paren, start.levels
        recent: deque = deque(start.recent, maxlen=WINDOW)
        pos, chars = start.offset, TextSlice(text, 0, n)
        last_start = start.offset if start.last_start is None else start.last_start

        def stop(kind: str) -> _Run:
            return _Run(kind, _Point(pos, stack, paren, levels), recent, None, text[last_start:])

        while pos < n:
            match = g.lex(stack[-1], chars, pos)
            if match is None:
                return stop("lex")
            value, kind = match
            end = pos + len(value)
            if kind in g.ignore:
                pos = end
                if "\n" in value and end + _MARGIN <= n:
                    points.append(_Point(end, stack, paren, levels))
                elif end + _MARGIN <= n and end - points[-1].offset >= _SPAN:
                    # mid-line, after whitespace: every earlier lexeme is closed, so lexing up to here also
                    # looks one character past it at most (long generated lines re-lex from here, not
                    # from the line start)
                    points.append(_Point(end, stack, paren, levels, tuple(recent), last_start))
                continue
            recent.append(_Point(pos, stack, paren, levels))
            if layout is not None and kind == layout.newline:
                if end == n:
                    run = stop("end")
                    run.open_newline = Token(kind, value, pos)
                    return run
                if paren == 0:
                    width = layout.width(value.rsplit("\n", 1)[-1])
                    names = [kind]
                    if width > levels[-1]:
                        levels += (width,)
                        names.append(layout.indent)
                    while width < levels[-1]:
                        levels = levels[:-1]
                        names.append(layout.dedent)
                    fed = self._feed_all(stack, names) if width == levels[-1] else None
                    if fed is None:
                        return stop("reject")
                    stack = fed
            else:
                depth = layout.bracket(kind, paren) if layout is not None else 0
                fed = self._feed_all(stack, [kind]) if depth is not None else None
                if fed is None:
                    return stop("reject")
                stack, paren = fed, depth
            last_start, pos = pos, end
            if "\n" in value and end + _MARGIN <= n:
                points.append(_Point(end, stack, paren, levels))
        return stop("end")

    def _feed_all(self, stack: tuple[int, ...], names: list[str]) -> tuple[int, ...] | None:
        """The state stack after feeding terminals ``names`` to the LALR automaton at ``stack`` (``None``: refused)."""
        feed = self._g.feed
        for name in names:
            stack = feed(stack, name)
            if stack is None:
                return None
            self.stats["tokens_fed"] += 1
        return stack

    def _ends(self, text: str, run: _Run, finish: bool = False) -> Iterator[_End]:
        """Every way the text may end in a state the parser still accepts (lazily).

        With ``finish``, each cut lexeme also gets its shortest completion (``suffix``);
        ``viable`` needs only to know that one exists.
        """
        layout, point = self._g.layout, run.point
        stack = point.stack
        if run.stop == "end":
            nl = run.open_newline
            if nl is None and layout is not None and not point.paren and self._needs_layout(stack):
                return  # e.g. `try:\n\\\n`: the line's indentation is decided, and the parser needs an INDENT
            if nl is None or point.paren:  # inside brackets a newline is only whitespace (after any comment)
                comment = nl is not None and "#" in nl.value.rsplit("\n", 1)[-1]
                yield _End(stack, point.paren, point.levels, "mid", None, "\n" * comment, "\n" if nl else run.last)
            elif (fed := self._feed_all(stack, [nl.type])) is not None:
                tail = nl.value.rsplit("\n", 1)  # its indentation is not decided yet; a comment needs a newline
                ws = tail[-1] if len(tail) == 2 and "#" not in tail[-1] else None
                yield _End(fed, 0, point.levels, "nl", ws, "", "\n")
            return
        candidates = list(reversed(run.recent))
        if run.stop == "lex":
            candidates.insert(0, point)
        for cut in candidates:
            tail = text[cut.offset:]
            for terminal in self._g.terminals_starting(cut.stack[-1], tail[:1]):
                name = terminal.name
                if not self._g.is_prefix(name, tail):
                    continue
                suffix = self._g.finish_lexeme(name, tail) if finish else ""
                if suffix is None:
                    continue
                stack = cut.stack
                if name in self._g.ignore:  # e.g. a line continuation: only where the lexer found nothing
                    if cut is point and run.stop == "lex":
                        yield _End(stack, cut.paren, cut.levels, "mid", None, suffix, "")
                    continue
                if layout is not None and name == layout.newline:
                    continue  # a cut newline is the "open newline" case above
                paren = layout.bracket(name, cut.paren) if layout is not None else 0
                fed = self._feed_all(stack, [name]) if paren is not None else None
                if fed is not None:
                    yield _End(fed, paren, cut.levels, "mid", None, suffix, tail + suffix)

    def _needs_layout(self, stack: tuple[int, ...]) -> bool:
        layout = self._g.layout
        return all(t in (layout.indent, layout.dedent) for t in self._g.conf.states[stack[-1]] if t.isupper())

    # -- the closing search ----------------------------------------------------------
    def _step(self, stack: tuple[int, ...], name: str) -> tuple[int, ...] | None:
        state = ParserState(self._g.conf, None, list(stack))
        try:
            state.feed_token(Token(name, ""), name == "$END")
        except UnexpectedToken:
            return None
        return tuple(state.state_stack)

    def _finishes(self, node: _End) -> bool:
        """Would ``complete`` accept here (it adds the final newline itself)?"""
        layout, stack = self._g.layout, node.stack
        names = []
        if layout is not None:
            if node.paren:
                return False
            names = ([layout.newline] if node.line == "mid" else []) + [layout.dedent] * (len(node.levels) - 1)
        for name in [*names, "$END"]:
            stack = self._step(stack, name)
            if stack is None:
                return False
        return True

    def _move(self, node: _End, name: str) -> _End | None:
        """Append terminal ``name`` to a way of ending: its text, layout and parser stack (``None``: not allowed)."""
        g, layout = self._g, self._g.layout
        stack = self._step(node.stack, name)
        if stack is None:
            return None
        if layout is not None and name == layout.newline:
            if node.paren or node.line != "mid":
                return None
            return _End(stack, 0, node.levels, "nl", "", node.suffix + "\n", "\n")
        if layout is not None and name == layout.indent:
            if node.line != "nl":
                return None
            top, ws = node.levels[-1], node.ws
            level = layout.width(ws) if ws and layout.width(ws) > top else top + 4
            return _End(stack, 0, node.levels + (level,), "indent", ws, node.suffix, node.last)
        if layout is not None and name == layout.dedent:
            if node.line not in ("nl", "dedent") or len(node.levels) < 2:
                return None
            return _End(stack, 0, node.levels[:-1], "dedent", node.ws, node.suffix, node.last)
        paren = layout.bracket(name, node.paren) if layout is not None else 0
        sample = self._sample(node.stack[-1], name)
        if paren is None or sample is None:
            return None
        lead = self._indentation(node) if node.line != "mid" else ""
        if not lead and _needs_space(g.root, node.last, sample):
            lead = " "
        return _End(stack, paren, node.levels, "mid", None, node.suffix + lead + sample, sample)

    def _indentation(self, node: _End) -> str:
        layout, target, ws = self._g.layout, node.levels[-1], node.ws
        if ws is None:
            return "\n" + " " * target
        width = layout.width(ws)
        if width == target:
            return ""
        if width < target and ws.strip(" ") == "":
            return " " * (target - width)
        return "\n" + " " * target

    def _sample(self, state: int, name: str) -> str | None:
        """The shortest string of ``name`` that the lexer of ``state`` lexes as ``name``."""
        for sample in self._g.samples(name):
            if self._g.lex(state, TextSlice(sample, 0, len(sample)), 0) == (sample, name):
                return sample
        return None


def _needs_space(root: Any, left: str, right: str) -> bool:
    """Would ``left + right`` lex differently from ``left`` then ``right``?"""
    if not left or not right or left[-1] in " \t\n" or right[0] in " \t\n":
        return False
    if left[-1] in _QUOTES and right[0] in _QUOTES:
        return True
    joined = left + right
    match = root.match(TextSlice(joined, 0, len(joined)), 0)
    return match is not None and len(match[0]) > len(left.rstrip(" \t"))


def _common_prefix_len(a: str, b: str) -> int:
    """Length of the common prefix, by bisection over C-level comparisons."""
    if b.startswith(a):
        return len(a)
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if a[:mid] == b[:mid] else (lo, mid - 1)
    return lo
