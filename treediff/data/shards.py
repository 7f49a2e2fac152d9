"""Memory-mapped shard cache of tokenized files and their AST node spans.

Layout of a prepared directory::

    manifest.json            fingerprint, options, tokenizer facts, shards per split
    stats.json               the PrepareStats of the run that wrote it
    files.jsonl              one row per kept file: path, language, sha256, split, shard, doc, tokens
    tokenizer/               the tokenizer the shards were made with
    train/00000/             one shard (likewise validation/00000/ ...)
        tokens.npy           int32 [T]   packed stream: per file <|lang:X|> <|bos|> ids... <|eos|>
        doc_starts.npy       int64 [D+1] stream offset of each file's language tag (last = T)
        node_spans.npy       int32 [N,2] token span [start, end) of each named node, stream coordinates,
                             sorted by start (pre-order); zero-width (MISSING) nodes are left out
        node_category.npy    int8  [N]   index into treediff.syntax.CATEGORIES, -1 for none
        node_depth.npy       int32 [N]   depth below the file's root node (root = 0)

Arrays are plain ``.npy`` files opened with ``mmap_mode="r"``; a :class:`Shard` opens them
lazily, so it pickles cheaply into DataLoader workers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from treediff.errors import CheckpointError

__all__ = [
    "MANIFEST",
    "SHARD_ARRAYS",
    "SPLITS",
    "DEFAULT_SHARD_TOKENS",
    "Shard",
    "ShardWriter",
    "read_manifest",
    "write_manifest",
    "open_split",
    "shards_complete",
]

MANIFEST = "manifest.json"
SPLITS = ("train", "validation")
SHARD_ARRAYS = ("tokens", "doc_starts", "node_spans", "node_category", "node_depth")
#: Tokens per shard before a new one is started (int32: 128 MiB of ids).
DEFAULT_SHARD_TOKENS = 1 << 25


@dataclass
class Shard:
    """One shard directory; arrays are memory-mapped on first access."""

    path: Path
    num_tokens: int
    num_docs: int
    num_nodes: int
    _arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def array(self, name: str) -> np.ndarray:
        arr = self._arrays.get(name)
        if arr is None:
            file = self.path / f"{name}.npy"
            try:
                arr = np.load(file, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise CheckpointError(f"{file}: cannot open shard array: {exc}") from None
            self._arrays[name] = arr
        return arr

    @property
    def tokens(self) -> np.ndarray:
        return self.array("tokens")

    @property
    def doc_starts(self) -> np.ndarray:
        return self.array("doc_starts")

    @property
    def node_spans(self) -> np.ndarray:
        return self.array("node_spans")

    @property
    def node_category(self) -> np.ndarray:
        return self.array("node_category")

    @property
    def node_depth(self) -> np.ndarray:
        return self.array("node_depth")

    def __getstate__(self) -> dict[str, Any]:  # memmaps are reopened in the receiving process
        return {"path": self.path, "num_tokens": self.num_tokens, "num_docs": self.num_docs, "num_nodes": self.num_nodes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _arrays={})


class ShardWriter:
    """Appends packed files to numbered shards of one split, flushing at ``shard_tokens``."""

    def __init__(self, directory: str | os.PathLike[str], *, lang_ids: dict[str, int], bos_id: int, eos_id: int,
                 shard_tokens: int = DEFAULT_SHARD_TOKENS) -> None:
        self.directory = Path(directory)
        self.lang_ids = lang_ids
        self.bos_id = bos_id
        self.eos_id = eos_id
        self.shard_tokens = shard_tokens
        self.shards: list[dict[str, int | str]] = []
        self._reset()

    def _reset(self) -> None:
        self._tokens: list[np.ndarray] = []
        self._starts: list[int] = []
        self._spans: list[np.ndarray] = []
        self._cats: list[np.ndarray] = []
        self._depths: list[np.ndarray] = []
        self._length = 0

    def add(self, language: str, ids: np.ndarray, spans: np.ndarray, category: np.ndarray,
            depth: np.ndarray) -> tuple[int, int]:
        """Append one file; ``spans`` are in the file's token coordinates.  Returns ``(shard, doc)``."""
        if self._length and self._length + len(ids) + 3 > self.shard_tokens:
            self.flush()
        start = self._length
        head = np.asarray([self.lang_ids[language], self.bos_id], dtype=np.int32)
        self._tokens.append(np.concatenate([head, ids.astype(np.int32, copy=False), [np.int32(self.eos_id)]]))
        self._starts.append(start)
        self._spans.append(spans.astype(np.int64) + start + 2)
        self._cats.append(category.astype(np.int8, copy=False))
        self._depths.append(depth.astype(np.int32, copy=False))
        self._length += len(ids) + 3
        return len(self.shards), len(self._starts) - 1

    def flush(self) -> None:
        if not self._starts:
            return
        path = self.directory / f"{len(self.shards):05d}"
        path.mkdir(parents=True, exist_ok=True)
        spans = np.concatenate(self._spans).reshape(-1, 2)
        if spans.size and spans.max() >= 2**31:  # pragma: no cover - guarded by shard_tokens
            raise OverflowError("shard too large for int32 spans")
        order = np.argsort(spans[:, 0], kind="stable")
        arrays = {
            "tokens": np.concatenate(self._tokens).astype(np.int32, copy=False),
            "doc_starts": np.asarray([*self._starts, self._length], dtype=np.int64),
            "node_spans": spans[order].astype(np.int32),
            "node_category": np.concatenate(self._cats)[order],
            "node_depth": np.concatenate(self._depths)[order],
        }
        for name, arr in arrays.items():
            np.save(path / f"{name}.npy", arr)
        self.shards.append({
            "name": path.name,
            "num_tokens": int(self._length),
            "num_docs": len(self._starts),
            "num_nodes": int(spans.shape[0]),
        })
        self._reset()

    def close(self) -> list[dict[str, int | str]]:
        self.flush()
        return self.shards


def write_manifest(directory: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically (written last: its presence marks a complete cache)."""
    path = Path(directory) / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a prepared directory (``CheckpointError`` when missing or corrupt)."""
    path = Path(directory) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{directory}: no {MANIFEST}; run `treediff data prepare` first") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable manifest: {exc}") from None


def open_split(directory: str | os.PathLike[str], split: str, manifest: dict[str, Any] | None = None) -> list[Shard]:
    """The shards of one split, as listed in the manifest."""
    manifest = read_manifest(directory) if manifest is None else manifest
    splits = manifest.get("splits", {})
    if split not in splits:
        raise CheckpointError(f"{directory}: no split {split!r}; it has: {', '.join(sorted(splits)) or 'none'}")
    base = Path(directory) / split
    return [
        Shard(base / str(s["name"]), int(s["num_tokens"]), int(s["num_docs"]), int(s["num_nodes"]))
        for s in splits[split]["shards"]
    ]


def shards_complete(directory: str | os.PathLike[str], manifest: dict[str, Any]) -> bool:
    """Whether every array file the manifest lists exists."""
    for split, info in manifest.get("splits", {}).items():
        for s in info["shards"]:
            base = Path(directory) / split / str(s["name"])
            if not all((base / f"{name}.npy").is_file() for name in SHARD_ARRAYS):
                return False
    return True

