"""Fixtures of the validity tests."""

from __future__ import annotations

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
