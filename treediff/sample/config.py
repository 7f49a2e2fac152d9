"""The sampler's settings: one frozen dataclass, validated at construction.

>>> SamplerConfig(order="margin", threshold=0.9).to_dict()["order"]
'margin'
>>> SamplerConfig(constraint="strict")
Traceback (most recent call last):
...
treediff.errors.ConfigError: constraint must be one of none, grammar, remask, full; got 'strict'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from treediff.errors import ConfigError

__all__ = ["CONSTRAINTS", "ORDERS", "REMASK_REGIONS", "SamplerConfig", "MAX_TOKENS"]

#: ``none``: plain diffusion decoding; ``grammar``: incremental grammar check at commit time;
#: ``remask``: compiler remasking after each block and at the end; ``full``: both, plus typed fallback.
CONSTRAINTS = ("none", "grammar", "remask", "full")
#: How a remasking round picks the region around a compiler error: ``smallest`` = the smallest
#: enclosing statement or expression (widened each round); ``cfg`` = the error's basic block and
#: the statements that flow into it (``syntax.cfg_flow.cfg_region``), widened the same way after.
REMASK_REGIONS = ("smallest", "cfg")
ORDERS = ("random", "low_confidence", "margin", "entropy", "left_to_right")
#: Hard cap on generated tokens per request; longer requests are cut to it with a warning.
MAX_TOKENS = 4096


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class SamplerConfig:
    """How to decode.

    * ``steps``: denoising steps for the whole generation (``None``: one token per step);
    * ``block_size``: semi-autoregressive block length in tokens (``0``: one block);
    * ``order``: which masked positions are committed first (:data:`ORDERS`);
    * ``threshold``: confidence-threshold parallel decoding (Fast-dLLM): commit every position
      whose confidence is at least this, at least one per step; ``steps`` is then an upper bound;
    * ``temperature`` (0 = greedy) and ``top_p`` for the token proposals;
    * ``constraint``: :data:`CONSTRAINTS`; ``max_rounds``: compiler-remasking rounds K;
      ``remask_temperature``: the least temperature of a remasking round (greedy decoding would
      write the same error again; seeded, so runs repeat; ``None``: the run's own temperature);
      ``remask_region``: :data:`REMASK_REGIONS`, how a round picks what to remask;
      ``remask_parallel``: tokens committed per step when remasked regions are decoded again (a
      block's redo and the remasking rounds); ``remask_samples``: fills a remasking round decodes for its
      regions in one batch; the first to pass the check (tree-sitter first, then the compiler), in the
      order of the denoiser's score, is kept (1 = one fill per round); ``context_drafts``: fragments of the
      program itself (:mod:`treediff.sample.context`) a round tries beside those, ranked by the same score (a
      kept one is counted: ``num_context_regions``; 0 = off); ``context_sweep``: after the last round, this many
      fragments (the nearest) each checked in turn, best score first, the first that passes kept (0 = off);
    * ``num_candidates``: tokens tried per grammar-checked commit before the position is left masked;
    * ``extra_steps``: with the grammar guard, a block may take this fraction of its step budget more
      to redo positions the guard sent back (0 keeps NFE equal to unconstrained decoding);
    * ``close_horizon``: in the last this many generated positions the grammar guard prefers tokens after
      which the program can still be closed in the positions left (0 = off);
    * ``fallback``: fill a region still invalid after K rounds with its category's minimal filler
      (always counted in the record); only applies with ``constraint`` ``remask`` or ``full``;
    * ``allow_deletions``: accept a repair that removes more than a few lines of the user's code (by default
      such a result is not ``ok``: its record says why and the code is left as given);
    * ``edit_attempts``: :func:`~treediff.repair` first tries up to this many point edits (insertions and
      single-unit replacements at the parser's failure point) before it remasks whole statements (0 = off);
    * ``max_new_tokens``: generated tokens per synthesis sample; ``hole_tokens``: default hole
      length per category (the model shortens a hole with ``<|endofhole|>``);
    * ``use_cache``: the block KV cache (Fast-dLLM): for our own model the dual cache, a block's later steps
      recomputing only its window of positions (``"auto"``: on, on every device); for an external family the
      prefix cache (``"auto"``: on CUDA only); ``"off"`` for exact, uncached logits;
    * ``batch_size``: specs :func:`~treediff.synth` decodes together in one batch (padded, one guard and
      one generator per spec, so every spec gets the program it gets alone);
    * ``nonempty_holes``: a hole's first token is neither whitespace nor end-of-hole (a hole made from a syntax
      node, or a stub's body, starts at its first character; an empty fill is no answer); repair turns it
      off, since deleting a region can be its fix;
    * ``prior_weight``: weight of the model bundle's corpus n-gram prior in a product of experts with the
      denoiser (:mod:`treediff.sample.prior`; ``None``: the bundle's own default, 0 = off; models without a
      prior ignore it);
    * ``closed_holes``: a hole's fill closes no bracket that was open where the hole starts (``}`` in a statement
      hole would end the function around it; the tree-sitter guard refuses such a token and takes the model's next
      candidate); repair turns it off, since restoring a deleted closer can be its fix;
    * ``glued_keywords``: the guard refuses a token that glues a word onto a keyword (``return`` + ``1``, ``this``
      + ``return``) unless the word starts a word of the program's fixed text or a keyword (the syntax-aligned
      tokenizer writes ``returnValue`` as ``return`` + ``Value``);
    * ``substantive_holes``: a statement or block fill that holds no code (:mod:`treediff.syntax.hollow`: only
      comments, brackets, ``return;``, ``pass``) is no answer, like an empty one: the hole is decoded again, and
      ends as its category's filler, counted as fallback; repair turns it off, since deleting can be its fix;
    * ``tidy_spaces``: two space tokens never touch in a decoded row (:mod:`treediff.sample.spacing`; our own
      tokenizer writes a run of spaces as one token);
    * ``seed``, ``device`` (``auto|cpu|cuda``).
    """

    steps: int | None = None
    block_size: int = 32
    order: str = "low_confidence"
    threshold: float | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    constraint: str = "full"
    max_rounds: int = 3
    remask_temperature: float | None = 0.7
    remask_parallel: int = 4
    remask_region: str = "smallest"
    remask_samples: int = 4
    context_drafts: int = 4
    context_sweep: int = 32
    num_candidates: int = 16
    extra_steps: float = 0.0
    close_horizon: int = 16
    fallback: bool = True
    edit_attempts: int = 6
    allow_deletions: bool = False
    max_new_tokens: int = 128
    hole_tokens: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: {"expression": 16, "statement": 24, "block": 48, "identifier": 4, "literal": 6}
    )
    use_cache: str = "auto"
    batch_size: int = 1
    seed: int = 0
    device: str = "auto"
    prior_weight: float | None = None
    nonempty_holes: bool = True
    closed_holes: bool = True
    glued_keywords: bool = True
    substantive_holes: bool = True
    tidy_spaces: bool = True

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> None:
            raise ConfigError(f"{name} {why}; got {getattr(self, name)!r}")

        if self.steps is not None and not (_is_int(self.steps) and self.steps >= 1):
            bad("steps", "must be None or an int >= 1")
        if not (_is_int(self.block_size) and self.block_size >= 0):
            bad("block_size", "must be an int >= 0 (0 = one block)")
        if self.order not in ORDERS:
            bad("order", f"must be one of {', '.join(ORDERS)}")
        if self.threshold is not None and not (isinstance(self.threshold, (int, float)) and 0.0 < self.threshold <= 1.0):
            bad("threshold", "must be None or in (0, 1]")
        if not (isinstance(self.temperature, (int, float)) and self.temperature >= 0.0):
            bad("temperature", "must be >= 0")
        if not (isinstance(self.top_p, (int, float)) and 0.0 < self.top_p <= 1.0):
            bad("top_p", "must be in (0, 1]")
        if self.constraint not in CONSTRAINTS:
            bad("constraint", f"must be one of {', '.join(CONSTRAINTS)}")
        if not (_is_int(self.max_rounds) and 0 <= self.max_rounds <= 100):
            bad("max_rounds", "must be an int in [0, 100]")
        if self.remask_temperature is not None and not (
                isinstance(self.remask_temperature, (int, float)) and self.remask_temperature >= 0.0):
            bad("remask_temperature", "must be None or >= 0")
        if self.remask_region not in REMASK_REGIONS:
            bad("remask_region", f"must be one of {', '.join(REMASK_REGIONS)}")
        if not (_is_int(self.remask_parallel) and 1 <= self.remask_parallel <= 64):
            bad("remask_parallel", "must be an int in [1, 64]")
        if not (_is_int(self.remask_samples) and 1 <= self.remask_samples <= 64):
            bad("remask_samples", "must be an int in [1, 64]")
        if not (_is_int(self.context_drafts) and 0 <= self.context_drafts <= 64):
            bad("context_drafts", "must be an int in [0, 64]")
        if not (_is_int(self.context_sweep) and 0 <= self.context_sweep <= 64):
            bad("context_sweep", "must be an int in [0, 64]")
        if not (_is_int(self.num_candidates) and 1 <= self.num_candidates <= 4096):
            bad("num_candidates", "must be an int in [1, 4096]")
        if not (isinstance(self.extra_steps, (int, float)) and 0.0 <= self.extra_steps <= 10.0):
            bad("extra_steps", "must be in [0, 10]")
        if not (_is_int(self.close_horizon) and self.close_horizon >= 0):
            bad("close_horizon", "must be an int >= 0")
        if not (_is_int(self.edit_attempts) and 0 <= self.edit_attempts <= 16):
            bad("edit_attempts", "must be an int in [0, 16]")
        if not (_is_int(self.max_new_tokens) and self.max_new_tokens >= 1):
            bad("max_new_tokens", "must be an int >= 1")
        if not all(isinstance(k, str) and _is_int(v) and v >= 1 for k, v in dict(self.hole_tokens).items()):
            bad("hole_tokens", "must map category names to ints >= 1")
        if self.use_cache not in ("auto", "on", "off"):
            bad("use_cache", "must be one of auto, on, off")
        if not (_is_int(self.batch_size) and 1 <= self.batch_size <= 1024):
            bad("batch_size", "must be an int in [1, 1024]")
        for flag in ("closed_holes", "glued_keywords", "substantive_holes"):
            if not isinstance(getattr(self, flag), bool):
                bad(flag, "must be true or false")
        if not _is_int(self.seed):
            bad("seed", "must be an int")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            bad("device", "must be auto, cpu, cuda or cuda:N")
        if self.prior_weight is not None and not (
                isinstance(self.prior_weight, (int, float)) and 0.0 <= self.prior_weight <= 10.0):
            bad("prior_weight", "must be None or in [0, 10]")
        object.__setattr__(self, "hole_tokens", dict(self.hole_tokens))

    @property
    def uses_grammar(self) -> bool:
        return self.constraint in ("grammar", "full")

    @property
    def uses_remask(self) -> bool:
        return self.constraint in ("remask", "full")

    def replace(self, **changes: Any) -> "SamplerConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SamplerConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown sampler setting {unknown[0]!r}; allowed: {', '.join(sorted(names))}")
        return cls(**dict(data))
