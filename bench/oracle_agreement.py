"""Oracle agreement: does ``treediff.validity.check`` say what the real front end says?

Python: every ``.py`` file of the installed stdlib (all subdirectories, tests
included; ``site-packages`` excluded) plus seeded mutants, against CPython's
``compile(src, path, "exec", dont_inherit=True)``.  JavaScript: every ``.js``/``.cjs``/
``.mjs`` file of the npm bundled with node plus mutants, against ``node --check FILE``
run as its own process per file (so agreement measures the persistent worker that
treediff uses against the real command).

Mutants use tree-sitter leaves: delete a token, insert a copy of another token,
swap two adjacent tokens, or insert a misplaced ``return``/``break``/``continue``/
``yield``/``await`` statement before a random statement (module level, loop body,
plain or async function body), so both valid and invalid variants occur.

    python bench/oracle_agreement.py                      # full run, both languages
    python bench/oracle_agreement.py --lang python --limit 200 --mutants 500 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from treediff.syntax import parse
from treediff.validity import check

MISPLACED = {
    "python": ["return", "return 1", "break", "continue", "yield", "yield x", "await x", "x = await y"],
    "javascript": ["return;", "return 1;", "break;", "continue;", "yield x;", "await x;", "let v = await y;"],
}
DEFAULT_MUTANTS = {"python": 5000, "javascript": 1000}
MAX_MUTANT_BASE_BYTES = 40_000


# -- corpora --------------------------------------------------------------------------
def python_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages"}
    return sorted(p for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts) and p.is_file())


def javascript_files() -> list[Path]:
    node = Path(os.path.realpath(_which("node")))
    root = (node.parent / ".." / "lib" / "node_modules" / "npm").resolve()
    return sorted(p for ext in ("*.js", "*.cjs", "*.mjs") for p in root.rglob(ext) if p.is_file())


def _which(name: str) -> str:
    import shutil

    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is not installed")
    return found


def _usable(data: bytes) -> str | None:
    if b"\x00" in data:
        return "binary (NUL bytes)"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    return None


# -- oracles --------------------------------------------------------------------------
def oracle_python(data: bytes, path: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(data, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError):
            return False
    return True


def oracle_node(path: str) -> bool:
    proc = subprocess.run(["node", "--check", path], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return proc.returncode == 0


# -- mutants --------------------------------------------------------------------------
def _statement_starts(tree, language: str) -> list[tuple[int, str]]:
    """(byte offset, indentation) of statements that begin their own line (Python) or anywhere (JS)."""
    src = tree.source
    out = []
    for node in tree.nodes(named=True):
        k = node.kind
        if not (k.endswith("_statement") or k.endswith("_declaration") or k in ("function_definition", "class_definition")):
            continue
        start = node.start_byte
        line_start = src.rfind(b"\n", 0, start) + 1
        indent = src[line_start:start]
        if language == "python" and indent.strip():
            continue
        out.append((start, indent.decode("utf-8", "replace")))
    return out


def mutate(data: bytes, language: str, rng: random.Random) -> tuple[bytes, str]:
    tree = parse(data, language)
    leaves = [(n.start_byte, n.end_byte) for n in tree.leaves() if n.end_byte > n.start_byte]
    op = rng.choice(["delete", "insert", "swap", "misplaced", "misplaced"])
    if op == "misplaced":
        spots = _statement_starts(tree, language)
        if spots:
            at, indent = rng.choice(spots)
            kw = rng.choice(MISPLACED[language])
            text = f"{kw}\n{indent}" if language == "python" else f"{kw} "
            return data[:at] + text.encode() + data[at:], f"misplaced {kw!r} at byte {at}"
        op = "delete"
    if not leaves:
        return data + b"\n)", "append ')'"
    if op == "delete":
        s, e = rng.choice(leaves)
        return data[:s] + data[e:], f"delete {data[s:e][:20]!r} at byte {s}"
    if op == "insert":
        s, e = rng.choice(leaves)
        at = rng.choice(leaves)[0]
        return data[:at] + data[s:e] + b" " + data[at:], f"insert {data[s:e][:20]!r} at byte {at}"
    if len(leaves) < 2:
        return data[::-1], "reverse"
    i = rng.randrange(len(leaves) - 1)
    (s1, e1), (s2, e2) = leaves[i], leaves[i + 1]
    return data[:s1] + data[s2:e2] + data[e1:s2] + data[s1:e1] + data[e2:], f"swap {data[s1:e1][:20]!r}<->{data[s2:e2][:20]!r}"


# -- one comparison (runs in a worker process) ----------------------------------------
def compare_one(task: tuple) -> dict:
    language, kind, path, seed, tmpdir = task
    data = Path(path).read_bytes()
    what = path
    if kind == "mutant":
        data, how = mutate(data, language, random.Random(seed))
        what = f"{path} [{how}]"
    t0 = time.perf_counter()
    if language == "python":
        truth = oracle_python(data, path)
        t1 = time.perf_counter()
        ours = check(data, "python", path=path)
    else:
        file = path
        if kind == "mutant":
            file = os.path.join(tmpdir, f"mutant_{seed}{Path(path).suffix}")
            Path(file).write_bytes(data)
        truth = oracle_node(file)
        t1 = time.perf_counter()
        # .js mutants are checked path-less (the worker must then behave like node on a loose
        # .js file); .mjs/.cjs mutants carry their path, since the extension decides the format
        pathless = kind == "mutant" and Path(file).suffix == ".js"
        ours = check(data, "javascript", path=None if pathless else file)
        if kind == "mutant":
            os.unlink(file)
    t2 = time.perf_counter()
    return {"what": what, "kind": kind, "oracle": truth, "ours": ours.ok, "level": ours.level,
            "problem": ours.problems[0].message if ours.problems else None,
            "oracle_s": t1 - t0, "ours_s": t2 - t1}


def run_language(language: str, *, limit: int | None, num_mutants: int, seed: int, jobs: int) -> dict:
    files = python_files() if language == "python" else javascript_files()
    if limit:
        files = files[:limit]
    usable, unusable = [], []
    for f in files:
        reason = _usable(f.read_bytes())
        (unusable if reason else usable).append((str(f), reason))
    bases = [p for p, _ in usable if os.path.getsize(p) <= MAX_MUTANT_BASE_BYTES] or [p for p, _ in usable]
    rng = random.Random(seed)
    tasks = [(language, "file", p, 0, None) for p, _ in usable]
    with tempfile.TemporaryDirectory(prefix="treediff-oracle-") as tmp:
        tasks += [(language, "mutant", rng.choice(bases), rng.randrange(2**31), tmp) for _ in range(num_mutants)]
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            rows = list(pool.map(compare_one, tasks, chunksize=16))
        wall = time.perf_counter() - start
    agree = [r for r in rows if r["oracle"] == r["ours"]]
    disagree = [r for r in rows if r["oracle"] != r["ours"]]
    by_kind = {}
    for kind in ("file", "mutant"):
        sel = [r for r in rows if r["kind"] == kind]
        by_kind[kind] = {
            "count": len(sel),
            "oracle_valid": sum(r["oracle"] for r in sel),
            "oracle_invalid": sum(not r["oracle"] for r in sel),
            "agree": sum(r["oracle"] == r["ours"] for r in sel),
        }
    ours_s = sum(r["ours_s"] for r in rows)
    oracle_s = sum(r["oracle_s"] for r in rows)
    levels = {}
    for r in rows:
        levels[r["level"]] = levels.get(r["level"], 0) + 1
    return {
        "language": language,
        "sources": len(rows),
        "files": by_kind["file"],
        "mutants": by_kind["mutant"],
        "unusable_files": [{"path": p, "reason": why} for p, why in unusable],
        "agree": len(agree),
        "disagree": len(disagree),
        "agreement_pct": 100.0 * len(agree) / len(rows) if rows else None,
        "disagreements": disagree[:10],
        "levels": levels,
        "wall_s": wall,
        "jobs": jobs,
        "treediff_cpu_s": ours_s,
        "treediff_files_per_s": len(rows) / ours_s if ours_s else None,
        "oracle_cpu_s": oracle_s,
        "oracle_files_per_s": len(rows) / oracle_s if oracle_s else None,
        "overall_files_per_s": len(rows) / wall if wall else None,
    }


def _print(summary: dict) -> None:
    s = summary
    print(f"\n== {s['language']}: {s['sources']} sources ({s['files']['count']} files, {s['mutants']['count']} mutants), jobs={s['jobs']}")
    for kind in ("files", "mutants"):
        k = s[kind]
        print(f"   {kind:8} oracle valid {k['oracle_valid']:6}  invalid {k['oracle_invalid']:6}  agree {k['agree']}/{k['count']}")
    print(f"   agreement {s['agree']}/{s['sources']} = {s['agreement_pct']:.3f}%   levels {s['levels']}")
    if s["unusable_files"]:
        print(f"   not checked (not UTF-8 / binary): {len(s['unusable_files'])}")
        for u in s["unusable_files"][:10]:
            print(f"      {u['path']}: {u['reason']}")
    print(f"   wall {s['wall_s']:.1f}s ({s['overall_files_per_s']:.1f} sources/s overall incl. oracle); "
          f"treediff check {s['treediff_files_per_s']:.1f} sources/s per process, oracle {s['oracle_files_per_s']:.1f}/s")
    for d in s["disagreements"]:
        print(f"   DISAGREE oracle={d['oracle']} treediff={d['ours']} {d['what']} :: {d['problem']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", choices=["python", "javascript", "all"], default="all")
    ap.add_argument("--limit", type=int, default=None, help="at most this many corpus files per language")
    ap.add_argument("--mutants", type=int, default=None, help="mutants per language (default: python 5000, javascript 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", action="store_true", help="print one JSON object with every figure")
    args = ap.parse_args(argv)
    langs = ["python", "javascript"] if args.lang == "all" else [args.lang]
    results = []
    for lang in langs:
        n = DEFAULT_MUTANTS[lang] if args.mutants is None else args.mutants
        results.append(run_language(lang, limit=args.limit, num_mutants=n, seed=args.seed, jobs=args.jobs))
        if not args.json:
            _print(results[-1])
    if args.json:
        print(json.dumps({"python": sys.version.split()[0], "results": results}, indent=2, default=str))
    return 0 if all(r["disagree"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
