"""TEST FIXTURE, not a real model: a tiny stand-in architecture for the external-model family tests.

The real LLaDA, Dream/DiffuCoder and SDAR/Stable-DiffCoder checkpoints ship their own modelling code
(``auto_map`` + ``trust_remote_code``).  This file plays that role offline: a small transformer that
takes what those models take (``input_ids``, an ``attention_mask`` that is either a ``[B, L]`` padding
mask or a ``[B, 1, L, K]`` boolean mask, ``past_key_values`` as per-layer ``(key, value)`` tuples of
earlier positions) and returns ``logits`` and, with ``use_cache``, ``past_key_values``.  Attention is
never causal by itself: the family's attention pattern comes from the mask the adapter passes.  It is
copied into each fixture directory and named in its ``config.json`` ``auto_map``.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import MaskedLMOutput


class FixtureConfig(PretrainedConfig):
    model_type = "fixture"

    def __init__(self, vocab_size=300, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                 max_position_embeddings=256, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        super().__init__(**kwargs)


class FixtureLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        d = config.hidden_size
        self.heads = config.num_attention_heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x, mask, past):
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        att = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.out(att.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x)), (k, v)


class FixtureModel(PreTrainedModel):
    config_class = FixtureConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.pos = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.layers = nn.ModuleList(FixtureLayer(config) for _ in range(config.num_hidden_layers))
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, 0.5)

    def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=False, **kwargs):
        past_len = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        n = input_ids.shape[1]
        x = self.embed(input_ids) + self.pos(torch.arange(past_len, past_len + n, device=input_ids.device))
        mask = attention_mask
        if mask is not None and mask.dim() == 2:  # padding mask over all keys
            keys = mask.bool()
            if keys.shape[1] < past_len + n:
                keys = torch.cat([keys.new_ones(keys.shape[0], past_len + n - keys.shape[1]), keys], dim=1)
            mask = keys[:, None, None, :]
        kept = []
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, mask, None if past_key_values is None else past_key_values[i])
            kept.append(kv)
        out = MaskedLMOutput(logits=self.head(x))
        out["past_key_values"] = tuple(kept) if use_cache else None
        return out
