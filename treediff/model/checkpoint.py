"""Safe loading of a saved denoiser: check everything on disk first, then load into a fresh model.

``save_pretrained`` writes ``config.json`` and ``model.safetensors`` (or shards plus
``model.safetensors.index.json``).  :func:`validate_checkpoint` reads only JSON and the safetensors
headers and compares names, shapes and byte sizes with the architecture the config describes;
:func:`load_denoiser` then loads every tensor into a model built on the meta device, with a strict
key check.  Every failure is one :class:`~treediff.errors.CheckpointError` with a one-line message.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file

from treediff.errors import CheckpointError, ConfigError
from treediff.files import read_json
from treediff.model.config import TreediffConfig
from treediff.model.denoiser import TreediffForMaskedDiffusion

__all__ = ["validate_checkpoint", "load_denoiser", "CONFIG_NAME", "WEIGHTS_NAME", "WEIGHTS_INDEX_NAME"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
_MAX_HEADER = 100 * 1024 * 1024
_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}


def _read_config(root: Path) -> TreediffConfig:
    path = root / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"checkpoint {root} has no {CONFIG_NAME}")
    raw = read_json(path, what="config", error=CheckpointError, require_object=False)
    if not isinstance(raw, dict):
        raise CheckpointError(f"config {path} must hold a JSON object, got {type(raw).__name__}")
    if raw.get("model_type") != TreediffConfig.model_type:
        raise CheckpointError(f"config {path} has model_type {raw.get('model_type')!r}, expected 'treediff'")
    try:
        return TreediffConfig.from_dict(raw)
    except (ConfigError, TypeError, ValueError) as err:
        raise CheckpointError(f"config {path} is incompatible: {err}") from None


def _read_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Tensor name → (dtype, shape) from a safetensors header, after checking the file's exact size."""
    if not path.is_file():
        raise CheckpointError(f"weight file {path} is missing")
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"weight file {path} is truncated ({size} bytes)")
            n = int.from_bytes(head, "little")
            if n < 2 or n > _MAX_HEADER or 8 + n > size:
                raise CheckpointError(f"weight file {path} has a corrupt header length {n} (file is {size} bytes)")
            header = json.loads(f.read(n))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"weight file {path} has an unreadable header: {err}") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"weight file {path} has a corrupt header")
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    data_end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], tuple(int(x) for x in info["shape"]), info["data_offsets"]
            nbytes = math.prod(shape) * _DTYPE_BYTES[dtype]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"weight file {path} has a corrupt entry for tensor {name!r}") from None
        if end - begin != nbytes or begin < 0:
            raise CheckpointError(f"weight file {path}: tensor {name!r} spans {end - begin} bytes, expected {nbytes}")
        data_end = max(data_end, end)
        tensors[name] = (dtype, shape)
    if 8 + n + data_end != size:
        raise CheckpointError(f"weight file {path} is truncated or corrupt: {size} bytes, header promises {8 + n + data_end}")
    return tensors


def _weight_files(root: Path) -> tuple[list[Path], dict[str, str] | None]:
    index = root / WEIGHTS_INDEX_NAME
    if index.is_file():
        raw = read_json(index, what="weight index", error=CheckpointError, require_object=False)
        weight_map = raw.get("weight_map") if isinstance(raw, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(f"weight index {index} has no weight_map")
        names = sorted(set(weight_map.values()))
        missing = [n for n in names if not (root / n).is_file()]
        if missing:
            raise CheckpointError(f"checkpoint {root} lacks {len(missing)} of {len(names)} shards, e.g. {missing[0]}")
        return [root / n for n in names], weight_map
    if (root / WEIGHTS_NAME).is_file():
        return [root / WEIGHTS_NAME], None
    raise CheckpointError(f"checkpoint {root} has neither {WEIGHTS_NAME} nor {WEIGHTS_INDEX_NAME}")


def validate_checkpoint(path: str | Path) -> tuple[TreediffConfig, list[Path]]:
    """Check ``path`` without loading any tensor; return its config and weight files."""
    root = Path(path)
    if not root.is_dir():
        raise CheckpointError(f"checkpoint directory {root} does not exist")
    config = _read_config(root)
    files, weight_map = _weight_files(root)
    found: dict[str, tuple[str, tuple[int, ...]]] = {}
    for file in files:
        header = _read_header(file)
        for name in header:
            if name in found:
                raise CheckpointError(f"tensor {name!r} appears in more than one shard of {root}")
            if weight_map is not None and weight_map.get(name) != file.name:
                raise CheckpointError(f"tensor {name!r} is in {file.name} but the index says {weight_map.get(name)}")
        found.update(header)
    if weight_map is not None and set(weight_map) != set(found):
        lost = sorted(set(weight_map) - set(found))
        raise CheckpointError(f"checkpoint {root}: {len(lost)} indexed tensors missing from the shards, e.g. {lost[:1]}")
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in TreediffForMaskedDiffusion(config).state_dict().items()}
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {root} does not match its config: {len(missing)} missing tensors {missing[:3]}, "
            f"{len(unexpected)} unexpected {unexpected[:3]}"
        )
    for name, shape in expected.items():
        if found[name][1] != shape:
            raise CheckpointError(f"checkpoint {root}: tensor {name!r} has shape {found[name][1]}, config implies {shape}")
    return config, files


def load_denoiser(
    path: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype | None = None
) -> TreediffForMaskedDiffusion:
    """Validate ``path``, then load it into a fresh model on ``device`` (eval mode).

    ``dtype`` casts floating tensors (``None`` keeps the stored dtype).  Nothing is returned unless
    every tensor loaded: the model is built on the meta device and only real once fully assigned.
    """
    config, files = validate_checkpoint(path)
    state: dict[str, torch.Tensor] = {}
    try:
        for file in files:
            state.update(load_file(str(file), device=str(torch.device(device))))
    except Exception as err:  # safetensors raises its own SafetensorError / OSError variants
        raise CheckpointError(f"could not read weights of {path}: {err}") from None
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    with torch.device("meta"):
        model = TreediffForMaskedDiffusion(config)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint {path} does not fit the model: {str(err).splitlines()[0]}") from None
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        raise CheckpointError(f"checkpoint {path} left some tensors unloaded")
    return model.eval()
