"""The syntax-aligned tokenizer: a byte-level BPE whose tokens never cross a tree-sitter leaf.

Training and encoding both go through *words*: :func:`pretokenize` cuts the source into
pieces (leaves, newline+indentation units, blank runs) and leaves that contain blanks
(strings, comments) are cut once more before each blank (``" ?\\S+|\\s+"``), so prose in
docstrings merges like prose.  BPE merges only inside a word, hence every token lies
inside one piece and every named node maps to an exact contiguous token span.

Two views of the same BPE model exist:

* the **exact** encoder used by :meth:`SyntaxTokenizer.encode` feeds the words as
  pre-tokenized input; it has no added tokens, so source text that happens to spell
  ``<|mask|>`` is encoded as ordinary bytes, never as the special id;
* the saved ``tokenizer.json`` (loadable by ``PreTrainedTokenizerFast`` and
  ``AutoTokenizer``) cannot run tree-sitter, so its pre-tokenizer *approximates* the leaf
  cut with a regex (identifier runs, punctuation runs, newline+indent, blanks).  Encoding
  raw text through it is an approximation; decoding any ids through it is exact.

Decoding here is exact too: each id maps to its bytes, and the bytes are concatenated.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from treediff.errors import CheckpointError, InputError, LanguageNotFound
from treediff.syntax.language import get_language, list_languages
from treediff.syntax.tree import SyntaxTree
from treediff.tokens.alignment import Alignment, align, piece_bounds

__all__ = [
    "MASK",
    "PAD",
    "BOS",
    "EOS",
    "HOLE",
    "END_OF_HOLE",
    "Encoding",
    "SyntaxTokenizer",
    "bytes_to_unicode",
    "lang_token",
    "words_of",
]

PAD = "<|pad|>"
MASK = "<|mask|>"
BOS = "<|bos|>"
EOS = "<|eos|>"
HOLE = "<|hole|>"
END_OF_HOLE = "<|endofhole|>"
_CORE_SPECIALS = (PAD, MASK, BOS, EOS, HOLE, END_OF_HOLE)

#: Raw-text approximation of the leaf cut, used only by the saved ``tokenizer.json``.
_HF_SPLIT = r"\r?\n[\t ]*|[\t ]+|[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]+|\s"
#: Second cut inside a piece that contains blanks (string and comment leaves).
_INNER = re.compile(r" ?[^\s]+|\s+")
_BLANK = re.compile(r"\s")


def lang_token(name: str) -> str:
    """The language tag token of a language name (``<|lang:python|>``)."""
    return f"<|lang:{name}|>"


@functools.lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte → printable character map used by byte-level BPE vocabularies."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def _char_starts(src: bytes) -> np.ndarray:
    """``[len(src)+1]`` char index of every byte offset (UTF-8), for byte → char slicing."""
    buf = np.frombuffer(src, dtype=np.uint8)
    is_start = (buf & 0xC0) != 0x80
    out = np.empty(len(src) + 1, dtype=np.int64)
    out[0] = 0
    np.cumsum(is_start, out=out[1:])
    return out


def words_of(tree: SyntaxTree) -> list[str | bytes]:
    """The BPE words of a source, in order; their concatenation is ``tree.source``.

    A word is a ``str`` except in the (rare) case where a piece does not start or end on
    a UTF-8 character boundary; such a piece is returned as raw ``bytes`` and encoded
    byte by byte.

    >>> from treediff.syntax import parse
    >>> words_of(parse("s = 'a b'  # hi there\\n", "python"))
    ['s', ' ', '=', ' ', "'", 'a', ' b', "'", '  ', '#', ' hi', ' there', '\\n']
    """
    src = tree.source
    pieces = piece_bounds(tree)
    text = src.decode("utf-8")
    words: list[str | bytes] = []
    append, extend, inner, blank = words.append, words.extend, _INNER.findall, _BLANK.search
    if len(text) == len(src):  # ASCII: byte offsets are char offsets
        for a, b, leaf in pieces:
            w = text[a:b]
            if leaf and b - a > 1 and blank(w):
                extend(inner(w))
            else:
                append(w)
        return words
    chars = _char_starts(src).tolist()
    buf = src
    n = len(src)
    for a, b, leaf in pieces:
        if (buf[a] & 0xC0) == 0x80 or (b < n and (buf[b] & 0xC0) == 0x80):
            append(src[a:b])  # cut inside a character: encode byte by byte
            continue
        w = text[chars[a] : chars[b]]
        if leaf and b - a > 1 and blank(w):
            extend(inner(w))
        else:
            append(w)
    return words


@dataclass(frozen=True)
class Encoding:
    """One encoded source: ``ids [T]`` int32, ``offsets [T, 2]`` byte spans, and the node alignment."""

    ids: np.ndarray
    offsets: np.ndarray
    alignment: Alignment

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def _exact_json(hf_json: str) -> str:
    """The tokenizer.json of the exact encoder: same model, words in, no added tokens."""
    d = json.loads(hf_json)
    d["added_tokens"] = []
    d["normalizer"] = None
    d["post_processor"] = None
    d["truncation"] = None
    d["padding"] = None
    d["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    return json.dumps(d)


class SyntaxTokenizer:
    """Byte-level BPE over syntax pieces; ``encode(tree)`` is exact and aligned to the AST.

    >>> from treediff.syntax import parse
    >>> tok = SyntaxTokenizer.train([parse("x = f(x)\\n" * 20, "python")], vocab_size=300, show_progress=False)
    >>> enc = tok.encode(parse("y = f(x)\\n", "python"))
    >>> tok.decode(enc.ids), bool(enc.alignment.node_exact.all())
    ('y = f(x)\\n', True)
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._hf = tokenizer
        self._exact = Tokenizer.from_str(_exact_json(tokenizer.to_str()))
        vocab = tokenizer.get_vocab(with_added_tokens=True)
        missing = [t for t in _CORE_SPECIALS if t not in vocab]
        if missing:
            raise CheckpointError(f"tokenizer lacks the special tokens {', '.join(missing)}")
        self._vocab = vocab
        size = tokenizer.get_vocab_size(with_added_tokens=True)
        id_to_token = [""] * size
        for t, i in vocab.items():
            id_to_token[i] = t
        self._specials = sorted(
            (i for t, i in vocab.items() if t in _CORE_SPECIALS or (t.startswith("<|lang:") and t.endswith("|>")))
        )
        special_set = set(self._specials)
        decoder = {c: b for b, c in bytes_to_unicode().items()}
        token_bytes: list[bytes] = []
        for i, t in enumerate(id_to_token):
            if i in special_set:
                token_bytes.append(t.encode("utf-8"))
            else:
                try:
                    token_bytes.append(bytes(decoder[c] for c in t))
                except KeyError:
                    raise CheckpointError(f"token {i} ({t!r}) is not a byte-level token") from None
        self._token_bytes = token_bytes
        self._token_len = np.fromiter((len(b) for b in token_bytes), dtype=np.int64, count=size)
        self._is_special = np.zeros(size, dtype=bool)
        self._is_special[self._specials] = True
        self._byte_ids = np.asarray([vocab[bytes_to_unicode()[b]] for b in range(256)], dtype=np.int32)
        self._langs = {t[len("<|lang:") : -2]: i for t, i in vocab.items() if t.startswith("<|lang:") and t.endswith("|>")}

    # -- training --------------------------------------------------------------------
    @staticmethod
    def special_tokens(languages: Sequence[str] | None = None) -> list[str]:
        """The special tokens in id order: core ones first, then one tag per language."""
        names = [lang.name for lang in list_languages()] if languages is None else list(languages)
        return [*_CORE_SPECIALS, *(lang_token(n) for n in names)]

    @classmethod
    def train_from_words(
        cls,
        batches: Iterable[list[str]],
        *,
        vocab_size: int = 8192,
        min_frequency: int = 2,
        languages: Sequence[str] | None = None,
        show_progress: bool = True,
        length: int | None = None,
    ) -> "SyntaxTokenizer":
        """Train on batches of words (each a list of ``str`` as :func:`words_of` gives).

        Words that spell a special token are dropped so that no merge can produce one.
        """
        specials = cls.special_tokens(languages)
        if vocab_size < 256 + len(specials):
            raise InputError(f"vocab_size {vocab_size} is too small: it needs at least {256 + len(specials)}")
        tok = Tokenizer(models.BPE())
        byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
        # words travel to Rust joined by NUL (sources never contain one): far fewer Python→Rust calls
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split("\x00", behavior="removed"), byte_level])
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=show_progress,
        )

        def joined(stream: Iterable[list[str]]) -> Iterator[str]:
            for batch in stream:
                yield "\x00".join(w for w in batch if isinstance(w, str) and "<|" not in w and "\x00" not in w)

        tok.train_from_iterator(joined(batches), trainer=trainer, length=length)
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(_HF_SPLIT), behavior="isolated"),
                byte_level,
            ]
        )
        return cls(tok)

    @classmethod
    def train(
        cls,
        trees: Iterable[SyntaxTree],
        *,
        vocab_size: int = 8192,
        min_frequency: int = 2,
        languages: Sequence[str] | None = None,
        show_progress: bool = True,
    ) -> "SyntaxTokenizer":
        """Train on parsed sources (single process; see ``treediff.data.train_tokenizer`` for corpora)."""
        return cls.train_from_words(
            (words_of(t) for t in trees),  # type: ignore[misc]
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            languages=languages,
            show_progress=show_progress,
        )

    # -- special tokens --------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return int(self._token_len.shape[0])

    @property
    def pad_id(self) -> int:
        return self._vocab[PAD]

    @property
    def mask_id(self) -> int:
        return self._vocab[MASK]

    @property
    def bos_id(self) -> int:
        return self._vocab[BOS]

    @property
    def eos_id(self) -> int:
        return self._vocab[EOS]

    @property
    def hole_id(self) -> int:
        return self._vocab[HOLE]

    @property
    def end_of_hole_id(self) -> int:
        return self._vocab[END_OF_HOLE]

    @property
    def special_ids(self) -> list[int]:
        """Every special id (core tokens and language tags), sorted."""
        return list(self._specials)

    @property
    def languages(self) -> list[str]:
        """Languages with a tag token, in id order."""
        return sorted(self._langs, key=self._langs.__getitem__)

    def lang_id(self, name: str) -> int:
        """Id of the ``<|lang:NAME|>`` tag; ``name`` may be an alias (``"py"``)."""
        try:
            canonical = get_language(name).name
        except LanguageNotFound:
            canonical = name
        if canonical not in self._langs:
            raise LanguageNotFound(
                f"tokenizer has no tag for language {name!r}; it knows: {', '.join(self.languages)}"
            )
        return self._langs[canonical]

    def is_special(self, ids: np.ndarray) -> np.ndarray:
        """Boolean mask of the special ids in ``ids`` (vectorised)."""
        return self._is_special[np.asarray(ids, dtype=np.int64)]

    def token_to_id(self, token: str) -> int | None:
        return self._vocab.get(token)

    def id_to_token(self, token_id: int) -> str:
        return self._hf.id_to_token(int(token_id))

    # -- encode / decode ---------------------------------------------------------------
    def encode_words(self, words: Sequence[str | bytes]) -> np.ndarray:
        """Ids of a word sequence; each word is encoded on its own (``int32 [T]``)."""
        parts: list[np.ndarray] = []
        run: list[str] = []
        for w in words:
            if isinstance(w, bytes):
                if run:
                    parts.append(np.asarray(self._exact.encode(run, is_pretokenized=True, add_special_tokens=False).ids))
                    run = []
                parts.append(self._byte_ids[np.frombuffer(w, dtype=np.uint8)])
            else:
                run.append(w)
        if run:
            parts.append(np.asarray(self._exact.encode(run, is_pretokenized=True, add_special_tokens=False).ids))
        if not parts:
            return np.zeros(0, dtype=np.int32)
        return np.concatenate(parts).astype(np.int32, copy=False)

    def offsets_of(self, ids: np.ndarray) -> np.ndarray:
        """Byte offsets ``[T, 2]`` of non-special ids laid end to end from byte 0."""
        ends = np.cumsum(self._token_len[np.asarray(ids, dtype=np.int64)])
        return np.stack([ends - self._token_len[ids], ends], axis=1)

    def encode(self, tree: SyntaxTree) -> Encoding:
        """Exact encoding of a parsed source, with every named node's token span."""
        ids = self.encode_words(words_of(tree))
        offsets = self.offsets_of(ids)
        if offsets.shape[0] and offsets[-1, 1] != len(tree.source):  # pragma: no cover - invariant
            raise AssertionError("token bytes do not tile the source")
        return Encoding(ids=ids, offsets=offsets, alignment=align(tree, offsets))

    def encode_source(self, source: bytes | str, language: str) -> Encoding:
        """Parse then :meth:`encode`."""
        from treediff.syntax.tree import parse

        return self.encode(parse(source, language))

    def decode_bytes(self, ids: Iterable[int] | np.ndarray, *, skip_special_tokens: bool = False) -> bytes:
        """The exact bytes of ``ids`` (special tokens spelled out unless skipped)."""
        arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise InputError(f"token ids must lie in [0, {self.vocab_size}), got {arr.min()}..{arr.max()}")
        if skip_special_tokens:
            arr = arr[~self._is_special[arr]]
        tb = self._token_bytes
        return b"".join([tb[i] for i in arr.tolist()])

    def decode(self, ids: Iterable[int] | np.ndarray, *, skip_special_tokens: bool = False) -> str:
        """Decode to text; invalid UTF-8 (possible for arbitrary ids) becomes U+FFFD."""
        return self.decode_bytes(ids, skip_special_tokens=skip_special_tokens).decode("utf-8", "replace")

    # -- persistence -------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """SHA-256 of the canonical ``tokenizer.json`` (names the cache of prepared data)."""
        return hashlib.sha256(self._hf.to_str().encode("utf-8")).hexdigest()

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self._hf.save(str(out / "tokenizer.json"))
        lang_tokens = [lang_token(n) for n in self.languages]
        extra = [HOLE, END_OF_HOLE, *lang_tokens]
        special_map = {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "mask_token": MASK}
        config = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            **special_map,
            "additional_special_tokens": extra,
            "clean_up_tokenization_spaces": False,
            "model_max_length": 1_000_000_000,
            "model_input_names": ["input_ids", "attention_mask"],
            "treediff": {"languages": self.languages, "note": "raw-text encoding here approximates the leaf cut"},
        }
        (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
        (out / "special_tokens_map.json").write_text(
            json.dumps({**special_map, "additional_special_tokens": extra}, indent=2) + "\n"
        )
        return out

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str]) -> "SyntaxTokenizer":
        """Load a directory written by :meth:`save` (or a ``tokenizer.json`` path)."""
        path = Path(directory)
        file = path if path.is_file() else path / "tokenizer.json"
        if not file.is_file():
            raise CheckpointError(f"{path}: no tokenizer.json (train one with `treediff tokenizer train`)")
        try:
            tok = Tokenizer.from_file(str(file))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise CheckpointError(f"{file}: cannot load tokenizer: {exc}") from None
        return cls(tok)

    def to_hf(self):  # -> transformers.PreTrainedTokenizerFast
        """The same vocabulary as a ``transformers`` fast tokenizer (raw-text encoding approximate)."""
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast(
            tokenizer_object=Tokenizer.from_str(self._hf.to_str()),
            bos_token=BOS,
            eos_token=EOS,
            pad_token=PAD,
            mask_token=MASK,
            additional_special_tokens=[HOLE, END_OF_HOLE, *(lang_token(n) for n in self.languages)],
            clean_up_tokenization_spaces=False,
        )

    def __repr__(self) -> str:
        return f"SyntaxTokenizer(vocab_size={self.vocab_size}, languages={len(self._langs)})"
