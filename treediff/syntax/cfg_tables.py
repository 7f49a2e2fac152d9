"""The ``[cfg]`` section of a grammar file, loaded and checked into a frozen :class:`CfgTable`.

The CFG engine (:mod:`treediff.syntax.cfg`) knows no language: every node kind it
treats specially comes from here.  Loading validates the whole section against the
real tree-sitter grammar, so an unknown key, an unknown node kind or an unknown
field name fails with a :class:`~treediff.errors.GrammarError` that names it.
The schema is documented in ``docs/grammars.md`` (section ``[cfg]``).

>>> from treediff.syntax import get_language
>>> table = cfg_table(get_language("python"))
>>> table.loops["while_statement"].style, "return_statement" in table.jumps
('while', True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import tree_sitter as ts

from treediff.errors import GrammarError
from treediff.syntax.language import Language

__all__ = [
    "scope_query",
    "SCOPE_KINDS",
    "JUMP_KINDS",
    "CfgTable",
    "ScopeSpec",
    "IfSpec",
    "LoopSpec",
    "TrySpec",
    "SwitchSpec",
    "cfg_table",
    "load_cfg_table",
]

#: Values of a scope's ``kind`` (the ``CFG.kind`` of its graph).
SCOPE_KINDS = ("module", "function", "lambda", "class", "comprehension")
#: Keys of ``[cfg.jumps]``.
JUMP_KINDS = ("return", "break", "continue", "raise", "fallthrough")
_LOOP_STYLES = ("while", "do", "loop")
_FALLTHROUGH = ("none", "implicit", "explicit")

_TOP_KEYS = {
    "blocks", "skip", "unwrap", "parens", "true_literals", "label_kinds", "labeled",
    "yield", "await", "values", "scopes", "if", "loops", "jumps", "try", "switch", "with", "bodies",
}


@dataclass(frozen=True)
class ScopeSpec:
    """A node kind that opens its own CFG."""

    kind: str  # one of SCOPE_KINDS
    body: str  # field of the body; "" = the unfielded named children
    name: str = ""  # field followed repeatedly to the name; "" = anonymous
    anonymous: str = ""  # name of anonymous scopes, default "<kind>"
    loop_clauses: frozenset[str] = frozenset()  # comprehension `for` clauses
    filter_clauses: frozenset[str] = frozenset()  # comprehension `if` clauses


@dataclass(frozen=True)
class IfSpec:
    consequence: str
    alternative: str = ""  # "" = an elif-like clause: a test whose false edge the parent continues


@dataclass(frozen=True)
class LoopSpec:
    body: str
    style: str = "while"  # while: test first; do: body first; loop: no test at all
    condition: str = ""  # a loop missing this field never exits by its test (C `for (;;)`)
    else_field: str = ""  # field of a loop-else clause (Python)
    bare_infinite: bool = False  # infinite when the body is the only named child (Go `for {}`)


@dataclass(frozen=True)
class TrySpec:
    body: str
    handlers: frozenset[str] = frozenset()
    else_kinds: frozenset[str] = frozenset()
    finally_kinds: frozenset[str] = frozenset()
    catch_all: frozenset[str] = frozenset()  # handler kinds that catch everything
    catch_all_without: str = ""  # a handler without this field catches everything (bare `except:`)


@dataclass(frozen=True)
class SwitchSpec:
    body: str  # field of the case container; "" = cases are children of the switch itself
    cases: frozenset[str]
    default_cases: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()  # case children that are labels/patterns, not statements
    label_fields: tuple[str, ...] = ()
    fallthrough: str = "none"
    no_fallthrough: frozenset[str] = frozenset()  # case kinds that never fall through (Java `->`)
    exhaustive: bool = False  # no "no case matched" edge (Rust `match`)


@dataclass(frozen=True)
class CfgTable:
    """Everything the engine needs to know about one language's control flow."""

    language: str
    blocks: frozenset[str]
    skip: frozenset[str]
    unwrap: frozenset[str]
    parens: frozenset[str]
    true_literals: frozenset[str]
    label_kinds: frozenset[str]
    labeled: frozenset[str]
    yields: frozenset[str]
    awaits: frozenset[str]
    scopes: Mapping[str, ScopeSpec]
    ifs: Mapping[str, IfSpec]
    loops: Mapping[str, LoopSpec]
    jumps: Mapping[str, str]  # node kind -> one of JUMP_KINDS
    tries: Mapping[str, TrySpec]
    switches: Mapping[str, SwitchSpec]
    withs: Mapping[str, str]  # node kind -> body field
    bodies: Mapping[str, str]  # clause kind -> body field ("" = unfielded named children)
    values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # statement kind -> field whose control-flow value runs first
    #: Kinds the engine expands (everything else in a block is a simple statement).
    compound: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        kinds = frozenset().union(self.ifs, self.loops, self.tries, self.switches, self.withs, self.labeled)
        object.__setattr__(self, "compound", kinds)


class _Checker:
    def __init__(self, lang: Language) -> None:
        self.lang = lang
        self.where = f"{lang.path.name if lang.path else lang.name} [cfg]"
        self.tsl = lang.ts_language

    def fail(self, msg: str) -> None:
        raise GrammarError(f"{self.where}{msg}")

    def keys(self, table: Any, allowed: set[str] | tuple[str, ...], at: str) -> dict[str, Any]:
        if not isinstance(table, Mapping):
            self.fail(f"{at}: expected a table, got {type(table).__name__}")
        unknown = sorted(set(table) - set(allowed))
        if unknown:
            self.fail(f"{at}: unknown keys {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")
        return dict(table)

    def kind(self, name: Any, at: str) -> str:
        if not isinstance(name, str) or not self.tsl.id_for_node_kind(name, True):
            self.fail(f"{at}: {name!r} is not a named node kind of the {self.lang.name} grammar")
        return name

    def kinds(self, names: Any, at: str) -> frozenset[str]:
        if not isinstance(names, list):
            self.fail(f"{at}: expected a list of node kinds")
        return frozenset(self.kind(n, at) for n in names)

    def field(self, name: Any, at: str, *, optional: bool = True) -> str:
        if name == "" and optional:
            return ""
        if not isinstance(name, str) or self.tsl.field_id_for_name(name) is None:
            self.fail(f"{at}: {name!r} is not a field name of the {self.lang.name} grammar")
        return name

    def choice(self, value: Any, choices: tuple[str, ...], at: str) -> str:
        if value not in choices:
            self.fail(f"{at}: {value!r} is not one of {', '.join(choices)}")
        return value

    def flag(self, value: Any, at: str) -> bool:
        if not isinstance(value, bool):
            self.fail(f"{at}: expected true or false, got {value!r}")
        return value

    def per_kind(self, table: Any, at: str, allowed: set[str]) -> dict[str, dict[str, Any]]:
        out = {}
        for kind, spec in self.keys(table, set(table) if isinstance(table, Mapping) else set(), at).items():
            self.kind(kind, at)
            out[kind] = self.keys(spec, allowed, f"{at}.{kind}")
        return out


def load_cfg_table(lang: Language) -> CfgTable:  # long: one check per key of the [cfg] table, in order
    """Validate ``lang.cfg`` and build its :class:`CfgTable` (use :func:`cfg_table`, which caches)."""
    ck = _Checker(lang)
    raw = ck.keys(lang.cfg, _TOP_KEYS, "")
    if "scopes" not in raw or not raw["scopes"]:
        ck.fail(": needs a [cfg.scopes] table with at least the root (module) kind")
    lists = {k: ck.kinds(raw.get(k, []), f".{k}") for k in (
        "blocks", "skip", "unwrap", "parens", "true_literals", "label_kinds", "labeled", "yield", "await")}

    scopes = {}
    for kind, s in ck.per_kind(raw["scopes"], ".scopes", {"kind", "body", "name", "anonymous", "loop_clauses", "filter_clauses"}).items():
        at = f".scopes.{kind}"
        if "kind" not in s or "body" not in s:
            ck.fail(f"{at}: needs 'kind' and 'body'")
        scopes[kind] = ScopeSpec(
            kind=ck.choice(s["kind"], SCOPE_KINDS, at + ".kind"),
            body=ck.field(s["body"], at + ".body"),
            name=ck.field(s.get("name", ""), at + ".name"),
            anonymous=str(s.get("anonymous", "")),
            loop_clauses=ck.kinds(s.get("loop_clauses", []), at + ".loop_clauses"),
            filter_clauses=ck.kinds(s.get("filter_clauses", []), at + ".filter_clauses"),
        )
    ifs = {
        kind: IfSpec(ck.field(s.get("consequence"), f".if.{kind}.consequence", optional=False),
                     ck.field(s.get("alternative", ""), f".if.{kind}.alternative"))
        for kind, s in ck.per_kind(raw.get("if", {}), ".if", {"consequence", "alternative"}).items()
    }
    loops = {}
    for kind, s in ck.per_kind(raw.get("loops", {}), ".loops", {"body", "style", "condition", "else", "bare_infinite"}).items():
        at = f".loops.{kind}"
        loops[kind] = LoopSpec(
            body=ck.field(s.get("body"), at + ".body", optional=False),
            style=ck.choice(s.get("style", "while"), _LOOP_STYLES, at + ".style"),
            condition=ck.field(s.get("condition", ""), at + ".condition"),
            else_field=ck.field(s.get("else", ""), at + ".else"),
            bare_infinite=ck.flag(s.get("bare_infinite", False), at + ".bare_infinite"),
        )
    jumps = {}
    for jump, kinds in ck.keys(raw.get("jumps", {}), JUMP_KINDS, ".jumps").items():
        for kind in ck.kinds(kinds, f".jumps.{jump}"):
            jumps[kind] = jump
    tries = {}
    allowed = {"body", "handlers", "else", "finally", "catch_all", "catch_all_without"}
    for kind, s in ck.per_kind(raw.get("try", {}), ".try", allowed).items():
        at = f".try.{kind}"
        tries[kind] = TrySpec(
            body=ck.field(s.get("body"), at + ".body", optional=False),
            handlers=ck.kinds(s.get("handlers", []), at + ".handlers"),
            else_kinds=ck.kinds(s.get("else", []), at + ".else"),
            finally_kinds=ck.kinds(s.get("finally", []), at + ".finally"),
            catch_all=ck.kinds(s.get("catch_all", []), at + ".catch_all"),
            catch_all_without=ck.field(s.get("catch_all_without", ""), at + ".catch_all_without"),
        )
    switches = {}
    allowed = {"body", "cases", "default_cases", "labels", "label_fields", "fallthrough", "no_fallthrough", "exhaustive"}
    for kind, s in ck.per_kind(raw.get("switch", {}), ".switch", allowed).items():
        at = f".switch.{kind}"
        if not s.get("cases"):
            ck.fail(f"{at}: needs a non-empty 'cases' list")
        switches[kind] = SwitchSpec(
            body=ck.field(s.get("body", ""), at + ".body"),
            cases=ck.kinds(s["cases"], at + ".cases"),
            default_cases=ck.kinds(s.get("default_cases", []), at + ".default_cases"),
            labels=ck.kinds(s.get("labels", []), at + ".labels"),
            label_fields=tuple(ck.field(f, at + ".label_fields", optional=False) for f in s.get("label_fields", [])),
            fallthrough=ck.choice(s.get("fallthrough", "none"), _FALLTHROUGH, at + ".fallthrough"),
            no_fallthrough=ck.kinds(s.get("no_fallthrough", []), at + ".no_fallthrough"),
            exhaustive=ck.flag(s.get("exhaustive", False), at + ".exhaustive"),
        )
    withs = {ck.kind(k, ".with"): ck.field(v, f".with.{k}", optional=False)
             for k, v in ck.keys(raw.get("with", {}), set(raw.get("with", {})), ".with").items()}
    bodies = {ck.kind(k, ".bodies"): ck.field(v, f".bodies.{k}")
              for k, v in ck.keys(raw.get("bodies", {}), set(raw.get("bodies", {})), ".bodies").items()}
    values = {ck.kind(k, ".values"): ck.field(v, f".values.{k}", optional=False)
              for k, v in ck.keys(raw.get("values", {}), set(raw.get("values", {})), ".values").items()}

    freeze = MappingProxyType
    table = CfgTable(
        language=lang.name,
        blocks=lists["blocks"], skip=lists["skip"], unwrap=lists["unwrap"], parens=lists["parens"],
        true_literals=lists["true_literals"], label_kinds=lists["label_kinds"], labeled=lists["labeled"],
        yields=lists["yield"], awaits=lists["await"],
        scopes=freeze(scopes), ifs=freeze(ifs), loops=freeze(loops), jumps=freeze(jumps), tries=freeze(tries),
        switches=freeze(switches), withs=freeze(withs), bodies=freeze(bodies), values=freeze(values),
    )
    roles = [("if", ifs), ("loops", loops), ("try", tries), ("switch", switches), ("with", withs),
             ("jumps", jumps), ("labeled", lists["labeled"]), ("blocks", lists["blocks"])]
    seen: dict[str, str] = {}
    for role, kinds in roles:
        for k in kinds:
            if k in seen:
                ck.fail(f": {k!r} is listed both in {seen[k]} and in {role}")
            seen[k] = role
    return table


_CACHE: dict[int, tuple[Language, CfgTable]] = {}


def cfg_table(lang: Language) -> CfgTable:
    """The validated, cached :class:`CfgTable` of a language."""
    hit = _CACHE.get(id(lang))
    if hit is None or hit[0] is not lang:
        hit = _CACHE[id(lang)] = (lang, load_cfg_table(lang))
    return hit[1]


_QUERIES: dict[int, tuple[Any, ts.Query]] = {}


def scope_query(lang: Language, table: CfgTable) -> ts.Query:
    """The compiled tree-sitter query that finds a language's nested scopes, ``yield`` and ``await`` nodes
    (``@scope``, ``@yield``, ``@await``), built once per language."""
    hit = _QUERIES.get(id(lang))
    if hit is None or hit[0] is not lang:
        parts = []
        for capture, kinds in (("scope", table.scopes), ("yield", table.yields), ("await", table.awaits)):
            if kinds:
                parts.append("[" + " ".join(f"({k})" for k in sorted(kinds)) + f"] @{capture}")
        hit = _QUERIES[id(lang)] = (lang, ts.Query(lang.ts_language, "\n".join(parts)))
    return hit[1]
