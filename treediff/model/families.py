"""Model families of external masked-diffusion checkpoints: their conventions as data (``families.toml``).

:func:`family_for` picks the family of a ``config.json`` (its ``model_type``, else a class name in its
``auto_map``); :class:`Family` holds what :class:`~treediff.model.formats.ExternalLM` needs to know:
the mask token, the logit shift, the attention pattern, decoding defaults, the cache kind and the chat
template rule.  :func:`attention_bias` builds the attention mask a family's model takes for a padded batch.

>>> family_for({"model_type": "Dream"}).logit_shift
True
>>> family_for({"model_type": "x", "auto_map": {"AutoModel": "modeling_llada.LLaDAModelLM"}}).mask_id
126336
>>> family_for({"model_type": "bert"}).name
'generic'
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from treediff.errors import ConfigError

__all__ = ["Family", "FAMILIES", "family_for", "attention_bias", "ATTENTIONS", "CACHES"]

ATTENTIONS = ("bidirectional", "block_causal")
CACHES = ("prefix", "blocks", "none")


@dataclass(frozen=True)
class Family:
    """One family's conventions (see ``families.toml`` for each field's meaning)."""

    name: str
    model_type: tuple[str, ...]
    auto_map: tuple[str, ...]
    mask_token: str
    mask_id: int
    logit_shift: bool
    attention: str
    block_length: int
    steps: int
    context: int
    cache: str
    chat: str

    def __post_init__(self) -> None:
        if self.attention not in ATTENTIONS:
            raise ConfigError(f"family {self.name}: attention must be one of {', '.join(ATTENTIONS)}; "
                              f"got {self.attention!r}")
        if self.cache not in CACHES:
            raise ConfigError(f"family {self.name}: cache must be one of {', '.join(CACHES)}; got {self.cache!r}")
        if self.chat not in ("auto", "off"):
            raise ConfigError(f"family {self.name}: chat must be auto or off; got {self.chat!r}")
        if self.block_length < 0 or self.steps < 0 or self.context < 1:
            raise ConfigError(f"family {self.name}: block_length, steps must be >= 0 and context >= 1")

    @property
    def sampler_defaults(self) -> dict[str, Any]:
        """The :class:`~treediff.sample.config.SamplerConfig` fields this family decodes with by default."""
        return {"block_size": self.block_length, "steps": self.steps or None}


@functools.lru_cache(maxsize=1)
def _load() -> dict[str, Family]:
    data = tomllib.loads((Path(__file__).with_name("families.toml")).read_text(encoding="utf-8"))
    out = {}
    for name, table in data.items():
        fields = dict(table)
        fields["model_type"] = tuple(str(t).lower() for t in fields.get("model_type", ()))
        fields["auto_map"] = tuple(fields.get("auto_map", ()))
        out[name] = Family(name=name, **fields)
    return out


#: name -> :class:`Family`, from ``families.toml``.
FAMILIES: Mapping[str, Family] = _load()


def family_for(config: Mapping[str, Any]) -> Family:
    """The family of a ``config.json`` mapping: by ``model_type``, then by ``auto_map`` class names; else ``generic``."""
    model_type = str(config.get("model_type", "")).lower()
    for family in FAMILIES.values():
        if model_type and model_type in family.model_type:
            return family
    classes = " ".join(str(v) for v in (config.get("auto_map") or {}).values())
    for family in FAMILIES.values():
        if any(key in classes for key in family.auto_map):
            return family
    return FAMILIES["generic"]


def attention_bias(family: Family, attention_mask: Tensor | None, length: int, *, offset: int = 0,
                   total: int | None = None) -> Tensor | None:
    """The attention mask the family's model takes: ``None`` (nothing to mask), the ``[B, L]`` padding mask
    (bidirectional), or a ``[B, 1, L, total]`` bool mask (block-causal: query ``i`` sees key ``j`` when ``j``'s
    block is not after ``i``'s, blocks of ``block_length`` counted from position 0).  ``offset``: absolute
    position of the first query (a cached tail); ``total``: number of keys (cache plus tail)."""
    if family.attention == "bidirectional":
        return None if attention_mask is None else attention_mask.long()
    total = offset + length if total is None else total
    size = max(1, family.block_length)
    device = attention_mask.device if attention_mask is not None else None
    q_block = (torch.arange(offset, offset + length, device=device) // size)[:, None]
    k_block = (torch.arange(total, device=device) // size)[None, :]
    allowed = (k_block <= q_block)[None, None]
    if attention_mask is not None:  # padding over all keys (a tail's mask covers the tail only: pad the head)
        keys = attention_mask.bool()
        if keys.shape[1] < total:
            head = torch.ones(keys.shape[0], total - keys.shape[1], dtype=torch.bool, device=keys.device)
            keys = torch.cat([head, keys], dim=1)
        allowed = allowed & keys[:, None, None, :]
    return allowed
