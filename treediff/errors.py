"""One exception hierarchy for treediff.

Library code raises these; the CLI turns each into a one-line message and an
exit code in a single place (``cli/app.py``).  Validity checks never raise on
invalid *code*: they return reports.
"""

from __future__ import annotations

__all__ = [
    "TreediffError",
    "InputError",
    "LanguageNotFound",
    "GrammarError",
    "ConfigError",
    "CheckpointError",
    "NotFound",
]


class TreediffError(Exception):
    """Base class of every error treediff raises on purpose."""

    exit_code = 2


class InputError(TreediffError, ValueError):
    """Bad user input: unreadable, binary, non-UTF-8, empty or oversized source."""


class LanguageNotFound(InputError, LookupError):
    """A language name or file extension that no ``grammars/*.toml`` file declares."""


class NotFound(InputError, LookupError):
    """A named thing (function, node, registry entry) that does not exist."""


class GrammarError(TreediffError):
    """A ``grammars/*.toml`` data file is incomplete or inconsistent with its grammar."""


class ConfigError(TreediffError, ValueError):
    """A configuration field with an unknown key, wrong type or out-of-range value."""


class CheckpointError(TreediffError):
    """A checkpoint directory that is missing, truncated, corrupt or incompatible."""
