"""How a sandboxed program is confined: bubblewrap when it works here, else rlimits alone.

bubblewrap (Debian package ``bubblewrap``) gives the program new PID, network, IPC and UTS
namespaces and a file system holding only the toolchain (``/usr`` and its kin, a few
``/etc`` entries the dynamic loader and the JVM read, the install prefix of the program's
binary, and paths the caller names) plus the sandbox's own temp directory.  Run as root,
bubblewrap needs no user namespace; the program then drops, through ``setpriv``, to a fresh
unprivileged uid of its own (:func:`sandbox_uid`) so that the kernel enforces ``RLIMIT_NPROC``
(it never does for uid 0) for this sandbox alone — the count is per user, and a shared user
would let one sandbox's fork bomb stop another's program from starting — and no root-only
file is readable.

Where bubblewrap is missing or cannot create namespaces, :func:`isolation_mode` says
``"rlimits"`` and logs one warning: the program then runs with the same rlimits, a clean
environment, its own process group and temp directory, but sees the host's files and network.
``TREEDIFF_SANDBOX=rlimits`` forces that mode (``=bwrap`` fails loudly if bubblewrap is unusable).
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from treediff.errors import ConfigError
from treediff.sandbox.limits import Limits

__all__ = ["ISOLATION_MODES", "SANDBOX_ROOT", "SANDBOX_UIDS", "isolation_mode", "sandbox_uid", "toolchain_paths",
           "limit_prefix", "bwrap_prefix"]

ISOLATION_MODES = ("bwrap", "rlimits")
#: Where the sandbox's temp directory appears inside bubblewrap.
SANDBOX_ROOT = "/sandbox"
#: The uids a program runs as when treediff runs as root: one drawn per sandbox, owned by no account.
SANDBOX_UIDS = range(1 << 20, 1 << 21)
_SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                 "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/ssl")
_SYSTEM_GLOBS = ("/etc/java-*",)  # the JDK's conf/ directory links here
_log = logging.getLogger("treediff.sandbox")


def _is_root() -> bool:
    return os.geteuid() == 0


def sandbox_uid() -> int:
    """A fresh uid (and gid) for one sandbox, drawn from :data:`SANDBOX_UIDS`."""
    return SANDBOX_UIDS.start + secrets.randbelow(len(SANDBOX_UIDS))


@functools.lru_cache(maxsize=None)
def isolation_mode() -> str:
    """``"bwrap"`` when bubblewrap can build the sandbox here, else ``"rlimits"`` (warned once)."""
    forced = os.environ.get("TREEDIFF_SANDBOX", "").strip().lower()
    if forced and forced not in ISOLATION_MODES:
        raise ConfigError(f"TREEDIFF_SANDBOX={forced!r}; choose one of: {', '.join(ISOLATION_MODES)}")
    if forced == "rlimits":
        return "rlimits"
    problem = _bwrap_problem()
    if problem is None:
        return "bwrap"
    if forced == "bwrap":
        raise ConfigError(f"TREEDIFF_SANDBOX=bwrap but {problem}")
    _log.warning("treediff sandbox: %s; programs run with rlimits and their own process group only "
                 "(no file-system or network isolation). Install bubblewrap: apt-get install bubblewrap", problem)
    return "rlimits"


def _bwrap_problem() -> str | None:
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    if _is_root() and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing"
    argv = bwrap_prefix(toolchain_paths(["true"]), {}, cwd=SANDBOX_ROOT, host_root="/") + ["true"]
    argv[argv.index("--bind") + 1] = os.path.realpath("/tmp")  # any directory will do for the probe
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not run: {exc}"
    if proc.returncode != 0:
        first = proc.stderr.decode("utf-8", "replace").strip().splitlines()[:1] or [f"exit status {proc.returncode}"]
        return f"bubblewrap cannot create its namespaces here ({first[0][:200]})"
    return None


def toolchain_paths(argv: Sequence[str], extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Host paths a program needs readable: the system, its binary's install prefix, ``extra``.

    The prefix is taken twice, from the binary's path and from the file it links to:
    ``node_modules/.bin/tsc`` links to ``node_modules/typescript/bin/tsc``, which needs its package's
    siblings (the native compiler in ``node_modules/@typescript``)."""
    paths = [p for p in _SYSTEM_PATHS if os.path.lexists(p)]
    for pattern in _SYSTEM_GLOBS:
        paths += sorted(glob.glob(pattern))
    if argv:
        found = shutil.which(argv[0])
        if found:
            for binary in (Path(os.path.abspath(found)), Path(os.path.realpath(found))):
                if not any(_under(binary, p) for p in paths):
                    paths.append(str(binary.parent.parent))  # <prefix>/bin/prog -> <prefix>
    for p in extra:
        p = os.path.expandvars(os.path.expanduser(p))
        if "$" not in p and os.path.exists(p):
            paths.append(os.path.realpath(p))
    return tuple(dict.fromkeys(paths))


def _under(path: Path, root: str) -> bool:
    try:
        path.relative_to(os.path.realpath(root))
        return True
    except ValueError:
        return False


def limit_prefix(limits: Limits) -> list[str]:
    """``prlimit`` arguments that set every rlimit before the program (or bubblewrap) starts."""
    mem = limits.memory_mb << 20
    return [shutil.which("prlimit") or "prlimit", f"--as={mem}", f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
            f"--fsize={limits.file_size_mb << 20}", f"--nofile={limits.open_files}", f"--nproc={limits.processes}",
            "--core=0", "--"]


def _read_only_binds(paths: Sequence[str], made: set[str]) -> list[str]:
    """``--ro-bind-try`` arguments for ``paths``, their parents made traversable first (``made``: done)."""
    argv: list[str] = []
    for path in paths:
        if os.path.islink(path) and os.path.dirname(path) == "/":
            argv += ["--symlink", os.readlink(path), path]  # /bin -> usr/bin on merged-/usr systems
            continue
        for parent in reversed(Path(path).parents[:-1]):  # traversable by the sandbox user (bwrap's are 0700)
            if str(parent) not in made and str(parent) != "/tmp":
                made.add(str(parent))
                argv += ["--perms", "0755", "--dir", str(parent)]
        argv += ["--ro-bind-try", path, path]
    return argv


def bwrap_prefix(readable: Sequence[str], env: Mapping[str, str], *, cwd: str, host_root: str,
                 uid: int | None = None) -> list[str]:
    """bubblewrap arguments: namespaces, read-only toolchain, ``host_root`` at :data:`SANDBOX_ROOT`;
    as root, the program then runs as ``uid`` (default: a fresh :func:`sandbox_uid`)."""
    argv = [shutil.which("bwrap") or "bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if _is_root():
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # for setpriv only; it drops them
    made: set[str] = set()
    # paths under /tmp (a checkout's project-local tools there) are bound after the fresh /tmp, which hides them
    under_tmp = [p for p in readable if Path(p) != Path("/tmp") and Path("/tmp") in Path(p).parents]
    argv += _read_only_binds([p for p in readable if p not in under_tmp], made)
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    argv += _read_only_binds(under_tmp, made)
    argv += ["--bind", host_root, SANDBOX_ROOT, "--chdir", cwd, "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv.append("--")
    if _is_root():
        uid = sandbox_uid() if uid is None else uid
        argv += [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}",
                 "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]
    return argv
