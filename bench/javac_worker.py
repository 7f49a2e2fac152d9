"""javac per file (the ``command`` driver) against javac in a warm JVM (the ``javac-worker`` driver), side by side.

    python bench/javac_worker.py [--corpus /work/corpus] [--files 25] [--mutants 1] [--json OUT]

On the first ``--files`` held-out Java files of the gathered corpus (docs/data.md) and ``--mutants`` copies of
each with one random line deleted (seeded), both drivers check every program, alternating, in one run: the
outcomes must be identical (verdict, every diagnostic, the note of a run without verdict); the seconds of each
are summed.  The worker's first check, which starts its JVM, is counted in its total.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    ap.add_argument("--files", type=int, default=25)
    ap.add_argument("--mutants", type=int, default=1)
    ap.add_argument("--max-bytes", type=int, default=30_000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    from treediff.data import heldout_files
    from treediff.syntax.language import get_language
    from treediff.validity.compilers import DRIVERS, compiler_spec

    spec = compiler_spec(get_language("java"))
    if spec is None or spec.binary_path() is None:
        print("javac is not installed", file=sys.stderr)
        return 2
    command, worker = DRIVERS.resolve("command"), DRIVERS.resolve("javac-worker")
    rng = random.Random(0)
    seconds = {"command": 0.0, "worker": 0.0}
    cases, differ, valid = 0, [], 0
    for i, f in enumerate(heldout_files(args.corpus, "java", max_bytes=args.max_bytes)):
        if i >= args.files:
            break
        lines = f.text.splitlines(keepends=True)
        programs = [f.text]
        for _ in range(args.mutants if len(lines) > 3 else 0):
            k = rng.randrange(len(lines))
            programs.append("".join(lines[:k] + lines[k + 1:]))
        for text in programs:
            data = text.encode("utf-8")
            t = time.perf_counter()
            a = command(spec, data, f.path, spec.timeout)
            seconds["command"] += time.perf_counter() - t
            t = time.perf_counter()
            b = worker(spec, data, f.path, spec.timeout)
            seconds["worker"] += time.perf_counter() - t
            cases += 1
            valid += bool(a.ok)
            if (a.ok, a.diagnostics, a.note) != (b.ok, b.diagnostics, b.note):
                differ.append({"path": f.path, "command": repr(a), "worker": repr(b)})
        print(f"{cases} programs, {len(differ)} differ", file=sys.stderr)
    summary = {"programs": cases, "valid": valid, "differ": len(differ),
               "command_s": round(seconds["command"], 2), "worker_s": round(seconds["worker"], 2),
               "per_check_command_ms": round(1000 * seconds["command"] / max(cases, 1), 1),
               "per_check_worker_ms": round(1000 * seconds["worker"] / max(cases, 1), 1),
               "speedup": round(seconds["command"] / max(seconds["worker"], 1e-9), 1)}
    print("| programs | valid | outcomes differ | command s | worker s | ms per check command / worker | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {cases} | {valid} | {len(differ)} | {summary['command_s']} | {summary['worker_s']} | "
          f"{summary['per_check_command_ms']} / {summary['per_check_worker_ms']} | {summary['speedup']}× |")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "differ": differ}, indent=1))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
