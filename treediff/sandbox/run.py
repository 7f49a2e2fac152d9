"""Run untrusted programs: one :class:`Sandbox` per run, a :class:`SandboxResult` per program.

Every program starts in its own session (process group) with rlimits set by ``prlimit``,
inside bubblewrap where it works (:mod:`treediff.sandbox.isolation`), with a clean
environment and a fresh temp directory as its working directory.  When it exits, times out,
or the caller raises (``KeyboardInterrupt`` included), the whole group is killed, and with
bubblewrap the PID namespace dies with it, so nothing it started outlives the call.

>>> with Sandbox(Limits(wall_seconds=5)) as box:
...     _ = box.write("hello.sh", b"echo hi from $PWD\\n")
...     r = box.run(["sh", box.path("hello.sh")])
>>> r.ok, r.stdout.decode().startswith("hi from")
(True, True)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from treediff.sandbox.isolation import (
    SANDBOX_ROOT,
    bwrap_prefix,
    isolation_mode,
    limit_prefix,
    sandbox_uid,
    toolchain_paths,
)
from treediff.sandbox.limits import COMPILE_LIMITS, Limits

__all__ = ["Sandbox", "SandboxResult", "kill_group", "BASE_ENV"]

#: The whole environment a sandboxed program gets, besides what the caller adds (no secrets pass).
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "NO_COLOR": "1", "TERM": "dumb"}
_SIGNAL_NAMES = {signal.SIGXCPU: "CPU time limit", signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault",
                 signal.SIGXFSZ: "file size limit", signal.SIGABRT: "aborted"}


@dataclass(frozen=True)
class SandboxResult:
    """One program's end: exit status (negative: the signal), trimmed output, and what it cost.

    ``timed_out`` means the wall clock ran out and the group was killed; ``peak_memory_kb`` is the
    largest resident set of any process of the run; ``isolation`` is ``"bwrap"`` or ``"rlimits"``.
    """

    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float
    timed_out: bool
    peak_memory_kb: int
    isolation: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def signal(self) -> int | None:
        return -self.returncode if self.returncode < 0 else None

    @property
    def reason(self) -> str:
        """Why it failed, in a few words (``"ok"`` when it did not)."""
        if self.timed_out:
            return "timed out (wall clock)"
        if self.signal is not None:
            name = _SIGNAL_NAMES.get(self.signal, signal.Signals(self.signal).name if self.signal in
                                     signal.Signals._value2member_map_ else f"signal {self.signal}")
            return f"killed by signal {self.signal} ({name})"
        return "ok" if self.returncode == 0 else f"exit status {self.returncode}"


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a program's whole process group (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Sandbox:
    """A fresh temp directory plus the way to run programs confined in it.

    ``readable`` adds host paths the programs may read (a toolchain outside ``/usr``);
    ``env`` adds environment variables to :data:`BASE_ENV`.  Paths handed to programs must
    come from :meth:`path` (inside bubblewrap the directory is mounted at ``/sandbox``).
    """

    def __init__(self, limits: Limits = COMPILE_LIMITS, *, readable: Sequence[str] = (),
                 env: Mapping[str, str] | None = None) -> None:
        self.limits = limits
        self.isolation = isolation_mode()
        self.readable = tuple(readable)
        self.env = {**BASE_ENV, **(env or {})}
        self.root = Path(tempfile.mkdtemp(prefix="treediff-sandbox-"))
        # as root under bubblewrap, programs run as a uid of this sandbox's own (see isolation.py)
        self.uid = sandbox_uid() if self.isolation == "bwrap" and os.geteuid() == 0 else None
        self._own(self.root)

    # -- files -------------------------------------------------------------------------
    def _own(self, path: Path) -> None:
        if self.uid is not None:
            os.chown(path, self.uid, self.uid)

    def mkdir(self, rel: str) -> str:
        """Create a directory (and parents) writable by the program; return its in-sandbox path."""
        target = self.root / rel
        for part in [*reversed(target.relative_to(self.root).parents), target.relative_to(self.root)]:
            d = self.root / part
            if not d.exists():
                d.mkdir()
                self._own(d)
        return self.path(rel)

    def write(self, rel: str, data: bytes) -> str:
        """Write a file into the sandbox; return its in-sandbox path."""
        target = self.root / rel
        if target.parent != self.root:
            self.mkdir(str(target.parent.relative_to(self.root)))
        target.write_bytes(data)
        self._own(target)
        return self.path(rel)

    def path(self, rel: str = "") -> str:
        """Where ``rel`` (relative to the temp directory) is as the program sees it."""
        base = SANDBOX_ROOT if self.isolation == "bwrap" else str(self.root)
        return base if not rel else f"{base}/{rel}"

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- programs ----------------------------------------------------------------------
    def command(self, argv: Sequence[str], *, cwd: str = "", limits: Limits | None = None,
                env: Mapping[str, str] | None = None) -> list[str]:
        """The full command line: rlimits, then bubblewrap (when used), then ``argv``; ``env`` adds
        variables for this program to the sandbox's own."""
        limits = limits or self.limits
        argv = list(argv)
        found = shutil.which(argv[0]) if argv else None
        if found and not os.path.isabs(argv[0]):
            argv[0] = found
        prefix = limit_prefix(limits)
        if self.isolation == "bwrap":
            readable = toolchain_paths(argv, self.readable)
            prefix += bwrap_prefix(readable, {**self.env, **(env or {})}, cwd=self.path(cwd), host_root=str(self.root),
                                   uid=self.uid)
        return prefix + argv

    def popen(self, argv: Sequence[str], *, cwd: str = "", limits: Limits | None = None, text: bool = False,
              env: Mapping[str, str] | None = None, **kwargs) -> subprocess.Popen:
        """Start a long-lived program with pipes (a worker); stop it with :func:`kill_group`."""
        return subprocess.Popen(
            self.command(argv, cwd=cwd, limits=limits, env=env), cwd=self.root / cwd, env={**self.env, **(env or {})},
            start_new_session=True, text=text, **kwargs,
        )

    def run(self, argv: Sequence[str], *, stdin: bytes | None = None, cwd: str = "",
            limits: Limits | None = None, measure_memory: bool = False,
            env: Mapping[str, str] | None = None) -> SandboxResult:
        """Run ``argv`` to its end or its limits; never raises for what the program does.
        ``env`` adds variables for this program to the sandbox's own.

        ``measure_memory`` samples the resident memory of the whole process tree every few
        milliseconds (``peak_memory_kb``); otherwise only the directly waited-for process counts.
        """
        limits = limits or self.limits
        start = time.perf_counter()
        proc = self.popen(argv, cwd=cwd, limits=limits, env=env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        outputs: list[bytearray] = [bytearray(), bytearray()]
        threads = [threading.Thread(target=_drain, args=(pipe, buf, limits.output_bytes), daemon=True)
                   for pipe, buf in ((proc.stdout, outputs[0]), (proc.stderr, outputs[1]))]
        if stdin is not None:
            threads.append(threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True))
        for t in threads:
            t.start()
        try:
            status, peak, timed_out = _wait(proc, start + limits.wall_seconds, measure_memory)
        finally:
            kill_group(proc)  # leftovers of a finished program, or everything on the caller's exception
            if proc.returncode is None:
                try:
                    os.waitpid(proc.pid, 0)
                except ChildProcessError:
                    pass
                proc.returncode = -9
        for t in threads:
            t.join(timeout=2.0)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        code = _exit_code(status, self.isolation)
        return SandboxResult(code, bytes(outputs[0]), bytes(outputs[1]), time.perf_counter() - start, timed_out,
                             peak, self.isolation)


def _wait(proc: subprocess.Popen, deadline: float, measure: bool) -> tuple[int, int, bool]:
    """Wait for ``proc`` until ``deadline`` (then kill its group); return status, peak RSS (KB), timed out."""
    delay = 0.0005
    timed_out = False
    sampled = 0
    while True:
        if measure:
            sampled = max(sampled, _tree_rss_kb(proc.pid))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() >= deadline:
            timed_out = True
            kill_group(proc)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return status, max(int(usage.ru_maxrss), sampled), timed_out


def _tree_rss_kb(root: int) -> int:
    """Resident memory (KB) of ``root`` and all its descendants now, from ``/proc``."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rfind(b")") + 2:].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        kids = [pid for pid, ppid in parents.items() if ppid in frontier and pid not in tree]
        tree.update(kids)
        frontier = kids
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, ValueError, IndexError):
            continue
    return total


def _exit_code(status: int, isolation: str) -> int:
    code = os.waitstatus_to_exitcode(status)
    if isolation == "bwrap" and 128 < code < 128 + 65:  # bubblewrap reports a child's death by signal N as 128+N
        return -(code - 128)
    return code


def _drain(pipe, buf: bytearray, cap: int) -> None:
    try:
        while True:
            chunk = pipe.read1(65536) if hasattr(pipe, "read1") else pipe.read(65536)
            if not chunk:
                return
            room = cap - len(buf)
            if room > 0:
                buf += chunk[:room]
    except (OSError, ValueError):
        return


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except (OSError, ValueError):
        pass
