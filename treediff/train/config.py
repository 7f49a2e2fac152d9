"""The training configuration: one TOML file → one frozen :class:`TrainConfig`.

Every section is a frozen dataclass validated in ``__post_init__``; a bad field raises a
one-line :class:`~treediff.errors.ConfigError` that names the field (``optim.lr``) and
what it accepts.  ``--set key=value`` overrides go through :func:`apply_overrides`,
which coerces the string to the dataclass field's declared type.

>>> cfg = TrainConfig.from_dict({"optim": {"lr": 1e-3, "max_steps": 10}})
>>> apply_overrides(cfg, ["optim.lr=3e-4", "checkpoint.keep_last=2"]).optim.lr
0.0003
>>> TrainConfig.from_dict({"optim": {"lrr": 1}})
Traceback (most recent call last):
...
treediff.errors.ConfigError: unknown key 'optim.lrr'; allowed keys: beta1, beta2, eps, grad_accum, grad_clip, lr, max_steps, min_lr, warmup_steps, weight_decay
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from treediff.errors import ConfigError

__all__ = [
    "TrainConfig",
    "ModelSection",
    "DataSection",
    "NoiseSection",
    "OptimSection",
    "CheckpointSection",
    "LogSection",
    "load_config",
    "apply_overrides",
    "read_toml",
    "ConfigSection",
    "bounded_field",
    "masker_growth",
]


def bounded_field(default: Any, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
          lt: float | None = None, choices: tuple[str, ...] | None = None) -> Any:
    """A dataclass field with range / choice constraints checked by :meth:`ConfigSection._validate`."""
    meta = {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


def _type_name(tp: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", dict: "table"}.get(tp, str(tp))


class ConfigSection:
    """Shared validation and dict round-trip for the config sections."""

    SECTION: ClassVar[str] = ""

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def _hints(cls) -> dict[str, Any]:
        return typing.get_type_hints(cls)

    def _key(self, name: str) -> str:
        return f"{self.SECTION}.{name}" if self.SECTION else name

    def _validate(self) -> None:
        hints = self._hints()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            tp = hints[f.name]
            key = self._key(f.name)
            if dataclasses.is_dataclass(tp):
                if not isinstance(value, tp):
                    raise ConfigError(f"{key} must be a table, got {type(value).__name__}")
                continue
            value = _check_type(key, value, tp)
            object.__setattr__(self, f.name, value)
            meta = f.metadata
            if meta.get("choices") is not None and value not in meta["choices"]:
                raise ConfigError(f"{key} must be one of {', '.join(meta['choices'])}; got {value!r}")
            for op, test, word in (("ge", lambda v, b: v >= b, ">="), ("gt", lambda v, b: v > b, ">"),
                                   ("le", lambda v, b: v <= b, "<="), ("lt", lambda v, b: v < b, "<")):
                bound = meta.get(op)
                if bound is not None and not test(value, bound):
                    raise ConfigError(f"{key} must be {word} {bound}; got {value!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], prefix: str = "") -> "ConfigSection":
        if not isinstance(data, dict):
            raise ConfigError(f"{prefix or cls.SECTION or 'config'} must be a table, got {type(data).__name__}")
        hints = cls._hints()
        names = [f.name for f in dataclasses.fields(cls)]
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            full = f"{prefix}.{key}" if prefix else key
            if key not in names:
                raise ConfigError(f"unknown key {full!r}; allowed keys: {', '.join(sorted(names))}")
            tp = hints[key]
            if dataclasses.is_dataclass(tp):
                value = tp.from_dict(value, full)
            kwargs[key] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, ConfigSection) else (dict(value) if isinstance(value, dict) else value)
        return out


def _check_type(key: str, value: Any, tp: Any) -> Any:
    """Return ``value`` as type ``tp`` (ints widen to float) or raise a one-line ConfigError."""
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, tp) and not (tp in (int, float) and isinstance(value, bool))
    if tp is float and ok and not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite float; got {value!r}")
    if not ok:
        raise ConfigError(f"{key} must be {_type_name(tp)}; got {type(value).__name__} {value!r}")
    return value


@dataclass(frozen=True)
class ModelSection(ConfigSection):
    """Which denoiser to build: a :meth:`TreediffConfig.from_preset` name plus field overrides.

    ``vocab_size`` and the special ids always come from the tokenizer, never from here.
    ``init_from``: a model directory (an exported bundle, ``treediff export``, or a checkpoint's
    ``model/``) whose weights start a fresh run (fine-tuning); its tokenizer must be ``data.tokenizer``'s.
    A resumed run takes its weights from the checkpoint instead.
    """

    SECTION: ClassVar[str] = "model"
    preset: str = "tiny"
    overrides: dict = bounded_field({})
    init_from: str = ""


@dataclass(frozen=True)
class DataSection(ConfigSection):
    """The corpus, its tokenizer and how batches are cut.

    ``batch_size`` is the micro-batch per process; one optimizer step sees
    ``batch_size * optim.grad_accum * world_size`` sequences.
    """

    SECTION: ClassVar[str] = "data"
    corpus: str = "examples/corpus/python"
    tokenizer: str = "examples/tokenizer"
    cache_dir: str = ""
    seq_len: int = bounded_field(256, ge=8, le=1 << 20)
    batch_size: int = bounded_field(8, ge=1)
    num_workers: int = bounded_field(0, ge=0, le=64)
    val_fraction: float = bounded_field(0.1, ge=0.0, lt=1.0)


@dataclass(frozen=True)
class NoiseSection(ConfigSection):
    """The masker, by registry name, plus its options (passed to ``build_masker``)."""

    SECTION: ClassVar[str] = "noise"
    masker: str = "ast_span"
    options: dict = bounded_field({})
    warmup_steps: int = bounded_field(0, ge=0)
    u_init: float = bounded_field(1e-3, gt=0.0, le=1.0)


@dataclass(frozen=True)
class OptimSection(ConfigSection):
    """AdamW with a linear-warmup cosine schedule from ``lr`` down to ``min_lr``."""

    SECTION: ClassVar[str] = "optim"
    lr: float = bounded_field(3e-4, gt=0.0, le=1.0)
    min_lr: float = bounded_field(3e-5, ge=0.0, le=1.0)
    weight_decay: float = bounded_field(0.1, ge=0.0, le=1.0)
    beta1: float = bounded_field(0.9, ge=0.0, lt=1.0)
    beta2: float = bounded_field(0.95, ge=0.0, lt=1.0)
    eps: float = bounded_field(1e-8, gt=0.0, le=1.0)
    grad_clip: float = bounded_field(1.0, ge=0.0)  # 0 disables clipping
    grad_accum: int = bounded_field(1, ge=1)
    warmup_steps: int = bounded_field(10, ge=0)
    max_steps: int = bounded_field(100, ge=1)

    def _validate(self) -> None:
        super()._validate()
        if self.min_lr > self.lr:
            raise ConfigError(f"optim.min_lr must be <= optim.lr ({self.lr}); got {self.min_lr}")


@dataclass(frozen=True)
class CheckpointSection(ConfigSection):
    """Where and how often checkpoints go; ``every = 0`` writes only the final one."""

    SECTION: ClassVar[str] = "checkpoint"
    dir: str = "runs/tiny/checkpoints"
    every: int = bounded_field(50, ge=0)
    keep_last: int = bounded_field(3, ge=1)


@dataclass(frozen=True)
class LogSection(ConfigSection):
    """Logging and validation cadence.  ``jsonl``/``tensorboard`` paths default under ``out_dir``."""

    SECTION: ClassVar[str] = "log"
    every: int = bounded_field(10, ge=1)
    val_every: int = bounded_field(50, ge=0)  # 0: validate only at the start and the end
    val_batches: int = bounded_field(4, ge=1)
    tensorboard: bool = True
    progress: bool = True


@dataclass(frozen=True)
class TrainConfig(ConfigSection):
    """The whole run.  ``device = "auto"`` picks CUDA when available.

    ``precision = "auto"`` is bf16 autocast on CUDA and fp32 on CPU; ``"bf16"`` autocasts on the CPU too
    (weights and optimizer state stay fp32).
    ``threads`` sets torch's intra-op threads for the run (0: leave torch's default); on a small or
    shared CPU one thread per process is often several times faster than oversubscribed cores.
    """

    SECTION: ClassVar[str] = ""
    seed: int = bounded_field(0, ge=0, lt=2**63)
    device: str = bounded_field("auto", choices=("auto", "cpu", "cuda"))
    precision: str = bounded_field("auto", choices=("auto", "fp32", "bf16"))
    threads: int = bounded_field(0, ge=0, le=1024)  # torch intra-op threads on CPU; 0 keeps torch's default
    out_dir: str = "runs/tiny"
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    noise: NoiseSection = field(default_factory=NoiseSection)
    optim: OptimSection = field(default_factory=OptimSection)
    checkpoint: CheckpointSection = field(default_factory=CheckpointSection)
    log: LogSection = field(default_factory=LogSection)

    def _validate(self) -> None:
        super()._validate()
        growth = masker_growth(self.noise)
        position = self.model.overrides.get("max_position")
        if growth and isinstance(position, int) and position < self.data.seq_len + growth:
            raise ConfigError(f"model.overrides.max_position must be >= data.seq_len + {growth} = "
                              f"{self.data.seq_len + growth} (the {self.noise.masker} masker grows a window by up to "
                              f"{growth} tokens); got max_position {position} with data.seq_len {self.data.seq_len}")

    @classmethod
    def from_toml(cls, path: str | Path) -> "TrainConfig":
        return load_config(path)


def masker_growth(noise: NoiseSection) -> int:
    """The most tokens ``noise``'s masker adds to a window (``max_growth`` of its config: ``max_delta`` for the
    ``holes`` masker); a bad masker name or option is a one-line :class:`ConfigError` starting ``noise:``."""
    from treediff.noise import MASKERS

    try:
        return MASKERS.resolve(noise.masker).config_class.from_dict(dict(noise.options)).max_growth
    except ConfigError as exc:
        raise ConfigError(f"noise: {exc}") from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML config file as a dict; a missing file or bad TOML is a one-line :class:`ConfigError`."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_config(path: str | Path) -> TrainConfig:
    """Read a TOML file into a validated :class:`TrainConfig`."""
    return TrainConfig.from_dict(read_toml(path))


_S = typing.TypeVar("_S", bound="ConfigSection")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _coerce(key: str, raw: str, tp: Any) -> Any:
    """Turn the string of ``--set key=value`` into the field's type."""
    text = raw.strip()
    if tp is str:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            return text[1:-1]
        return text
    if tp is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{key} must be bool (true/false); got {raw!r}")
    if tp is int:
        try:
            return int(text.replace("_", ""))
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                raise ConfigError(f"{key} must be int; got {raw!r}") from None
            if as_float.is_integer():
                return int(as_float)
            raise ConfigError(f"{key} must be int; got {raw!r}") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{key} must be float; got {raw!r}") from None
    # a value inside a free-form table (model.overrides.x, noise.options.y): read it as a TOML literal
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(config: "_S", overrides: list[str] | tuple[str, ...]) -> "_S":
    """Return a new config (a :class:`TrainConfig` or any other top-level section, such as
    :class:`~treediff.distill.DistillConfig`) with each ``"section.key=value"`` applied (types
    coerced from the fields).

    Keys inside the free-form tables ``model.overrides`` and ``noise.options`` are accepted
    as ``model.overrides.n_layers=2`` and their values parsed as TOML literals.
    """
    data = config.to_dict()
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        parts = key.split(".")
        cls: Any = type(config)
        node = data
        for i, part in enumerate(parts):
            names = {f.name: f for f in dataclasses.fields(cls)}
            here = ".".join(parts[: i + 1])
            if part not in names:
                raise ConfigError(f"unknown key {here!r}; allowed keys: {', '.join(sorted(names))}")
            tp = typing.get_type_hints(cls)[part]
            last = i == len(parts) - 1
            if dataclasses.is_dataclass(tp):
                if last:
                    raise ConfigError(f"{here} is a section; set one of its keys, e.g. {here}.{dataclasses.fields(tp)[0].name}=...")
                cls, node = tp, node[part]
                continue
            if tp is dict:
                if last:
                    raise ConfigError(f"{here} is a table; set one of its keys, e.g. {here}.name=value")
                sub = node[part]
                for inner in parts[i + 1: -1]:
                    sub = sub.setdefault(inner, {})
                sub[parts[-1]] = _coerce(key, raw, None)
                break
            if not last:
                raise ConfigError(f"{here} is a {_type_name(tp)} field, not a section")
            node[part] = _coerce(key, raw, tp)
    return type(config).from_dict(data)
