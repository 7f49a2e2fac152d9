"""A padded batch of token sequences with their AST spans: the input every masker takes."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

__all__ = ["AlignedBatch"]


@dataclass(frozen=True)
class AlignedBatch:
    """Token ids plus the syntax spans the noise may follow.

    * ``input_ids``: ``[B, L]`` long, padded with the tokenizer's pad id;
    * ``attention_mask``: ``[B, L]`` bool, ``True`` on real tokens;
    * ``special_mask``: ``[B, L]`` bool, ``True`` where noise must never go (BOS,
      language tag, EOS, padding);
    * ``spans``: ``[S, 4]`` long rows ``(batch_index, start, end, category)`` giving the
      token span ``[start, end)`` of each named AST node, in this padded
      sequence's coordinates; ``category`` indexes :data:`treediff.syntax.CATEGORIES`
      (−1 for nodes without one);
    * ``span_depth``: ``[S]`` long, depth of each node below its root (optional use);
    * ``flow_spans``: ``[F, 4]`` long rows ``(batch_index, start, end, unit)`` of control-flow
      units (``unit`` indexes :data:`treediff.syntax.cfg_flow.UNIT_KINDS`), or ``None`` when the
      batch was built without CFGs (only the control-flow masker needs them).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    special_mask: torch.Tensor
    spans: torch.Tensor
    span_depth: torch.Tensor
    flow_spans: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.input_ids.shape[1])

    def to(self, device: torch.device | str) -> "AlignedBatch":
        return replace(
            self,
            input_ids=self.input_ids.to(device),
            attention_mask=self.attention_mask.to(device),
            special_mask=self.special_mask.to(device),
            spans=self.spans.to(device),
            span_depth=self.span_depth.to(device),
            flow_spans=None if self.flow_spans is None else self.flow_spans.to(device),
        )

    def validate(self) -> "AlignedBatch":
        """Check shapes and span bounds; return self (raises ``ValueError``)."""
        b, length = self.input_ids.shape
        for name in ("attention_mask", "special_mask"):
            if getattr(self, name).shape != (b, length):
                raise ValueError(f"{name} has shape {tuple(getattr(self, name).shape)}, expected {(b, length)}")
        if self.spans.ndim != 2 or self.spans.shape[1] != 4:
            raise ValueError(f"spans must be [S, 4], got {tuple(self.spans.shape)}")
        if self.spans.numel():
            bi, s, e = self.spans[:, 0], self.spans[:, 1], self.spans[:, 2]
            if (bi < 0).any() or (bi >= b).any() or (s < 0).any() or (e > length).any() or (s > e).any():
                raise ValueError("spans out of bounds")
        return self
