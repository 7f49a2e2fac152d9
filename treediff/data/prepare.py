"""Corpus → tokenizer, and corpus → memory-mapped shards (with a fingerprinted cache).

Both entry points scan the corpus (:func:`treediff.data.corpus.scan_corpus`), then parse
each kept file in worker processes, drop files whose tree-sitter errors cover more than
``max_error_fraction`` of their bytes (counted as ``unparseable``), and either count BPE
words (:func:`train_tokenizer`) or encode and align (:func:`prepare_corpus`).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from treediff.data.corpus import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ERROR_FRACTION,
    CorpusFile,
    ScanStats,
    error_fraction,
    scan_corpus,
    split_of,
)
from treediff.data.shards import (
    DEFAULT_SHARD_TOKENS,
    SPLITS,
    ShardWriter,
    read_manifest,
    shards_complete,
    write_manifest,
)
from treediff.errors import CheckpointError, InputError
from treediff.progress import ProgressBar
from treediff.syntax.tree import parse
from treediff.tokens.tokenizer import SyntaxTokenizer, words_of

__all__ = [
    "FORMAT_VERSION",
    "PrepareOptions",
    "PrepareStats",
    "TokenizerStats",
    "prepare_corpus",
    "train_tokenizer",
]

FORMAT_VERSION = 1
Corpus = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


@dataclass(frozen=True)
class PrepareOptions:
    """Options that decide the contents of the shards (all of them enter the fingerprint)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_error_fraction: float = DEFAULT_MAX_ERROR_FRACTION
    val_fraction: float = 0.05
    shard_tokens: int = DEFAULT_SHARD_TOKENS

    def __post_init__(self) -> None:
        if self.max_bytes < 0:
            raise InputError(f"max_bytes must be >= 0 (0 = no cap), got {self.max_bytes}")
        if not 0.0 <= self.max_error_fraction <= 1.0:
            raise InputError(f"max_error_fraction must be in [0, 1], got {self.max_error_fraction}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise InputError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.shard_tokens < 16:
            raise InputError(f"shard_tokens must be >= 16, got {self.shard_tokens}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PrepareStats:
    """What :func:`prepare_corpus` did: inputs, skips per reason, per-split sizes, timing, cache use."""

    out_dir: str
    fingerprint: str
    cached: bool
    num_inputs: int
    num_files: int
    num_bytes: int
    skipped: dict[str, int]
    languages: dict[str, int]
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def num_tokens(self) -> int:
        return sum(s.get("tokens", 0) for s in self.splits.values())

    @property
    def files_per_s(self) -> float:
        return self.num_files / self.seconds if self.seconds > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.num_tokens / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(num_tokens=self.num_tokens, files_per_s=self.files_per_s, tokens_per_s=self.tokens_per_s)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PrepareStats":
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in d.items() if k in names})

    def save(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


@dataclass
class TokenizerStats:
    """What :func:`train_tokenizer` did."""

    out_dir: str
    vocab_size: int
    num_inputs: int
    num_files: int
    num_bytes: int
    num_words: int
    skipped: dict[str, int]
    languages: dict[str, int]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- worker side -----------------------------------------------------------------------
_STATE: dict[str, Any] = {}


def _init_worker(tokenizer_json: str | None, max_error_fraction: float) -> None:
    from tokenizers import Tokenizer

    _STATE["tokenizer"] = None if tokenizer_json is None else SyntaxTokenizer(Tokenizer.from_str(tokenizer_json))
    _STATE["max_error_fraction"] = max_error_fraction


def _parse_ok(language: str, source: bytes):
    tree = parse(source, language, max_bytes=0)
    return None if error_fraction(tree) > _STATE["max_error_fraction"] else tree


def _count_words(job: tuple[int, str, bytes]) -> tuple[int, Counter | None]:
    i, language, source = job
    tree = _parse_ok(language, source)
    return i, None if tree is None else Counter(w for w in words_of(tree) if isinstance(w, str))


def _encode(job: tuple[int, str, bytes]) -> tuple[int, tuple[np.ndarray, ...] | None]:
    i, language, source = job
    tree = _parse_ok(language, source)
    if tree is None:
        return i, None
    enc = _STATE["tokenizer"].encode(tree)
    a = enc.alignment
    keep = a.node_spans[:, 1] > a.node_spans[:, 0]  # zero-width (MISSING) nodes carry no tokens
    return i, (enc.ids, a.node_spans[keep].astype(np.int32), a.node_category[keep], a.node_depth[keep])


def _run(fn: Callable, jobs: list[tuple[int, str, bytes]], initargs: tuple, workers: int | None,
         show_progress: bool, description: str) -> Iterator[Any]:
    """``fn`` over ``jobs`` in order, in a process pool when it pays, with a progress bar."""
    workers = min(os.cpu_count() or 1, 8) if workers is None else max(1, workers)
    with ProgressBar(len(jobs), description, show_progress, min_total=0) as bar:
        if workers == 1 or len(jobs) < 4 * workers:
            _init_worker(*initargs)
            results: Iterable[Any] = map(fn, jobs)
            pool = None
        else:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
            # forked children must not inherit a used Rust thread pool (tokenizers warns and disables it)
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            pool = ctx.Pool(workers, initializer=_init_worker, initargs=initargs)
            results = pool.imap(fn, jobs, chunksize=4)
        try:
            for r in results:
                bar.advance()
                yield r
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()


def _jobs(files: list[CorpusFile]) -> list[tuple[int, str, bytes]]:
    return [(i, f.language, f.source) for i, f in enumerate(files)]


def _nothing_usable(inputs: Corpus, scan: ScanStats) -> InputError:
    return InputError(
        f"no usable source files in {inputs!s} ({scan.num_inputs} seen: {scan.describe_skips()}); "
        "supported extensions come from grammars/*.toml"
    )


# -- tokenizer training ----------------------------------------------------------------
def _tokenizer_sample(files: list[CorpusFile], scan: ScanStats, per_language: int) -> list[CorpusFile]:
    """Training-split files, at most ``per_language`` bytes per language (0 = all); ``scan`` counts what is kept."""
    if per_language < 0:
        raise InputError(f"sample_bytes_per_language must be >= 0, got {per_language}")
    kept = [f for f in files if f.split != "validation"]
    if per_language:
        taken: dict[str, int] = {}
        chosen = []
        for f in sorted(kept, key=lambda f: f.sha256):
            if taken.get(f.language, 0) < per_language:
                taken[f.language] = taken.get(f.language, 0) + len(f.source)
                chosen.append(f)
        kept = chosen
    scan.num_kept = len(kept)
    scan.num_bytes = sum(len(f.source) for f in kept)
    scan.languages = dict(Counter(f.language for f in kept))
    return kept


def train_tokenizer(
    corpus: Corpus,
    *,
    out: str | os.PathLike[str] | None = None,
    vocab_size: int = 8192,
    min_frequency: int = 2,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_error_fraction: float = DEFAULT_MAX_ERROR_FRACTION,
    workers: int | None = None,
    sample_bytes_per_language: int = 0,
    show_progress: bool = True,
) -> tuple[SyntaxTokenizer, TokenizerStats]:
    """Train a :class:`SyntaxTokenizer` on a corpus; save it to ``out`` when given.

    Files of a gathered corpus's held-out split are left out.  ``sample_bytes_per_language`` > 0
    keeps, per language, files in SHA-256 order (a fixed pseudo-random order across sources) until
    that many bytes, so that every language weighs about the same.
    """
    t0 = time.perf_counter()
    files, scan = scan_corpus(corpus, max_bytes=max_bytes, show_progress=show_progress)
    files = _tokenizer_sample(files, scan, sample_bytes_per_language)
    counts: Counter = Counter()
    for i, c in _run(_count_words, _jobs(files), (None, max_error_fraction), workers, show_progress, "counting words"):
        if c is None:
            scan.skip("unparseable")
            scan.num_kept -= 1
            scan.num_bytes -= len(files[i].source)
            scan.languages[files[i].language] -= 1
        else:
            counts.update(c)
    if not counts:
        raise _nothing_usable(corpus, scan)
    total = sum(counts.values())

    def batches(size: int = 65536) -> Iterator[list[str]]:
        batch: list[str] = []
        for w, c in counts.items():
            batch.extend([w] * c)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    # the tokenizers library's own bars print blank lines on stdout: only where stdout is a terminal
    tok = SyntaxTokenizer.train_from_words(
        batches(), vocab_size=vocab_size, min_frequency=min_frequency,
        show_progress=show_progress and sys.stdout.isatty(), length=None,
    )
    if out is not None:
        tok.save(out)
    stats = TokenizerStats(
        out_dir="" if out is None else str(out),
        vocab_size=tok.vocab_size,
        num_inputs=scan.num_inputs,
        num_files=scan.num_kept,
        num_bytes=scan.num_bytes,
        num_words=total,
        skipped=dict(scan.skipped),
        languages={k: v for k, v in scan.languages.items() if v},
        seconds=time.perf_counter() - t0,
    )
    if out is not None:
        (Path(out) / "training_stats.json").write_text(json.dumps(stats.to_dict(), indent=2) + "\n")
    return tok, stats


# -- shard preparation ------------------------------------------------------------------
def _fingerprint(tok: SyntaxTokenizer, files: list[CorpusFile], options: PrepareOptions) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT_VERSION, "tokenizer": tok.fingerprint, "options": options.to_dict()},
                        sort_keys=True).encode())
    _hash_files(h, files)
    return h.hexdigest()


def _hash_files(h: Any, files: list[CorpusFile]) -> None:
    for f in files:
        split = f"\t{f.split}" if f.split else ""  # only gathered corpora carry a split
        h.update(f"\n{f.path}\t{f.language}\t{f.sha256}{split}".encode("utf-8", "surrogateescape"))


def _corpus_digest(files: list[CorpusFile]) -> dict[str, Any]:
    """The corpus part of the fingerprint alone, recorded in the manifest so that a refusal can name it."""
    h = hashlib.sha256()
    _hash_files(h, files)
    return {"num_files": len(files), "sha256": h.hexdigest()}


def _differences(manifest: dict[str, Any], tok: SyntaxTokenizer, files: list[CorpusFile],
                 options: PrepareOptions) -> list[str]:
    """What a build of ``files`` would change in the shards ``manifest`` describes: the format, the tokenizer,
    each content option (``val_fraction 0.05 -> 0.1``), the corpus files.  (A manifest written before the
    corpus digest was recorded: the corpus, when nothing else differs.)"""
    found = []
    if manifest.get("format") != FORMAT_VERSION:
        found.append(f"format {manifest.get('format')} -> {FORMAT_VERSION}")
    if manifest.get("tokenizer_fingerprint") != tok.fingerprint:
        found.append("the tokenizer")
    before = manifest.get("options") if isinstance(manifest.get("options"), dict) else {}
    found += [f"{k} {before.get(k)} -> {v}" for k, v in options.to_dict().items() if before.get(k) != v]
    corpus, now = manifest.get("corpus"), _corpus_digest(files)
    if isinstance(corpus, dict) and corpus.get("sha256") != now["sha256"]:
        found.append(f"the corpus files ({corpus.get('num_files')} -> {now['num_files']} files, or their contents)")
    elif not isinstance(corpus, dict) and not found:
        found.append("the corpus files")
    return found


def _check_overwrite(out: Path, tok: SyntaxTokenizer, files: list[CorpusFile], options: PrepareOptions,
                     fingerprint: str) -> None:
    """Refuse to replace the shards of another corpus or other settings in ``out`` (an :class:`InputError`
    naming what differs).  A directory with no readable manifest (nothing prepared, or a build that stopped
    before its manifest) is no refusal."""
    try:
        manifest = read_manifest(out)
    except CheckpointError:
        return
    if manifest.get("fingerprint") == fingerprint:
        return  # the same shards, incomplete: rebuilt
    diff = _differences(manifest, tok, files, options)
    raise InputError(f"{out} holds shards prepared from another corpus or with other settings ({'; '.join(diff)}); "
                     "give --overwrite to replace them, or another --out")


def _cached_stats(out: Path, fingerprint: str, seq_len: int | None) -> PrepareStats | None:
    try:
        manifest = read_manifest(out)
        if manifest.get("fingerprint") != fingerprint or not shards_complete(out, manifest):
            return None
        stats = PrepareStats.from_dict(json.loads((out / "stats.json").read_text()))
    except (CheckpointError, OSError, ValueError, TypeError):
        return None
    if seq_len is not None and manifest.get("seq_len") != seq_len:  # windows are cut at load time
        manifest["seq_len"] = seq_len
        write_manifest(out, manifest)
    stats.cached = True
    return stats


def _already_prepared(corpus: Corpus, tok: SyntaxTokenizer, out: Path, seq_len: int | None) -> PrepareStats | None:
    """Stats of ``corpus`` when it is itself a prepared directory, given again as ``out`` (shards carried
    without their sources, e.g. to a GPU machine); ``None`` when ``corpus`` is not a prepared directory."""
    items = [corpus] if isinstance(corpus, (str, os.PathLike)) else list(corpus)
    if len(items) != 1 or not (Path(items[0]) / "manifest.json").is_file() or not (Path(items[0]) / "stats.json").is_file():
        return None
    src = Path(items[0])
    manifest = read_manifest(src)
    if manifest.get("tokenizer_fingerprint") != tok.fingerprint:
        raise InputError(f"{src}: prepared with another tokenizer; use {src / 'tokenizer'} or prepare the sources again")
    if src.resolve() != out.resolve():
        raise InputError(f"{src}: already prepared; use it as the output directory (data.cache_dir) or give the sources")
    stats = _cached_stats(out, str(manifest.get("fingerprint")), seq_len)
    if stats is None:
        raise InputError(f"{src}: prepared shards are incomplete; prepare the sources again")
    stats.out_dir = str(out)
    return stats


def prepare_corpus(  # long: the pipeline's steps in order (walk, tokenize, split, shard, manifest)
    corpus: Corpus,
    tokenizer: SyntaxTokenizer | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_error_fraction: float = DEFAULT_MAX_ERROR_FRACTION,
    val_fraction: float = 0.05,
    seq_len: int | None = 1024,
    shard_tokens: int = DEFAULT_SHARD_TOKENS,
    workers: int | None = None,
    force: bool = False,
    overwrite: bool = False,
    show_progress: bool = True,
) -> PrepareStats:
    """Scan, filter, dedup, split, tokenize and shard a corpus into ``out``.

    A second call with the same corpus contents, tokenizer and options reuses ``out`` and
    returns stats with ``cached=True`` (``force=True`` rebuilds).  When ``out`` holds the shards of another
    corpus or other options, they are replaced only with ``overwrite`` (or ``force``); otherwise an
    :class:`~treediff.errors.InputError` names what differs and nothing is deleted.  A prepared directory given as both
    ``corpus`` and ``out`` is used as it is (its tokenizer must be ``tokenizer``).  ``seq_len`` is only the
    default window length recorded for :class:`~treediff.data.dataset.CorpusDataset`.
    """
    t0 = time.perf_counter()
    options = PrepareOptions(max_bytes, max_error_fraction, val_fraction, shard_tokens)
    if seq_len is not None and seq_len < 8:
        raise InputError(f"seq_len must be >= 8, got {seq_len}")
    tok = tokenizer if isinstance(tokenizer, SyntaxTokenizer) else SyntaxTokenizer.from_pretrained(tokenizer)
    out = Path(out)
    prepared = _already_prepared(corpus, tok, out, seq_len)
    if prepared is not None:
        prepared.seconds = time.perf_counter() - t0
        return prepared
    files, scan = scan_corpus(corpus, max_bytes=max_bytes, show_progress=show_progress)
    if not files:
        raise _nothing_usable(corpus, scan)
    fingerprint = _fingerprint(tok, files, options)
    if not force:
        cached = _cached_stats(out, fingerprint, seq_len)
        if cached is not None:
            cached.out_dir = str(out)
            cached.seconds = time.perf_counter() - t0
            return cached
        if not overwrite:
            _check_overwrite(out, tok, files, options, fingerprint)

    split_names = [f.split or split_of(f.sha256, val_fraction) for f in files]  # a gathered corpus brings its split
    if "train" not in split_names:  # a tiny corpus hashed wholly into validation: train on it instead
        split_names = ["train"] * len(files)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    for split in SPLITS:
        shutil.rmtree(out / split, ignore_errors=True)
    lang_ids = {name: tok.lang_id(name) for name in {f.language for f in files}}
    writers = {s: ShardWriter(out / s, lang_ids=lang_ids, bos_id=tok.bos_id, eos_id=tok.eos_id,
                              shard_tokens=shard_tokens) for s in SPLITS}
    sizes = {s: {"files": 0, "tokens": 0, "nodes": 0, "num_shards": 0} for s in SPLITS}
    rows: list[dict[str, Any]] = []
    initargs = (tok._hf.to_str(), max_error_fraction)
    for i, result in _run(_encode, _jobs(files), initargs, workers, show_progress, "tokenizing"):
        f = files[i]
        if result is None:
            scan.skip("unparseable")
            scan.num_kept -= 1
            scan.num_bytes -= len(f.source)
            scan.languages[f.language] -= 1
            continue
        ids, spans, cats, depths = result
        split = split_names[i]
        shard, doc = writers[split].add(f.language, ids, spans, cats, depths)
        sizes[split]["files"] += 1
        sizes[split]["tokens"] += int(len(ids)) + 3
        sizes[split]["nodes"] += int(len(spans))
        rows.append({"path": f.path, "language": f.language, "sha256": f.sha256, "split": split,
                     "shard": shard, "doc": doc, "num_tokens": int(len(ids))})
    if not rows:
        raise _nothing_usable(corpus, scan)
    manifest_splits = {}
    for s, w in writers.items():
        shards = w.close()
        sizes[s]["num_shards"] = len(shards)
        manifest_splits[s] = {"shards": shards, **sizes[s]}
    tok.save(out / "tokenizer")
    with (out / "files.jsonl").open("w", encoding="utf-8", errors="surrogateescape") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    stats = PrepareStats(
        out_dir=str(out),
        fingerprint=fingerprint,
        cached=False,
        num_inputs=scan.num_inputs,
        num_files=scan.num_kept,
        num_bytes=scan.num_bytes,
        skipped=dict(scan.skipped),
        languages={k: v for k, v in sorted(scan.languages.items()) if v},
        splits=sizes,
        seconds=time.perf_counter() - t0,
    )
    stats.save(out / "stats.json")
    write_manifest(out, {
        "format": FORMAT_VERSION,
        "fingerprint": fingerprint,
        "tokenizer_fingerprint": tok.fingerprint,
        "options": options.to_dict(),
        "corpus": _corpus_digest(files),
        "seq_len": seq_len,
        "vocab_size": tok.vocab_size,
        "pad_id": tok.pad_id,
        "bos_id": tok.bos_id,
        "eos_id": tok.eos_id,
        "mask_id": tok.mask_id,
        "special_ids": tok.special_ids,
        "lang_ids": dict(sorted(lang_ids.items())),
        "splits": manifest_splits,
    })
    return stats
