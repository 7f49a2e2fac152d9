"""The masked-diffusion training objective and the per-category accuracy used in validation.

Loss of one micro-batch (``m`` = the masker's ``mask``, ``w_b`` = its ``loss_weight``,
``n`` = the noisable tokens, i.e. attended and not special, ``CE`` the token cross-entropy)::

    weighted   (default):   L = Σ_b w_b Σ_l m_bl · CE_bl  /  Σ_bl n_bl
    unweighted (warmup):    L = Σ_bl m_bl · CE_bl          /  max(1, Σ_bl m_bl)

The weighted form is the MDLM/LLaDA ELBO estimate normalised per token: with ``w = 1/t`` and
about ``t·n`` masked tokens it equals the mean masked-token cross-entropy in expectation, so
its scale matches the unweighted warmup form, which is the plain mean over masked tokens.
Micro-batches (and ranks) are then averaged with equal weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from treediff.syntax import CATEGORIES

__all__ = ["masked_diffusion_loss", "token_categories", "CategoryAccuracy"]


def masked_diffusion_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor,
    loss_weight: torch.Tensor,
    num_tokens: torch.Tensor | int,
    *,
    weighted: bool = True,
) -> torch.Tensor:
    """The scalar loss above; ``logits`` is ``[B, L, V]``, or ``[N, V]`` at the ``N`` masked positions only
    (row-major, as ``logits[mask]`` gives them); cast to fp32 for the softmax."""
    picked = logits[mask] if logits.dim() == 3 else logits
    ce = F.cross_entropy(picked.float(), targets[mask], reduction="none")
    if not weighted:
        return ce.sum() / mask.sum().clamp(min=1)
    weight = loss_weight.to(ce.dtype)[:, None].expand(mask.shape)[mask]
    denom = torch.as_tensor(num_tokens, device=ce.device, dtype=ce.dtype).clamp(min=1)
    return (ce * weight).sum() / denom


def token_categories(spans: torch.Tensor, span_depth: torch.Tensor, batch_size: int, seq_len: int) -> torch.Tensor:
    """``[B, L]`` long: the category of the smallest categorised span covering each token (−1: none).

    Spans with category −1 are ignored; among equal-length spans the deeper one wins.
    Vectorised: every span is expanded to its token positions and a ``scatter_reduce('amin')``
    keeps the key ``(length, -depth, category)`` of the smallest.

    >>> spans = torch.tensor([[0, 0, 4, 3], [0, 1, 3, 5], [0, 1, 3, 4]])
    >>> token_categories(spans, torch.tensor([0, 1, 2]), 1, 5).tolist()
    [[3, 4, 4, 3, -1]]
    """
    out = torch.full((batch_size * seq_len,), -1, dtype=torch.long, device=spans.device)
    if spans.numel() == 0:
        return out.view(batch_size, seq_len)
    keep = (spans[:, 3] >= 0) & (spans[:, 2] > spans[:, 1])
    sp = spans[keep].long()
    depth = span_depth[keep].long() if span_depth.numel() else torch.zeros(len(sp), dtype=torch.long, device=spans.device)
    if len(sp) == 0:
        return out.view(batch_size, seq_len)
    lengths = sp[:, 2] - sp[:, 1]
    num_cat = len(CATEGORIES) + 1
    max_depth = int(depth.max()) + 1
    key = (lengths * max_depth + (max_depth - 1 - depth)) * num_cat + sp[:, 3]
    span_idx = torch.repeat_interleave(torch.arange(len(sp), device=sp.device), lengths)
    starts = torch.cumsum(lengths, 0) - lengths
    offsets = torch.arange(len(span_idx), device=sp.device) - starts[span_idx]
    pos = sp[span_idx, 0] * seq_len + sp[span_idx, 1] + offsets
    big = torch.iinfo(torch.long).max
    best = torch.full((batch_size * seq_len,), big, dtype=torch.long, device=sp.device)
    best.scatter_reduce_(0, pos, key[span_idx], reduce="amin")
    out = torch.where(best == big, out, best % num_cat)
    return out.view(batch_size, seq_len)


class CategoryAccuracy:
    """Accumulates masked-token accuracy overall and per AST category over several batches."""

    def __init__(self) -> None:
        self.correct = torch.zeros(len(CATEGORIES) + 1, dtype=torch.long)  # last slot: no category
        self.total = torch.zeros(len(CATEGORIES) + 1, dtype=torch.long)

    def update(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, categories: torch.Tensor) -> None:
        hit = (logits.argmax(-1) == targets) & mask
        cats = torch.where(categories < 0, len(CATEGORIES), categories)
        self.correct += torch.bincount(cats[hit].cpu(), minlength=len(CATEGORIES) + 1)
        self.total += torch.bincount(cats[mask].cpu(), minlength=len(CATEGORIES) + 1)

    def counts(self) -> torch.Tensor:
        """``[2, C+1]`` (correct, total), for an all-reduce across ranks."""
        return torch.stack([self.correct, self.total])

    @staticmethod
    def summarize(counts: torch.Tensor) -> dict[str, float]:
        """``val_acc`` plus ``val_acc/<category>`` for every category that had masked tokens."""
        correct, total = counts[0], counts[1]
        out = {"val_acc": float(correct.sum()) / max(1, int(total.sum()))}
        for i, name in enumerate(list(CATEGORIES) + ["none"]):
            if int(total[i]) > 0:
                out[f"val_acc/{name}"] = float(correct[i]) / int(total[i])
        return out
