"""The denoiser: a bidirectional (non-causal) transformer that predicts every position's token.

RoPE positions, pre-norm RMSNorm, SwiGLU MLP, fused QKV, ``scaled_dot_product_attention`` with a
key-padding mask (``attn_mask=None`` when nothing is padded, so FlashAttention can run on GPU).
``TreediffForMaskedDiffusion`` adds the (optionally tied) LM head and returns logits ``[B, L, V]``.

Block-wise decoding can keep the keys/values of a decoded prefix (:class:`PrefixCache`, Fast-dLLM
style) and run only the tail through the model until the next refresh; see ``docs/model.md``.

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
    "PrefixCache",
    "DenoiserOutput",
    "WindowCache",
    "TreediffModelOutput",
    "TreediffPreTrainedModel",
    "TreediffModel",
    "TreediffForMaskedDiffusion",
    "rope_cos_sin",
    "apply_rope",
]


@dataclass(frozen=True)
class PrefixCache:
    """Per-layer keys/values of positions ``[0, length)`` from one full forward (block-wise decoding).

    ``keys``/``values``: one ``[B, H, P, head_dim]`` tensor per layer, RoPE already applied to the
    keys; ``key_mask`` ``[B, P]`` (True = real token), ``None`` when no prefix position is padded.
    A forward with ``prefix_cache=`` runs only positions ``P..`` and attends to these plus its own.
    Build one under ``torch.no_grad()`` / ``inference_mode()``: it holds whatever graph made it.
    """

    keys: tuple[Tensor, ...]
    values: tuple[Tensor, ...]
    length: int
    key_mask: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.keys[0].shape[0]

    def to(self, device: torch.device | str) -> "PrefixCache":
        return PrefixCache(
            keys=tuple(k.to(device) for k in self.keys),
            values=tuple(v.to(device) for v in self.values),
            length=self.length,
            key_mask=None if self.key_mask is None else self.key_mask.to(device),
        )


@dataclass(frozen=True)
class WindowCache:
    """Fast-dLLM's dual cache: per-layer keys/values of **every** position ``[0, L)`` from one full forward (RoPE
    applied; ``[B, H, L, head_dim]``), for forwards that recompute only the window ``[start, stop)``: its queries
    attend to the cached keys before and after it and to the window's own, new ones.  ``key_mask`` ``[B, L]``
    (True = real token), ``None`` when nothing is padded.  The cached keys/values of the window itself stand in
    for the new ones where a row's own window is narrower than the batch's (``window_rows``), so a row decodes as
    it would alone."""

    keys: tuple[Tensor, ...]
    values: tuple[Tensor, ...]
    start: int
    stop: int
    key_mask: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.keys[0].shape[0]

    @property
    def length(self) -> int:
        """Where the window starts (the RoPE offset of a forward with this cache), as :attr:`PrefixCache.length`."""
        return self.start

    @property
    def window(self) -> int:
        return self.stop - self.start

    def to(self, device: torch.device | str) -> "WindowCache":
        return WindowCache(keys=tuple(k.to(device) for k in self.keys), values=tuple(v.to(device) for v in self.values),
                           start=self.start, stop=self.stop,
                           key_mask=None if self.key_mask is None else self.key_mask.to(device))


@dataclass
class DenoiserOutput(ModelOutput):
    """``logits`` ``[B, L, V]``; ``loss`` (mean cross-entropy over ``labels != -100``) when labels are given.

    ``cache``: the :class:`PrefixCache` (:class:`WindowCache` with ``suffix_start``) of a ``return_cache=True``
    forward, else ``None``.
    """

    loss: Tensor | None = None
    logits: Tensor | None = None
    cache: PrefixCache | WindowCache | None = None


@dataclass
class TreediffModelOutput(BaseModelOutput):
    """:class:`BaseModelOutput` plus the :class:`PrefixCache` (or :class:`WindowCache`) of a ``return_cache=True``
    forward."""

    cache: PrefixCache | WindowCache | None = None


def rope_cos_sin(
    seq_len: int, head_dim: int, theta: float, device: torch.device, offset: int = 0
) -> tuple[Tensor, Tensor]:
    """``cos``/``sin`` tables ``[L, head_dim/2]`` in fp32 for positions ``offset .. offset+L-1``.

    Recomputed per call (cheap, no stale buffers); integer positions are exact in fp32, so a table
    with an offset equals the matching rows of the full table bit for bit.
    """
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    positions = torch.arange(offset, offset + seq_len, device=device, dtype=torch.float32)
    angles = torch.outer(positions, inv_freq)
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

    def forward(
        self,
        x: Tensor,
        cos: Tensor,
        sin: Tensor,
        attn_mask: Tensor | None,
        past_kv: tuple[Tensor, Tensor] | None = None,
        keep: int | None = None,
        window: tuple[int, int, Tensor | None] | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        """Output ``[B, L, d]`` and, when ``keep`` is set, this call's keys/values of positions ``[0, keep)``.

        ``past_kv`` (cached prefix keys/values) is put in front of this call's keys/values; with ``window``
        ``(a, b, rows)`` it holds every position's keys/values instead, and this call's (positions ``[a, b)``) go in
        their place (where ``rows`` ``[B, b - a]``, if given, is True; the cached ones elsewhere).
        """
        bsz, seq_len, d = x.shape
        q, k, v = self.qkv(x).view(bsz, seq_len, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        # Copies, so the cache does not pin the whole qkv activation of the refresh pass.
        kept = None if keep is None else (k[:, :, :keep].contiguous(), v[:, :, :keep].contiguous())
        if past_kv is not None and window is not None:
            a, b, rows = window
            pk, pv = past_kv[0].to(k.dtype), past_kv[1].to(v.dtype)
            if rows is not None:
                own = rows[:, None, :, None]
                k, v = torch.where(own, k, pk[:, :, a:b]), torch.where(own, v, pv[:, :, a:b])
            k = torch.cat([pk[:, :, :a], k, pk[:, :, b:]], dim=2)
            v = torch.cat([pv[:, :, :a], v, pv[:, :, b:]], dim=2)
        elif past_kv is not None:
            k = torch.cat([past_kv[0].to(k.dtype), k], dim=2)
            v = torch.cat([past_kv[1].to(v.dtype), v], dim=2)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0, is_causal=False
        )
        return self.proj(y.transpose(1, 2).reshape(bsz, seq_len, d)), kept


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

    def forward(
        self,
        x: Tensor,
        cos: Tensor,
        sin: Tensor,
        attn_mask: Tensor | None,
        past_kv: tuple[Tensor, Tensor] | None = None,
        keep: int | None = None,
        window: tuple[int, int, Tensor | None] | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        """New hidden states and the kept prefix keys/values (see :meth:`TreediffAttention.forward`)."""
        h, kept = self.attn(self.attn_norm(x), cos, sin, attn_mask, past_kv=past_kv, keep=keep, window=window)
        x = x + self.drop(h)
        return x + self.drop(self.mlp(self.mlp_norm(x))), kept


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


def _cached_key_mask(cache: PrefixCache | WindowCache, tail_mask: Tensor | None, tail_len: int) -> Tensor | None:
    """Key mask ``[B, 1, 1, P + T]`` over ``[cache keys ++ tail keys]`` (a :class:`WindowCache`'s over all its
    positions), or ``None`` when nothing is padded."""
    if cache.key_mask is None and tail_mask is None:
        return None
    if isinstance(cache, WindowCache):
        mask = cache.key_mask
        if mask is None:
            mask = torch.ones(cache.batch_size, cache.keys[0].shape[2], dtype=torch.bool, device=cache.keys[0].device)
        if tail_mask is not None:
            mask = mask.clone()
            mask[:, cache.start:cache.stop] = tail_mask[:, 0, 0, :].to(mask.device)
        return mask[:, None, None, :]
    bsz, device = cache.batch_size, cache.keys[0].device
    head = cache.key_mask
    if head is None:
        head = torch.ones(bsz, cache.length, dtype=torch.bool, device=device)
    tail = torch.ones(bsz, tail_len, dtype=torch.bool, device=device) if tail_mask is None else tail_mask[:, 0, 0, :]
    return torch.cat([head.to(tail.device), tail], dim=1)[:, None, None, :]


def _kept_mask(attn_mask: Tensor | None, length: int) -> Tensor | None:
    """A cache's key mask: the first ``length`` positions of ``attn_mask`` (a copy, since the caller may edit its
    attention_mask in place while the cache lives), ``None`` when none of them is padded (the flash path stays
    open)."""
    if attn_mask is None:
        return None
    mask = attn_mask[:, 0, 0, :length].clone()
    return None if bool(mask.all()) else mask


def _check_window_args(seq_len: int, prefix_length: int | None, return_cache: bool, cache, suffix_start: int | None,
                       window_rows: Tensor | None) -> None:
    if suffix_start is not None and not (return_cache and prefix_length is not None
                                         and prefix_length <= suffix_start <= seq_len):
        raise InputError(f"suffix_start={suffix_start!r} needs return_cache=True and a value in "
                         f"[prefix_length, {seq_len}]")
    if isinstance(cache, WindowCache) and seq_len != cache.window:
        raise InputError(f"a window cache takes its window of {cache.window} positions, got {seq_len}")
    if window_rows is not None and (not isinstance(cache, WindowCache) or window_rows.shape[1] != seq_len):
        raise InputError("window_rows goes with a window cache and covers its window")


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
        *,
        prefix_length: int | None = None,
        return_cache: bool = False,
        prefix_cache: PrefixCache | WindowCache | None = None,
        suffix_start: int | None = None,
        window_rows: Tensor | None = None,
        **kwargs,
    ) -> TreediffModelOutput:
        """``input_ids`` ``[B, L]`` (noised); ``attention_mask`` ``[B, L]`` (1 = real token, 0 = pad).

        ``structure`` is used when the config enables the structure encoder (``None`` there means
        "no structure for this batch") and ignored otherwise, so one data pipeline serves both.

        ``return_cache=True, prefix_length=P``: a normal full forward that also returns ``cache``,
        the keys/values of positions ``[0, P)``. ``prefix_cache=cache``: ``input_ids`` are the tail
        positions ``P..P+L-1`` only (RoPE offset by ``P``); they attend to the cached prefix and to
        themselves, with ``attention_mask`` covering the tail alone.

        ``return_cache=True, prefix_length=P, suffix_start=Q``: the cache is a :class:`WindowCache` of every
        position (Fast-dLLM's dual cache); ``prefix_cache=`` such a cache: ``input_ids`` are the window ``P..Q-1``
        only, attending to the cached keys before and after it; ``window_rows`` ``[B, Q-P]`` (bool), if given,
        says which window positions of each row take the new keys/values (the others keep the cached ones).
        """
        if input_ids.ndim != 2:
            raise InputError(f"input_ids must be [B, L], got shape {tuple(input_ids.shape)}")
        bsz, seq_len = input_ids.shape
        offset = 0 if prefix_cache is None else prefix_cache.length
        self._check_cache_args(bsz, seq_len, structure, prefix_length, return_cache, prefix_cache)
        windowed = isinstance(prefix_cache, WindowCache)
        _check_window_args(seq_len, prefix_length, return_cache, prefix_cache, suffix_start, window_rows)
        total = prefix_cache.keys[0].shape[2] if windowed else offset + seq_len
        if total > self.config.max_position:
            raise InputError(f"sequence length {total} exceeds max_position {self.config.max_position}")
        x = self.embed_tokens(input_ids)
        if self.structure_encoder is not None and structure is not None:
            x = x + self.structure_encoder(x, structure)
        attn_mask = _padding_mask(attention_mask, bsz, seq_len)
        cos, sin = rope_cos_sin(seq_len, self.config.head_dim, self.config.rope_theta, input_ids.device, offset)
        if prefix_cache is not None:
            attn_mask = _cached_key_mask(prefix_cache, attn_mask, seq_len)
        keep = (seq_len if suffix_start is not None else prefix_length) if return_cache else None
        window = (prefix_cache.start, prefix_cache.stop, window_rows) if windowed else None
        kept = []
        for i, layer in enumerate(self.layers):
            past = None if prefix_cache is None else (prefix_cache.keys[i], prefix_cache.values[i])
            x, kv = layer(x, cos, sin, attn_mask, past_kv=past, keep=keep, window=window)
            kept.append(kv)
        cache = None
        if return_cache and suffix_start is not None:
            keys, values = zip(*kept)
            cache = WindowCache(keys=keys, values=values, start=prefix_length, stop=suffix_start,
                                key_mask=_kept_mask(attn_mask, seq_len))
        elif return_cache:
            key_mask = _kept_mask(attn_mask, prefix_length)
            keys, values = zip(*kept)
            cache = PrefixCache(keys=keys, values=values, length=prefix_length, key_mask=key_mask)
        return TreediffModelOutput(last_hidden_state=self.norm(x), cache=cache)

    def _check_cache_args(
        self,
        bsz: int,
        seq_len: int,
        structure: StructureBatch | None,
        prefix_length: int | None,
        return_cache: bool,
        prefix_cache: PrefixCache | WindowCache | None,
    ) -> None:
        if return_cache:
            if prefix_cache is not None:
                raise InputError("return_cache=True cannot be combined with prefix_cache; refresh with a full forward")
            is_int = isinstance(prefix_length, int) and not isinstance(prefix_length, bool)
            if not is_int or not 0 <= prefix_length <= seq_len:
                raise InputError(f"return_cache=True needs prefix_length in [0, {seq_len}], got {prefix_length!r}")
        elif prefix_length is not None:
            raise InputError(f"prefix_length={prefix_length!r} is only used with return_cache=True")
        if prefix_cache is None:
            return
        if structure is not None and self.structure_encoder is not None:
            raise InputError("the structure encoder needs the whole sequence; pass structure=None with prefix_cache")
        if len(prefix_cache.keys) != len(self.layers) or len(prefix_cache.values) != len(self.layers):
            raise InputError(f"prefix_cache has {len(prefix_cache.keys)} layers, the model has {len(self.layers)}")
        cached = prefix_cache.keys[0].shape[2] if isinstance(prefix_cache, WindowCache) else prefix_cache.length
        want = (bsz, self.config.n_heads, cached, self.config.head_dim)
        if tuple(prefix_cache.keys[0].shape) != want:
            raise InputError(f"prefix_cache keys have shape {tuple(prefix_cache.keys[0].shape)}, expected {want}")


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
        *,
        prefix_length: int | None = None,
        return_cache: bool = False,
        prefix_cache: PrefixCache | WindowCache | None = None,
        suffix_start: int | None = None,
        window_rows: Tensor | None = None,
        logits_at: Tensor | None = None,
        **kwargs,
    ) -> DenoiserOutput:
        """Logits for every position; ``labels`` (``-100`` = ignore) adds a plain mean cross-entropy.

        ``logits_at`` (``[B, L]`` bool): logits only at those positions, ``[N, V]`` in row-major order (the
        trainer's masked positions: the output projection is most of a small model's step, and the other
        positions' logits are never used); not with ``labels``.

        The diffusion ELBO weighting (1/t, masked positions only) belongs to the trainer.
        Prefix caching (``prefix_length``, ``return_cache``, ``prefix_cache``) is as in
        :meth:`TreediffModel.forward`; with ``prefix_cache`` the logits cover the tail only.

        >>> import torch
        >>> model = TreediffForMaskedDiffusion(TreediffConfig.from_preset("tiny", vocab_size=128)).eval()
        >>> ids = torch.randint(0, 128, (1, 12))
        >>> full = model(ids, prefix_length=8, return_cache=True)
        >>> tail = model(ids[:, 8:], prefix_cache=full.cache)
        >>> tail.logits.shape, torch.allclose(tail.logits, full.logits[:, 8:], atol=1e-5)
        (torch.Size([1, 4, 128]), True)
        >>> dual = model(ids, prefix_length=4, suffix_start=8, return_cache=True)
        >>> window = model(ids[:, 4:8], prefix_cache=dual.cache)
        >>> window.logits.shape, torch.allclose(window.logits, dual.logits[:, 4:8], atol=1e-5)
        (torch.Size([1, 4, 128]), True)
        """
        out = self.model(
            input_ids,
            attention_mask=attention_mask,
            structure=structure,
            prefix_length=prefix_length,
            return_cache=return_cache,
            prefix_cache=prefix_cache,
            suffix_start=suffix_start,
            window_rows=window_rows,
        )
        hidden = out.last_hidden_state
        if logits_at is not None:
            if labels is not None:
                raise ValueError("logits_at and labels cannot be combined")
            hidden = hidden[logits_at]
        logits = F.linear(hidden, self.output_weight())
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        return DenoiserOutput(loss=loss, logits=logits, cache=out.cache)
