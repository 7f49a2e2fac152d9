"""The ``go-worker`` driver: ``go build``'s verdicts and diagnostics, the broken files answered without the command."""

from __future__ import annotations

import shutil

import pytest

from treediff.syntax.language import get_language
from treediff.validity import check
from treediff.validity.compilers import DRIVERS, compiler_spec
from treediff.validity.go_worker import get_go_worker

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs go (make checker-tools)")

PROGRAMS = {
    "valid": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hi")\n}\n',
    "unused and undefined": ('package main\n\nimport (\n\t"flag"\n\t"fmt"\n)\n\nfunc main() {\n\tx := 1\n'
                             '\tfmt.Println(y)\n}\n'),
    "type error": "package main\n\nfunc f() int { return \"s\" }\n\nfunc main() { _ = f() }\n",
    "no main": "package main\n\nfunc f() int { return 1 }\n",  # only the link finds it: the command decides
    "syntax error": "package main\n\nfunc main() {\n\tx := (1 +\n}\n",
    "missing package": 'package main\n\nimport "example.com/nowhere"\n\nfunc main() { nowhere.F() }\n',
    "directive": "package main\n\n//go:noinline\nfunc f() int { return \"s\" }\n\nfunc main() { _ = f() }\n",
    "many errors": "package p\n\nfunc f() {\n" + "".join(f"\t_ = u{i}\n" for i in range(14)) + "}\n",
    "ten errors": "package p\n\nfunc f() {\n" + "".join(f"\t_ = u{i}\n" for i in range(10)) + "}\n",
    "one line, the same error twice": ("package p\n\ntype U struct{}\n\nfunc (c *U) B() Rect { return Rect{Pt{1, 2}, "
                                       "Pt{3, 4}} }\n\nfunc g() { _ = a; _ = b }\n"),
    "internal package": 'package p\n\nimport "internal/testenv"\n\nfunc f() { testenv.MustHaveExec(nil); _ = nope }\n',
}


def _drivers():
    spec = compiler_spec(get_language("go"))
    if not spec.is_available:
        pytest.skip("go is not installed")
    return spec, DRIVERS.resolve("command"), DRIVERS.resolve("go-worker")


def test_go_checks_through_the_worker():
    assert compiler_spec(get_language("go")).driver == "go-worker"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_the_worker_gives_the_commands_outcome(name, mode):
    spec, command, worker = _drivers()
    src = PROGRAMS[name].encode()
    a = command(spec, src, None, 60)
    b = worker(spec, src, None, 60)
    assert (a.ok, a.diagnostics, a.note) == (b.ok, b.diagnostics, b.note)


def test_only_sure_rejections_skip_the_command():
    spec, _, _ = _drivers()
    worker = get_go_worker(spec.binary_path(), spec.limits(60), spec.sandbox_paths, spec.env)
    sure = worker.check("main.go", PROGRAMS["unused and undefined"].encode())
    assert sure == ['./main.go:4:2: imported and not used: "flag"', "./main.go:9:2: x declared but not used",
                    "./main.go:10:14: undefined: y"]
    for name in ("valid", "no main", "syntax error", "missing package", "directive", "internal package"):
        assert worker.check("main.go", PROGRAMS[name].encode()) is None, name
    broken_bytes = PROGRAMS["type error"].encode().replace(b'"s"', b'"\xff"')  # not UTF-8: the command says so
    assert worker.check("main.go", broken_bytes) is None
    many = worker.check("p.go", PROGRAMS["many errors"].encode())
    assert len(many) > 11 and not any(m.endswith("too many errors") for m in many), "every error, as `-e` gives"
    assert worker.check("p.go", PROGRAMS["ten errors"].encode())[-1] == "./p.go:13:6: undefined: u9"


def test_the_checks_words_feed_the_name_fillers():
    r = check(PROGRAMS["unused and undefined"], "go")
    assert r.level == "compiler:go" and not r.ok
    assert [p.message for p in r.problems][:3] == ['imported and not used: "flag"', "x declared but not used",
                                                   "undefined: y"]


def test_a_killed_worker_is_started_again(kill_worker):
    spec, _, worker = _drivers()
    assert worker(spec, PROGRAMS["type error"].encode(), None, 60).ok is False
    go_worker = get_go_worker(spec.binary_path(), spec.limits(60), spec.sandbox_paths, spec.env)
    pid = kill_worker(go_worker)
    again = worker(spec, PROGRAMS["type error"].encode(), None, 60)
    assert again.ok is False and "cannot use" in again.diagnostics[0].message
    assert go_worker.pid not in (None, pid)


def test_an_unbuildable_worker_means_the_command(monkeypatch):
    """Where the worker cannot be built (no writable cache, a toolchain that fails), ``go build`` decides."""
    spec, command, worker = _drivers()
    import treediff.validity.go_worker as gw

    def fail(go, **_):
        raise OSError("cannot build")

    monkeypatch.setattr(gw, "build_go_worker", fail)
    monkeypatch.setattr(gw, "_POOL", gw.WorkerPool(gw.GoWorker))
    src = PROGRAMS["type error"].encode()
    assert worker(spec, src, None, 60) == command(spec, src, None, 60)
