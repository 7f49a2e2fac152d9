"""The corpus n-gram prior inside the sampling loop (:class:`~treediff.model.ngram.NgramPrior`).

At each step, every eligible masked position whose two nearest decided tokens on the left are decided (no
masked position between them and it; end-of-hole tokens, which hold nothing, are skipped) gets
``weight × log p(token | w1 w2)`` added to the model's logits: a product of experts of the denoiser and
the back-off trigram of the training corpus mixed with the file's own trigrams.  The end-of-hole token
gets the prior of the first decided token on its right (when that token begins a new line, the prior of
any line break: ending a statement hole before ``"\n    }"`` should not lose to ``"\n        "``, a line
break of another indentation; the grammar guard refuses an end-of-hole where the fill is incomplete).  Rows whose language the prior has no table for,
and models without a prior, are left as they are.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from treediff.model.ngram import NgramPrior, file_cache

__all__ = ["PriorState", "prior_weight_of"]


def prior_weight_of(lm, configured: float | None) -> float:
    """The weight to use: the sampler's setting, else the model's own default (0 without a prior)."""
    if getattr(lm, "prior", None) is None:
        return 0.0
    return float(configured if configured is not None else getattr(lm, "prior_weight", 0.0))


class PriorState:
    """The prior of one :func:`~treediff.sample.loop.denoise` call: each row's language and file cache."""

    def __init__(self, lm, ids: Tensor, masked: Tensor, weight: float) -> None:
        self.prior: NgramPrior = lm.prior
        self.end_id = int(lm.end_id)
        self.weight = float(weight)
        self.breaks = np.array([i for i in lm.whitespace_ids() if lm.token_text(i).startswith("\n")], dtype=np.int64)
        self._break_set = set(self.breaks.tolist())
        ids_np, masked_np = ids.cpu().numpy(), masked.cpu().numpy()
        self.languages: list[int | None] = []
        self.caches: list[dict] = []
        for r in range(ids_np.shape[0]):
            head = [int(t) for t in ids_np[r, :4] if self.prior.knows(int(t))]
            self.languages.append(head[0] if head else None)
            # the decided runs between masks: each run after the first starts with its mask, the first with the
            # language tag, which no context needs
            runs = np.split(ids_np[r], np.flatnonzero(masked_np[r]))
            self.caches.append(file_cache(*(run[1:] for run in runs)))

    def apply(self, logits: Tensor, ids: Tensor, masked: Tensor, eligible: Tensor, offset: int) -> Tensor:
        """``logits`` (``[B, W, V]`` for positions ``offset .. offset + W``: the whole row, or the window the KV
        cache recomputed; changed in place and returned) plus the weighted prior at the positions it applies
        to; eligible positions after the window get nothing (this step does not decide them)."""
        if self.weight == 0.0 or logits.shape[-1] != self.prior.vocab_size:
            return logits
        ids_np, masked_np = ids.cpu().numpy(), masked.cpu().numpy()
        elig_np = eligible.cpu().numpy()
        for r, lang in enumerate(self.languages):
            if lang is None:
                continue
            positions, contexts, rights = [], [], []
            for p in np.flatnonzero(elig_np[r, offset:offset + logits.shape[1]]) + offset:  # the window's only
                ctx = self._left(ids_np[r], masked_np[r], int(p))
                if ctx is not None:
                    positions.append(int(p))
                    contexts.append(ctx)
                    rights.append(self._right(ids_np[r], masked_np[r], int(p)))
            if not positions:
                continue
            vecs = self.prior.log_probs(lang, contexts, self.caches[r])
            for i, right in enumerate(rights):
                if right is not None:
                    vecs[i, self.end_id] = (np.logaddexp.reduce(vecs[i, self.breaks]) if right in self._break_set
                                            else vecs[i, right])
            at = torch.tensor(positions, device=logits.device) - offset
            logits[r, at] += self.weight * torch.from_numpy(vecs).to(logits.device, logits.dtype)
        return logits

    def _left(self, row: np.ndarray, masked: np.ndarray, p: int) -> tuple[int, int] | None:
        found: list[int] = []
        q = p - 1
        while q >= 0 and len(found) < 2:
            if masked[q]:
                return None
            if int(row[q]) != self.end_id:
                found.append(int(row[q]))
            q -= 1
        return (found[1], found[0]) if len(found) == 2 else None

    def _right(self, row: np.ndarray, masked: np.ndarray, p: int) -> int | None:
        for q in range(p + 1, row.size):
            if not masked[q] and int(row[q]) != self.end_id:
                return int(row[q])
        return None

