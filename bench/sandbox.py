"""The sandbox: the hostile-program suite (time, peak memory, reason) and the overhead per run.

Prints a Markdown table of every hostile program (:mod:`treediff.eval.hostile`) run through
:func:`treediff.eval.run_program`, then the sandbox's overhead, measured side by side in one run:
a trivial Python program run sandboxed vs ``subprocess.run([python, -I, file])``, and a gcc /
javac / rustc / node check through :func:`treediff.validity.check` (tree-sitter parse included)
vs the bare compiler command on the same temp file (medians of ``--repeat`` runs, the two
alternating).  node's check goes to a persistent sandboxed worker, so it beats ``node --check``.

    python bench/sandbox.py [--repeat 20] [--wall 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from treediff.eval import SECRET_ENV, hostile_programs, run_program
from treediff.sandbox import EXEC_LIMITS, Sandbox, isolation_mode
from treediff.syntax.language import get_language
from treediff.validity import check
from treediff.validity.compilers import compiler_spec

CHECKS = {"c": "int f(int x) { return x + 1; }\n", "java": "class Main { int f(int x) { return x + 1; } }\n",
          "rust": "pub fn f(x: i32) -> i32 { x + 1 }\n", "javascript": "function f(x) { return x + 1; }\n"}


def hostile_table(wall: float) -> list[dict]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    os.environ[SECRET_ENV] = "hunter2"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        outside = Path(tmp, "escaped.txt")
        programs = hostile_programs(parent_pid=os.getpid(), outside=str(outside), port=server.getsockname()[1],
                                    secret="hunter2")
        for name, program in programs.items():
            r = run_program(program, limits=EXEC_LIMITS.with_wall(wall), measure_memory=True)
            contained = not r.passed and not outside.exists()
            rows.append({"program": name, "contained": contained, "reason": r.reason, "seconds": round(r.seconds, 3),
                         "peak_memory_mb": round(r.peak_memory_kb / 1024, 1)})
    server.close()
    return rows


def _paired_ms(bare, boxed, repeat: int) -> tuple[float, float]:
    """Medians (ms) of ``bare()`` and ``boxed()``, run alternately so that load hits both alike."""
    bare(), boxed()  # warm caches (and the node worker)
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in ((bare, times[0]), (boxed, times[1])):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return 1000 * statistics.median(times[0]), 1000 * statistics.median(times[1])


def overhead(repeat: int) -> list[dict]:
    rows = []
    python = os.path.realpath(sys.executable)
    def boxed_true() -> None:
        with Sandbox(EXEC_LIMITS) as box:
            box.run(["true"])

    bare, boxed = _paired_ms(lambda: subprocess.run(["true"], capture_output=True), boxed_true, repeat)
    rows.append({"what": "`true` (fixed cost: temp dir, prlimit, bwrap, setpriv)", "bare_ms": round(bare, 1),
                 "sandboxed_ms": round(boxed, 1), "overhead_ms": round(boxed - bare, 1)})
    with tempfile.TemporaryDirectory() as tmp:
        prog = Path(tmp, "p.py")
        prog.write_text("print(sum(range(1000)))\n")
        bare, boxed = _paired_ms(lambda: subprocess.run([python, "-I", "-B", str(prog)], capture_output=True),
                                 lambda: run_program("print(sum(range(1000)))\n"), repeat)
        rows.append({"what": "python program", "bare_ms": round(bare, 1), "sandboxed_ms": round(boxed, 1),
                     "overhead_ms": round(boxed - bare, 1)})
        for lang, code in CHECKS.items():
            spec = compiler_spec(get_language(lang))
            if spec is None or not spec.is_available:
                continue
            src = Path(tmp, "src")
            out = Path(tmp, "out")
            src.mkdir(exist_ok=True)
            out.mkdir(exist_ok=True)
            file = src / ("Main.java" if lang == "java" else f"main{spec.suffix}")
            file.write_text(code)
            argv = [a.format(file=str(file), dir=str(src), outdir=str(out)) for a in spec.argv]
            argv[0] = shutil.which(argv[0]) or argv[0]
            driver = "command" if spec.driver == "command" else f"{spec.driver} (persistent worker)"
            bare, boxed = _paired_ms(lambda: subprocess.run(argv, capture_output=True, cwd=src),
                                     lambda: check(code, lang), repeat)
            rows.append({"what": f"{lang} check: {spec.name}, {driver}", "bare_ms": round(bare, 1),
                         "sandboxed_ms": round(boxed, 1), "overhead_ms": round(boxed - bare, 1)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--wall", type=float, default=3.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    costs = overhead(args.repeat)
    hostile = hostile_table(args.wall)
    if args.json:
        print(json.dumps({"isolation": isolation_mode(), "hostile": hostile, "overhead": costs}, indent=2))
        return
    print(f"isolation: {isolation_mode()}; wall clock {args.wall:g} s, limits {EXEC_LIMITS.with_wall(args.wall)}\n")
    print("| hostile program | contained | reason | time (s) | peak memory (MB) |\n|---|---|---|---:|---:|")
    for r in hostile:
        print(f"| {r['program']} | {'yes' if r['contained'] else 'NO'} | {r['reason']} | {r['seconds']} "
              f"| {r['peak_memory_mb']} |")
    print(f"\ncontained: {sum(r['contained'] for r in hostile)}/{len(hostile)}; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs\n")
    print("| run (median of {}) | bare (ms) | sandboxed (ms) | overhead (ms) |\n|---|---:|---:|---:|".format(args.repeat))
    for r in costs:
        print(f"| {r['what']} | {r['bare_ms']} | {r['sandboxed_ms']} | {r['overhead_ms']} |")


if __name__ == "__main__":
    main()
