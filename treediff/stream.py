"""Writing results one at a time, so that Ctrl-C keeps every result already written and splits none.

The commands that produce many results (``synth``, ``sample``, ``validate``) hand each one to ``emit``
(which writes it and returns its record) as soon as it is done.  Ctrl-C during the work stops at once;
Ctrl-C while a result is being written lets that write finish first, so the count of written results
that the command then prints is exact.

>>> rows, interrupted = write_each(range(3), lambda i: i * i)
>>> rows, interrupted
([0, 1, 4], False)
"""

from __future__ import annotations

import signal
import threading
from typing import Callable, Iterable, TypeVar

__all__ = ["write_each"]

T = TypeVar("T")
R = TypeVar("R")


def write_each(items: Iterable[T], emit: Callable[[T], R]) -> tuple[list[R], bool]:
    """``([emit(item) for item in items], False)``, or what was emitted so far and ``True`` on Ctrl-C."""
    done: list[R] = []
    state = {"writing": False, "pending": False}

    def on_sigint(signum, frame):  # noqa: ARG001 - the signal module's signature
        if state["writing"]:
            state["pending"] = True  # finish this write first
            return
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main else None
    try:
        for item in items:
            state["writing"] = True
            done.append(emit(item))
            state["writing"] = False
            if state["pending"]:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # a generator's progress bar stops now, not at collection
        return done, True
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    return done, False
