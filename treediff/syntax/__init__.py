"""Syntax layer: languages, parsing, ASTs, control-flow graphs and graph exports."""

from treediff.syntax.language import (
    CATEGORIES,
    HOLE_CATEGORIES,
    Language,
    detect_language,
    get_language,
    list_languages,
    load_language,
    resolve_language,
)
from treediff.syntax.tree import Edit, Node, Point, SyntaxTree, parse, read_source, walk

__all__ = [
    "CATEGORIES",
    "HOLE_CATEGORIES",
    "Language",
    "detect_language",
    "get_language",
    "list_languages",
    "load_language",
    "resolve_language",
    "Edit",
    "Node",
    "Point",
    "SyntaxTree",
    "parse",
    "read_source",
    "walk",
]
