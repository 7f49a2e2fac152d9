"""The sandbox itself: limits, process-group kill, clean environment, fresh directory, fallback mode."""

from __future__ import annotations

import os
import sys
import time

import pytest

from treediff.errors import ConfigError
from treediff.sandbox import EXEC_LIMITS, Limits, Sandbox, isolation_mode, toolchain_paths

PY = os.path.realpath(sys.executable)
READ = (os.path.realpath(sys.base_prefix),)


def _run(code: str, limits: Limits = EXEC_LIMITS.with_wall(3), **kw):
    with Sandbox(limits, readable=READ) as box:
        path = box.write("p.py", code.encode())
        return box.run([PY, "-I", path], **kw), box.root


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_runs_in_fresh_directory_and_cleans_it() -> None:
    result, root = _run("import os; open('x', 'w').write('1'); print(os.getcwd())")
    assert result.ok and result.stdout.strip()
    assert not root.exists()


def test_wall_clock_kills_the_whole_group() -> None:
    code = ("import subprocess, sys, time\n"
            "p = subprocess.Popen(['sleep', '1000'])\nprint(p.pid, flush=True)\ntime.sleep(1000)\n")
    start = time.monotonic()
    result, _ = _run(code, EXEC_LIMITS.with_wall(1))
    assert result.timed_out and not result.ok and "timed out" in result.reason
    assert time.monotonic() - start < 6
    out = os.popen("ps -eo args").read()
    assert "sleep 1000" not in out


def test_children_die_with_the_program_and_on_caller_exception() -> None:
    with Sandbox(EXEC_LIMITS.with_wall(30), readable=READ) as box:
        path = box.write("p.py", b"import subprocess\nsubprocess.Popen(['sleep', '777'])\n")
        result = box.run([PY, "-I", path])
    assert result.ok
    time.sleep(0.2)
    assert "sleep 777" not in os.popen("ps -eo args").read()


def test_memory_and_file_size_limits() -> None:
    mem, _ = _run("x = bytearray(3 << 30)\n", EXEC_LIMITS.with_wall(5))
    assert not mem.ok and "MemoryError" in mem.stderr.decode()
    big, _ = _run("open('f', 'wb').write(b'x' * (64 << 20))\n")
    assert not big.ok


def test_environment_is_clean(monkeypatch) -> None:
    monkeypatch.setenv("TREEDIFF_TEST_SECRET", "s3cret")
    result, _ = _run("import os; print(sorted(os.environ))")
    assert result.ok and b"TREEDIFF_TEST_SECRET" not in result.stdout


def test_output_is_capped() -> None:
    result, _ = _run("import sys\nfor _ in range(100): sys.stdout.write('x' * 100000)\n",
                     Limits(wall_seconds=5, output_bytes=1000))
    assert result.ok and len(result.stdout) == 1000


def test_limits_validate() -> None:
    with pytest.raises(ConfigError, match="memory_mb"):
        Limits(memory_mb=0)
    assert Limits.from_dict(Limits().to_dict()) == Limits()


@pytest.mark.skipif(isolation_mode() != "bwrap", reason="needs bubblewrap")
def test_only_the_toolchain_is_visible() -> None:
    result, _ = _run("import os; print(os.path.exists('/etc/passwd'), os.path.exists(os.path.expanduser('~root')), "
                     "os.path.exists('/work'), os.listdir('/sandbox'))")
    assert result.stdout.split()[:3] == [b"False", b"False", b"False"]
    assert "/usr" in toolchain_paths(["sh"])


def test_fallback_mode_still_limits_and_kills(monkeypatch) -> None:
    monkeypatch.setenv("TREEDIFF_SANDBOX", "rlimits")
    isolation_mode.cache_clear()
    try:
        result, _ = _run("import time; time.sleep(100)", EXEC_LIMITS.with_wall(1))
        assert result.isolation == "rlimits" and result.timed_out
        ok, _ = _run("print('hi')")
        assert ok.ok and ok.stdout == b"hi\n"
    finally:
        isolation_mode.cache_clear()


def test_missing_bubblewrap_warns_once(monkeypatch, caplog) -> None:
    import treediff.sandbox.isolation as iso

    real_which = iso.shutil.which
    monkeypatch.setattr(iso.shutil, "which", lambda name: None if name == "bwrap" else real_which(name))
    monkeypatch.delenv("TREEDIFF_SANDBOX", raising=False)
    isolation_mode.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="treediff.sandbox"):
            assert isolation_mode() == "rlimits" and isolation_mode() == "rlimits"
            result, _ = _run("print('still runs')")
        assert result.ok and result.isolation == "rlimits"
        assert len([r for r in caplog.records if "bubblewrap" in r.getMessage()]) == 1
    finally:
        isolation_mode.cache_clear()


def test_readable_paths_under_tmp_are_bound_after_the_fresh_tmp():
    # a checkout under /tmp (CI's fresh clone) keeps its project-local tools (.tools/node) visible in the jail
    from treediff.sandbox.isolation import bwrap_prefix

    argv = bwrap_prefix(["/usr", "/tmp/ci/p/.tools/node"], {}, cwd="/sandbox", host_root="/tmp/x")
    tmpfs = argv.index("--tmpfs")
    assert argv.index("/usr") < tmpfs < argv.index("/tmp/ci/p/.tools/node")
    assert argv[tmpfs + 1] == "/tmp" and "/tmp/ci" in argv[tmpfs:]  # its parents are made after the tmpfs
