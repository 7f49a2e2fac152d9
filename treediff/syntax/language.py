"""Languages are data: each ``grammars/<name>.toml`` file becomes one :class:`Language`.

Adding a language means adding a TOML file (and a test); no code here changes.
The schema is documented in ``docs/grammars.md`` and enforced by
:func:`load_language`, which checks every listed node kind against the real
tree-sitter grammar so that typos fail loudly instead of silently matching nothing.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import tree_sitter as ts

from treediff.errors import GrammarError, InputError, LanguageNotFound
from treediff.registry import normalize_name

__all__ = [
    "check_table_keys",
    "CATEGORIES",
    "HOLE_CATEGORIES",
    "HOLE_MARKER",
    "Language",
    "Layout",
    "grammars_dir",
    "load_language",
    "get_language",
    "list_languages",
    "detect_language",
    "resolve_language",
    "clear_language_cache",
]

#: Node categories every grammar file must define (possibly as an empty list).
CATEGORIES = ("definition", "block", "statement", "expression", "identifier", "literal", "comment")
#: Categories a typed hole may have; each needs a filler in ``[fillers]``.
HOLE_CATEGORIES = ("statement", "block", "expression", "identifier", "literal")
#: Marker for the hole's position inside a ``[hole_contexts]`` template.
HOLE_MARKER = "{hole}"

_REQUIRED_TOP = ("name", "extensions", "grammar", "categories", "fillers", "hole_contexts", "layout", "compiler",
                 "cfg")


@dataclass(frozen=True)
class Layout:
    """How blocks look in the text, from a grammar file's ``[layout]`` table: what the block-of-lines search
    (:mod:`treediff.syntax.layout`) needs to cut a program into pieces the model can take.

    >>> get_language("python").layout
    Layout(line_comment='#', block_open=':', block_close='', decorator='@', flat_blocks=())
    >>> get_language("java").layout.block_close
    '}'
    """

    #: Starts a comment that runs to the end of its line (``#``, ``//``).
    line_comment: str
    #: The last code character of a header line, the one its block follows (``:``, ``{``).
    block_open: str
    #: What the line closing a block starts with (``}``); empty where a block ends with its indentation.
    block_close: str
    #: What a line starts with that belongs to the definition below it (``@``, ``#[``); empty for none.
    decorator: str
    #: The words that start a header whose block is written without indentation (C++'s ``namespace``): there
    #: the indentation shows nothing of where the block ends.
    flat_blocks: tuple[str, ...] = ()

    def code_of(self, line: str) -> str:
        """``line`` without its trailing comment and blanks.  A comment marker inside a string that opens
        and closes on the line is no comment (``if c == "#":`` is a header); when a quote is left open
        (a Rust lifetime ``'a``, a string over several lines) the first marker starts the comment.

        >>> from treediff.syntax import get_language
        >>> get_language("python").layout.code_of('if c == "#":  # a colour')
        'if c == "#":'
        """
        marker = self.line_comment
        if not marker or marker not in line:
            return line.rstrip()
        quote, i = None, 0
        while i < len(line):
            ch = line[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = None
            elif line.startswith(marker, i):
                return line[:i].rstrip()
            elif ch in "'\"`":
                quote = ch
            i += 1
        return line.split(marker, 1)[0].rstrip() if quote else line.rstrip()

    def opens_block(self, line: str) -> bool:
        """Whether ``line`` ends a header: its code ends with :attr:`block_open`."""
        return bool(self.block_open) and self.code_of(line).endswith(self.block_open)

    def is_flat_header(self, line: str) -> bool:
        """Whether ``line``'s code starts with a word of :attr:`flat_blocks` (``namespace boost {``).

        >>> get_language("cpp").layout.is_flat_header("namespace boost"), get_language("c").layout.is_flat_header("x")
        (True, False)
        """
        words = self.code_of(line).split(None, 1)
        return bool(words) and words[0] in self.flat_blocks


def check_table_keys(table: Any, known: Iterable[str], section: str, where: str) -> None:
    """A ``[section]`` of a grammar file must be a table whose keys are all ``known`` (one line otherwise).

    >>> check_table_keys({"a": 1}, ("a", "b"), "x", "g.toml")
    >>> check_table_keys({"c": 1}, ("a",), "x", "g.toml")
    Traceback (most recent call last):
    treediff.errors.GrammarError: g.toml: [x] has unknown keys ['c']; allowed: ['a']
    """
    if not isinstance(table, Mapping):
        raise GrammarError(f"{where}: [{section}] must be a table, not {type(table).__name__}")
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise GrammarError(f"{where}: [{section}] has unknown keys {unknown}; allowed: {sorted(known)}")


_LAYOUT_KEYS = ("line_comment", "block_open", "block_close", "decorator")
_LAYOUT_OPTIONAL = ("flat_blocks",)


def _check_layout(table: Any, where: str) -> Layout:
    if not isinstance(table, dict):
        raise GrammarError(f"{where}: layout must be a table ([layout]), not {type(table).__name__}")
    missing = [k for k in _LAYOUT_KEYS if k not in table]
    unknown = sorted(set(table) - set(_LAYOUT_KEYS) - set(_LAYOUT_OPTIONAL))
    if missing or unknown:
        raise GrammarError(f"{where}: [layout] needs exactly {', '.join(_LAYOUT_KEYS)}"
                           + (f"; missing: {', '.join(missing)}" if missing else "")
                           + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    bad = [k for k in _LAYOUT_KEYS if not isinstance(table[k], str) or table[k] != table[k].strip()]
    if bad:
        raise GrammarError(f"{where}: [layout].{bad[0]} must be a string without surrounding blanks")
    if not table["line_comment"] or not table["block_open"]:
        raise GrammarError(f"{where}: [layout] line_comment and block_open must not be empty")
    flat = table.get("flat_blocks", [])
    if not isinstance(flat, list) or not all(isinstance(w, str) and w.isidentifier() for w in flat):
        raise GrammarError(f"{where}: [layout].flat_blocks must be a list of words, got {flat!r}")
    return Layout(**{k: table[k] for k in _LAYOUT_KEYS}, flat_blocks=tuple(flat))


def grammars_dir() -> Path:
    """Directory holding the ``*.toml`` language files.

    Order: ``$TREEDIFF_GRAMMARS``; the source checkout's top-level ``grammars/``;
    the copy installed inside the wheel as ``treediff/grammars``.
    """
    env = os.environ.get("TREEDIFF_GRAMMARS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent  # .../treediff
    for candidate in (here.parent / "grammars", here / "grammars"):
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
    try:  # installed wheel: package data of the treediff.grammars package
        from importlib.resources import files

        return Path(str(files("treediff.grammars")))
    except (ModuleNotFoundError, TypeError) as exc:  # pragma: no cover - broken install
        raise GrammarError("cannot find the grammars/ data directory; reinstall treediff") from exc


@dataclass(frozen=True, eq=False)
class Language:
    """One language: its tree-sitter grammar plus treediff's data tables.

    >>> lang = get_language("python")
    >>> lang.name, lang.category("if_statement"), lang.filler("expression")
    ('python', 'statement', 'None')
    """

    name: str
    display_name: str
    aliases: tuple[str, ...]
    extensions: tuple[str, ...]
    grammar_module: str
    grammar_function: str
    grammar_package: str
    categories: Mapping[str, frozenset[str]]
    category_order: tuple[str, ...]
    fillers: Mapping[str, str]
    compiler: Mapping[str, Any]
    cfg: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: ``category → program template`` holding :data:`HOLE_MARKER` once: where a hole
    #: of that category sits, so a filled hole can be checked to parse as its category.
    hole_contexts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: How blocks look in the text (``[layout]``).
    layout: Layout = Layout(line_comment="#", block_open=":", block_close="", decorator="")

    # -- the grammar -----------------------------------------------------------------
    @functools.cached_property
    def ts_language(self) -> ts.Language:
        try:
            module = importlib.import_module(self.grammar_module)
        except ImportError as exc:
            raise GrammarError(
                f"language {self.name!r} needs the package {self.grammar_package!r} "
                f"(pip install {self.grammar_package})"
            ) from exc
        return ts.Language(getattr(module, self.grammar_function)())

    @property
    def grammar_version(self) -> str:
        try:
            return importlib.metadata.version(self.grammar_package)
        except importlib.metadata.PackageNotFoundError:
            return "missing"

    def parser(self) -> ts.Parser:
        """A fresh parser for this language (parsers are cheap and not thread-safe)."""
        return ts.Parser(self.ts_language)

    # -- kinds and categories --------------------------------------------------------
    @functools.cached_property
    def kinds(self) -> tuple[str, ...]:
        """Every distinct node kind of the grammar, sorted: the kind table for ML ids."""
        lang = self.ts_language
        names = {lang.node_kind_for_id(i) for i in range(lang.node_kind_count)}
        names.discard(None)
        names.add("ERROR")
        return tuple(sorted(names))

    @functools.cached_property
    def kind_index(self) -> Mapping[str, int]:
        """``kind → id`` over :attr:`kinds`; unknown kinds map to ``len(kinds)``."""
        return MappingProxyType({k: i for i, k in enumerate(self.kinds)})

    @functools.cached_property
    def _primary(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for cat in reversed(self.category_order):  # earlier categories win
            for kind in self.categories.get(cat, ()):
                table[kind] = cat
        return table

    def category(self, kind: str) -> str | None:
        """The primary category of a node kind (``None`` when it has none)."""
        return self._primary.get(kind)

    def categories_of(self, kind: str) -> frozenset[str]:
        """Every category a node kind belongs to."""
        return frozenset(c for c, kinds in self.categories.items() if kind in kinds)

    def is_category(self, kind: str, category: str) -> bool:
        return kind in self.categories.get(category, ())

    def filler(self, category: str) -> str:
        """The minimal valid text for a hole of ``category``."""
        try:
            return self.fillers[category]
        except KeyError:
            choices = ", ".join(sorted(self.fillers))
            raise LanguageNotFound(
                f"{self.name} has no hole category {category!r}; choose one of: {choices}"
            ) from None

    def __repr__(self) -> str:
        return f"Language({self.name!r})"


def _expand_kinds(lang: ts.Language, names: list[str], where: str) -> frozenset[str]:
    """Resolve node kinds and supertypes listed in a grammar file into concrete kinds."""
    supertypes = {lang.node_kind_for_id(s): s for s in lang.supertypes}
    known = {lang.node_kind_for_id(i) for i in range(lang.node_kind_count)}
    out: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in supertypes:
            stack.extend(lang.node_kind_for_id(s) for s in lang.subtypes(supertypes[name]))
        elif name in known:
            out.add(name)
        else:
            raise GrammarError(f"{where}: {name!r} is not a node kind of this grammar")
    return frozenset(out)


def _check_hole_contexts(contexts: Any, fillers: Mapping[str, str], where: str) -> dict[str, str]:
    """``[hole_contexts]`` needs exactly one template per ``[fillers]`` key, each with one marker."""
    if not isinstance(contexts, dict):
        raise GrammarError(f"{where}: hole_contexts must be a table ([hole_contexts]), not {type(contexts).__name__}")
    missing = [c for c in fillers if c not in contexts]
    if missing:
        raise GrammarError(f"{where}: [hole_contexts] is missing: {', '.join(missing)} (one per [fillers] key)")
    unknown = [c for c in contexts if c not in fillers]
    if unknown:
        raise GrammarError(
            f"{where}: [hole_contexts] has entries without a filler: {', '.join(unknown)}; "
            f"choose from: {', '.join(fillers)}"
        )
    for cat, template in contexts.items():
        count = template.count(HOLE_MARKER) if isinstance(template, str) else 0
        if count != 1:
            raise GrammarError(
                f"{where}: [hole_contexts].{cat} must be a string containing {HOLE_MARKER} exactly once "
                f"(found {count})"
            )
    return contexts


def load_language(path: str | os.PathLike[str], *, check_kinds: bool = True) -> Language:
    """Load and validate one grammar data file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise GrammarError(f"{path.name}: cannot read grammar file: {exc}") from exc
    missing = [k for k in _REQUIRED_TOP if k not in data]
    if missing:
        raise GrammarError(f"{path.name}: missing required keys: {', '.join(missing)}")
    name = data["name"]
    grammar = data["grammar"]
    for key in ("module", "package"):
        if key not in grammar:
            raise GrammarError(f"{path.name}: [grammar] needs {key!r}")
    raw_cats = dict(data["categories"])
    order = tuple(raw_cats.pop("order", CATEGORIES))
    missing_cats = [c for c in CATEGORIES if c not in raw_cats]
    if missing_cats:
        raise GrammarError(f"{path.name}: [categories] is missing: {', '.join(missing_cats)}")
    fillers = dict(data["fillers"])
    missing_fill = [c for c in HOLE_CATEGORIES if c not in fillers]
    if missing_fill:
        raise GrammarError(f"{path.name}: [fillers] is missing: {', '.join(missing_fill)}")
    hole_contexts = _check_hole_contexts(data["hole_contexts"], fillers, path.name)
    layout = _check_layout(data["layout"], path.name)
    lang = Language(
        name=name,
        display_name=data.get("display_name", name),
        aliases=tuple(data.get("aliases", ())),
        extensions=tuple(e.lower() for e in data["extensions"]),
        grammar_module=grammar["module"],
        grammar_function=grammar.get("function", "language"),
        grammar_package=grammar["package"],
        categories={},
        category_order=order,
        fillers=MappingProxyType(fillers),
        compiler=MappingProxyType(dict(data["compiler"])),
        cfg=MappingProxyType(dict(data["cfg"])),
        extra=MappingProxyType({k: v for k, v in data.items() if k not in _REQUIRED_TOP}),
        path=path,
        hole_contexts=MappingProxyType(hole_contexts),
        layout=layout,
    )
    if check_kinds:
        tsl = lang.ts_language
        cats = {
            cat: _expand_kinds(tsl, list(kinds), f"{path.name} [categories].{cat}")
            for cat, kinds in raw_cats.items()
        }
        _check_named_keywords(data.get("keywords", {}), tsl, path.name)
    else:
        cats = {cat: frozenset(kinds) for cat, kinds in raw_cats.items()}
    object.__setattr__(lang, "categories", MappingProxyType(cats))
    return lang


def _check_named_keywords(table: Any, tsl: ts.Language, where: str) -> None:
    """``[keywords] named``: a list of words, each a named node kind of the grammar (``this``, ``nil``);
    ``[keywords] hollow``: words that make no code alone (``return``, ``pass``; :mod:`treediff.syntax.hollow`)."""
    check_table_keys(table, ("named", "hollow"), "keywords", where)
    for key in ("named", "hollow"):
        words = table.get(key, [])
        if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
            raise GrammarError(f"{where}: [keywords] {key} must be a list of words")
    words = table.get("named", [])
    kinds = {tsl.node_kind_for_id(i) for i in range(tsl.node_kind_count) if tsl.node_kind_is_named(i)}
    unknown = [w for w in words if w not in kinds]
    if unknown:
        raise GrammarError(f"{where}: [keywords] named lists {unknown}, which are no named node kinds of this grammar")


@functools.lru_cache(maxsize=None)
def _all_languages(directory: str) -> tuple[Language, ...]:
    files = sorted(Path(directory).glob("*.toml"))
    if not files:
        raise GrammarError(f"no grammar files in {directory}")
    return tuple(load_language(f) for f in files)


def list_languages() -> list[Language]:
    """Every language declared in ``grammars/``, sorted by name."""
    return list(_all_languages(str(grammars_dir())))


@functools.lru_cache(maxsize=None)
def _lookup(directory: str) -> tuple[dict[str, Language], dict[str, Language]]:
    by_name: dict[str, Language] = {}
    by_ext: dict[str, Language] = {}
    for lang in _all_languages(directory):
        for key in (lang.name, *lang.aliases):
            by_name[normalize_name(key)] = lang
        for ext in lang.extensions:
            by_ext.setdefault(ext, lang)
    return by_name, by_ext


def get_language(name: str | Language) -> Language:
    """Resolve a language name or alias (``"py"``, ``"TypeScript"``) to a :class:`Language`."""
    if isinstance(name, Language):
        return name
    by_name, _ = _lookup(str(grammars_dir()))
    key = normalize_name(str(name))
    if key in by_name:
        return by_name[key]
    choices = ", ".join(sorted(lang.name for lang in list_languages()))
    raise LanguageNotFound(f"unknown language {name!r}; choose one of: {choices}")


def detect_language(path: str | os.PathLike[str]) -> Language:
    """The language of a file, from its extension."""
    _, by_ext = _lookup(str(grammars_dir()))
    suffix = Path(path).suffix.lower()
    if suffix in by_ext:
        return by_ext[suffix]
    known = ", ".join(sorted(by_ext))
    raise LanguageNotFound(
        f"cannot detect the language of {str(path)!r} (extension {suffix or 'none'!r}); "
        f"pass --lang, or use one of: {known}"
    )


def resolve_language(language: str | Language | None = None, path: str | os.PathLike[str] | None = None, *,
                     missing: str = "give a language (language='python') or a path to detect it from") -> Language:
    """The language named by ``language``, else the one of ``path``'s extension; ``InputError(missing)`` with
    neither.  The one place that reads "the language from the argument, or from the path".

    >>> resolve_language(None, "a.rs").name, resolve_language("py", "a.rs").name
    ('rust', 'python')
    """
    if language is not None:
        return get_language(language)
    if path is not None:
        return detect_language(path)
    raise InputError(missing)


def clear_language_cache() -> None:
    """Forget the languages read so far (after ``TREEDIFF_GRAMMARS`` or a grammar file changed)."""
    _all_languages.cache_clear()
    _lookup.cache_clear()
