"""What the persistent checker processes share (the node worker, the javac worker): a sandboxed child process
bound to the Python process that started it, closed with its whole process group, and one per process and key.

A forked child never shares its parent's pipes: a worker started by another process counts as gone.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import threading
from dataclasses import replace
from typing import Any, Callable, Sequence

from treediff.sandbox import Limits, Sandbox, kill_group

__all__ = ["LongLived", "WorkerPool"]


class LongLived:
    """The state of one long-lived sandboxed child: its :class:`~treediff.sandbox.Sandbox`, process, owner pid and
    lock.  Its limits are the compiler's, with a CPU clock for its whole life (each request has its own timeout)."""

    def __init__(self, limits: Limits, readable: Sequence[str] = ()) -> None:
        self.limits = replace(limits, cpu_seconds=3600, wall_seconds=3600.0)
        self.readable = tuple(readable)
        self._box: Sandbox | None = None
        self._proc: subprocess.Popen | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (``None`` before the first request and after :meth:`close`)."""
        return None if self.gone else self._proc.pid

    def _in_time(self, read: Callable[[], Any], timeout: float) -> Any:
        """What ``read`` (a read from the child's pipe) returns within ``timeout``; ``None`` when it did not return,
        or returned nothing (the pipe closed)."""
        result: list = []
        reader = threading.Thread(target=lambda: result.append(read()), daemon=True)
        reader.start()
        reader.join(timeout)
        return result[0] if not reader.is_alive() and result and result[0] else None

    @property
    def gone(self) -> bool:
        """Not started, exited, or started by another process (a fork's parent)."""
        return self._proc is None or self._proc.poll() is not None or self._pid != os.getpid()

    def close(self) -> None:
        """Kill the process group and remove the sandbox (only in the process that started them)."""
        proc, self._proc = self._proc, None
        box, self._box = self._box, None
        if proc is not None and self._pid == os.getpid():
            kill_group(proc)
            try:
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if box is not None and self._pid == os.getpid():
            box.close()


class WorkerPool:
    """One worker per process and key, made by ``make`` on first need; all of this process's closed at exit."""

    def __init__(self, make: Callable[..., LongLived]) -> None:
        self._make = make
        self._workers: dict[tuple, LongLived] = {}
        self._lock = threading.Lock()
        atexit.register(self.close_all)

    def get(self, key: tuple, *args: Any) -> Any:
        """This process's worker for ``key``, made by ``make(*args)`` the first time."""
        key = (os.getpid(), *key)
        with self._lock:
            worker = self._workers.get(key)
            if worker is None:
                worker = self._workers[key] = self._make(*args)
            return worker

    def close_all(self) -> None:
        for (pid, *_), worker in list(self._workers.items()):
            if pid == os.getpid():
                worker.close()
