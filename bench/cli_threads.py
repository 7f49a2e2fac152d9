"""`treediff synth` wall time with the default thread count against fixed ones, on the same specs.

Runs the console command (a fresh process each, as a user would) once per setting, in turn, and checks
that every setting wrote the same programs.  Prints the machine's cores and load next to the figures:
thread counts only matter relative to what else the machine is doing.

    python bench/cli_threads.py [--specs examples/specs/humaneval_head.jsonl] [--threads default 1 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from treediff.threads import available_cores, default_num_threads

ROOT = Path(__file__).resolve().parents[1]


def run(specs: str, threads: str) -> tuple[float, list[str]]:
    cmd = [sys.executable, "-m", "treediff", "synth", specs, "--json"]
    if threads != "default":
        cmd += ["--threads", threads]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"error: {' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return seconds, [json.loads(line)["code"] for line in proc.stdout.splitlines()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--specs", default="examples/specs/humaneval_head.jsonl")
    ap.add_argument("--threads", nargs="+", default=["default", "1", str(available_cores())])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows, programs = [], {}
    for setting in args.threads:
        load = os.getloadavg()[0]
        seconds, codes = run(args.specs, setting)
        programs[setting] = codes
        rows.append({"threads": setting if setting != "default" else f"default ({default_num_threads()})",
                     "seconds": round(seconds, 2), "programs": len(codes), "load_before": round(load, 2)})
    same = len({tuple(c) for c in programs.values()}) == 1
    if args.json:
        print(json.dumps({"cores": available_cores(), "identical_programs": same, "runs": rows}))
        return
    print(f"cores {available_cores()}, identical programs: {same}")
    for r in rows:
        print(f"--threads {r['threads']:<12} {r['seconds']:8.2f} s  {r['programs']} programs  "
              f"(load before {r['load_before']})")


if __name__ == "__main__":
    main()
