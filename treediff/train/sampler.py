"""Deterministic data order: one permutation per epoch, cut into global batches, sharded by rank.

The whole run's sample order depends only on ``(seed, epoch)``, never on the world size:

* epoch ``e`` visits ``randperm(num_samples, seed + e)``; the tail that does not fill a
  global batch is dropped;
* optimizer step ``s`` consumes the next ``global_batch = micro_batch * grad_accum * world_size``
  samples, as ``grad_accum * world_size`` micro-batches of ``micro_batch`` samples;
* micro-batch ``k`` of a step goes to rank ``k % world_size`` as its accumulation step
  ``k // world_size``.

So ``torchrun --nproc-per-node 2`` with ``grad_accum = A`` sees exactly the micro-batches that one
process with ``grad_accum = 2A`` sees, and a :class:`DataPosition` (epoch, sample index) saved in
a checkpoint resumes the order exactly.

>>> order = DataOrder(num_samples=10, micro_batch=2, grad_accum=1, world_size=2, seed=0)
>>> [len(b) for b in order.micro_batches(DataPosition(0, 0), rank=0, steps=2)]
[2, 2]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from treediff.errors import ConfigError

__all__ = ["DataPosition", "DataOrder", "RankBatchSampler"]


@dataclass(frozen=True)
class DataPosition:
    """Where the next optimizer step starts reading: ``epoch`` and ``index`` into its permutation."""

    epoch: int = 0
    index: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> "DataPosition":
        return cls(epoch=int(data["epoch"]), index=int(data["index"]))


@dataclass(frozen=True)
class DataOrder:
    """The sample order of a run (see the module docstring)."""

    num_samples: int
    micro_batch: int
    grad_accum: int
    world_size: int
    seed: int

    def __post_init__(self) -> None:
        if self.num_samples < self.global_batch:
            raise ConfigError(
                f"data.batch_size: a global batch of {self.global_batch} samples "
                f"(batch_size {self.micro_batch} x grad_accum {self.grad_accum} x world_size {self.world_size}) "
                f"exceeds the {self.num_samples} training samples"
            )

    @property
    def global_batch(self) -> int:
        return self.micro_batch * self.grad_accum * self.world_size

    @property
    def steps_per_epoch(self) -> int:
        return self.num_samples // self.global_batch

    def permutation(self, epoch: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.num_samples, generator=gen)

    def advance(self, pos: DataPosition, steps: int = 1) -> DataPosition:
        """The position after ``steps`` optimizer steps."""
        for _ in range(steps):
            pos = self.resume_at(DataPosition(pos.epoch, pos.index + self.global_batch))
        return pos

    def resume_at(self, pos: DataPosition) -> DataPosition:
        """A saved position, on this order: one with no full global batch left in its epoch (saved by a run whose
        data were cut otherwise, e.g. resumed with another ``data.seq_len``) starts the next epoch."""
        if pos.index + self.global_batch > self.num_samples:
            return DataPosition(pos.epoch + 1, 0)
        return pos

    def micro_batches(self, pos: DataPosition, rank: int, steps: int | None = None) -> Iterator[list[int]]:
        """This rank's micro-batches (sample indices), ``grad_accum`` per step, from ``pos`` on."""
        done = 0
        perm, perm_epoch = None, -1
        while steps is None or done < steps:
            if perm_epoch != pos.epoch:
                perm, perm_epoch = self.permutation(pos.epoch), pos.epoch
            for accum in range(self.grad_accum):
                k = accum * self.world_size + rank
                start = pos.index + k * self.micro_batch
                yield perm[start: start + self.micro_batch].tolist()
            pos = self.advance(pos)
            done += 1


class RankBatchSampler(torch.utils.data.Sampler[list[int]]):
    """A ``batch_sampler`` for :class:`~torch.utils.data.DataLoader` over :meth:`DataOrder.micro_batches`.

    It is endless; the loop stops after ``max_steps``.  The DataLoader may prefetch ahead: the
    position that goes into a checkpoint is computed by the loop, not read from here.
    """

    def __init__(self, order: DataOrder, start: DataPosition, rank: int) -> None:
        self.order, self.start, self.rank = order, start, rank

    def __iter__(self) -> Iterator[list[int]]:
        return self.order.micro_batches(self.start, self.rank)

    def __len__(self) -> int:  # DataLoader asks; the stream is endless
        return 2**62
