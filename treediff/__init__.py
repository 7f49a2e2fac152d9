"""treediff: structure-aware syntax-tree diffusion for source code.

>>> import treediff
>>> treediff.parse("x = 1\\n", "python").has_errors
False
"""

from __future__ import annotations

__version__ = "0.1.0"

from treediff.errors import (
    CheckpointError,
    ConfigError,
    GrammarError,
    InputError,
    LanguageNotFound,
    NotFound,
    TreediffError,
)
from treediff.syntax import get_language, list_languages, parse

__all__ = [
    "__version__",
    "CheckpointError",
    "ConfigError",
    "GrammarError",
    "InputError",
    "LanguageNotFound",
    "NotFound",
    "TreediffError",
    "get_language",
    "list_languages",
    "parse",
]
