"""Independent token masking (MDLM / LLaDA).

Each maskable token is masked independently with ``p = (1 − ε)·u(t) + ε``; the
per-sample loss weight is ``u'(t) / p`` — ``1/p`` for the linear schedule, the
LLaDA form of the MDLM ELBO weight ``1/t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from treediff.noise.base import (
    MaskedBatch,
    Masker,
    MaskerConfig,
    require,
    check_t,
    maskable_positions,
    rand,
    register_masker,
)
from treediff.noise.schedules import build_schedule
from treediff.tokens.batch import AlignedBatch

__all__ = ["RandomMaskerConfig", "RandomMasker", "mask_probability", "check_schedule"]


def mask_probability(u: torch.Tensor, eps: float) -> torch.Tensor:
    """``(1 − ε)·u + ε``: the floor ``ε`` keeps the weight finite at ``t = 0``."""
    return (1.0 - eps) * u + eps


def check_schedule(name: object) -> None:
    """A ``ConfigError`` unless ``name`` names a noise schedule."""
    require(isinstance(name, str), "schedule", f"must be a schedule name, got {name!r}")
    try:
        build_schedule(name)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - re-raised naming the field
        raise type(exc)(f"schedule: {exc}") from None


@dataclass(frozen=True)
class RandomMaskerConfig(MaskerConfig):
    """``eps``: probability floor in ``[0, 1)``; ``schedule``: ``linear`` or ``cosine``."""

    masker = "random"
    eps: float = 1e-3
    schedule: str = "linear"

    def __post_init__(self) -> None:
        require(
            isinstance(self.eps, (int, float)) and not isinstance(self.eps, bool) and 0.0 <= self.eps < 1.0,
            "eps",
            f"must be a float in [0, 1), got {self.eps!r}",
        )
        check_schedule(self.schedule)


@register_masker
class RandomMasker(Masker):
    """Mask every maskable token independently at level ``p = (1 − ε)·u(t) + ε``.

    >>> import torch
    >>> from treediff.noise.testing import batch_from_sources
    >>> batch = batch_from_sources(["x = 1\\n"], "python")
    >>> out = RandomMasker()(batch, torch.tensor([1.0]), torch.Generator().manual_seed(0), mask_id=0)
    >>> bool(out.mask[batch.attention_mask & ~batch.special_mask].all())
    True
    """

    name = "random"
    config_class = RandomMaskerConfig
    config: RandomMaskerConfig

    def __call__(
        self, batch: AlignedBatch, t: torch.Tensor, generator: torch.Generator, mask_id: int
    ) -> MaskedBatch:
        device = batch.input_ids.device
        t = check_t(t, batch.batch_size, device)
        schedule = build_schedule(self.config.schedule)
        p = mask_probability(schedule(t), self.config.eps)
        maskable = maskable_positions(batch)
        mask = (rand(batch.input_ids.shape, generator, device) < p[:, None]) & maskable
        return MaskedBatch(
            input_ids=torch.where(mask, torch.full_like(batch.input_ids, mask_id), batch.input_ids),
            targets=batch.input_ids.clone(),
            mask=mask,
            loss_weight=(schedule.rate(t) / p).float(),
            t=t,
            attention_mask=batch.attention_mask.bool().clone(),
        )
