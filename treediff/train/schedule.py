"""The learning-rate schedule: linear warmup to ``lr``, then cosine decay to ``min_lr``.

>>> lr = cosine_lr(lr=1.0, min_lr=0.1, warmup_steps=2, max_steps=10)
>>> [round(lr(s), 3) for s in (0, 1, 2, 10)]
[0.5, 1.0, 1.0, 0.1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["cosine_lr", "build_scheduler"]


@dataclass(frozen=True)
class cosine_lr:  # noqa: N801 - a callable schedule, named like the function it is
    """``lr(step)`` for optimizer step ``step`` (0-based); a picklable callable."""

    lr: float
    min_lr: float
    warmup_steps: int
    max_steps: int

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        decay = max(1, self.max_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay)
        return self.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (self.lr - self.min_lr)


def build_scheduler(optimizer: torch.optim.Optimizer, schedule: cosine_lr) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` whose factor is ``schedule(step) / schedule.lr`` (the optimizer's lr is ``schedule.lr``)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: schedule(step) / schedule.lr)
