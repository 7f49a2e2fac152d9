"""Name → object registries with helpful errors (the PyG ``resolver`` pattern)."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from treediff.errors import NotFound

__all__ = ["Registry", "normalize_name"]

T = TypeVar("T")


def normalize_name(name: str) -> str:
    """Lower-case a name and fold ``-``/space into ``_``: ``"AST-Span"`` → ``"ast_span"``."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


class Registry(Generic[T]):
    """A dict of named entries whose :meth:`resolve` lists the valid choices on a miss.

    >>> r = Registry("masker"); _ = r.register("random", 1); r.resolve("Random")
    1
    >>> r.resolve("rnd")
    Traceback (most recent call last):
    ...
    treediff.errors.NotFound: unknown masker 'rnd' (did you mean 'random'?); choose one of: random
    """

    def __init__(self, kind: str, error: type[Exception] = NotFound) -> None:
        self.kind = kind
        self.error = error
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, obj: T, aliases: tuple[str, ...] | list[str] = ()) -> T:
        key = normalize_name(name)
        self._entries[key] = obj
        for alias in aliases:
            self._aliases[normalize_name(alias)] = key
        return obj

    def decorator(self, name: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            return self.register(name, obj)

        return wrap

    def resolve(self, name: str) -> T:
        key = normalize_name(name)
        key = self._aliases.get(key, key)
        if key in self._entries:
            return self._entries[key]
        choices = ", ".join(sorted(self._entries))
        close = difflib.get_close_matches(key, list(self._entries) + list(self._aliases), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise self.error(f"unknown {self.kind} {name!r}{hint}; choose one of: {choices}")

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = normalize_name(name)
        return key in self._entries or key in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
