"""Steppers: one denoising step, ``logits + SamplerState → StepOutput``, kept apart from the model loop.

A stepper proposes a token for every eligible masked position (greedy or with temperature and
top-p), scores the positions by its *unmasking order*, and commits the best ones: a fixed number
per step, or every position whose confidence reaches a threshold (Fast-dLLM's parallel
decoding, at least one per row).  Orders:

* ``random``: uniform random scores (the forward process's order, reversed);
* ``low_confidence``: highest top-1 probability first (MaskGIT / LLaDA);
* ``margin``: largest top-1 minus top-2 probability first;
* ``entropy``: lowest entropy of the predictive distribution first.

With a ``guard`` (the grammar constraint), commits are offered in score order and the guard
decides, per position, which of the ranked ``candidates`` (if any) is committed.

>>> import torch
>>> state = SamplerState(ids=torch.tensor([[7, 1, 1]]), masked=torch.tensor([[False, True, True]]),
...                      eligible=torch.tensor([[False, True, True]]))
>>> logits = torch.zeros(1, 3, 10); logits[0, 1, 4] = 5.0; logits[0, 2, 6] = 1.0
>>> out = build_stepper("low_confidence").step(logits, state, num_commit=1, generator=torch.Generator())
>>> out.state.ids.tolist(), out.committed.tolist()
([[7, 4, 1]], [[False, True, False]])
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from treediff.errors import ConfigError
from treediff.registry import Registry

__all__ = [
    "SamplerState",
    "StepOutput",
    "Stepper",
    "RandomStepper",
    "LowConfidenceStepper",
    "MarginStepper",
    "EntropyStepper",
    "STEPPERS",
    "build_stepper",
    "Guard",
]

#: ``guard(row, pos, candidates, ids, masked) -> bool``: commit one of ``candidates`` (ranked) at
#: ``ids[pos]`` in place, or leave the position masked (``False``).  It may also remask other
#: positions of the row (rejected provisional commits) by setting ``masked`` there.
Guard = Callable[[int, int, list, np.ndarray, np.ndarray], bool]


@dataclass(frozen=True)
class SamplerState:
    """Per-run decoding state, passed in and returned (never hidden in a stepper).

    ``ids [B, L]`` long; ``masked [B, L]`` bool: positions still to decode (their ids hold the
    mask token); ``eligible [B, L]`` bool: masked positions the current step may commit (the
    current block); ``step`` steps taken; ``nfe`` model forward passes so far.
    """

    ids: Tensor
    masked: Tensor
    eligible: Tensor
    step: int = 0
    nfe: int = 0

    def validate(self) -> "SamplerState":
        if self.ids.ndim != 2 or self.masked.shape != self.ids.shape or self.eligible.shape != self.ids.shape:
            raise ValueError(f"ids, masked, eligible must share one [B, L] shape; got {tuple(self.ids.shape)}, "
                             f"{tuple(self.masked.shape)}, {tuple(self.eligible.shape)}")
        if bool((self.eligible & ~self.masked).any()):
            raise ValueError("eligible positions must be masked")
        return self


@dataclass(frozen=True)
class StepOutput:
    """What one step did.

    ``state``: the state after this step's commits; ``tokens [B, L]``: the proposal at every
    eligible position (the current id elsewhere); ``confidence [B, L]``: probability of the
    proposal (0 elsewhere); ``scores [B, L]``: the order's score (−inf elsewhere);
    ``committed [B, L]``: positions committed this step; ``num_rejected``: commits a guard refused.
    """

    state: SamplerState
    tokens: Tensor
    confidence: Tensor
    scores: Tensor
    committed: Tensor
    num_rejected: int = 0


def _top_p_filter(probs: Tensor, top_p: float) -> Tensor:
    if top_p >= 1.0:
        return probs
    sorted_p, order = probs.sort(dim=-1, descending=True)
    keep = sorted_p.cumsum(-1) - sorted_p < top_p  # always keeps the top token
    filtered = torch.zeros_like(probs).scatter(-1, order, sorted_p * keep)
    return filtered / filtered.sum(-1, keepdim=True)


class Stepper:
    """Base stepper: proposals, scores, and commits; subclasses define :meth:`score`."""

    name = "base"

    def __init__(self, temperature: float = 0.0, top_p: float = 1.0, num_candidates: int = 1) -> None:
        if temperature < 0 or not 0 < top_p <= 1 or num_candidates < 1:
            raise ConfigError(f"bad stepper settings: temperature={temperature}, top_p={top_p}, "
                              f"num_candidates={num_candidates}")
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.num_candidates = int(num_candidates)

    def score(self, probs: Tensor, tokens: Tensor, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def propose(self, logits: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``[N, V]`` logits → ``(tokens [N], confidence [N], scores [N], candidates [N, C])``."""
        logits = logits.float()
        temp = self.temperature if self.temperature > 0 else 1.0
        probs = _top_p_filter(torch.softmax(logits / temp, dim=-1), self.top_p)
        if self.temperature > 0:
            tokens = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(probs.device)
        else:
            tokens = probs.argmax(dim=-1)
        confidence = probs.gather(1, tokens[:, None]).squeeze(1)
        scores = self.score(probs, tokens, generator)
        c = min(self.num_candidates, probs.shape[1])
        ranked = probs.scatter(1, tokens[:, None], 2.0).topk(c, dim=-1).indices  # proposal first
        return tokens, confidence, scores, ranked

    def step(
        self,
        logits: Tensor,
        state: SamplerState,
        *,
        num_commit: int | Tensor,
        threshold: float | None = None,
        generator: torch.Generator,
        guard: Guard | None = None,
    ) -> StepOutput:
        """Commit up to ``num_commit`` positions per row (or the threshold set); see the module docstring."""
        bsz, length = state.ids.shape
        eligible = state.eligible
        rows, cols = eligible.nonzero(as_tuple=True)
        tokens = state.ids.clone()
        confidence = torch.zeros(bsz, length, device=logits.device)
        scores = torch.full((bsz, length), float("-inf"), device=logits.device)
        if rows.numel() == 0:
            empty = torch.zeros_like(state.masked)
            return StepOutput(replace(state, step=state.step + 1), tokens, confidence, scores, empty)
        tok, conf, sc, ranked = self.propose(logits[rows, cols], generator)
        tokens[rows, cols] = tok.to(tokens.device)
        confidence[rows, cols] = conf
        scores[rows, cols] = sc
        k = torch.as_tensor(num_commit, device=logits.device).expand(bsz).clamp(min=1)
        order = scores.argsort(dim=1, descending=True)
        rank = torch.empty_like(order).scatter_(1, order, torch.arange(length, device=order.device).expand(bsz, length))
        chosen = eligible.to(logits.device) & (rank < k[:, None])
        if threshold is not None:  # every confident position, and at least the num_commit best
            chosen = eligible.to(logits.device) & ((confidence >= threshold) | (rank < k[:, None]))
        ids, masked = state.ids.clone(), state.masked.clone()
        committed = torch.zeros_like(masked)
        num_rejected = 0
        if guard is None:
            ch = chosen.to(ids.device)
            ids[ch] = tokens[ch]
            masked &= ~ch
            committed = ch
        else:
            cand = torch.full((bsz, length, ranked.shape[1]), -1, dtype=torch.long)
            cand[rows.cpu(), cols.cpu()] = ranked.cpu()
            ids_np, masked_np = ids.cpu().numpy().copy(), masked.cpu().numpy().copy()
            order_np, chosen_np, cand_np = order.cpu().numpy(), chosen.cpu().numpy(), cand.numpy()
            committed_np = np.zeros_like(masked_np)
            for r in range(bsz):
                for pos in order_np[r][chosen_np[r][order_np[r]]]:  # the chosen positions, best first
                    if not masked_np[r, pos]:  # filled meanwhile (cannot happen) or remasked: skip
                        continue
                    if guard(r, int(pos), [int(c) for c in cand_np[r, pos] if c >= 0], ids_np[r], masked_np[r]):
                        committed_np[r, pos] = True
                    else:
                        num_rejected += 1
            ids = torch.from_numpy(ids_np).to(state.ids.device)
            masked = torch.from_numpy(masked_np).to(state.masked.device)
            committed = torch.from_numpy(committed_np).to(state.masked.device)
        new_state = SamplerState(ids=ids, masked=masked, eligible=state.eligible & masked, step=state.step + 1,
                                 nfe=state.nfe)
        return StepOutput(new_state, tokens, confidence, scores, committed, num_rejected)


class RandomStepper(Stepper):
    name = "random"

    def score(self, probs: Tensor, tokens: Tensor, generator: torch.Generator) -> Tensor:
        return torch.rand(tokens.shape[0], generator=generator).to(probs.device)


class LowConfidenceStepper(Stepper):
    name = "low_confidence"

    def score(self, probs: Tensor, tokens: Tensor, generator: torch.Generator) -> Tensor:
        return probs.gather(1, tokens[:, None]).squeeze(1)


class MarginStepper(Stepper):
    name = "margin"

    def score(self, probs: Tensor, tokens: Tensor, generator: torch.Generator) -> Tensor:
        top2 = probs.topk(min(2, probs.shape[1]), dim=-1).values
        second = top2[:, 1] if top2.shape[1] > 1 else torch.zeros_like(top2[:, 0])
        return top2[:, 0] - second


class EntropyStepper(Stepper):
    name = "entropy"

    def score(self, probs: Tensor, tokens: Tensor, generator: torch.Generator) -> Tensor:
        return (probs * probs.clamp_min(1e-12).log()).sum(-1)  # −entropy: low entropy first


class LeftToRightStepper(Stepper):
    """The leftmost masked positions first (autoregressive order inside the model's two-sided context): with
    the n-gram prior (:mod:`treediff.sample.prior`) every committed token then has its left context decided."""

    name = "left_to_right"

    def score(self, probs: Tensor, tokens: Tensor, generator: torch.Generator) -> Tensor:
        # ``step`` proposes the eligible positions in row-major order, so a falling score ranks each row's
        # positions left to right
        return -torch.arange(tokens.shape[0], dtype=probs.dtype, device=probs.device)


STEPPERS: Registry[type[Stepper]] = Registry("unmasking order", error=ConfigError)
STEPPERS.register("random", RandomStepper)
STEPPERS.register("low_confidence", LowConfidenceStepper, aliases=("confidence", "maskgit_plus"))
STEPPERS.register("margin", MarginStepper, aliases=("topk_margin",))
STEPPERS.register("entropy", EntropyStepper)
STEPPERS.register("left_to_right", LeftToRightStepper, aliases=("ltr",))


def build_stepper(order: str, **settings) -> Stepper:
    """The stepper of an unmasking order (``ConfigError`` listing the choices otherwise)."""
    return STEPPERS.resolve(order)(**settings)
