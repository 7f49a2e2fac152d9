"""A language's compiler per file (the ``command`` driver) against its persistent worker, side by side: javac in a
warm JVM (``javac-worker``), the Go type checker (``go-worker``).

    python bench/check_worker.py [--language java|go] [--corpus /work/corpus] [--files 25] [--mutants 1] [--json OUT]

On the first ``--files`` held-out files of the language in the gathered corpus (docs/data.md) and ``--mutants``
copies of each with one random line deleted (seeded), both drivers check every program, alternating, in one run;
the seconds of each are summed, and the worker's first check, which starts it, counts in its total.  A verdict
that differs fails the run (exit status 1).  Diagnostics that differ are counted apart: javac's worker must give
identical ones; Go's worker words and places a rejection as ``go/types`` does, which may differ from ``go build``
in a message's words or in how many errors follow the first (``--same-diagnostics`` makes that fail too).
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
    ap.add_argument("--language", default="java", choices=("java", "go"))
    ap.add_argument("--same-diagnostics", action="store_true", help="diagnostics that differ fail the run")
    ap.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    ap.add_argument("--files", type=int, default=25)
    ap.add_argument("--mutants", type=int, default=1)
    ap.add_argument("--max-bytes", type=int, default=30_000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    from treediff.data import heldout_files
    from treediff.syntax.language import get_language
    from treediff.validity.compilers import DRIVERS, compiler_spec

    spec = compiler_spec(get_language(args.language))
    if spec is None or spec.binary_path() is None:
        print(f"{args.language}'s compiler is not installed", file=sys.stderr)
        return 2
    command, worker = DRIVERS.resolve("command"), DRIVERS.resolve(spec.driver)
    rng = random.Random(0)
    seconds = {"command": 0.0, "worker": 0.0}
    cases, differ, wording, valid = 0, [], [], 0
    for i, f in enumerate(heldout_files(args.corpus, args.language, max_bytes=args.max_bytes)):
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
            if (a.ok, a.note) != (b.ok, b.note):
                differ.append({"path": f.path, "command": repr(a), "worker": repr(b)})
            elif a.diagnostics != b.diagnostics:
                wording.append({"path": f.path, "command": repr(a.diagnostics), "worker": repr(b.diagnostics),
                                "first_same": a.diagnostics[:1] == b.diagnostics[:1]})
        print(f"{cases} programs, {len(differ)} verdicts differ, {len(wording)} diagnostics differ", file=sys.stderr)
    summary = {"language": args.language, "programs": cases, "valid": valid, "differ": len(differ),
               "diagnostics_differ": len(wording), "first_diagnostic_differs": sum(not w["first_same"] for w in wording),
               "command_s": round(seconds["command"], 2), "worker_s": round(seconds["worker"], 2),
               "per_check_command_ms": round(1000 * seconds["command"] / max(cases, 1), 1),
               "per_check_worker_ms": round(1000 * seconds["worker"] / max(cases, 1), 1),
               "speedup": round(seconds["command"] / max(seconds["worker"], 1e-9), 1)}
    print("| language | programs | valid | verdicts differ | diagnostics differ (first one) | command s | worker s | "
          "ms per check command / worker | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.language} | {cases} | {valid} | {len(differ)} | {len(wording)} "
          f"({summary['first_diagnostic_differs']}) | {summary['command_s']} | {summary['worker_s']} | "
          f"{summary['per_check_command_ms']} / {summary['per_check_worker_ms']} | {summary['speedup']}× |")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "differ": differ, "diagnostics": wording}, indent=1))
    return 1 if differ or (args.same_diagnostics and wording) else 0


if __name__ == "__main__":
    sys.exit(main())
