"""Does treediff's verdict agree with the real tool, run directly?  Held-out files and one-token slips.

    python bench/verdict_agreement.py                                   # typescript and go, 30 files each
    python bench/verdict_agreement.py --languages all --files 10 --json runs/agreement.json
    python bench/verdict_agreement.py --examples            # also the repository's examples/<language>/ files

For each language, ``--files`` held-out files of the gathered corpus (``split == "heldout"`` in its
manifest, docs/data.md; whole files of at most ``--max-bytes`` that tree-sitter parses without error, as
bench/guard_languages.py picks them, drawn with ``--seed``) and ``--mutants`` one-token corruptions of
each (and, with ``--examples``, of the files in ``examples/<language>/``, programs written to compile
alone) (a tree-sitter leaf deleted or written twice, or an identifier misspelt by one character) are
judged twice:

* treediff: ``treediff.validity.check(code, language)`` (the compiler in its sandbox; default options,
  so an ``unresolved`` problem counts against the file, exactly as the tool's exit status does);
* the tool: the language's ``[compiler]`` command run directly on a temp file, outside treediff's
  sandbox and diagnostics parsing (Go with a build cache of its own); valid means exit status 0.
  Python's tool is ``compile()``; JavaScript's is ``node --check``.

Reports per language the agreement (same valid/invalid answer; treediff's ``unknown`` counts as a
disagreement), the tool's valid/invalid split, how many of the tool's rejections treediff calls purely
``unresolved`` (what ``--allow-unresolved`` would pass), mean seconds per check for both, and every
disagreement.  Exit status 1 on any disagreement.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from treediff.data import heldout_files
from treediff.syntax import get_language, parse
from treediff.validity import check, compiler_spec

LANGS = ("python", "c", "cpp", "go", "java", "javascript", "rust", "typescript")
IDENTIFIER = re.compile(rb"[A-Za-z_]\w*")


def heldout_sources(corpus: Path, language: str, n: int, max_bytes: int, seed: int) -> list[tuple[str, bytes]]:
    """``n`` whole held-out files of ``language`` that parse without error, drawn at random (seeded)."""
    found = heldout_files(corpus, language, max_bytes=max_bytes, order=seed, parses=True)
    return [(f.path, f.data) for f in itertools.islice(found, n)]


def corrupt(data: bytes, language: str, rng: random.Random) -> tuple[bytes, str]:
    """One token changed: a leaf deleted, a leaf written twice, or an identifier misspelt."""
    leaves = [(n.start_byte, n.end_byte) for n in parse(data, language).leaves() if n.end_byte > n.start_byte]
    names = [(s, e) for s, e in leaves if IDENTIFIER.fullmatch(data[s:e])]
    op = rng.choice(["delete", "duplicate", "misspell"] if names else ["delete", "duplicate"])
    s, e = rng.choice(names if op == "misspell" else leaves)
    token = data[s:e]
    if op == "delete":
        return data[:s] + data[e:], f"delete {token[:20]!r} at byte {s}"
    if op == "duplicate":
        return data[:e] + b" " + token + data[e:], f"duplicate {token[:20]!r} at byte {s}"
    i = rng.randrange(len(token))
    typo = token[:i] + (b"x" if token[i:i + 1] != b"x" else b"y") + token[i + 1:]
    return data[:s] + typo + data[e:], f"misspell {token[:20]!r} as {typo[:20]!r} at byte {s}"


def tool_verdict(language: str, data: bytes, workdir: Path) -> bool:
    """The real tool's answer on ``data``, run directly (no sandbox, no treediff parsing)."""
    spec = compiler_spec(get_language(language))
    if spec.driver == "python":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                compile(data, "<heldout>", "exec", dont_inherit=True)
            except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError):
                return False
        return True
    name = spec.file_name
    if spec.file_name_regex:  # javac wants the file named after the public class
        m = re.search(spec.file_name_regex, data.decode("utf-8", "replace"), re.MULTILINE)
        name = m.group(1) if m else name
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "src").mkdir(parents=True)
    (workdir / "out").mkdir()
    file = workdir / "src" / (name + spec.suffix)
    file.write_bytes(data)
    subs = {"file": str(file), "dir": str(workdir / "src"), "outdir": str(workdir / "out")}
    argv = [a.format(**subs) for a in spec.argv]
    binary = spec.binary_path()
    if binary is None:
        raise SystemExit(f"error: {spec.binary} is no longer installed")
    argv[0] = binary
    env = {**os.environ, **{k: v.format(**subs) for k, v in spec.env.items()}}
    proc = subprocess.run(argv, cwd=workdir / "src", env=env, capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=spec.timeout)
    return proc.returncode == 0


def run_language(language: str, args: argparse.Namespace) -> dict:
    spec = compiler_spec(get_language(language))
    if not spec.is_available:
        return {"skipped": f"{spec.binary} is not installed"}
    sources = heldout_sources(Path(args.corpus), language, args.files, args.max_bytes, args.seed)
    if args.examples:
        folder = Path(__file__).resolve().parents[1] / "examples" / language
        sources += [(str(p.relative_to(folder.parents[1])), p.read_bytes()) for p in sorted(folder.iterdir())
                    if p.suffix in get_language(language).extensions]
    rng = random.Random(args.seed)
    cases = []
    for rel, data in sources:
        cases.append((rel, "file", data))
        for _ in range(args.mutants):
            bad, how = corrupt(data, language, rng)
            cases.append((f"{rel} [{how}]", "mutant", bad))
    counts = {"cases": 0, "agree": 0, "tool_valid": 0, "tool_invalid": 0, "invalid_only_unresolved": 0}
    seconds = {"treediff": 0.0, "tool": 0.0}
    disagreements = []
    with tempfile.TemporaryDirectory(prefix="verdict-agreement-") as tmp:
        for what, kind, data in cases:
            t0 = time.perf_counter()
            truth = tool_verdict(language, data, Path(tmp) / "work")
            t1 = time.perf_counter()
            ours = check(data, language)
            seconds["tool"] += t1 - t0
            seconds["treediff"] += time.perf_counter() - t1
            counts["cases"] += 1
            counts["tool_valid" if truth else "tool_invalid"] += 1
            if not truth and ours.problems and all(p.kind == "unresolved" for p in ours.problems):
                counts["invalid_only_unresolved"] += 1
            if ours.ok == truth and ours.verdict != "unknown":
                counts["agree"] += 1
            else:
                disagreements.append({"case": what, "kind": kind, "tool_valid": truth, "verdict": ours.verdict,
                                      "level": ours.level, "note": ours.compiler_note,
                                      "problems": [f"{p.kind} {p.start_line}: {p.message}" for p in ours.problems[:3]]})
    n = max(counts["cases"], 1)
    return {**counts, "files": len(sources), "agreement_pct": round(100 * counts["agree"] / n, 2),
            "mean_s": {k: round(v / n, 3) for k, v in seconds.items()}, "tool": spec.name,
            "disagreements": disagreements}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/work/corpus")
    ap.add_argument("--languages", default="typescript,go", help="comma-separated, or 'all'")
    ap.add_argument("--files", type=int, default=30)
    ap.add_argument("--mutants", type=int, default=2, help="one-token corruptions per file")
    ap.add_argument("--max-bytes", type=int, default=60_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--examples", action="store_true", help="add the files of examples/<language>/")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    languages = LANGS if args.languages == "all" else tuple(args.languages.split(","))
    report, failed = {}, False
    for language in languages:
        t0 = time.perf_counter()
        row = run_language(language, args)
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        report[language] = row
        failed = failed or bool(row.get("disagreements"))
        print(language, json.dumps({k: v for k, v in row.items() if k != "disagreements"}), flush=True)
        for d in row.get("disagreements", ()):
            print("  DISAGREE", json.dumps(d), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
