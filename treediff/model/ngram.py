"""A corpus n-gram prior for the diffusion sampler: a product of experts with the denoiser.

A small masked-diffusion model trained on a CPU for an hour (the embedded ``multi`` model) predicts the
frequent tokens (whitespace, ``;``) and little else.  A back-off trigram table of the same training corpus,
per language, predicts the next token from the two committed tokens on its left far better at that scale
(next-token top-1 on the validation split: 26-51 % by language, docs/benchmarks.md), and a cache of the
file's own n-grams (Tu et al., *On the localness of software*, FSE 2014) brings the file's identifiers.
:meth:`NgramPrior.bias` turns both into log-probabilities that the sampler adds, scaled by
``SamplerConfig.prior_weight``, to the model's logits at every masked position whose two left neighbours
are decided (:func:`treediff.sample.loop.denoise`); the end-of-hole token gets the probability of the first
decided token on its right (ending the hole there means that token comes next).

Tables: per order (bigram, trigram) the sorted unique contexts ``(language, w1[, w2])`` packed in an
``int64``, offsets into the kept next tokens (``uint16``) and their log-probabilities (``float16``),
pruned to ``top_k`` tokens per context and ``min_count`` occurrences; per language the unigram
log-probabilities.  Saved as one ``ngram_prior.npz`` in a model bundle (:data:`PRIOR_NAME`).

>>> import numpy as np
>>> docs = [(9, np.array([20, 21, 22, 20, 21, 22, 20, 21, 23]))]
>>> prior = NgramPrior.build(docs, vocab_size=32, min_count=1)
>>> v = prior.log_probs(9, [(20, 21)])[0]
>>> int(v.argmax()), round(float(np.exp(v[22])), 2)
(22, 0.67)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from treediff.errors import CheckpointError, InputError

__all__ = ["NgramPrior", "PRIOR_NAME", "build_prior_from_shards", "file_cache"]

PRIOR_NAME = "ngram_prior.npz"
_BACKOFF = 0.4  # stupid back-off (Brants et al. 2007): a shorter context's score times 0.4
_FLOOR = -16.0  # log-probability of a token the tables never saw after any context
_CACHE_MIX = 0.3  # weight of the file's own trigram counts where the file has seen the context


class NgramPrior:
    """Per-language back-off bigram/trigram tables (see the module docstring)."""

    def __init__(self, vocab_size: int, languages: np.ndarray, unigram: np.ndarray,
                 tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> None:
        self.vocab_size = int(vocab_size)
        self.languages = np.asarray(languages, dtype=np.int64)
        self.unigram = np.asarray(unigram, dtype=np.float32)
        self.tables = tables
        self._row = {int(lang): i for i, lang in enumerate(self.languages)}

    # ---- building -------------------------------------------------------------------------------------
    @classmethod
    def build(cls, docs: Iterable[tuple[int, np.ndarray]], *, vocab_size: int, top_k: int = 16,
              min_count: int = 2) -> NgramPrior:
        """Count ``docs`` (``(language token id, token ids)`` pairs) into tables; see the module docstring."""
        grams: dict[int, list[np.ndarray]] = {1: [], 2: [], 3: []}
        langs: set[int] = set()
        vocab = int(vocab_size)
        for lang, ids in docs:
            ids = np.asarray(ids, dtype=np.int64)
            if ids.size and (ids.min() < 0 or ids.max() >= vocab):
                raise InputError(f"token id outside the vocabulary of {vocab} in a document of language {lang}")
            langs.add(int(lang))
            for n in (1, 2, 3):
                if ids.size >= n:
                    key = np.full(ids.size - n + 1, int(lang), dtype=np.int64)
                    for j in range(n):
                        key = key * vocab + ids[j: ids.size - n + 1 + j]
                    grams[n].append(key)
        if not langs:
            raise InputError("no documents to count n-grams from")
        languages = np.array(sorted(langs), dtype=np.int64)
        row = {lang: i for i, lang in enumerate(languages)}
        uni = np.zeros((languages.size, vocab), dtype=np.float64)
        keys, counts = np.unique(np.concatenate(grams[1]), return_counts=True)
        np.add.at(uni, ([row[int(k)] for k in keys // vocab], keys % vocab), counts)
        with np.errstate(divide="ignore"):
            unigram = np.log(uni / np.maximum(uni.sum(1, keepdims=True), 1))
        unigram = np.maximum(unigram, _FLOOR).astype(np.float32)
        tables = {n: _table(np.concatenate(grams[n]) if grams[n] else np.zeros(0, np.int64), vocab, top_k, min_count)
                  for n in (2, 3)}
        return cls(vocab, languages, unigram, tables)

    # ---- persistence ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        arrays = {"vocab_size": np.array(self.vocab_size), "languages": self.languages,
                  "unigram": self.unigram.astype(np.float16)}
        for n, (ctx, offsets, nxt, logp) in self.tables.items():
            arrays.update({f"ctx{n}": ctx, f"off{n}": offsets.astype(np.int64), f"next{n}": nxt, f"logp{n}": logp})
        path = Path(path)
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NgramPrior:
        try:
            with open(path, "rb") as fh:
                if fh.read(4) != b"PK\x03\x04":
                    raise ValueError("not an .npz archive")
            with np.load(path, allow_pickle=False) as z:
                tables = {n: (z[f"ctx{n}"], z[f"off{n}"], z[f"next{n}"], z[f"logp{n}"]) for n in (2, 3)}
                prior = cls(int(z["vocab_size"]), z["languages"], z["unigram"], tables)
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{path}: not a readable n-gram prior ({type(exc).__name__}: {exc})") from None
        for n, (ctx, offsets, nxt, logp) in tables.items():
            if offsets.size != ctx.size + 1 or nxt.size != logp.size or (offsets.size and offsets[-1] != nxt.size):
                raise CheckpointError(f"{path}: n-gram prior table {n} is inconsistent (corrupt file)")
        return prior

    @property
    def num_entries(self) -> int:
        return int(sum(t[2].size for t in self.tables.values()))

    # ---- querying ------------------------------------------------------------------------------------
    def knows(self, language_id: int) -> bool:
        return int(language_id) in self._row

    def log_probs(self, language_id: int, contexts: Sequence[tuple[int, int]],
                  cache: dict[tuple[int, int], dict[int, int]] | None = None) -> np.ndarray:
        """``[len(contexts), vocab]`` back-off log-probabilities of the next token after each ``(w1, w2)``;
        ``cache``: the file's own trigram counts (:func:`file_cache`), mixed in where it has the context."""
        row = self._row.get(int(language_id))
        if row is None:
            raise InputError(f"the n-gram prior has no table for language token {language_id}")
        v = self.vocab_size
        out = np.repeat(self.unigram[row][None, :] + 2 * np.log(_BACKOFF), len(contexts), axis=0)
        for i, (w1, w2) in enumerate(contexts):
            self._overwrite(out[i], 2, (int(language_id) * v + w2), np.log(_BACKOFF))
            self._overwrite(out[i], 3, (int(language_id) * v + w1) * v + w2, 0.0)
            seen = cache.get((w1, w2)) if cache else None
            if seen:
                total = sum(seen.values())
                probs = (1 - _CACHE_MIX) * np.exp(out[i])
                for tok, c in seen.items():
                    probs[tok] += _CACHE_MIX * c / total
                out[i] = np.log(np.maximum(probs, np.exp(_FLOOR)))
        return out

    def followers(self, language_id: int, token: int) -> np.ndarray:
        """The tokens the bigram table of ``language_id`` keeps after ``token`` (its most frequent followers in the
        training corpus; empty for a language or token it has no entry for)."""
        if not self.knows(language_id):
            return np.zeros(0, dtype=np.int64)
        ctx, offsets, nxt, _ = self.tables[2]
        key = int(language_id) * self.vocab_size + int(token)
        i = int(np.searchsorted(ctx, key))
        if i < ctx.size and ctx[i] == key:
            return nxt[int(offsets[i]):int(offsets[i + 1])].astype(np.int64)
        return np.zeros(0, dtype=np.int64)

    def has_contexts(self, language_id: int, contexts: Sequence[tuple[int, int]]) -> np.ndarray:
        """Whether the trigram table kept each ``(w1, w2)`` context of ``language_id`` (else the prior backs off)."""
        v = self.vocab_size
        keys = np.array([(int(language_id) * v + w1) * v + w2 for w1, w2 in contexts], dtype=np.int64)
        ctx = self.tables[3][0]
        if ctx.size == 0:
            return np.zeros(len(contexts), dtype=bool)
        return ctx[np.minimum(np.searchsorted(ctx, keys), ctx.size - 1)] == keys

    def _overwrite(self, vec: np.ndarray, n: int, key: int, shift: float) -> None:
        ctx, offsets, nxt, logp = self.tables[n]
        i = int(np.searchsorted(ctx, key))
        if i < ctx.size and ctx[i] == key:
            a, b = int(offsets[i]), int(offsets[i + 1])
            vec[nxt[a:b].astype(np.int64)] = logp[a:b].astype(np.float32) + shift


def file_cache(*runs: Sequence[int]) -> dict[tuple[int, int], dict[int, int]]:
    """Trigram counts ``(w1, w2) -> {w3: count}`` of one file's decided tokens (the cache model), counted inside
    each run of decided tokens (no trigram spans the gap between two runs)."""
    cache: dict[tuple[int, int], dict[int, int]] = {}
    for ids in runs:
        for w1, w2, w3 in zip(ids, ids[1:], ids[2:]):
            slot = cache.setdefault((int(w1), int(w2)), {})
            slot[int(w3)] = slot.get(int(w3), 0) + 1
    return cache


def _table(keys: np.ndarray, vocab: int, top_k: int, min_count: int):
    """Sorted contexts, offsets, kept next tokens and their log-probabilities from packed n-gram ``keys``."""
    uniq, counts = np.unique(keys, return_counts=True)
    ctx, nxt = uniq // vocab, uniq % vocab
    starts = np.flatnonzero(np.r_[True, ctx[1:] != ctx[:-1]])
    totals = np.add.reduceat(counts, starts) if uniq.size else np.zeros(0, np.int64)
    total_of = np.repeat(totals, np.diff(np.r_[starts, uniq.size]))
    order = np.lexsort((-counts, ctx))  # by context, most frequent first
    ctx, nxt, counts, total_of = ctx[order], nxt[order], counts[order], total_of[order]
    first = np.r_[True, ctx[1:] != ctx[:-1]] if ctx.size else np.zeros(0, bool)
    rank = np.arange(ctx.size) - np.maximum.accumulate(np.where(first, np.arange(ctx.size), 0))
    keep = (rank < top_k) & (counts >= min_count)
    ctx, nxt, counts, total_of = ctx[keep], nxt[keep], counts[keep], total_of[keep]
    uctx, start_idx = np.unique(ctx, return_index=True)
    offsets = np.r_[start_idx, ctx.size].astype(np.int64)
    logp = np.log(counts / total_of).astype(np.float16)
    return uctx.astype(np.int64), offsets, nxt.astype(np.uint16), logp


def build_prior_from_shards(directory: str | os.PathLike[str], *, top_k: int = 16, min_count: int = 2,
                            split: str = "train") -> NgramPrior:
    """Count the prepared shards of ``directory`` (``treediff data prepare``'s output, ``split``)."""
    from treediff.data.shards import open_split, read_manifest

    manifest = read_manifest(directory)
    lang_ids = set(int(i) for i in manifest["lang_ids"].values())
    vocab = int(manifest.get("vocab_size") or 0) or None
    shards = open_split(directory, split, manifest)
    if not shards:
        raise InputError(f"{directory}: no {split} shards to count")

    def docs():
        for shard in shards:
            tokens, starts = np.asarray(shard.tokens), np.asarray(shard.doc_starts)
            for a, b in zip(starts[:-1], starts[1:]):
                doc = tokens[a:b]
                if doc.size > 1 and int(doc[0]) in lang_ids:
                    yield int(doc[0]), doc[1:]

    if vocab is None:
        vocab = int(max(int(np.asarray(s.tokens).max()) for s in shards)) + 1
    return NgramPrior.build(docs(), vocab_size=vocab, top_k=top_k, min_count=min_count)
