"""The compiled side of a ``[constraint]`` table: indenter and constraint specs, the lark LALR tables,
lexers, terminal samples and cheapest completions (:func:`compile_grammar`), read by
:class:`~treediff.syntax.prefix_grammar.PrefixGrammar` (see that module for what the checks guarantee).

Needs ``regex`` (partial matching of a cut lexeme against a terminal's pattern).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import lark
import regex
from lark.indenter import Indenter
from lark.lexer import Token
from lark.parsers.lalr_analysis import LALR_Analyzer, Shift
from lark.parsers.lalr_parser_state import ParseConf
from lark.utils import TextSlice

from treediff.errors import GrammarError
from treediff.registry import Registry
from treediff.syntax.language import check_table_keys, grammars_dir
from treediff.syntax.layout import is_word

__all__ = ["WINDOW", "ConstraintSpec", "ENGINES", "INDENTERS", "IndenterSpec", "CompiledGrammar", "compile_grammar"]

#: How many trailing tokens a cut lexeme may have been split into (``1.5e-``: 3).
WINDOW = 3
_LARK_PREFIX = "lark:"
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

    def bracket(self, name: str, paren: int) -> int | None:
        """The bracket depth after token ``name`` (``None``: a closer with nothing open)."""
        if name in self.close:
            return paren - 1 if paren else None
        return paren + 1 if name in self.open else paren

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
        check_table_keys(table, cls.__dataclass_fields__, "constraint", where)
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
    """The parser callback for every rule: sessions need the state stack, not trees."""
    return None


@dataclass(eq=False)
class CompiledGrammar:
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
    _finished: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _starting: dict[tuple[int, str], tuple[Any, ...]] = field(default_factory=dict)
    _fed: dict[tuple[tuple[int, ...], str], tuple[int, ...] | None] = field(default_factory=dict)

    def _alphabet(self, name: str, first: str = "") -> str:
        source = "".join(c for c in self.regexes[name].pattern if c not in _REGEX_SYNTAX)
        return "".join(dict.fromkeys(first + "_0a" + source + " \n"))

    def samples(self, name: str) -> tuple[str, ...]:
        """The shortest strings of a terminal, shortest first (a string terminal has one)."""
        if name in self.literals:
            return (self.literals[name],)
        if name not in self._samples:
            found = _search_strings(self.regexes[name], "", self._alphabet(name), 3, taken=self.reserved)
            self._samples[name] = tuple(found)
        return self._samples[name]

    def finish_lexeme(self, name: str, prefix: str) -> str | None:
        """A short ``s`` with ``prefix + s`` a whole lexeme of terminal ``name``: the shortest tail of one of
        the terminal's samples that does it (a cut string ends with its quotes), else the shortest ``s``
        of at most 4 characters (breadth-first)."""
        if name in self.literals:
            return self.literals[name][len(prefix):]
        key = (name, prefix)
        if key in self._finished:
            return self._finished[key]
        rx = self.regexes[name]
        samples = self.samples(name)
        tails = sorted(dict.fromkeys(t[i:] for t in samples for i in range(len(t) - 1, -1, -1)), key=len)
        found = [t for t in tails if _lexeme(rx, prefix + t) == "full" and prefix + t not in self.reserved][:1]
        if not found:
            first = "".join(samples[:1])
            found = _search_strings(rx, prefix, self._alphabet(name, first), 1, 4, self.reserved)
        if len(self._finished) > 65536:
            self._finished.clear()
        self._finished[key] = result = found[0] if found else None
        return result

    def lex(self, state: int, text: TextSlice, pos: int) -> tuple[str, str] | None:
        """``(value, terminal)`` at ``pos`` as lark's contextual lexer sees it in ``state``; keywords reserved."""
        lexer = self.lexers[state]
        match = lexer.match(text, pos)
        if match is None:
            return None
        value, kind = match
        end = pos + len(value)
        if value and is_word(value[-1]) and end < text.end and is_word(text.text[end]):
            # CPython's tokenizer reads words and numbers whole: a lexeme that ends inside one (the
            # contextual lexer takes `is` of `isinstance` where a name cannot follow, `1` of `1int`) is no token
            return None
        if kind in lexer.callback:  # lark's keyword-vs-name resolution
            kind = lexer.callback[kind](Token(kind, value, pos)).type
        return value, self.reserved.get(value, kind)

    def feed(self, stack: tuple[int, ...], name: str) -> tuple[int, ...] | None:
        """The LALR state stack after terminal ``name`` is fed at ``stack`` (reductions, then the shift), as lark's
        ``ParserState.feed_token`` computes it without building values; ``None`` when the parser refuses it.
        Memoised: sessions re-feed the same tokens from the same stacks whenever they re-lex a line."""
        key = (stack, name)
        if key in self._fed:
            return self._fed[key]
        states, work = self.conf.states, list(stack)
        while True:
            action = states[work[-1]].get(name)
            if action is None:
                result = None
                break
            kind, arg = action
            if kind is Shift:
                work.append(arg)
                result = tuple(work)
                break
            size = len(arg.expansion)
            if size:
                del work[-size:]
            work.append(states[work[-1]][arg.origin.name][1])
        if len(self._fed) > _MAX_FED:
            self._fed.clear()
        self._fed[key] = result
        return result

    def is_prefix(self, name: str, text: str) -> bool:
        if name in self.literals:
            return self.literals[name].startswith(text)
        return _lexeme(self.regexes[name], text) is not None

    def terminals_starting(self, state: int, char: str) -> tuple[Any, ...]:
        """The terminals of the lexer of ``state`` of which some text starting with ``char`` may be a prefix
        (``is_prefix``): a first-character filter, exact for literals and for regexes without lookaround or
        back-reference that match no empty text (a text one of them covers, now or once more text follows, has
        its first character covered too); every other regex is always kept."""
        key = (state, char)
        found = self._starting.get(key)
        if found is None:
            found = self._starting[key] = tuple(
                t for t in self.lexers[state].terminals
                if not (t.name in self.literals or _plain(self.regexes[t.name])) or self.is_prefix(t.name, char))
        return found

    # -- shortest completions from LR(0) items ---------------------------------------
    @functools.cached_property
    def items(self) -> dict[int, tuple[tuple, frozenset]]:
        """``state → (kernel items (rule, dot), rules started there)``; lark's LALR states are matched to
        LR(0) item sets by walking both automata from the start."""
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
        """Characters a terminal costs in a completion (a word may need a space: +0.5)."""
        layout = self.layout
        if layout is not None and name in (layout.newline, layout.indent, layout.dedent):
            return {layout.newline: 1, layout.indent: 4, layout.dedent: 0}[name]
        sample = (self.samples(name) or ("",))[0] if name in self.literals or name in self.regexes else ""
        return len(sample) + 0.5 * (sample[:1].isalnum() or sample[:1] == "_") if sample else float("inf")

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
        """The cheapest terminals that complete a parser stack: finish a kernel item of the top state that
        this stack is really in, reduce, repeat (memoised over stacks)."""
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


#: Entries of :meth:`CompiledGrammar.feed`'s memo before it starts afresh.
_MAX_FED = 200_000
#: Lookarounds, back-references and other assertions: a regex with one of them is not filtered by its first character.
_LOOKS_AROUND = re.compile(r"\(\?<?[=!]|\\[1-9bBAZ]|\(\?P=")


def _plain(rx: Any) -> bool:
    """No lookaround, no back-reference, no empty match."""
    return rx.fullmatch("") is None and not _LOOKS_AROUND.search(rx.pattern)


def _lexeme(rx: Any, text: str) -> str | None:
    """``"full"`` or ``"partial"`` if the lexer's (leftmost, not longest) match of ``rx`` covers all of
    ``text``, now or once more text follows; ``None`` otherwise (``'a' b`` is no partial string)."""
    m = rx.match(text, partial=True)
    return None if m is None or m.end() != len(text) else ("partial" if m.partial else "full")


def _search_strings(rx: Any, prefix: str, alphabet: str, count: int, max_len: int = 8,
                    taken: Mapping[str, str] = MappingProxyType({})) -> list[str]:
    """Breadth-first: the first ``count`` strings ``s`` (shortest first) with ``prefix + s`` a whole
    lexeme of ``rx`` that is not ``taken`` (a reserved word lexes as its keyword)."""
    found: list[str] = [""] if prefix and prefix not in taken and _lexeme(rx, prefix) == "full" else []
    frontier = [""]
    for _ in range(max_len):
        grown = []
        for s in frontier:
            for ch in alphabet:
                kind = _lexeme(rx, prefix + s + ch)
                if kind == "full" and prefix + s + ch not in taken:
                    found.append(s + ch)
                    if len(found) >= count:
                        return found
                if kind is not None:
                    grown.append(s + ch)
        frontier = grown[:5000]
    return found


@functools.lru_cache(maxsize=None)
def compile_grammar(spec: ConstraintSpec) -> CompiledGrammar:
    """The LALR tables, lexers and terminal samples of a ``[constraint]`` spec, built once per spec."""
    layout = INDENTERS.resolve(spec.indenter)
    try:
        grammar = lark.Lark(spec.grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                            start=spec.start, postlex=layout.lark_postlex() if layout else None,
                            import_paths=[spec.grammar_path().parent])
    except lark.exceptions.LarkError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GrammarError(f"[constraint].grammar {spec.grammar!r} does not build: {first}") from None
    frontend = grammar.parser
    contextual = getattr(frontend.lexer, "lexer", frontend.lexer)  # unwrap lark's PostLexConnector
    table = frontend.parser.parser.parse_table
    for sub in [*contextual.lexers.values(), contextual.root_lexer]:
        _ = sub.scanner  # builds each sub-lexer's keyword callbacks now, not inside a session
    literals = {t.name: t.pattern.value for t in grammar.terminals if t.pattern.type == "str"}
    regexes = {t.name: regex.compile(t.pattern.to_regexp()) for t in grammar.terminals if t.pattern.type == "re"}
    wordlike = {v: n for n, v in literals.items() if any(rx.fullmatch(v) for rx in regexes.values())}
    reserved = {v: n for v, n in wordlike.items() if v not in spec.soft_keywords}
    return CompiledGrammar(grammar, ParseConf(table, defaultdict(lambda: _discard), spec.start), layout, contextual.lexers,
                     contextual.root_lexer, frozenset(grammar.ignore_tokens), reserved, regexes, literals)


