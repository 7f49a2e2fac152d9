"""The validity record every generated program carries, and the result types of the library calls."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from treediff.validity.check import ValidityResult

__all__ = ["ValidityRecord", "HoleFill", "FillResult", "summed"]


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
      the fill parses as its declared category in context.
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
    problems: tuple[str, ...] = ()
    categories_ok: tuple[bool, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["problems"] = list(self.problems)
        d["categories_ok"] = list(self.categories_ok)
        extra = d.pop("extra")
        d.update(extra)
        return d


@dataclass(frozen=True)
class HoleFill:
    """One filled hole: its ``index``, declared ``category``, the ``text`` put there, its byte ``span`` in
    the result's code, and ``category_ok`` (the text parses as that category in context)."""

    index: int
    category: str
    text: str
    span: tuple[int, int]
    category_ok: bool

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

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, **self.record.to_dict(), "holes": [h.to_dict() for h in self.holes]}


def summed(records) -> dict[str, Any]:
    """The counters of several decoding passes added up (``nfe``, ``num_rejected``, ``num_dropped``,
    ``num_forced``, ``num_fallback_regions``), for a record that reports them all."""
    records = list(records)
    names = ("nfe", "num_rejected", "num_dropped", "num_forced", "num_fallback_regions")
    return {name: sum(getattr(r, name) for r in records) for name in names}
