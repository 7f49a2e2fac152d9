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
    "infill",
    "repair",
    "synth",
    "sample",
]

_SAMPLING = ("infill", "repair", "synth", "sample")


def __getattr__(name: str):
    # The sampling calls need torch; resolving them on first use keeps `import treediff`
    # (and every syntax-only CLI command) free of the torch import.
    if name == "repair":
        from treediff.repairs import repair

        return repair
    if name in _SAMPLING:
        import treediff.sample as _sample

        return getattr(_sample, name)
    raise AttributeError(f"module 'treediff' has no attribute {name!r}")
