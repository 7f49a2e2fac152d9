"""Confinement for everything treediff runs that a user or a model wrote.

- :class:`Sandbox` a fresh temp directory; :meth:`Sandbox.run` one program → :class:`SandboxResult`;
- :class:`Limits` what a program may use (memory, CPU, wall clock, file size, files, processes);
- :func:`isolation_mode` ``"bwrap"`` (bubblewrap namespaces, read-only toolchain) or ``"rlimits"``.

Every compiler check (:mod:`treediff.validity.compilers`) and every test execution
(:mod:`treediff.eval`) goes through here.  See docs/validity.md, "Sandbox".
"""

from treediff.sandbox.isolation import ISOLATION_MODES, SANDBOX_ROOT, SANDBOX_UIDS, isolation_mode, toolchain_paths
from treediff.sandbox.limits import COMPILE_LIMITS, EXEC_LIMITS, Limits
from treediff.sandbox.run import BASE_ENV, Sandbox, SandboxResult, kill_group

__all__ = [
    "BASE_ENV",
    "COMPILE_LIMITS",
    "EXEC_LIMITS",
    "ISOLATION_MODES",
    "Limits",
    "SANDBOX_ROOT",
    "SANDBOX_UIDS",
    "Sandbox",
    "SandboxResult",
    "isolation_mode",
    "kill_group",
    "toolchain_paths",
]
