"""The hostile-program suite: every attack fails with a reason, in bounded time, and nothing escapes."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from treediff.eval import SECRET_ENV, hostile_programs, run_program
from treediff.sandbox import EXEC_LIMITS, SANDBOX_UIDS, isolation_mode

pytestmark = pytest.mark.skipif(isolation_mode() != "bwrap", reason="full containment needs bubblewrap")
LIMITS = EXEC_LIMITS.with_wall(3)


def _sandbox_orphans() -> set[int]:
    """Processes of a sandbox uid whose parent is gone (re-parented to init): what a leak looks like.

    A sandboxed process that is still legitimately running (another test's, at the same time) has
    its sandbox's processes as parents, so this stays robust under parallel tests.
    """
    pids = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid not in SANDBOX_UIDS:
                    continue
                stat = Path(entry.path, "stat").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            if fields[0] != b"Z" and int(fields[1]) in (0, 1):
                pids.add(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    hits: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hits.append(conn.recv(16))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join()
    server.close()


SUITE = sorted(hostile_programs(parent_pid=1, outside="/x", port=1, secret="s"))


@pytest.mark.parametrize("name", SUITE)
def test_hostile_program_is_contained(name, tmp_path: Path, listener, monkeypatch) -> None:
    port, hits = listener
    secret = "hunter2-" + name.replace(" ", "-")
    monkeypatch.setenv(SECRET_ENV, secret)
    outside = tmp_path / "escaped.txt"
    before = _sandbox_orphans()
    program = hostile_programs(parent_pid=os.getpid(), outside=str(outside), port=port, secret=secret)[name]
    start = time.monotonic()
    result = run_program(program, limits=LIMITS)
    assert time.monotonic() - start < LIMITS.wall_seconds + 5  # nothing hangs
    assert not result.passed and result.reason and result.reason != "passed"  # a failure, with a reason
    assert not outside.exists()  # nothing written outside
    assert hits == []  # no connection reached the host
    time.sleep(0.2)
    assert _sandbox_orphans() - before == set()  # nothing left running
