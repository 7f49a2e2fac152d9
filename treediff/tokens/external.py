"""Align an external (e.g. Hugging Face) tokenizer to a syntax tree.

External tokens may cross leaf boundaries, so the alignment follows the *cover* rule of
:func:`treediff.tokens.align`: a token belongs to every node it overlaps, node spans may
be wider than the node, and ``node_exact`` is ``False`` where they are.  Offsets come
from the tokenizer as *character* offsets; they are converted to UTF-8 *byte* offsets
before alignment (they differ as soon as the source has a non-ASCII character).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from treediff.errors import InputError
from treediff.syntax.tree import SyntaxTree
from treediff.tokens.alignment import align
from treediff.tokens.tokenizer import Encoding

__all__ = ["align_external", "char_to_byte_offsets"]


def char_to_byte_offsets(text: str) -> np.ndarray:
    """``[len(text)+1]`` UTF-8 byte offset of every character offset.

    >>> char_to_byte_offsets("aé€😀").tolist()
    [0, 1, 3, 6, 10]
    """
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    width = 1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)
    out = np.zeros(len(cps) + 1, dtype=np.int64)
    np.cumsum(width, out=out[1:])
    return out


def align_external(tree: SyntaxTree, hf_tokenizer: Any) -> Encoding:
    """Encode ``tree.source`` with an external tokenizer and align its tokens to the AST (cover rule).

    ``hf_tokenizer`` is a ``transformers`` fast tokenizer (``return_offsets_mapping``) or a
    ``tokenizers.Tokenizer``.  No special tokens are added.  Tokens with an empty offset
    range (e.g. byte-fallback pieces of one character) keep their position but cover no byte.
    """
    text = tree.source.decode("utf-8")
    from tokenizers import Tokenizer

    if isinstance(hf_tokenizer, Tokenizer):
        enc = hf_tokenizer.encode(text, add_special_tokens=False)
        ids, char_offsets = enc.ids, enc.offsets
    elif callable(hf_tokenizer):
        try:
            out = hf_tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        except NotImplementedError:
            raise InputError("align_external needs a fast tokenizer (return_offsets_mapping)") from None
        ids, char_offsets = out["input_ids"], out["offset_mapping"]
    else:
        raise InputError(f"cannot align a {type(hf_tokenizer).__name__}; pass a fast tokenizer")
    chars = np.asarray(char_offsets, dtype=np.int64).reshape(-1, 2)
    byte_of = char_to_byte_offsets(text)
    offsets = byte_of[np.clip(chars, 0, len(text))]
    return Encoding(ids=np.asarray(ids, dtype=np.int32), offsets=offsets, alignment=align(tree, offsets))
