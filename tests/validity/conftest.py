"""Fixtures of the validity tests."""

from __future__ import annotations

import os
import signal
import time

import pytest

from treediff.sandbox import isolation_mode


@pytest.fixture(params=["bwrap", "rlimits"])
def mode(request, monkeypatch):
    """Each isolation the sandbox has: bubblewrap (skipped where it cannot run) and rlimits alone."""
    if request.param == "bwrap" and isolation_mode() != "bwrap":
        pytest.skip("needs bubblewrap")
    monkeypatch.setenv("TREEDIFF_SANDBOX", request.param)
    isolation_mode.cache_clear()
    yield request.param
    isolation_mode.cache_clear()


@pytest.fixture
def kill_worker():
    """Kill a persistent checker's process group and wait until it counts as gone; returns its old pid."""
    def kill(worker) -> int:
        pid = worker.pid
        os.killpg(os.getpgid(pid), signal.SIGKILL)
        for _ in range(100):
            if worker.pid is None:
                break
            time.sleep(0.05)
        assert worker.pid is None
        return pid
    return kill
