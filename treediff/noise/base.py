"""The masker contract: :class:`MaskedBatch`, the :class:`Masker` base, configs and the ``MASKERS`` registry.

A masker is a small seedable callable::

    masked = masker(batch, t, generator, mask_id)

It never mutates ``batch``; all randomness comes from ``generator``, so the same
seed gives the same mask.  Every masker has a frozen config dataclass, validated
in ``__post_init__``, that round-trips through ``to_dict``/``from_dict`` and is
resolved by name through :data:`MASKERS` (see :func:`build_masker`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Mapping

import torch

from treediff.errors import ConfigError, InputError
from treediff.registry import Registry
from treediff.tokens.batch import AlignedBatch

__all__ = [
    "require",
    "MaskedBatch",
    "MaskerConfig",
    "Masker",
    "MASKERS",
    "register_masker",
    "build_masker",
    "maskable_positions",
    "check_t",
    "rand",
]


@dataclass(frozen=True)
class MaskedBatch:
    """The output of a masker.

    * ``input_ids``: ``[B, L]`` long, the noised ids (``mask_id`` where masked);
    * ``targets``: ``[B, L]`` long, the clean ids the model must predict (for
      variable-length holes the extra hole positions hold ``<|endofhole|>``);
    * ``mask``: ``[B, L]`` bool, the positions to predict; the loss is taken on these only;
    * ``loss_weight``: ``[B]`` float, the per-sample weight of the masked-token loss
      (the ELBO weight of the masker; see ``docs/noise.md``);
    * ``t``: ``[B]`` float, the noise level each sample was drawn at;
    * ``attention_mask``: ``[B, L]`` bool, the positions the model may attend to
      (the batch's own mask, minus what a masker drops, e.g. the block suffix);
    * ``fill_mask``: ``[B, L]`` bool or ``None``, masked positions added token by token by
      an exact-budget second pass (not part of any AST span);
    * ``block_spans``: ``[B, 2]`` long or ``None``, the corrupted block ``[start, end)`` per sample;
    * ``hole_spans``: ``[B, 3]`` long or ``None``, ``(start, region_len, span_len)`` of the
      variable-length hole of each sample, ``-1`` rows where the sample has none.
    """

    input_ids: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    loss_weight: torch.Tensor
    t: torch.Tensor
    attention_mask: torch.Tensor
    fill_mask: torch.Tensor | None = None
    block_spans: torch.Tensor | None = None
    hole_spans: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.input_ids.shape[1])

    @property
    def num_masked(self) -> torch.Tensor:
        """``[B]`` long: how many positions each sample must predict."""
        return self.mask.sum(dim=1)

    def to(self, device: torch.device | str) -> "MaskedBatch":
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        return replace(self, **moved)

    def validate(self) -> "MaskedBatch":
        """Check shapes, dtypes and that every masked position is attended; return self."""
        b, length = self.input_ids.shape
        for name in ("targets", "mask", "attention_mask", "fill_mask"):
            value = getattr(self, name)
            if value is not None and value.shape != (b, length):
                raise ValueError(f"{name} has shape {tuple(value.shape)}, expected {(b, length)}")
        for name in ("loss_weight", "t"):
            if getattr(self, name).shape != (b,):
                raise ValueError(f"{name} has shape {tuple(getattr(self, name).shape)}, expected {(b,)}")
        if self.mask.dtype != torch.bool or self.attention_mask.dtype != torch.bool:
            raise ValueError("mask and attention_mask must be bool")
        if (self.mask & ~self.attention_mask).any():
            raise ValueError("a masked position is not attended")
        return self


def maskable_positions(batch: AlignedBatch) -> torch.Tensor:
    """``[B, L]`` bool: real tokens that noise may touch (attended and not special)."""
    return batch.attention_mask.bool() & ~batch.special_mask.bool()


def check_t(t: torch.Tensor | float, batch_size: int, device: torch.device) -> torch.Tensor:
    """Return ``t`` as a float ``[B]`` tensor on ``device``; reject shapes and values outside ``[0, 1]``."""
    t = torch.as_tensor(t, dtype=torch.float32)
    if t.ndim == 0:
        t = t.expand(batch_size)
    if t.shape != (batch_size,):
        raise InputError(f"t must have shape [{batch_size}], got {tuple(t.shape)}")
    if torch.isnan(t).any() or (t < 0).any() or (t > 1).any():
        raise InputError(f"t must lie in [0, 1], got min {t.min().item():.4g}, max {t.max().item():.4g}")
    return t.to(device)


def rand(shape: tuple[int, ...] | torch.Size, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Uniform ``[0, 1)`` draws made on the generator's device and moved to ``device``.

    Drawing on the generator's own device keeps masks identical for one seed
    whatever device the batch lives on.
    """
    return torch.rand(tuple(shape), generator=generator, device=generator.device).to(device)


@dataclass(frozen=True)
class MaskerConfig:
    """Base of every masker config: frozen, validated, and round-tripped through plain dicts.

    Subclasses set the class attribute ``masker`` (the registry name) and validate
    their fields in ``__post_init__``, raising :class:`ConfigError` that names the field.
    """

    masker: ClassVar[str] = ""

    @property
    def max_growth(self) -> int:
        """The most tokens this masker may add to a window (0: lengths never grow); a model trained with it
        needs ``max_position >= seq_len + max_growth``."""
        return 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the masker ``name`` and every field."""
        out: dict[str, Any] = {"name": self.masker}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, MaskerConfig):
                value = value.to_dict()
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MaskerConfig":
        """Build from :meth:`to_dict` output; unknown keys raise :class:`ConfigError`."""
        data = dict(data)
        name = data.pop("name", cls.masker)
        if name is not None and MASKERS.resolve(name).config_class is not cls:
            raise ConfigError(f"name: config for {name!r} given to {cls.__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{unknown[0]}: unknown field of {cls.__name__}; allowed: {', '.join(sorted(known))}")
        return cls(**data)


def require(condition: bool, field_name: str, message: str) -> None:
    """A masker config's check: ``ConfigError("<field>: <message>")`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(f"{field_name}: {message}")


class Masker:
    """Base class: holds a frozen config; subclasses implement :meth:`__call__`."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type[MaskerConfig]] = MaskerConfig

    def __init__(self, config: MaskerConfig | None = None, **overrides: Any) -> None:
        if config is None:
            config = self.config_class(**overrides)
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        if not isinstance(config, self.config_class):
            raise ConfigError(f"config: expected {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config

    @classmethod
    def from_config(cls, config: MaskerConfig | Mapping[str, Any]) -> "Masker":
        if isinstance(config, Mapping):
            config = cls.config_class.from_dict(config)
        return cls(config)

    def __call__(
        self, batch: AlignedBatch, t: torch.Tensor, generator: torch.Generator, mask_id: int
    ) -> MaskedBatch:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


MASKERS: Registry[type[Masker]] = Registry("masker", error=ConfigError)


def register_masker(cls: type[Masker]) -> type[Masker]:
    """Class decorator: register ``cls`` under ``cls.name`` (and its dashed alias)."""
    MASKERS.register(cls.name, cls, aliases=(cls.name.replace("_", "-"),))
    return cls


def build_masker(config: Mapping[str, Any] | MaskerConfig) -> Masker:
    """Build a masker from a config object or a dict whose ``name`` picks the class.

    >>> build_masker({"name": "random", "eps": 0.01}).config.eps
    0.01
    """
    if isinstance(config, MaskerConfig):
        return MASKERS.resolve(config.masker)(config)
    if not isinstance(config, Mapping) or "name" not in config:
        raise ConfigError("name: a masker config dict needs a 'name'; choose one of: " + ", ".join(MASKERS.names()))
    cls = MASKERS.resolve(str(config["name"]))
    return cls.from_config(config)
