"""Reading a training run's checkpoint directories (the layout :mod:`treediff.train.checkpoint` writes).

Inference needs this side only: find the newest checkpoint that verifies, check a checkpoint's
files against its manifest, and save a model without transformers' progress bar.  Writing,
pruning and resuming stay with the trainer.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import torch

from treediff.errors import CheckpointError

__all__ = ["MANIFEST", "TRAINER_STATE", "CONFIG_FILE", "MODEL_DIR", "LATEST", "STEP_DIR", "sha256_file",
           "list_checkpoints", "verify_checkpoint", "latest_checkpoint", "save_pretrained_quietly", "unwrap_model"]

#: ``step_<8+ digits>``: one checkpoint directory.
STEP_DIR = re.compile(r"^step_(\d{8,})$")
MANIFEST = "manifest.json"
TRAINER_STATE = "trainer.pt"
CONFIG_FILE = "train_config.json"
MODEL_DIR = "model"
LATEST = "latest"


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP wrapper (the module itself otherwise)."""
    return model.module if hasattr(model, "module") else model


def save_pretrained_quietly(model: torch.nn.Module, path: Path, **kwargs) -> None:
    """``save_pretrained`` (``kwargs`` passed on) without transformers' per-save progress bar in the training log."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(path, **kwargs)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def list_checkpoints(ckpt_dir: str | Path) -> list[Path]:
    """Checkpoint directories under ``ckpt_dir``, oldest step first (validity not checked)."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in ckpt_dir.iterdir() if p.is_dir() and (m := STEP_DIR.match(p.name))]
    return [p for _, p in sorted(found)]


def verify_checkpoint(path: str | Path) -> dict[str, Any]:
    """Check every file against ``manifest.json``; return the manifest or raise CheckpointError."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        int(manifest["step"])
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {str(path)!r} has no {MANIFEST} (incomplete write)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} has a corrupt {MANIFEST}: {exc}") from None
    for required in (TRAINER_STATE, CONFIG_FILE):
        if required not in files:
            raise CheckpointError(f"checkpoint {str(path)!r} lists no {required}")
    for rel, info in files.items():
        file = path / rel
        if not file.is_file():
            raise CheckpointError(f"checkpoint {str(path)!r} is missing {rel}")
        size = file.stat().st_size
        if size != info["size"]:
            raise CheckpointError(f"checkpoint {str(path)!r}: {rel} has {size} bytes, expected {info['size']} (truncated?)")
        if sha256_file(file) != info["sha256"]:
            raise CheckpointError(f"checkpoint {str(path)!r}: {rel} fails its sha256 check (corrupt)")
    return manifest


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The newest checkpoint under ``ckpt_dir`` that verifies; ``None`` when there is none.

    Directories are tried newest step first (the ``latest`` pointer is only a hint: a
    crash between the rename and the pointer update leaves it one behind).
    """
    for path in reversed(list_checkpoints(ckpt_dir)):
        try:
            verify_checkpoint(path)
        except CheckpointError:
            continue
        return path
    return None
