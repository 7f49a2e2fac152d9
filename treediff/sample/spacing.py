"""Single spaces: two space tokens touch in a decoded row only as the tokenizer itself would write them
(``SamplerConfig.tidy_spaces``).

The syntax-aligned tokenizer writes a run of spaces as one token, or, past its longest space tokens, as a
few of them in a fixed split.  A weak denoiser proposes spaces at many masked positions at once (each
position alone finds a space likely), and rows fill with runs such as ``return       ;``, which the
tokenizer would never produce.  The pairs of space tokens it does produce are read off its encodings of
runs of 1 to 4 × the longest space token's length; at each step, a masked position next to a decided space
token gets no space token that would not pair with it in that order.  Only for models whose tokenizer
writes space runs as tokens of their own (:attr:`~treediff.model.formats.DiffusionLM.merges_space_runs`).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["SpacingRule", "space_pairs"]


def space_pairs(lm) -> tuple[list[int], set[tuple[int, int]]]:
    """The model's space tokens (text of spaces only) and the adjacent pairs of them its tokenizer writes."""
    spaces = [i for i in lm.whitespace_ids() if set(lm.token_text(i)) == {" "}]
    if not spaces:
        return [], set()
    longest = max(len(lm.token_text(i)) for i in spaces)
    own = set(spaces)
    pairs: set[tuple[int, int]] = set()
    for n in range(2, 4 * longest + 1):
        ids = lm.encode("x" + " " * n + "y", "python")
        pairs.update((a, b) for a, b in zip(ids, ids[1:]) if a in own and b in own)
    return spaces, pairs


class SpacingRule:
    """The rule for one model's vocabulary (``None`` from :meth:`for_model` when it does not apply)."""

    def __init__(self, spaces: list[int], pairs: set[tuple[int, int]], vocab_size: int, device: torch.device) -> None:
        self.spaces = torch.tensor(spaces, dtype=torch.long, device=device)
        self.index = torch.full((vocab_size,), -1, dtype=torch.long, device=device)
        self.index[self.spaces] = torch.arange(len(spaces), device=device)
        # penalty[a, b]: 0 where the tokenizer writes space token a then b, -inf elsewhere
        self.penalty = torch.full((len(spaces), len(spaces)), float("-inf"), device=device)
        for a, b in pairs:
            self.penalty[spaces.index(a), spaces.index(b)] = 0.0

    @classmethod
    def for_model(cls, lm, device: torch.device) -> "SpacingRule | None":
        """The model's rule on ``device``, built once per model and device (it encodes a hundred space runs)."""
        if not getattr(lm, "merges_space_runs", False):
            return None
        cached = lm.__dict__.setdefault("_spacing_rules", {})
        if device not in cached:
            spaces, pairs = space_pairs(lm)
            cached[device] = cls(spaces, pairs, lm.vocab_size, device) if spaces else None
        return cached[device]

    def apply(self, logits: Tensor, ids: Tensor, masked: Tensor, offset: int, stop: int | None = None) -> Tensor:
        """Ban, at the masked positions of the window ``[offset, stop)`` (``stop`` ``None``: to the end; ``logits``
        is that window's), the space tokens that would not pair with a decided space token beside them;
        ``logits`` edited in place."""
        where = self.index[ids].masked_fill(masked, -1)  # decided space tokens' indices, else -1
        for side in (1, -1):  # 1: the decided space is on the left; -1: on the right
            near = torch.full_like(where, -1)
            if side == 1:
                near[:, 1:] = where[:, :-1]
            else:
                near[:, :-1] = where[:, 1:]
            at = (near >= 0) & masked
            at[:, :offset] = False
            if stop is not None:
                at[:, stop:] = False
            if not bool(at.any()):
                continue
            rows = self.penalty[near[at]] if side == 1 else self.penalty[:, near[at]].T
            window = at[:, offset:stop]
            sub = logits[window]
            sub[:, self.spaces] += rows
            logits[window] = sub
        return logits
