"""Hollow fills: a hole's text that parses but holds no code.

A weak model can make any hole valid without writing anything: an empty block ``{ }``, a bare
``return;`` in a body, ``pass``, or a comment that swallows whatever it wrote (``// fmt::::")))``).
Such a fill passes every check, so validity alone would call it the model's code.  A fill is
**hollow** when every token in it is a comment, a blank, a bracket or separator (a token without a
letter, digit or ``_``) outside a literal, one of the language's hollow words (``[keywords] hollow``
in its grammar file: ``return``, ``pass``, ...), or part of a statement that is a literal alone
(``" ";``, a lone docstring: it does nothing).  Everything else — a name, a literal, a call —
counts as code, so ``return 0;``, ``x++`` and ``break;`` are not hollow.

The sampler treats a hollow statement or block fill like an empty one (no answer: it is decoded again,
and ends as its category's filler, counted as fallback) unless ``SamplerConfig.substantive_holes`` is
off, as it is in repair, where deleting text is an answer.

>>> from treediff.syntax.tree import parse
>>> code = "fn f() -> u8 {\\n    // fmt::::\\n}\\n"
>>> hollow_spans(parse(code, "rust"), [(13, len(code) - 1)])
(True,)
>>> hollow_text("class A { int f() { return 0; } }", "java", (18, 31))
False
>>> hollow_text("class A { void f() { return; } }", "java", (19, 30))
True
"""

from __future__ import annotations

from typing import Sequence

from treediff.syntax.language import Language, get_language
from treediff.syntax.tree import SyntaxTree, parse

__all__ = ["HOLLOW_CATEGORIES", "hollow_fills", "hollow_words", "hollow_spans", "hollow_text"]

#: The hole categories whose fill can parse and hold no code (an expression or a name always holds some).
HOLLOW_CATEGORIES = ("statement", "block")


def hollow_words(language: str | Language) -> frozenset[bytes]:
    """The language's words that make no code alone (``[keywords] hollow``), as bytes."""
    lang = get_language(language)
    return frozenset(w.encode("utf-8") for w in lang.extra.get("keywords", {}).get("hollow", ()))


def _is_code(token: bytes, words: frozenset[bytes]) -> bool:
    if token in words:
        return False
    return any(c == 0x5F or c >= 0x80 or chr(c).isalnum() for c in token)


def _idle(node, literals, comments, source: bytes) -> bool:
    """A statement that is one literal and punctuation (`" ";`, a lone docstring): it does nothing."""
    named = [c for c in node.named_children if c.type not in comments]
    if len(named) != 1 or named[0].type not in literals:
        return False
    lit = named[0]
    rest = source[node.start_byte:lit.start_byte] + source[lit.end_byte:node.end_byte]
    return not _is_code(rest, frozenset())


def hollow_spans(tree: SyntaxTree, spans: Sequence[tuple[int, int]]) -> tuple[bool, ...]:
    """Per byte span of ``tree``'s source: does it hold no code (see the module docstring)?  Comments are the
    language's ``comment`` category and the grammar's extras; a token that only touches a span's edge is
    outside it."""
    lang = tree.language
    words = hollow_words(lang)
    comments = lang.categories.get("comment", frozenset())
    literals = lang.categories.get("literal", frozenset())
    statements = lang.categories.get("statement", frozenset())
    source = tree.source
    out = []
    for start, end in spans:
        hollow = True
        stack = [tree.ts_tree.root_node]
        while stack and hollow:
            node = stack.pop()
            if node.end_byte <= start or node.start_byte >= end:
                continue
            if node.type in comments or (node.is_extra and node.is_named):
                continue
            if node.type in statements and _idle(node, literals, comments, source):
                continue
            if node.type in literals:  # ``''`` is a value, though no token of it has a letter (``...`` is a word)
                hollow = source[node.start_byte:node.end_byte] in words
            elif node.child_count == 0:
                a, b = max(node.start_byte, start), min(node.end_byte, end)
                hollow = not _is_code(source[a:b], words)
            else:
                stack.extend(node.children)
        out.append(hollow)
    return tuple(out)


def hollow_text(code: str | bytes, language: str | Language, span: tuple[int, int]) -> bool:
    """:func:`hollow_spans` of one span of ``code``, parsed here."""
    return hollow_spans(parse(code, language), [span])[0]


def hollow_fills(code: str | bytes | SyntaxTree, language: str | Language, spans: Sequence[tuple[int, int]],
                 categories: Sequence[str]) -> tuple[bool, ...]:
    """Per filled hole (``spans[i]`` of ``code``, of ``categories[i]``): a statement or block fill that holds no
    code; other categories are never hollow.  ``code`` may be its parsed tree already.

    >>> hollow_fills("int f() { return; }", "c", [(8, 19), (10, 17)], ["block", "expression"])
    (True, False)
    """
    idx = [i for i, c in enumerate(categories) if c in HOLLOW_CATEGORIES]
    out = [False] * len(categories)
    if idx:
        tree = code if isinstance(code, SyntaxTree) else parse(code, language)
        for i, hollow in zip(idx, hollow_spans(tree, [spans[i] for i in idx])):
            out[i] = hollow
    return tuple(out)
