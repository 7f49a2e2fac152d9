"""Parse + CFG throughput over the whole Python standard library, against ``ast.parse``.

Prints files/s for: ``ast.parse`` (the baseline), tree-sitter parse alone, and
treediff parse + CFGs (every scope), measured side by side in one run over the
same files, plus the ratio treediff / ast.parse (goal: at most 3×).

    python bench/syntax_speed.py [--limit N] [--repeat R] [--json]
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import sysconfig
import time
import warnings
from pathlib import Path

from treediff.syntax import get_language, parse
from treediff.syntax.cfg import build_cfgs


def load_files(limit: int | None) -> list[tuple[str, bytes]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for p in sorted(root.rglob("*.py")):
        if "site-packages" in p.parts:
            continue
        try:
            data = p.read_bytes()
            data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if b"\x00" in data:
            continue
        out.append((str(p), data))
        if limit and len(out) >= limit:
            break
    return out


def timed(fn, files) -> tuple[float, int]:
    ok = 0
    t0 = time.perf_counter()
    for name, data in files:
        try:
            fn(name, data)
            ok += 1
        except Exception:  # noqa: BLE001 - count failures, keep timing
            pass
    return time.perf_counter() - t0, ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N files")
    ap.add_argument("--repeat", type=int, default=1, help="take the best of R runs")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    files = load_files(args.limit)
    nbytes = sum(len(d) for _, d in files)
    parser = get_language("python").parser()
    num_cfgs = 0

    def run_ast(name, data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(data, name)

    def run_ts(name, data):
        parser.parse(data)

    def run_treediff(name, data):
        nonlocal num_cfgs
        tree = parse(data, "python", path=name, max_bytes=0)
        num_cfgs += len(build_cfgs(tree))

    results = {}
    for label, fn in (("ast.parse", run_ast), ("tree-sitter parse", run_ts), ("treediff parse+cfg", run_treediff)):
        best = None
        for _ in range(args.repeat):
            num_cfgs = 0
            secs, ok = timed(fn, files)
            best = secs if best is None else min(best, secs)
        results[label] = {"seconds": round(best, 3), "files_ok": ok, "files_per_s": round(len(files) / best, 1)}
    ratio = results["treediff parse+cfg"]["seconds"] / results["ast.parse"]["seconds"]
    ts_ratio = results["tree-sitter parse"]["seconds"] / results["ast.parse"]["seconds"]
    summary = {
        "files": len(files),
        "megabytes": round(nbytes / 1e6, 2),
        "cfgs": num_cfgs,
        "results": results,
        "ratio_treediff_over_ast": round(ratio, 2),
        "ratio_tree_sitter_over_ast": round(ts_ratio, 2),
        "goal": "ratio_treediff_over_ast <= 3.0",
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{len(files)} files, {nbytes / 1e6:.1f} MB, {num_cfgs} CFGs (python {sys.version.split()[0]})")
        for label, r in results.items():
            print(f"  {label:22s} {r['seconds']:8.2f} s  {r['files_per_s']:8.1f} files/s  ({r['files_ok']} ok)")
        print(f"  treediff / ast.parse = {ratio:.2f}x   (goal <= 3x);  tree-sitter / ast.parse = {ts_ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
