"""A progress bar for long library calls: rich on stderr when asked, stderr is a terminal, and there is more
than one item."""

from __future__ import annotations

__all__ = ["ProgressBar"]


class ProgressBar:
    """``ProgressBar(total, label, enabled)``; ``advance()`` per item, ``close()`` at the end (a no-op
    when not enabled or ``total <= 1``).

    >>> bar = ProgressBar(3, "work", enabled=False); bar.advance(); bar.close()
    """

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self._bar = None
        from rich.console import Console

        console = Console(stderr=True)  # stdout carries results only
        if enabled and total > 1 and console.is_terminal:  # no bar, and no blank line, in a log file
            from rich.progress import Progress

            self._bar = Progress(console=console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(label, total=total)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
