"""The one progress bar of the library (sampling, distillation, corpus preparation, validity checks, training):
rich on stderr when asked, a no-op otherwise.

>>> bar = ProgressBar(3, "work", enabled=False); bar.advance(); bar.close()
>>> with ProgressBar(None, "scan", enabled=False, min_total=0) as bar:
...     bar.advance(2)
"""

from __future__ import annotations

from typing import Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """``ProgressBar(total, label, enabled)``; ``advance(n)`` per item, ``close()`` at the end (or use it as a
    context manager).  A no-op when not ``enabled``, when ``total`` is below ``min_total`` (one item needs no
    bar; ``total=None``: unknown, counted), or, with ``terminal_only`` (the default), when stderr is no terminal, so a log file gets no bar and no blank line.
    ``completed``: items already done; ``info``: a free text column set by :meth:`update`;
    ``transient``: the bar disappears when closed."""

    def __init__(self, total: int | None, label: str, enabled: bool, *, completed: int = 0, min_total: int = 2,
                 terminal_only: bool = True, info: bool = False, transient: bool = True) -> None:
        self._bar: Any = None
        if not enabled or (total is not None and total < min_total):
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        if terminal_only and not console.is_terminal:
            return
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
        columns += [TextColumn("{task.fields[info]}")] if info else []
        self._bar = Progress(*columns, TimeRemainingColumn(), console=console, transient=transient)
        self._bar.start()
        self._task = self._bar.add_task(label, total=total, completed=completed, info="")

    @property
    def is_active(self) -> bool:
        return self._bar is not None

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def update(self, *, completed: int | None = None, info: str | None = None) -> None:
        """Set the items done and the ``info`` text."""
        if self._bar is not None:
            fields = {} if info is None else {"info": info}
            self._bar.update(self._task, completed=completed, **fields)

    def print(self, text: str) -> None:
        """A line above the bar."""
        if self._bar is not None:
            self._bar.console.print(text, highlight=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
