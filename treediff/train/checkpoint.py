"""Atomic, self-verifying training checkpoints.

Layout of ``<checkpoint.dir>``::

    step_00000100/
        model/              save_pretrained output (config.json + model.safetensors):
                            ``load_denoiser`` / transformers load it directly
        trainer.pt          optimizer, LR scheduler, RNG states, data position, step
        train_config.json   the full TrainConfig (``TrainConfig.from_dict`` reads it back)
        manifest.json       size + sha256 of every file above; written last
    latest                  name of the newest checkpoint directory (a hint, updated last)

A checkpoint is written into a hidden ``.tmp-*`` directory, every file and directory is
fsynced, and only then is it renamed into place with :func:`os.replace`, so a crash leaves
either the old state or the complete new checkpoint, never half of one.  Loading checks the
manifest first: a missing, truncated or altered file raises
:class:`~treediff.errors.CheckpointError` before anything is handed to the model.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from treediff.errors import CheckpointError
from treediff.model.run_dirs import (
    CONFIG_FILE,
    LATEST,
    MANIFEST,
    MODEL_DIR,
    TRAINER_STATE,
    latest_checkpoint,
    list_checkpoints,
    save_pretrained_quietly,
    sha256_file,
    unwrap_model,
    verify_checkpoint,
)

__all__ = [
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "verify_checkpoint",
    "list_checkpoints",
    "latest_checkpoint",
    "load_model_weights",
    "lock_run_dir",
    "LOCK_FILE",
]

LOCK_FILE = ".treediff-train.lock"


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: where it is, its step, the trainer state and the run config."""

    path: Path
    step: int
    state: dict[str, Any]
    config: dict[str, Any]

    @property
    def model_dir(self) -> Path:
        return self.path / MODEL_DIR


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)


def save_checkpoint(
    ckpt_dir: str | Path,
    step: int,
    *,
    model: torch.nn.Module,
    trainer_state: dict[str, Any],
    config: dict[str, Any],
    keep_last: int,
) -> Path:
    """Write ``step_<step>/`` atomically, point ``latest`` at it, then prune to ``keep_last``.

    Call it on the main process only.  Returns the final checkpoint directory.
    """
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    name = f"step_{step:08d}"
    final = ckpt_dir / name
    tmp = ckpt_dir / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        save_pretrained_quietly(unwrap_model(model), tmp / MODEL_DIR)
        torch.save({**trainer_state, "step": step}, tmp / TRAINER_STATE)
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
        files = {}
        for path in _files(tmp):
            _fsync_file(path)
            files[path.relative_to(tmp).as_posix()] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
        manifest = tmp / MANIFEST
        manifest.write_text(json.dumps({"step": step, "files": files}, indent=2, sort_keys=True), encoding="utf-8")
        _fsync_file(manifest)
        for sub in [p for p in tmp.rglob("*") if p.is_dir()] + [tmp]:
            _fsync_dir(sub)
        if final.exists():  # re-saving a step (e.g. after a resume): move the old one aside first
            trash = ckpt_dir / f".old-{name}-{os.getpid()}"
            os.replace(final, trash)
            os.replace(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _fsync_dir(ckpt_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_latest(ckpt_dir, name)
    _prune(ckpt_dir, keep_last, keep=final)
    return final


def _write_latest(ckpt_dir: Path, name: str) -> None:
    tmp = ckpt_dir / f".{LATEST}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, ckpt_dir / LATEST)
    _fsync_dir(ckpt_dir)


def _prune(ckpt_dir: Path, keep_last: int, keep: Path) -> None:
    for path in list_checkpoints(ckpt_dir)[:-keep_last]:
        if path != keep:
            shutil.rmtree(path, ignore_errors=True)
    for stale in ckpt_dir.glob(".tmp-step_*"):  # left by a process killed mid-write
        if not stale.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(stale, ignore_errors=True)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Verify, then read the trainer state and config of one checkpoint directory."""
    path = Path(path)
    manifest = verify_checkpoint(path)
    try:
        state = torch.load(path / TRAINER_STATE, map_location=map_location, weights_only=True)
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except Exception as exc:  # verified bytes that still do not load: an incompatible writer
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {type(exc).__name__}: {exc}") from None
    return Checkpoint(path=path, step=int(manifest["step"]), state=state, config=config)


def load_model_weights(model: torch.nn.Module, model_dir: str | Path, *, untie: bool = False) -> dict[str, str]:
    """Load ``model.safetensors`` from a save_pretrained directory into ``model`` in place.

    Keys missing from the file are allowed only for tied parameters (save_pretrained drops
    the duplicate); anything else raises CheckpointError.  With ``untie``, weights saved with a tied
    output head load into a model with its own head (``tie_embeddings`` turned off on resume): the
    head starts as a copy of the input embeddings.  Returns ``{head parameter: embedding parameter}``
    for each head so initialised (empty otherwise).
    """
    from safetensors.torch import load_file

    model = unwrap_model(model)
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"no safetensors weights in {str(model_dir)!r}")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_file(str(file)))
    untied = _untie(model, state) if untie else {}
    result = model.load_state_dict(state, strict=False)
    params = dict(model.named_parameters(remove_duplicate=False))
    buffers = dict(model.named_buffers())
    loaded_ptrs = {t.data_ptr() for k, t in {**params, **buffers}.items() if k in state}
    missing = [k for k in result.missing_keys if k not in params or params[k].data_ptr() not in loaded_ptrs]
    missing = [k for k in missing if not (k in buffers and k not in model.state_dict())]
    if result.unexpected_keys or missing:
        raise CheckpointError(
            f"weights in {str(model_dir)!r} do not match the model: missing {missing[:5]}, unexpected {result.unexpected_keys[:5]}"
        )
    return untied


def _untie(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, str]:
    """Add to ``state`` a copy of the input embeddings under the name of the model's own output head when the
    saved weights have none (they were tied); ``{head: embedding}`` names of what was added."""
    get_in, get_out = getattr(model, "get_input_embeddings", None), getattr(model, "get_output_embeddings", None)
    head, embed = (get_out() if get_out else None), (get_in() if get_in else None)
    if head is None or embed is None or head.weight is embed.weight:
        return {}
    names = {id(p): n for n, p in model.named_parameters()}
    head_name, embed_name = names.get(id(head.weight)), names.get(id(embed.weight))
    if head_name is None or embed_name is None or head_name in state or embed_name not in state:
        return {}
    if state[embed_name].shape != head.weight.shape:
        return {}
    state[head_name] = state[embed_name].clone()
    return {head_name: embed_name}


@contextlib.contextmanager
def lock_run_dir(path: str | os.PathLike[str]):
    """Hold an exclusive ``flock`` on ``path/.treediff-train.lock`` for a training run.

    A second run into the same directory fails at once with a :class:`CheckpointError` (the two
    would delete each other's temp checkpoints).  The kernel drops the lock when the process dies.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    lock = path / LOCK_FILE
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise CheckpointError(f"{path}: another treediff train (pid {holder}) is using this directory") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield lock
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
