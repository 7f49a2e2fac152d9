"""Near-duplicate detection: MinHash signatures over token shingles, banded LSH, Jaccard check.

A file becomes a set of ``shingle``-token windows (tokens: identifier/number runs and single
punctuation characters, so formatting changes do not matter).  Each shingle is hashed to 64 bits
(a polynomial over CRC-32 token hashes); ``num_perm`` multiply-shift hashes
``(a·x + b) >> 32`` (odd ``a``, wrapping 64-bit arithmetic) give the signature, the minimum of
each over the set.  The fraction of equal signature entries estimates the Jaccard similarity.

:class:`NearDuplicateIndex` cuts signatures into ``bands`` bands of ``num_perm / bands`` rows;
files sharing a band are candidates, and a candidate counts as a near duplicate when its estimated
Jaccard similarity is at least ``threshold`` (0.85 by default; with 64 permutations in 8 bands of 8
rows, a pair at Jaccard 0.85 is a candidate with probability 1 − (1 − 0.85⁸)⁸ ≈ 0.98).

>>> h = MinHasher(num_perm=64, seed=0)
>>> a = "".join(f"def f{i}(x):\\n    return x + {i}\\n" for i in range(40))
>>> b = a.replace("return x + 7", "return x - 7")
>>> round(jaccard_estimate(h.signature(a), h.signature(b)), 1) >= 0.8, jaccard_estimate(h.signature(a), h.signature("int main() { return 0; }")) < 0.2
(True, True)
>>> index = NearDuplicateIndex(h)
>>> index.add("a", a), index.add("b", b), index.add("c", "fn main() {}")
(None, 'a', None)
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MinHasher", "NearDuplicateIndex", "jaccard_estimate", "tokens_of"]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_CHUNK = 4096


def tokens_of(text: str) -> list[str]:
    """Identifier/number runs and single punctuation characters (whitespace dropped)."""
    return _TOKEN.findall(text)


def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures (share of equal entries)."""
    return float(np.mean(a == b))


@dataclass(frozen=True)
class MinHasher:
    """MinHash signatures of a text's token shingles (deterministic for a given ``seed``)."""

    num_perm: int = 64
    shingle: int = 5
    seed: int = 0
    _a: np.ndarray = field(init=False, repr=False, compare=False)
    _b: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.num_perm < 1 or self.shingle < 1:
            raise ValueError(f"num_perm and shingle must be >= 1, got {self.num_perm}, {self.shingle}")
        rng = np.random.default_rng(self.seed)
        a = rng.integers(1, 2**63, size=self.num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        b = rng.integers(0, 2**63, size=self.num_perm, dtype=np.uint64)
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_b", b)

    def shingles(self, text: str) -> np.ndarray:
        """Distinct 64-bit shingle hashes (a text shorter than one shingle is one shingle)."""
        cache: dict[str, int] = {}
        toks = tokens_of(text)
        ids = np.fromiter((cache.setdefault(t, zlib.crc32(t.encode("utf-8", "surrogatepass")) + 1) for t in toks),
                          dtype=np.uint64, count=len(toks))
        if ids.size == 0:
            return np.zeros(1, dtype=np.uint64)
        k = min(self.shingle, ids.size)
        n = ids.size - k + 1
        h = np.zeros(n, dtype=np.uint64)
        mult = np.uint64(0x9E3779B97F4A7C15)
        with np.errstate(over="ignore"):
            for j in range(k):
                h = h * mult + ids[j:j + n]
        return np.unique(h)

    def signature(self, text: str) -> np.ndarray:
        """``num_perm`` uint32 minima of the multiply-shift hashes over the shingle set."""
        sh = self.shingles(text)
        sig = np.full(self.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for start in range(0, sh.size, _CHUNK):
                x = sh[start:start + _CHUNK, None]
                v = (x * self._a[None, :] + self._b[None, :]) >> np.uint64(32)
                np.minimum(sig, v.min(axis=0), out=sig)
        return sig.astype(np.uint32)


class NearDuplicateIndex:
    """Banded LSH over MinHash signatures; :meth:`add` returns the key of an earlier near duplicate or None."""

    def __init__(self, hasher: MinHasher, bands: int = 8, threshold: float = 0.85) -> None:
        if hasher.num_perm % bands:
            raise ValueError(f"num_perm {hasher.num_perm} is not a multiple of bands {bands}")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.hasher = hasher
        self.bands = bands
        self.rows = hasher.num_perm // bands
        self.threshold = threshold
        self._buckets: list[dict[bytes, list[int]]] = [{} for _ in range(bands)]
        self._keys: list[str] = []
        self._sigs: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: str, text: str) -> str | None:
        """Index ``text`` unless it nearly duplicates an indexed one; then return that one's key."""
        sig = self.hasher.signature(text)
        bands = [sig[i * self.rows:(i + 1) * self.rows].tobytes() for i in range(self.bands)]
        seen: set[int] = set()
        for bucket, band in zip(self._buckets, bands):
            for other in bucket.get(band, ()):
                if other in seen:
                    continue
                seen.add(other)
                if jaccard_estimate(sig, self._sigs[other]) >= self.threshold:
                    return self._keys[other]
        idx = len(self._keys)
        self._keys.append(key)
        self._sigs.append(sig)
        for bucket, band in zip(self._buckets, bands):
            bucket.setdefault(band, []).append(idx)
        return None
