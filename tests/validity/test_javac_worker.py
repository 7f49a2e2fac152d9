"""The ``javac-worker`` driver: the command's verdicts, from one JVM kept warm, nothing shared between files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from treediff.syntax.language import get_language
from treediff.validity import check
from treediff.validity.compilers import DRIVERS, compiler_spec
from treediff.validity.javac_worker import get_javac_worker, java_beside

pytestmark = pytest.mark.skipif(shutil.which("javac") is None, reason="needs javac")

PROGRAMS = [
    "public class Main { int f(int x) { return x + 1; } }\n",
    "public class Main { int f(int x) { return y + 1; } }\n",  # a name declared nowhere
    "import java.util.List;\npublic class Stack { List<Integer> xs; int top() { return xs.get(0) } }\n",
    "import com.nowhere.Thing;\nclass A { Thing t; }\n",  # a package this machine lacks
    "class A { String f() { return 1; } }\n",  # a type error
    "public class Wrongly { }\nclass B { void f() { int x = \"s\"; } }\n",
]


def _drivers():
    spec = compiler_spec(get_language("java"))
    return spec, DRIVERS.resolve("command"), DRIVERS.resolve("javac-worker")


def test_java_checks_through_the_worker():
    assert compiler_spec(get_language("java")).driver == "javac-worker"
    assert java_beside(shutil.which("javac")) is not None


def test_the_worker_gives_the_commands_verdicts(mode):
    spec, command, worker = _drivers()
    for src in PROGRAMS:
        a = command(spec, src.encode(), None, 60)
        b = worker(spec, src.encode(), None, 60)
        assert (a.ok, a.diagnostics, a.note) == (b.ok, b.diagnostics, b.note), src


def test_a_file_checked_before_is_invisible_to_the_next():
    """The command compiles a file alone in its directory; so does each request of the worker: a class an earlier
    request defined is not found by a later one."""
    helper = "public class Helper { static int one() { return 1; } }\n"
    user = "public class Main { int f() { return Helper.one(); } }\n"
    assert check(helper, "java").ok
    r = check(user, "java")
    assert not r.ok and r.level == "compiler:javac" and "cannot find symbol" in r.problems[0].message


def test_a_killed_worker_is_started_again(kill_worker):
    spec, _, worker = _drivers()
    assert worker(spec, PROGRAMS[0].encode(), None, 60).ok
    javac_worker = get_javac_worker(java_beside(spec.binary_path()), spec.limits(60), spec.sandbox_paths)
    pid = kill_worker(javac_worker)
    again = worker(spec, PROGRAMS[1].encode(), None, 60)
    assert again.ok is False and again.diagnostics[0].message == "cannot find symbol"
    assert javac_worker.pid not in (None, pid)


def test_no_java_beside_javac_means_the_command(tmp_path: Path):
    fake = tmp_path / "bin" / "javac"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert java_beside(str(fake)) is None
