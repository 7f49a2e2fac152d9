"""The denoiser: a bidirectional (non-causal) transformer that predicts every position's token.

RoPE positions, pre-norm RMSNorm, SwiGLU MLP, fused QKV, ``scaled_dot_product_attention`` with a
key-padding mask (``attn_mask=None`` when nothing is padded, so FlashAttention can run on GPU).
``TreediffForMaskedDiffusion`` adds the (optionally tied) LM head and returns logits ``[B, L, V]``.

>>> import torch
>>> from treediff.model import TreediffConfig, TreediffForMaskedDiffusion
>>> model = TreediffForMaskedDiffusion(TreediffConfig.from_preset("tiny", vocab_size=128)).eval()
>>> model(torch.randint(0, 128, (2, 7))).logits.shape
torch.Size([2, 7, 128])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import ModelOutput

from treediff.errors import InputError
from treediff.model.config import TreediffConfig
from treediff.model.structure import StructureBatch, StructureEncoder

try:  # transformers >= 5: init functions that skip tensors already loaded from a checkpoint
    from transformers import initialization as _init
except ImportError:  # pragma: no cover - transformers 4.x
    _init = nn.init

__all__ = [
    "DenoiserOutput",
    "TreediffPreTrainedModel",
    "TreediffModel",
    "TreediffForMaskedDiffusion",
    "rope_cos_sin",
    "apply_rope",
]


@dataclass
class DenoiserOutput(ModelOutput):
    """``logits`` ``[B, L, V]``; ``loss`` (mean cross-entropy over ``labels != -100``) when labels are given."""

    loss: Tensor | None = None
    logits: Tensor | None = None


def rope_cos_sin(seq_len: int, head_dim: int, theta: float, device: torch.device) -> tuple[Tensor, Tensor]:
    """``cos``/``sin`` tables ``[L, head_dim/2]`` in fp32 (recomputed per call: cheap, no stale buffers)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(seq_len, device=device, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate ``x`` ``[B, H, L, D]`` by position (half-split convention, as in GPT-NeoX / Llama)."""
    x1, x2 = x.float().chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).to(x.dtype)


class TreediffAttention(nn.Module):
    def __init__(self, config: TreediffConfig) -> None:
        super().__init__()
        self.n_heads, self.head_dim, self.dropout = config.n_heads, config.head_dim, config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=False)
        self.proj._is_residual_out = True

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, attn_mask: Tensor | None) -> Tensor:
        bsz, seq_len, d = x.shape
        q, k, v = self.qkv(x).view(bsz, seq_len, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0, is_causal=False
        )
        return self.proj(y.transpose(1, 2).reshape(bsz, seq_len, d))


class TreediffMLP(nn.Module):
    """SwiGLU: ``down(silu(gate(x)) * up(x))`` with gate and up fused in one matmul."""

    def __init__(self, config: TreediffConfig) -> None:
        super().__init__()
        self.gate_up = nn.Linear(config.d_model, 2 * config.d_ff, bias=False)
        self.down = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.down._is_residual_out = True

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class TreediffBlock(nn.Module):
    def __init__(self, config: TreediffConfig) -> None:
        super().__init__()
        self.attn_norm = nn.RMSNorm(config.d_model, eps=config.norm_eps)
        self.attn = TreediffAttention(config)
        self.mlp_norm = nn.RMSNorm(config.d_model, eps=config.norm_eps)
        self.mlp = TreediffMLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, attn_mask: Tensor | None) -> Tensor:
        x = x + self.drop(self.attn(self.attn_norm(x), cos, sin, attn_mask))
        return x + self.drop(self.mlp(self.mlp_norm(x)))


class TreediffPreTrainedModel(PreTrainedModel):
    config_class = TreediffConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    _no_split_modules = ["TreediffBlock"]

    def _init_weights(self, module: nn.Module) -> None:
        # GPT-2 style: residual output projections start smaller so the stream does not grow with depth.
        if isinstance(module, nn.Linear) and getattr(module, "_is_residual_out", False):
            std = self.config.initializer_range / math.sqrt(2 * self.config.n_layers)
            _init.normal_(module.weight, mean=0.0, std=std)
        else:
            super()._init_weights(module)


def _padding_mask(attention_mask: Tensor | None, bsz: int, seq_len: int) -> Tensor | None:
    """Boolean key mask ``[B, 1, 1, L]`` (True = attend), or ``None`` when no position is padded.

    A boolean mask rules out the flash kernel, so an all-real batch passes ``None``; checking that
    costs one host sync (pass ``attention_mask=None`` yourself for unpadded batches to skip it).
    """
    if attention_mask is None:
        return None
    if tuple(attention_mask.shape) != (bsz, seq_len):
        raise InputError(f"attention_mask has shape {tuple(attention_mask.shape)}, expected {(bsz, seq_len)}")
    keep = attention_mask.bool()
    if bool(keep.all()):
        return None
    return keep[:, None, None, :]


class TreediffModel(TreediffPreTrainedModel):
    """Embeddings (+ structure term) → ``n_layers`` bidirectional blocks → final RMSNorm."""

    def __init__(self, config: TreediffConfig) -> None:
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.structure_encoder = StructureEncoder(config) if config.use_structure_encoder else None
        self.layers = nn.ModuleList(TreediffBlock(config) for _ in range(config.n_layers))
        self.norm = nn.RMSNorm(config.d_model, eps=config.norm_eps)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        structure: StructureBatch | None = None,
        **kwargs,
    ) -> BaseModelOutput:
        """``input_ids`` ``[B, L]`` (noised); ``attention_mask`` ``[B, L]`` (1 = real token, 0 = pad).

        ``structure`` is used when the config enables the structure encoder (``None`` there means
        "no structure for this batch") and ignored otherwise, so one data pipeline serves both.
        """
        if input_ids.ndim != 2:
            raise InputError(f"input_ids must be [B, L], got shape {tuple(input_ids.shape)}")
        bsz, seq_len = input_ids.shape
        if seq_len > self.config.max_position:
            raise InputError(f"sequence length {seq_len} exceeds max_position {self.config.max_position}")
        x = self.embed_tokens(input_ids)
        if self.structure_encoder is not None and structure is not None:
            x = x + self.structure_encoder(x, structure)
        attn_mask = _padding_mask(attention_mask, bsz, seq_len)
        cos, sin = rope_cos_sin(seq_len, self.config.head_dim, self.config.rope_theta, input_ids.device)
        for layer in self.layers:
            x = layer(x, cos, sin, attn_mask)
        return BaseModelOutput(last_hidden_state=self.norm(x))


class TreediffForMaskedDiffusion(TreediffPreTrainedModel):
    """:class:`TreediffModel` + LM head; with ``tie_embeddings`` the head *is* the embedding matrix."""

    def __init__(self, config: TreediffConfig) -> None:
        super().__init__(config)
        self.model = TreediffModel(config)
        self.lm_head = None if config.tie_embeddings else nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.embed_tokens

    def get_output_embeddings(self) -> nn.Linear | None:
        return self.lm_head

    def output_weight(self) -> Tensor:
        return self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        structure: StructureBatch | None = None,
        labels: Tensor | None = None,
        **kwargs,
    ) -> DenoiserOutput:
        """Logits for every position; ``labels`` (``-100`` = ignore) adds a plain mean cross-entropy.

        The diffusion ELBO weighting (1/t, masked positions only) belongs to the trainer.
        """
        hidden = self.model(input_ids, attention_mask=attention_mask, structure=structure).last_hidden_state
        logits = F.linear(hidden, self.output_weight())
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        return DenoiserOutput(loss=loss, logits=logits)
