"""Tokens aligned to syntax nodes (pre-tokenization, alignment, syntax-aligned BPE)."""

from treediff.tokens.alignment import Alignment, Piece, align, leaf_alignment, pretokenize

__all__ = ["Alignment", "Piece", "align", "leaf_alignment", "pretokenize"]

from treediff.tokens.batch import AlignedBatch  # noqa: E402

__all__ += ["AlignedBatch"]

from treediff.tokens.tokenizer import Encoding, SyntaxTokenizer  # noqa: E402
from treediff.tokens.external import align_external  # noqa: E402

__all__ += ["Encoding", "SyntaxTokenizer", "align_external"]
