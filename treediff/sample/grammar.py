"""Incremental "can this prefix still become a program?" checks for constrained sampling.

A :class:`PrefixGrammar` is built once per language from the ``[constraint]`` table of
its ``grammars/<name>.toml`` (a lark LALR grammar plus an indenter kind; see
``docs/grammars.md``). A :class:`PrefixSession` made from it answers, for texts that
mostly grow (and sometimes shrink) a few characters at a time:

- :meth:`PrefixSession.viable`: is the text a prefix of some program the grammar accepts?
- :meth:`PrefixSession.complete`: is the text (plus a final newline) such a program?
- :meth:`PrefixSession.closing_suffix`: a short string that makes it one.

What is guaranteed, with respect to the lark grammar as lexed by lark's contextual
lexer and the indenter named in the table (never with respect to CPython):

- **No false rejections.** ``viable(p)`` is True for every prefix ``p`` of a text that
  the grammar accepts, provided the last, cut lexeme lexes into at most
  :data:`WINDOW` tokens (``1.5e-`` is three) or fails to lex at its start (an
  unterminated string). Tested on every token boundary and on random cuts of stdlib files.
- **True means completable**, up to the last lexeme: every token before it was
  accepted by the LALR parser, which never shifts a token that cannot be continued,
  and the last lexeme is a prefix of a terminal that the parser accepts next.
- Trailing whitespace is never held against a prefix: a newline may still follow,
  so a whitespace-only last line cannot yet be an inconsistent dedent.

Deliberate departures from lark: word-like literals of the grammar (``def``, ``if``)
are reserved, as with a non-contextual lexer, except those the table lists in
``soft_keywords``; lark's contextual lexer would accept ``def def(): pass``. And
:meth:`~PrefixSession.complete` appends the final newline that lark would need.

Known gaps of ``lark:python.lark`` against CPython 3.11, found by the tests:
lark rejects parenthesised context managers ``with (a as b):`` and ``except*``;
lark accepts ``return``/``yield``/``await`` outside functions, ``None = 1``,
``f(**a, *b)``-style argument orders, and keyword prefixes glued to a name where
only the keyword fits (``1 ifx else 2`` lexes as ``1 if x else 2``).
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import lark
import regex
from lark.exceptions import UnexpectedToken
from lark.indenter import Indenter
from lark.lexer import Token
from lark.parsers.lalr_analysis import LALR_Analyzer
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.parsers.lalr_parser_state import ParseConf, ParserState
from lark.utils import TextSlice

from treediff.errors import GrammarError
from treediff.registry import Registry
from treediff.syntax.language import Language, get_language, grammars_dir

__all__ = ["WINDOW", "ConstraintSpec", "IndenterSpec", "INDENTERS", "PrefixGrammar", "PrefixSession"]

#: How many trailing tokens a cut lexeme may have been split into (``1.5e-``: 3).
WINDOW = 3
#: A checkpoint after a newline at offset ``e`` stays valid while ``text[:e + _MARGIN]``
#: is unchanged: lexing up to ``e`` looks at most one character past it.
_MARGIN = 2
_LARK_PREFIX = "lark:"
_QUOTES = "\"'"
_REGEX_SYNTAX = "()[]{}?*|^$:"


@dataclass(frozen=True)
class IndenterSpec:
    """Python-style layout: INDENT/DEDENT from newline tokens, ignored inside brackets."""

    newline: str
    indent: str
    dedent: str
    open: frozenset[str]
    close: frozenset[str]
    tab_len: int = 8

    def width(self, ws: str) -> int:
        return ws.count(" ") + ws.count("\t") * self.tab_len

    def lark_postlex(self) -> Indenter:
        """The same layout as lark's own post-lexer (so ``Lark.parse`` agrees with us)."""
        attrs = {"NL_type": self.newline, "INDENT_type": self.indent, "DEDENT_type": self.dedent,
                 "OPEN_PAREN_types": sorted(self.open), "CLOSE_PAREN_types": sorted(self.close),
                 "tab_len": self.tab_len}
        return type("TableIndenter", (Indenter,), attrs)()


#: Indenter kinds a ``[constraint]`` table may name (``"none"``: no layout tokens).
INDENTERS: Registry[IndenterSpec | None] = Registry("indenter", error=GrammarError)
INDENTERS.register("python", IndenterSpec("_NEWLINE", "_INDENT", "_DEDENT", frozenset({"LPAR", "LSQB", "LBRACE"}),
                                          frozenset({"RPAR", "RSQB", "RBRACE"}), 8))
INDENTERS.register("none", None)
#: Grammar engines a ``[constraint]`` table may name.
ENGINES: Registry[str] = Registry("constraint engine", error=GrammarError)
ENGINES.register("lark", "lark")


@dataclass(frozen=True)
class ConstraintSpec:
    """A validated ``[constraint]`` table."""

    engine: str
    grammar: str
    start: str
    indenter: str = "none"
    soft_keywords: tuple[str, ...] = ()

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str) -> "ConstraintSpec":
        if not isinstance(table, Mapping):
            raise GrammarError(f"{where}: [constraint] must be a table, not {type(table).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(table) - known)
        if unknown:
            raise GrammarError(f"{where}: [constraint] has unknown keys {unknown}; allowed: {sorted(known)}")
        for key in ("engine", "grammar", "start"):
            if not isinstance(table.get(key), str) or not table[key]:
                raise GrammarError(f"{where}: [constraint].{key} must be a non-empty string")
        ENGINES.resolve(table["engine"])
        INDENTERS.resolve(str(table.get("indenter", "none")))
        soft = table.get("soft_keywords", [])
        if not (isinstance(soft, list) and all(isinstance(s, str) for s in soft)):
            raise GrammarError(f"{where}: [constraint].soft_keywords must be a list of strings, got {soft!r}")
        spec = cls(table["engine"], table["grammar"], table["start"], str(table.get("indenter", "none")), tuple(soft))
        if not spec.grammar_path().is_file():
            raise GrammarError(f"{where}: [constraint].grammar {spec.grammar!r} not found at {spec.grammar_path()}")
        return spec

    def grammar_path(self) -> Path:
        """``lark:NAME`` is a grammar shipped inside lark; anything else is relative to ``grammars/``."""
        if self.grammar.startswith(_LARK_PREFIX):
            return Path(lark.__file__).parent / "grammars" / self.grammar[len(_LARK_PREFIX):]
        return grammars_dir() / self.grammar


def _discard(_children: Any) -> None:
    return None


class _NoTrees(dict):
    """Parser callbacks that build nothing: sessions only need the state stack."""

    def __missing__(self, key: Any) -> Any:
        return _discard

    def __bool__(self) -> bool:
        return True


@dataclass(eq=False)
class _Compiled:
    """Everything derived once from a grammar: the Lark object, tables, lexers and samples."""

    lark: lark.Lark
    conf: ParseConf
    layout: IndenterSpec | None
    lexers: Mapping[int, Any]
    root: Any
    ignore: frozenset[str]
    reserved: Mapping[str, str]
    regexes: Mapping[str, Any]
    literals: Mapping[str, str]
    _samples: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def _alphabet(self, name: str, first: str = "") -> str:
        source = "".join(c for c in self.regexes[name].pattern if c not in _REGEX_SYNTAX)
        return "".join(dict.fromkeys(first + "_0a" + source + " \n"))

    def samples(self, name: str) -> tuple[str, ...]:
        """The shortest strings of a terminal, shortest first (a string terminal has one)."""
        if name in self.literals:
            return (self.literals[name],)
        if name not in self._samples:
            self._samples[name] = tuple(_search_strings(self.regexes[name], "", self._alphabet(name), 3))
        return self._samples[name]

    def finish_lexeme(self, name: str, prefix: str) -> str | None:
        """The shortest ``s`` with ``prefix + s`` a whole lexeme of terminal ``name``."""
        if name in self.literals:
            return self.literals[name][len(prefix):]
        first = "".join(self.samples(name)[:1])
        found = _search_strings(self.regexes[name], prefix, self._alphabet(name, first), 1, max_len=4)
        return found[0] if found else None

    def is_prefix(self, name: str, text: str) -> bool:
        if name in self.literals:
            return self.literals[name].startswith(text)
        return self.regexes[name].fullmatch(text, partial=True) is not None

    # -- shortest completions from LR(0) items ---------------------------------------
    @functools.cached_property
    def items(self) -> dict[int, tuple[tuple, frozenset]]:
        """``state → (kernel items (rule, dot), rules started there)``, matched to lark's states by walking both automata."""
        analysis = LALR_Analyzer(self.lark.parser.parser_conf)
        analysis.compute_lr0_states()
        found = {self.conf.start_state: analysis.lr0_start_states[self.conf.start]}
        todo = [self.conf.start_state]
        while todo:
            state = todo.pop()
            for symbol, target in found[state].transitions.items():
                action = self.conf.states[state].get(symbol.name)
                if action is not None and action[1] not in found:
                    found[action[1]] = target
                    todo.append(action[1])
        return {s: (tuple((p.rule, p.index) for p in i.kernel), frozenset(p.rule for p in i.closure if p.index == 0))
                for s, i in found.items()}

    def terminal_cost(self, name: str) -> float:
        layout = self.layout
        if layout is not None and name in (layout.newline, layout.indent, layout.dedent):
            return {layout.newline: 1, layout.indent: 4, layout.dedent: 0}[name]
        samples = self.samples(name) if (name in self.literals or name in self.regexes) else ()
        if not samples:
            return float("inf")
        return len(samples[0]) + 0.5 * (samples[0][:1].isalnum() or samples[0][:1] == "_")  # a word may need a space

    @functools.cached_property
    def min_yields(self) -> dict[str, tuple[float, tuple[str, ...]]]:
        """``nonterminal → (cost, terminals)`` of its cheapest derivation (a fixpoint over the rules)."""
        best: dict[str, tuple[float, tuple[str, ...]]] = {}
        changed = True
        while changed:
            changed = False
            for rule in self.lark.parser.parser_conf.rules:
                found = self.yield_of(rule.expansion, best)
                if found is not None and found[0] < best.get(rule.origin.name, (float("inf"),))[0]:
                    best[rule.origin.name] = found
                    changed = True
        return best

    def yield_of(self, symbols: Any, best: Mapping | None = None) -> tuple[float, tuple[str, ...]] | None:
        best = self.min_yields if best is None else best
        cost, names = 0.0, []
        for symbol in symbols:
            if symbol.is_term:
                cost += self.terminal_cost(symbol.name)
                names.append(symbol.name)
            elif symbol.name in best:
                cost += best[symbol.name][0]
                names.extend(best[symbol.name][1])
            else:
                return None
        return cost, tuple(names)

    def completion(self, stack: tuple[int, ...]) -> tuple[float, tuple[str, ...]]:
        """The cheapest terminals that complete a parser stack: finish a valid kernel item of the top state, reduce, repeat."""
        memo: dict[tuple[int, ...], tuple[float, tuple[str, ...]]] = {}
        none = (float("inf"), ())

        def best(stack: tuple[int, ...]) -> tuple[float, tuple[str, ...]]:
            if stack in memo:
                return memo[stack]
            memo[stack] = none  # a cycle of unit reductions completes nothing
            result = none
            for rule, dot in self.items[stack[-1]][0]:
                below = len(stack) - 1 - dot
                if below < 0 or rule not in self.items[stack[below]][1]:
                    continue  # the item is not the one this stack is in
                found = self.yield_of(rule.expansion[dot:])
                if found is None or found[0] >= result[0]:
                    continue
                if not rule.origin.name.startswith("$root"):
                    goto = self.conf.states[stack[below]].get(rule.origin.name)
                    rest = best(stack[: below + 1] + (goto[1],)) if goto else none
                    found = (found[0] + rest[0], found[1] + rest[1])
                if found[0] < result[0]:
                    result = found
            memo[stack] = result
            return result

        return best(stack)


def _search_strings(rx: Any, prefix: str, alphabet: str, count: int, max_len: int = 8) -> list[str]:
    """Breadth-first: the first ``count`` strings ``s`` (shortest first) with ``prefix + s`` matching ``rx``."""
    found: list[str] = [""] if rx.fullmatch(prefix) else []
    frontier = [""]
    for _ in range(max_len):
        grown = []
        for s in frontier:
            for ch in alphabet:
                m = rx.fullmatch(prefix + s + ch, partial=True)
                if m is None:
                    continue
                if not m.partial:
                    found.append(s + ch)
                    if len(found) >= count:
                        return found
                grown.append(s + ch)
        frontier = grown[:5000]
    return found


@functools.lru_cache(maxsize=None)
def _compile(spec: ConstraintSpec) -> _Compiled:
    layout = INDENTERS.resolve(spec.indenter)
    try:
        grammar = lark.Lark(spec.grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                            start=spec.start, postlex=layout.lark_postlex() if layout else None,
                            import_paths=[spec.grammar_path().parent])
    except lark.exceptions.LarkError as exc:
        raise GrammarError(f"[constraint].grammar {spec.grammar!r} does not build: {str(exc).splitlines()[0]}") from None
    frontend = grammar.parser
    contextual = getattr(frontend.lexer, "lexer", frontend.lexer)  # unwrap lark's PostLexConnector
    table = frontend.parser.parser.parse_table
    for sub in [*contextual.lexers.values(), contextual.root_lexer]:
        _ = sub.scanner  # builds each sub-lexer's keyword callbacks now, not inside a session
    literals = {t.name: t.pattern.value for t in grammar.terminals if t.pattern.type == "str"}
    regexes = {t.name: regex.compile(t.pattern.to_regexp()) for t in grammar.terminals if t.pattern.type == "re"}
    wordlike = {v: n for n, v in literals.items() if any(rx.fullmatch(v) for rx in regexes.values())}
    reserved = {v: n for v, n in wordlike.items() if v not in spec.soft_keywords}
    return _Compiled(grammar, ParseConf(table, _NoTrees(), spec.start), layout, contextual.lexers,
                     contextual.root_lexer, frozenset(grammar.ignore_tokens), reserved, regexes, literals)


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
    def compiled(self) -> _Compiled:
        return _compile(self.spec)

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
    """A parser plus layout state at a text offset."""

    offset: int
    parser: InteractiveParser
    paren: int
    levels: tuple[int, ...]


@dataclass
class _Run:
    """Where lexing/feeding the current text stopped."""

    stop: str  # "end": every token fed; "lex": no token matches at `at`; "reject": token at `at` refused
    at: int
    point: _Point  # state at `at` (or at the end)
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

    Keeps checkpoints (parser copy, indentation stack, bracket depth, offset) after each
    newline; a call re-lexes only from the last checkpoint whose text is unchanged.
    ``stats`` counts ``calls``, ``tokens_fed``, ``chars_relexed`` and ``checkpoints_reused``.
    """

    def __init__(self, grammar: PrefixGrammar) -> None:
        self._g = grammar.compiled
        parser = self._g.lark.parse_interactive(start=grammar.spec.start)
        parser.parser_state.parse_conf = self._g.conf
        self._points = [_Point(0, parser, 0, (0,))]
        self._text = ""
        self.stats = {"calls": 0, "tokens_fed": 0, "chars_relexed": 0, "checkpoints_reused": 0}

    # -- public ----------------------------------------------------------------------
    def viable(self, text: str) -> bool:
        """True iff ``text`` is a prefix of some program the grammar accepts (see the module doc)."""
        return next(self._ends(text, self._advance(text)), None) is not None

    def complete(self, text: str) -> bool:
        """True iff ``text`` (plus a final newline if missing) is a whole program the grammar accepts."""
        layout = self._g.layout
        if layout is not None and not text.endswith("\n"):
            text += "\n"
        run = self._advance(text)
        if run.stop != "end":
            return False
        point, nl = run.point, run.open_newline
        parser = point.parser.copy(deepcopy_values=False)
        if layout is not None:
            if nl is None or point.paren:
                return False
            tokens = [nl] + [Token(layout.dedent, "")] * (len(point.levels) - 1)
            if not self._feed_all(parser, tokens):
                return False
        try:
            parser.feed_eof(Token("$END", ""))
        except UnexpectedToken:
            return False
        return True

    def closing_suffix(self, text: str, max_terminals: int = 40) -> str | None:
        """A short ``s`` with ``complete(text + s)``, or ``None`` if none is found within the bound.

        First the cheapest grammar completion of each way the text may end (finish the
        cut lexeme, then the innermost open rules, one minimal literal per terminal:
        ``_``, ``0``, ``""``, ``)``); then, if that does not verify, a bounded best-first
        search over the parser's accepted terminals. Every answer is checked with
        :meth:`complete` before it is returned.
        """
        ends = list(self._ends(text, self._advance(text)))
        plans = []
        for end in ends:
            cost, names = self._g.completion(end.stack)
            if cost < float("inf") and len(names) <= max_terminals:
                plans.append((len(end.suffix) + cost, end, names))
        for _, node, names in sorted(plans, key=lambda plan: plan[0])[:4]:
            for name in names:
                node = node and self._move(node, name)
            if node is not None and self._finishes(node) and self.complete(text + node.suffix):
                return node.suffix[:-1] if node.suffix.endswith("\n") else node.suffix
        return self._search(text, ends, max_terminals)

    def _search(self, text: str, ends: list[_End], max_terminals: int, budget: int = 1500) -> str | None:
        heap: list[tuple[int, int, _End, int]] = []
        best: dict[tuple, int] = {}
        tie = itertools.count()
        for end in ends:
            heapq.heappush(heap, (len(end.suffix) + end.paren, next(tie), end, 0))
        failures = 0
        while heap and budget > 0 and failures < 3:
            _, _, node, depth = heapq.heappop(heap)
            if best.get(self._key(node), 1 << 30) < len(node.suffix):
                continue
            if self._finishes(node):
                if self.complete(text + node.suffix):
                    return node.suffix
                failures += 1
                continue
            if depth >= max_terminals:
                continue
            budget -= 1
            for name in self._g.conf.states[node.stack[-1]]:
                child = self._move(node, name) if name.isupper() and name != "$END" else None
                if child is not None and len(child.suffix) < best.get(self._key(child), 1 << 30):
                    best[self._key(child)] = len(child.suffix)
                    heapq.heappush(heap, (len(child.suffix) + child.paren, next(tie), child, depth + 1))
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
        parser, paren, levels = start.parser.copy(deepcopy_values=False), start.paren, start.levels
        state = parser.parser_state
        recent: deque = deque(maxlen=WINDOW)
        pos, last_start, chars = start.offset, start.offset, TextSlice(text, 0, n)

        def stop(kind: str) -> _Run:
            return _Run(kind, pos, _Point(pos, parser, paren, levels), recent, None, text[last_start:])

        while pos < n:
            lexer = g.lexers[state.position]
            match = lexer.match(chars, pos)
            if match is None:
                return stop("lex")
            value, kind = match
            if kind in lexer.callback:  # lark's keyword-vs-name resolution
                kind = lexer.callback[kind](Token(kind, value, pos)).type
            end = pos + len(value)
            if kind in g.ignore:
                pos = end
                if "\n" in value and end + _MARGIN <= n:
                    points.append(_Point(end, parser.copy(deepcopy_values=False), paren, levels))
                continue
            kind = g.reserved.get(value, kind)
            token = Token(kind, value, pos)
            recent.append(_Point(pos, parser.copy(deepcopy_values=False), paren, levels))
            if layout is not None and kind == layout.newline:
                if end == n:
                    run = stop("end")
                    run.open_newline = token
                    return run
                if paren == 0:
                    width = layout.width(value.rsplit("\n", 1)[-1])
                    tokens = [token]
                    if width > levels[-1]:
                        levels += (width,)
                        tokens.append(Token(layout.indent, ""))
                    while width < levels[-1]:
                        levels = levels[:-1]
                        tokens.append(Token(layout.dedent, ""))
                    if width != levels[-1] or not self._feed_all(parser, tokens):
                        return stop("reject")
            else:
                if layout is not None and kind in layout.close:
                    if paren == 0:
                        return stop("reject")
                    paren -= 1
                elif layout is not None and kind in layout.open:
                    paren += 1
                if not self._feed_all(parser, [token]):
                    return stop("reject")
            last_start, pos = pos, end
            if "\n" in value and end + _MARGIN <= n:
                points.append(_Point(end, parser.copy(deepcopy_values=False), paren, levels))
        return stop("end")

    def _feed_all(self, parser: InteractiveParser, tokens: list[Token]) -> bool:
        try:
            for token in tokens:
                parser.feed_token(token)
                self.stats["tokens_fed"] += 1
        except UnexpectedToken:
            return False
        return True

    def _ends(self, text: str, run: _Run) -> Iterator[_End]:
        """Every way the text may end in a state the parser still accepts (lazily)."""
        layout, point = self._g.layout, run.point
        stack = tuple(point.parser.parser_state.state_stack)
        if run.stop == "end" and run.open_newline is None:
            yield _End(stack, point.paren, point.levels, "mid", None, "", run.last)
            return
        if run.stop == "end":
            if point.paren:
                yield _End(stack, point.paren, point.levels, "mid", None, "", "\n")
                return
            parser = point.parser.copy(deepcopy_values=False)
            if self._feed_all(parser, [run.open_newline]):
                tail = run.open_newline.value.rsplit("\n", 1)
                ws = tail[-1] if len(tail) == 2 and "#" not in tail[-1] else None
                yield _End(tuple(parser.parser_state.state_stack), 0, point.levels, "nl", ws, "", "\n")
            return
        candidates = list(reversed(run.recent))
        if run.stop == "lex":
            candidates.insert(0, point)
        for cut in candidates:
            tail = text[cut.offset:]
            lexer = self._g.lexers[cut.parser.parser_state.position]
            for terminal in lexer.terminals:
                name = terminal.name
                if not self._g.is_prefix(name, tail):
                    continue
                suffix = self._g.finish_lexeme(name, tail)
                if suffix is None:
                    continue
                stack = tuple(cut.parser.parser_state.state_stack)
                if name in self._g.ignore:  # e.g. a line continuation: only where the lexer found nothing
                    if cut.offset == run.at and run.stop == "lex":
                        yield _End(stack, cut.paren, cut.levels, "mid", None, suffix, "")
                    continue
                paren = cut.paren
                if layout is not None and name == layout.newline:
                    continue  # a cut newline is the "open newline" case above
                if layout is not None and name in layout.close:
                    if paren == 0:
                        continue
                    paren -= 1
                elif layout is not None and name in layout.open:
                    paren += 1
                parser = cut.parser.copy(deepcopy_values=False)
                if self._feed_all(parser, [Token(name, tail)]):
                    yield _End(tuple(parser.parser_state.state_stack), paren, cut.levels, "mid", None,
                               suffix, tail + suffix)

    # -- the closing search ----------------------------------------------------------
    @staticmethod
    def _key(node: _End) -> tuple:
        return node.stack, node.paren, node.levels, node.line, node.ws

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
        paren = node.paren
        if layout is not None and name in layout.close:
            if paren == 0:
                return None
            paren -= 1
        elif layout is not None and name in layout.open:
            paren += 1
        sample = self._sample(node.stack[-1], name)
        if sample is None:
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
        lexer = self._g.lexers[state]
        for sample in self._g.samples(name):
            match = lexer.match(TextSlice(sample, 0, len(sample)), 0)
            if match is None or match[0] != sample:
                continue
            kind = match[1]
            if kind in lexer.callback:
                kind = lexer.callback[kind](Token(kind, sample)).type
            if self._g.reserved.get(sample, kind) == name:
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
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo
