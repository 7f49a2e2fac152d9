"""The validity record every generated program carries, and the result types of the library calls."""

from __future__ import annotations

import functools
import os
import re
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import treediff.validity as validity
from treediff.syntax.keywords import glued_keyword, glued_names
from treediff.syntax.language import resolve_language
from treediff.validity.check import Problem, ValidityResult
from treediff.validity.compilers import compiler_spec

__all__ = ["ValidityRecord", "HoleFill", "FillResult", "GivenCode", "given_code", "summed", "check", "verdict_fields"]


def check(code: str | bytes, language: str, *, path: str | os.PathLike[str] | None = None,
          given: str | bytes | None = None) -> ValidityResult:
    """The sampler's validity check: :func:`treediff.validity.check` with the compiler's ``unresolved``
    problems set aside (``allow_unresolved=True``).  A package, header or crate that the code refers to
    but this machine lacks is no edit's to supply: repair and infill of real files leave such
    references alone, and the record lists them (``ValidityRecord.unresolved``).

    With ``given`` (the code the user gave: the file to repair, the template to fill), only the
    references made of names that ``given`` uses are set aside; one to a name the model made up is a
    problem like any other, remasked and, failing that, replaced by the typed fallback.

    >>> src = "import java.util.List;\\nimport com.foo.Bar;\\n\\nclass A {\\n    Bar b;\\n}\\n"
    >>> v = check(src, "java", given=src)
    >>> v.ok or v.level == "tree-sitter"  # com.foo is no package here: set aside (javac, when present)
    True
    >>> made_up = src.replace("com.foo.Bar", "com.foo.Baz")
    >>> v = check(made_up, "java", given=src)
    >>> v.ok if v.level != "tree-sitter" else False  # Baz is a name the given code never uses
    False
    """
    verdict = _checked(code, language, path)
    if isinstance(given, GivenCode) and verdict.verdict == "invalid" and given.preexisting:
        verdict = _set_aside(verdict, code, given.preexisting)
    if given is None or not verdict.unresolved:
        return verdict
    text = given.decode("utf-8", "replace") if isinstance(given, bytes) else given
    glued, parts = _glued(text, verdict.language)
    names = (set(_NAME.findall(text)) - glued) | parts
    data = code.encode("utf-8") if isinstance(code, str) else code
    made_up = tuple(p for p in verdict.unresolved if not set(_NAME.findall(_reference(data, p))) <= names
                    or _literal(data, p) not in text)
    if not made_up:
        return verdict
    return replace(verdict, ok=False, problems=verdict.problems + made_up,
                   unresolved=tuple(p for p in verdict.unresolved if p not in made_up))


class GivenCode(str):
    """The code the user gave (an infill template's text, its holes holding their original text), with the
    problems its own check finds outside the holes: ``preexisting``, a count per ``(message, the text before it
    on its line)``, worked out on first need (a fill that passes costs no check of the given code).

    A real file often fails a check of itself alone: a Go or Rust file of a package uses names its sibling
    files declare, a Java class extends one of its package.  Those problems are the file's, not a fill's:
    :func:`check` with such a ``given`` sets aside each problem of a filled program that the given code
    had too (the same message, after the same text on its line, outside the holes, as often as it had it),
    into ``ValidityResult.preexisting``.  A problem the fill adds, or one inside a hole, stays; a given
    program with ``_MAX_PREEXISTING`` problems or more sets nothing aside.

    ``damaged=True`` (repair: the given code is what is broken) takes the baseline only where the given code
    does not parse, from a copy with its damaged lines (at most ``_MAX_DAMAGED_LINES``) blanked (else replaced
    by the brackets they leave open or close), and only problems about one name that a file may have of its
    own (``[compiler] name_problems``: Go's ``undefined: FS``, a name a sibling file of the package declares;
    an import the file does not use) that the damaged lines do not mention: a slip's syntax error hides the
    type errors behind it, so the file's own are never seen otherwise, and every repair would fail on them."""

    def __new__(cls, text: str, language: str, holes: tuple[tuple[int, int], ...],
                damaged: bool = False) -> "GivenCode":
        obj = super().__new__(cls, text)
        obj._preexisting, obj._language, obj._holes, obj._damaged = None, language, tuple(holes), damaged
        return obj

    def __getnewargs__(self) -> tuple:  # (a copy or a pickle keeps the language, the holes and the mode)
        return str(self), self._language, self._holes, self._damaged

    @property
    def preexisting(self) -> Counter:
        if self._preexisting is None:
            baseline = _damaged_baseline if self._damaged else _baseline
            self._preexisting = baseline(str(self), self._language, self._holes)
        return self._preexisting


#: A given program with this many problems or more gets no baseline: a compiler that stops after a number of
#: errors (javac's 100) could hide a fill's own behind them (Go runs with `-gcflags=-e`: every error).
_MAX_PREEXISTING = 50


_WORD = re.compile(rb"[\w$]*")  # the name a problem starts at


def _key(data: bytes, p: Problem) -> tuple[str, bytes]:
    """A problem as the text sees it: its message and its line up to the end of the name it starts at (a hole
    later on the line, a block's body after its header, leaves that text alone)."""
    at = min(max(p.start_byte, 0), len(data))
    word = _WORD.match(data, at)
    return p.message, data[data.rfind(b"\n", 0, at) + 1: word.end()].strip()


def given_code(source: str | bytes, language: str, holes) -> GivenCode:
    """``source``, a template whose ``holes`` hold their original text, as a :class:`GivenCode`."""
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    return GivenCode(text, language, tuple((h.start, h.end) for h in holes))


def _baseline(text: str, language: str, holes: tuple[tuple[int, int], ...]) -> Counter:
    data = text.encode("utf-8")
    verdict = check(data, language, given=text)
    if verdict.ok or verdict.verdict != "invalid" or len(verdict.problems) >= _MAX_PREEXISTING:
        return Counter()
    return Counter(_key(data, p) for p in verdict.problems if not any(a <= p.start_byte <= b for a, b in holes))


_SYNTAX = ("ts_error", "ts_missing")  # the problem kinds of a text that does not parse

#: A repair's given code with more damaged lines than this gets no baseline (blanking them changes too much).
_MAX_DAMAGED_LINES = 3


def _damaged_baseline(text: str, language: str, holes: tuple[tuple[int, int], ...]) -> Counter:
    """:class:`GivenCode`'s baseline with ``damaged``: see there."""
    spec = compiler_spec(resolve_language(language))
    if spec is None or not spec.name_problems:
        return Counter()
    damaged = {n for p in check(text, language).problems if p.kind in _SYNTAX
               for n in range(p.start_line, p.end_line + 1)}
    if not damaged or len(damaged) > _MAX_DAMAGED_LINES:
        return Counter()
    lines = text.splitlines(keepends=True)
    mentioned = set(_NAME.findall("".join(lines[n - 1] for n in damaged if n <= len(lines))))
    for stand_in in (lambda line: "\n", _brackets_left):  # blank, else keep the brackets the line leaves open
        blanked = "".join(stand_in(line) if n in damaged else line for n, line in enumerate(lines, 1))
        after = check(blanked, language)
        if not any(p.kind in _SYNTAX for p in after.problems):
            break
    else:
        return Counter()
    if after.verdict != "invalid" or len(after.problems) >= _MAX_PREEXISTING:
        return Counter()
    data = blanked.encode("utf-8")
    return Counter(_key(data, p) for p in after.problems
                   if spec.problem_name(p.message) not in (None, *mentioned)
                   and not any(a <= p.start_byte <= b for a, b in holes))


_PAIRS = {")": "(", "]": "[", "}": "{"}


def _brackets_left(line: str) -> str:
    r"""What stands for a damaged line: the brackets it leaves open or closes from before, one a line (``for _ s :=
    range he {`` -> ``{``: a bare block keeps the lines after it in their place).

    >>> _brackets_left("} else if x) {\n"), _brackets_left("x := f(a, b)\n")
    ('}\n)\n{\n', '\n')
    """
    left: list[str] = []
    for ch in line:
        if ch in "([{":
            left.append(ch)
        elif ch in _PAIRS:
            if left and left[-1] == _PAIRS[ch]:
                left.pop()
            else:
                left.append(ch)
    return "".join(ch + "\n" for ch in left) or "\n"


def _set_aside(verdict: ValidityResult, code: str | bytes, preexisting: Counter) -> ValidityResult:
    data = code.encode("utf-8") if isinstance(code, str) else bytes(code)
    left, old, problems = Counter(preexisting), [], []
    for p in verdict.problems:
        key = _key(data, p)
        if left[key] > 0:
            left[key] -= 1
            old.append(p)
        else:
            problems.append(p)
    if not old:
        return verdict
    return replace(verdict, ok=not problems, problems=tuple(problems), preexisting=verdict.preexisting + tuple(old))


@functools.lru_cache(maxsize=8)
def _glued(given: str, language: str) -> tuple[frozenset[str], frozenset[str]]:
    """The words of ``given`` a slip may have glued out of a name and a keyword (never set aside), and their
    parts (the given code's names, as if written apart)."""
    words = glued_names(given, language)
    return words, frozenset(part for w in words for split in glued_keyword(w, language) for part in split)


#: Verdicts of programs already checked, by (language, the compiler binary found, path, source): remasking rounds
#: and the typed fallback often produce a program again (a region decoded to the same text, a filler list shorter than
#: the tries), and a compiler gives the same verdict on the same file; "unknown" verdicts (timeouts, limits) are not
#: kept.
_VERDICTS: OrderedDict[tuple, ValidityResult] = OrderedDict()
_MAX_VERDICTS = 256


def _checked(code: str | bytes, language: str, path: str | os.PathLike[str] | None) -> ValidityResult:
    """:func:`treediff.validity.check` with ``allow_unresolved``, remembered for the last ``_MAX_VERDICTS`` programs."""
    data = code.encode("utf-8", "surrogatepass") if isinstance(code, str) else bytes(code)
    lang = resolve_language(language, path)
    spec = compiler_spec(lang)
    key = (lang.name, spec.binary_path() if spec is not None else None, None if path is None else str(path), data)
    verdict = _VERDICTS.get(key)
    if verdict is not None:
        _VERDICTS.move_to_end(key)
        return verdict
    verdict = validity.check(code, language, path=path, allow_unresolved=True)
    if verdict.verdict != "unknown":
        _VERDICTS[key] = verdict
        while len(_VERDICTS) > _MAX_VERDICTS:
            _VERDICTS.popitem(last=False)
    return verdict


check.cache_clear = _VERDICTS.clear  # as functools.lru_cache names it: benchmarks start each arm afresh

_NAME = re.compile(r"[^\W\d][\w$]*")  # an identifier
_DOTTED = re.compile(rb"[\w$.:]*")


def _reference(data: bytes, problem: Problem) -> str:
    """What an ``unresolved`` problem refers to: the dotted name at its span (``com.foo.Bar``,
    ``std::fs``), else its line (``#include "nowhere.h"``, where the compiler points at the ``#``)."""
    a = min(max(problem.start_byte, 0), len(data))
    start = a
    while start > 0 and _DOTTED.fullmatch(data[start - 1:start]):
        start -= 1
    name = data[start:a] + _DOTTED.match(data, a).group()
    if not _NAME.search(name.decode("utf-8", "replace")):
        line = data.rfind(b"\n", 0, a) + 1
        end = data.find(b"\n", a)
        name = data[line:len(data) if end < 0 else end]
    return name.decode("utf-8", "replace")


_QUOTES = {ord('"'): b'"', ord("'"): b"'", ord("`"): b"`", ord("<"): b">"}


def _literal(data: bytes, problem: Problem) -> str:
    """The quoted path an ``unresolved`` problem points at (Go's ``".bytes"``, TypeScript's ``'./x'``), else ``""``:
    an import path must be one the given code has, word for word (a repair that turned ``"bytes"`` into the
    relative ``".bytes"``, which the go command stops at, made that reference up)."""
    a = min(max(problem.start_byte, 0), len(data))
    close = _QUOTES.get(data[a]) if a < len(data) else None
    end = data.find(close, a + 1) if close else -1
    if end < 0 or b"\n" in data[a:end]:
        return ""
    return data[a:end + 1].decode("utf-8", "replace")


def verdict_fields(verdict: ValidityResult) -> dict[str, Any]:
    """The record fields read from the final check: ``ok``, ``level``, ``problems``, ``unresolved``,
    ``preexisting``."""
    return {"ok": verdict.ok, "level": verdict.level, "problems": tuple(p.message for p in verdict.problems),
            "unresolved": tuple(p.message for p in verdict.unresolved),
            "preexisting": tuple(p.message for p in verdict.preexisting)}


@dataclass(frozen=True)
class ValidityRecord:
    """How a program's validity was reached, honestly.

    * ``ok``: the final program passed the check at ``level`` (``compiler:<name>`` or ``tree-sitter``);
    * ``rounds``: compiler-remasking rounds run; ``fallback``: a region was replaced by its
      category's minimal filler (``num_fallback_regions`` of them) — never hidden;
    * ``nfe``: model forward passes; ``seconds``: wall time; ``constraint``: the mode used;
    * ``num_rejected``: commits the grammar refused (for a batch of samples, each sample's even share of
      the batch's first decoding pass, plus its own remask rounds); ``num_dropped``: positions left empty because no
      candidate was viable; ``num_forced``: tokens the grammar's closing text supplied at the end of a
      budget when none of the model's candidates could close the program; ``grammar``: whether an
      incremental grammar was used (``False`` when the language has none, even if asked for);
    * ``problems``: the final check's messages (empty when ``ok``); ``categories_ok``: per hole, whether
      the fill parses as its declared category in context;
    * ``num_context_regions``: regions the remasking rounds filled with a fragment copied from elsewhere in the
      program (:mod:`treediff.sample.context`), not written by the model — never hidden;
    * ``unresolved``: the compiler's errors that only the code's environment can resolve (an import,
      header or crate this machine lacks; the language's ``[compiler] unresolved`` patterns).  They do
      not count against ``ok``: the program passed everything else at ``level``.  A compiler that stops
      at one (gcc at a missing header) checked nothing after it, and only tree-sitter did.
    * ``preexisting``: problems the code the user gave already had (the same message on an unchanged line:
      a name its package's other files declare), set aside like ``unresolved`` (:class:`GivenCode`);
    * ``reason``: why a result that would have passed the check is not ``ok`` (a repair that removes more
      than a few lines of the user's code; ``allow_deletions`` accepts it), else ``""``.
    """

    ok: bool
    level: str
    rounds: int
    fallback: bool
    nfe: int
    seconds: float
    constraint: str
    grammar: bool = False
    num_rejected: int = 0
    num_dropped: int = 0
    num_forced: int = 0
    num_fallback_regions: int = 0
    num_context_regions: int = 0
    problems: tuple[str, ...] = ()
    categories_ok: tuple[bool, ...] = ()
    unresolved: tuple[str, ...] = ()
    preexisting: tuple[str, ...] = ()
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["problems"] = list(self.problems)
        d["categories_ok"] = list(self.categories_ok)
        d["unresolved"] = list(self.unresolved)
        d["preexisting"] = list(self.preexisting)
        extra = d.pop("extra")
        d.update(extra)
        return d


@dataclass(frozen=True)
class HoleFill:
    """One filled hole: its ``index``, declared ``category``, the ``text`` put there, its byte ``span`` in
    the result's code, ``category_ok`` (the text parses as that category in context) and ``hollow``: a
    statement or block fill that holds no code (only comments, brackets, ``return;``, ``pass``:
    :mod:`treediff.syntax.hollow`), which a report should not count as written."""

    index: int
    category: str
    text: str
    span: tuple[int, int]
    category_ok: bool
    hollow: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FillResult:
    """``code`` (the whole program), its :class:`ValidityRecord`, the filled holes, and ``verdict``: the
    final :class:`~treediff.validity.ValidityResult` the record was read from (reports reuse it)."""

    code: str
    record: ValidityRecord
    holes: tuple[HoleFill, ...] = ()
    verdict: ValidityResult | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.record.ok

    @property
    def hollow(self) -> bool:
        """A hole's fill holds no code (:attr:`HoleFill.hollow`)."""
        return any(h.hollow for h in self.holes)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, **self.record.to_dict(), "holes": [h.to_dict() for h in self.holes]}


def summed(records) -> dict[str, Any]:
    """The counters of several decoding passes added up (``nfe``, ``num_rejected``, ``num_dropped``,
    ``num_forced``, ``num_fallback_regions``, ``num_context_regions``), for a record that reports them all."""
    records = list(records)
    names = ("nfe", "num_rejected", "num_dropped", "num_forced", "num_fallback_regions", "num_context_regions")
    return {name: sum(getattr(r, name) for r in records) for name in names}
