"""Worker processes that outlive what they run: a crash takes one task with it, not the batch.

tree-sitter is C; some inputs crash it (a segfault on ~800 KB of erroneous JavaScript).  Each
worker takes one task at a time over a pipe, so when a worker dies the parent knows which task
killed it, reports that one as :class:`Crashed` and starts a fresh worker for the rest.  A task
that runs past ``timeout`` has its worker killed the same way.

>>> results = {}
>>> run_isolated([(0, 2), (1, 3)], abs, jobs=1, on_result=results.__setitem__)
>>> results
{0: 2, 1: 3}
"""

from __future__ import annotations

import faulthandler
import multiprocessing as mp
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Callable, Iterator, Sequence

__all__ = ["Crashed", "iter_isolated", "run_isolated", "run_one_isolated"]


@dataclass(frozen=True)
class Crashed:
    """A task whose worker died (``signal``) or ran past its time (``timed_out``)."""

    reason: str
    signal: int | None = None
    timed_out: bool = False


def _serve(conn, fn: Callable[[Any], Any]) -> None:
    faulthandler.disable()  # a crash here is expected and reported by the parent; no dump on stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        index, payload = item
        conn.send((index, fn(payload)))


def _context():
    # fork is fast and safe while this process has one thread; otherwise start workers cleanly
    if threading.active_count() == 1 and "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    return mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")


class _Worker:
    def __init__(self, ctx, fn: Callable[[Any], Any]) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, fn), daemon=True)
        self.proc.start()
        child.close()
        self.task: int | None = None
        self.started = 0.0

    def give(self, index: int, payload: Any) -> None:
        self.task, self.started = index, time.monotonic()
        self.conn.send((index, payload))

    def stop(self, *, kill: bool = False) -> None:
        try:
            if kill:
                self.proc.kill()
            else:
                self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(timeout=5 if not kill else None)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _death(proc) -> Crashed:
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return Crashed(f"the worker process crashed ({name})", signal=-code)
    return Crashed(f"the worker process exited (status {code})")


def iter_isolated(items: Sequence[tuple[int, Any]], fn: Callable[[Any], Any], *, jobs: int,
                  timeout: float | None = None) -> Iterator[tuple[int, Any]]:
    """Run ``fn(payload)`` for each ``(index, payload)`` in up to ``jobs`` workers; yield ``(index, value)``
    as each is done, ``value`` a :class:`Crashed` when the task killed its worker or ran past ``timeout``
    seconds.  ``fn`` must be importable by name (a module-level function).  Closing the generator (a
    caller's Ctrl-C) stops the workers.
    """
    ctx = _context()
    queue = list(reversed(items))
    workers: list[_Worker] = []
    try:
        while queue or any(w.task is not None for w in workers):
            while queue and len([w for w in workers if w.task is not None]) < jobs:
                idle = next((w for w in workers if w.task is None), None)
                if idle is None:
                    idle = _Worker(ctx, fn)
                    workers.append(idle)
                idle.give(*queue.pop())
            busy = [w for w in workers if w.task is not None]
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=0.5)
            for w in busy:
                if w.conn in ready:
                    try:
                        index, value = w.conn.recv()
                    except (EOFError, OSError):
                        w.proc.join(timeout=5)
                        index, value = w.task, _death(w.proc)
                        workers.remove(w)
                        w.stop(kill=True)
                    w.task = None
                    yield index, value
                elif w.proc.sentinel in ready or (timeout is not None and time.monotonic() - w.started > timeout):
                    died = w.proc.sentinel in ready
                    if died:
                        w.proc.join(timeout=5)
                    crashed = _death(w.proc) if died else Crashed(f"the worker ran past {timeout:g}s", timed_out=True)
                    w.stop(kill=True)
                    workers.remove(w)
                    yield w.task, crashed
    finally:
        for w in workers:
            w.stop(kill=w.task is not None)


def run_isolated(items: Sequence[tuple[int, Any]], fn: Callable[[Any], Any], *, jobs: int,
                 on_result: Callable[[int, Any], None], timeout: float | None = None) -> None:
    """:func:`iter_isolated` with a callback: ``on_result(index, value)`` for each task."""
    for index, value in iter_isolated(items, fn, jobs=jobs, timeout=timeout):
        on_result(index, value)


def run_one_isolated(fn: Callable[[Any], Any], payload: Any, *, timeout: float | None = None) -> Any:
    """``fn(payload)`` in a worker process: its value, or a :class:`Crashed`."""
    out: dict[int, Any] = {}
    run_isolated([(0, payload)], fn, jobs=1, on_result=out.__setitem__, timeout=timeout)
    return out[0]
