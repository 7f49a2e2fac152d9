"""Noise schedules: the corruption level ``u(t)`` as a function of the diffusion time ``t ∈ [0, 1]``.

``t = 0`` is clean data, ``t = 1`` fully masked.  A schedule is one small callable
class; ``rate(t) = du/dt`` gives the continuous-time ELBO weight ``rate(t) / u(t)``
(``1/t`` for the linear schedule, MDLM).  Maskers name their schedule; the name
resolves through :data:`SCHEDULES`.

>>> import torch
>>> build_schedule("clipped", block_size=4)(torch.tensor([0.0, 0.5, 1.0]))
tensor([0.2500, 0.5000, 1.0000])
"""

from __future__ import annotations

import math
from typing import Any

import torch

from treediff.errors import ConfigError
from treediff.registry import Registry

__all__ = [
    "Schedule",
    "LinearSchedule",
    "CosineSchedule",
    "ClippedSchedule",
    "SCHEDULES",
    "build_schedule",
    "clipped_level",
]


class Schedule:
    """``u(t)``: the probability that a token is corrupted at time ``t``."""

    name = ""

    def __call__(self, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def rate(self, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """``du/dt``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LinearSchedule(Schedule):
    """``u(t) = t`` (MDLM, LLaDA)."""

    name = "linear"

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        return t.clone()

    def rate(self, t: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(t)


class CosineSchedule(Schedule):
    """``u(t) = 1 − cos(π t / 2)``: few masks early, many late (MaskGIT-style)."""

    name = "cosine"

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        return (1.0 - torch.cos(0.5 * math.pi * t)).clamp(0.0, 1.0)

    def rate(self, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * math.pi * torch.sin(0.5 * math.pi * t)


class ClippedSchedule(Schedule):
    """Stable-DiffCoder's block level ``u_blk(t) = min(1, max(u(t), 1/B))`` over a base schedule.

    Clipping at ``1/B`` makes the expected number of masked tokens in a block of
    ``B`` at least one and bounds the weight ``1/u_blk`` by ``B``.
    """

    name = "clipped"

    def __init__(self, block_size: int, base: str = "linear") -> None:
        if not isinstance(block_size, int) or isinstance(block_size, bool) or block_size < 1:
            raise ConfigError(f"block_size: must be an int >= 1, got {block_size!r}")
        if base == self.name:
            raise ConfigError("schedule: the clipped schedule needs a base schedule other than 'clipped'")
        self.block_size = block_size
        self.base = build_schedule(base)

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        return clipped_level(self.base(t), self.block_size)

    def rate(self, t: torch.Tensor) -> torch.Tensor:
        u = self.base(t)
        inside = (u > 1.0 / self.block_size) & (u < 1.0)
        return torch.where(inside, self.base.rate(t), torch.zeros_like(t))

    def __repr__(self) -> str:
        return f"ClippedSchedule(block_size={self.block_size}, base={self.base.name!r})"


def clipped_level(u: torch.Tensor, block_size: int) -> torch.Tensor:
    """``min(1, max(u, 1/block_size))``."""
    return u.clamp(min=1.0 / block_size, max=1.0)


SCHEDULES: Registry[type[Schedule]] = Registry("schedule", error=ConfigError)
for _cls in (LinearSchedule, CosineSchedule, ClippedSchedule):
    SCHEDULES.register(_cls.name, _cls)


def build_schedule(name: str, **kwargs: Any) -> Schedule:
    """Instantiate the schedule registered as ``name``; a bad name or argument raises :class:`ConfigError`."""
    cls = SCHEDULES.resolve(name)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"schedule: {name!r} does not take {sorted(kwargs)} ({exc})") from None
