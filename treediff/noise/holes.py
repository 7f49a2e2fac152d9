"""Variable-length holes (DreamOn-style) on top of AST-span masking.

At inference an infilling hole rarely has the right length, so the model must
learn both to *close* a hole that is too long and to *keep writing* in one that
is too short.  For a fraction ``hole_fraction`` of the samples, one whole masked
AST span ``[s, e)`` of length ``n`` (chosen uniformly among the maximal accepted
spans of :class:`~treediff.noise.ast_span.AstSpanMasker` that hold only maskable
tokens) is replaced by a mask region of length ``m ≠ n``, with ``d ~ U{1..max_delta}``:

* **expand** (probability ``1 − shrink_prob``): ``m = n + d``.  Targets: the span's
  ``n`` tokens, then ``d`` × ``<|endofhole|>``.  A sampler deletes the positions
  predicted as ``<|endofhole|>``.
* **shrink** (probability ``shrink_prob``, spans with ``n > 1``): ``m = max(1, n − d)``.
  Targets: the span's first ``m`` tokens (truncated); the rest of the span is cut
  out of the sequence.  No ``<|endofhole|>`` appears, which is the signal that the
  hole is still open: a sampler appends masks to a hole whose region did not end
  with ``<|endofhole|>``.

Every position of the region is predicted.  Sequence lengths change, so all
``[B, L]`` tensors are rebuilt and right-padded to the new longest row with
``attention_mask`` ``False`` on the padding; ``hole_spans`` records
``(start, region_len, span_len)`` and :func:`source_index` maps new positions back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from treediff.errors import ConfigError
from treediff.noise.ast_span import AstSpanMasker, AstSpanMaskerConfig
from treediff.noise.base import MaskedBatch, Masker, MaskerConfig, require, check_t, rand, register_masker
from treediff.noise.schedules import build_schedule
from treediff.tokens.batch import AlignedBatch

__all__ = ["HoleMaskerConfig", "HoleMasker", "source_index"]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_fraction(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


@dataclass(frozen=True)
class HoleMaskerConfig(MaskerConfig):
    """Settings of :class:`HoleMasker`.

    * ``ast_span``: the wrapped :class:`AstSpanMaskerConfig` (or its dict);
    * ``hole_fraction``: share of samples that get a variable-length hole, in ``[0, 1]``;
    * ``max_delta``: largest length change ``d ≥ 1``; ``shrink_prob``: probability of shrinking;
    * ``end_of_hole_id`` / ``pad_id``: token ids (may instead be passed to the call).
    """

    masker = "holes"
    ast_span: AstSpanMaskerConfig = field(default_factory=AstSpanMaskerConfig)
    hole_fraction: float = 0.5
    max_delta: int = 8
    shrink_prob: float = 0.3
    end_of_hole_id: int | None = None
    pad_id: int | None = None

    def __post_init__(self) -> None:
        inner = self.ast_span
        if isinstance(inner, Mapping):
            try:
                inner = AstSpanMaskerConfig.from_dict(inner)
            except ConfigError as exc:
                raise ConfigError(f"ast_span.{exc}") from None
            object.__setattr__(self, "ast_span", inner)
        require(isinstance(inner, AstSpanMaskerConfig), "ast_span", f"must be an AstSpanMaskerConfig, got {inner!r}")
        require(_is_fraction(self.hole_fraction), "hole_fraction", f"must be in [0, 1], got {self.hole_fraction!r}")
        require(_is_int(self.max_delta) and self.max_delta >= 1, "max_delta", f"must be an int >= 1, got {self.max_delta!r}")
        require(_is_fraction(self.shrink_prob), "shrink_prob", f"must be in [0, 1], got {self.shrink_prob!r}")
        for name in ("end_of_hole_id", "pad_id"):
            value = getattr(self, name)
            require(value is None or (_is_int(value) and value >= 0), name, f"must be None or an int >= 0, got {value!r}")

    @property
    def max_growth(self) -> int:
        """An expanded hole adds up to ``max_delta`` tokens to a window (none when no sample gets a hole)."""
        return self.max_delta if self.hole_fraction > 0 else 0


def _maximal(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans not strictly inside another one of the list (sorted by start)."""
    spans = sorted(set(spans), key=lambda se: (se[0], -se[1]))
    out: list[tuple[int, int]] = []
    reach = -1
    for s, e in spans:
        if e <= reach:
            continue
        out.append((s, e))
        reach = e
    return out


def _splice(row: torch.Tensor, start: int, end: int, insert: torch.Tensor) -> torch.Tensor:
    return torch.cat([row[:start], insert.to(row.dtype), row[end:]])


@register_masker
class HoleMasker(Masker):
    """AST-span masking where some samples get one hole of the wrong length (see the module docstring).

    >>> import torch
    >>> from treediff.noise.testing import batch_from_sources
    >>> batch = batch_from_sources(["y = g(a, b) + 1\\n"], "python")
    >>> masker = HoleMasker(hole_fraction=1.0, shrink_prob=0.0, end_of_hole_id=4)
    >>> out = masker(batch, torch.tensor([0.5]), torch.Generator().manual_seed(0), mask_id=3)
    >>> start, region, span = out.hole_spans[0].tolist()
    >>> region > span and out.targets[0, start + span:start + region].eq(4).all().item()
    True
    """

    name = "holes"
    config_class = HoleMaskerConfig
    config: HoleMaskerConfig

    def __call__(
        self,
        batch: AlignedBatch,
        t: torch.Tensor,
        generator: torch.Generator,
        mask_id: int,
        *,
        end_of_hole_id: int | None = None,
        pad_id: int | None = None,
    ) -> MaskedBatch:
        cfg = self.config
        eoh = cfg.end_of_hole_id if end_of_hole_id is None else end_of_hole_id
        if eoh is None:
            raise ConfigError("end_of_hole_id: not set; give it in the config or to the call")
        pad = cfg.pad_id if pad_id is None else pad_id
        if pad is None:
            padded = batch.input_ids[~batch.attention_mask.bool()]
            pad = int(padded[0]) if padded.numel() else int(mask_id)
        device = batch.input_ids.device
        bsz, length = batch.input_ids.shape
        t = check_t(t, bsz, device)
        inner = AstSpanMasker(cfg.ast_span)
        drawn = inner.draw(batch, t.cpu(), generator)
        cpu = torch.device("cpu")
        u_hole, u_pick, u_sign, u_delta = (rand((bsz,), generator, cpu) for _ in range(4))

        ids = batch.input_ids.cpu()
        mask = drawn.mask
        attention = batch.attention_mask.bool().cpu()
        fill = drawn.fill_mask
        noised = torch.where(mask, torch.full_like(ids, mask_id), ids)
        rows: dict[str, list[torch.Tensor]] = {"input_ids": [], "targets": [], "mask": [], "attention_mask": [], "fill": []}
        holes = torch.full((bsz, 3), -1, dtype=torch.long)
        for i in range(bsz):
            row_in, row_tg, row_mk, row_at, row_fl = noised[i], ids[i], mask[i], attention[i], fill[i]
            spans = [(s, e) for b, s, e in drawn.spans.tolist() if b == i]
            spans = [(s, e) for s, e in _maximal(spans) if bool(mask[i, s:e].all())]
            if spans and float(u_hole[i]) < cfg.hole_fraction:
                s, e = spans[min(int(float(u_pick[i]) * len(spans)), len(spans) - 1)]
                n = e - s
                d = 1 + min(int(float(u_delta[i]) * cfg.max_delta), cfg.max_delta - 1)
                m = max(1, n - d) if (float(u_sign[i]) < cfg.shrink_prob and n > 1) else n + d
                region_tg = ids[i, s : s + m] if m <= n else torch.cat([ids[i, s:e], torch.full((m - n,), eoh)])
                row_in = _splice(row_in, s, e, torch.full((m,), mask_id))
                row_tg = _splice(row_tg, s, e, region_tg)
                row_mk = _splice(row_mk, s, e, torch.ones(m, dtype=torch.bool))
                row_at = _splice(row_at, s, e, torch.ones(m, dtype=torch.bool))
                row_fl = _splice(row_fl, s, e, torch.zeros(m, dtype=torch.bool))
                holes[i] = torch.tensor([s, m, n])
            for key, value in zip(rows, (row_in, row_tg, row_mk, row_at, row_fl)):
                rows[key].append(value)
        new_len = max(len(r) for r in rows["input_ids"]) if bsz else length

        def stack(key: str, fill_value: Any) -> torch.Tensor:
            out = [torch.cat([r, torch.full((new_len - len(r),), fill_value, dtype=r.dtype)]) for r in rows[key]]
            return (torch.stack(out) if out else torch.zeros((0, new_len), dtype=ids.dtype)).to(device)

        schedule = build_schedule(cfg.ast_span.schedule)
        return MaskedBatch(
            input_ids=stack("input_ids", pad),
            targets=stack("targets", pad),
            mask=stack("mask", False),
            loss_weight=(schedule.rate(t) / drawn.level.to(device)).float(),
            t=t,
            attention_mask=stack("attention_mask", False),
            fill_mask=stack("fill", False),
            hole_spans=holes.to(device),
        )


def source_index(masked: MaskedBatch, seq_len: int) -> torch.Tensor:
    """``[B, L']`` long: for each output position, its position in the original ``[B, seq_len]`` batch.

    ``-1`` marks ``<|endofhole|>`` positions of an expanded hole and the padding added
    after the original length.  Without ``hole_spans`` this is ``arange(seq_len)``.
    """
    bsz, new_len = masked.input_ids.shape
    device = masked.input_ids.device
    pos = torch.arange(new_len, device=device).expand(bsz, new_len).clone()
    if masked.hole_spans is not None:
        start, region, span = masked.hole_spans.unbind(1)
        has = start >= 0
        shift = torch.where(has, span - region, torch.zeros_like(span))[:, None]
        after = has[:, None] & (pos >= (start + region)[:, None])
        extra = has[:, None] & (pos >= (start + span)[:, None]) & (pos < (start + region)[:, None])
        pos = torch.where(after, pos + shift, pos)
        pos = torch.where(extra, torch.full_like(pos, -1), pos)
    return torch.where(pos < seq_len, pos, torch.full_like(pos, -1))
