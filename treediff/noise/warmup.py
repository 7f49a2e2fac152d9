"""Corruption-level warmup (Stable-DiffCoder): ramp the largest noise level early in training.

During the first ``warmup_steps`` steps, ``t ~ U(0, u_max(step))`` with
``u_max(step) = u_init + (1 − u_init) · step / warmup_steps``; afterwards ``t ~ U(0, 1)``.
Only the corruption level is warmed up; the loss is left **unweighted** during
warmup, which the trainer reads from :func:`is_warmup`.

>>> round(u_max(50, warmup_steps=100, u_init=0.0), 3)
0.5
>>> is_warmup(99, 100), is_warmup(100, 100)
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from treediff.errors import ConfigError

__all__ = ["Warmup", "u_max", "sample_t", "is_warmup"]


def _check(warmup_steps: int, u_init: float) -> None:
    if not isinstance(warmup_steps, int) or isinstance(warmup_steps, bool) or warmup_steps < 0:
        raise ConfigError(f"warmup_steps: must be an int >= 0, got {warmup_steps!r}")
    if not 0.0 <= float(u_init) <= 1.0:
        raise ConfigError(f"u_init: must lie in [0, 1], got {u_init!r}")


def u_max(step: int, warmup_steps: int, u_init: float = 1e-3) -> float:
    """The largest noise level at ``step``: linear from ``u_init`` (step 0) to 1 (step ``warmup_steps``)."""
    _check(warmup_steps, u_init)
    if step < 0:
        raise ConfigError(f"step: must be >= 0, got {step!r}")
    if warmup_steps == 0 or step >= warmup_steps:
        return 1.0
    return float(u_init) + (1.0 - float(u_init)) * step / warmup_steps


def is_warmup(step: int, warmup_steps: int) -> bool:
    """Whether ``step`` is inside the warmup (the loss must then be unweighted)."""
    return 0 <= step < warmup_steps


def sample_t(
    batch_size: int,
    step: int,
    generator: torch.Generator,
    warmup_steps: int,
    u_init: float = 1e-3,
) -> torch.Tensor:
    """``[batch_size]`` float noise levels ``t ~ U(0, u_max(step))`` on the generator's device."""
    top = u_max(step, warmup_steps, u_init)
    return torch.rand(batch_size, generator=generator, device=generator.device) * top


@dataclass(frozen=True)
class Warmup:
    """The warmup settings as one object (what a trainer config stores)."""

    warmup_steps: int = 0
    u_init: float = 1e-3

    def __post_init__(self) -> None:
        _check(self.warmup_steps, self.u_init)

    def u_max(self, step: int) -> float:
        return u_max(step, self.warmup_steps, self.u_init)

    def is_warmup(self, step: int) -> bool:
        return is_warmup(step, self.warmup_steps)

    def sample_t(self, batch_size: int, step: int, generator: torch.Generator) -> torch.Tensor:
        return sample_t(batch_size, step, generator, self.warmup_steps, self.u_init)
