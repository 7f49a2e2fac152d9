"""Verdicts on real files checked alone: how many pass, and the name errors among those that do not.

    python bench/verdict_corpus.py --languages java,rust --files 150 --seed 1 [--corpus /work/corpus]
    PYTHONPATH=/path/to/an/older/worktree python bench/verdict_corpus.py ...   # the same files under older rules

For each language, ``--files`` files of the gathered corpus (any split; files over 60 kB skipped), shuffled
with ``--seed``, each checked alone by ``treediff.validity.check(..., allow_unresolved=True)`` (the compiler's
verdict, references this machine lacks set aside).  Prints one line per problem about a name (``find``,
``resolve``, ``undeclared`` in its message; at most 3 a file) of the files the compiler rejects, then the
counts of verdicts.  A change to what counts as ``unresolved`` (``[compiler]`` in ``grammars/*.toml``) should
move no file that real code passes from valid to invalid: run it on both sides and compare (docs/benchmarks.md,
session 14).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/work/corpus")
    ap.add_argument("--languages", default="java,rust")
    ap.add_argument("--files", type=int, default=150)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from treediff import validity
    from treediff.errors import TreediffError
    from treediff.syntax.language import get_language

    for lang in args.languages.split(","):
        try:
            suffixes = get_language(lang).extensions  # the grammar's own (grammars/*.toml)
        except TreediffError as exc:
            sys.exit(f"error: {exc}")
        root = os.path.join(args.corpus, "files", lang)
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.lower().endswith(suffixes))
        if not files:
            sys.exit(f"no {lang} files under {root}")
        random.Random(args.seed).shuffle(files)
        counts: collections.Counter = collections.Counter()
        for path in files[:args.files]:
            if os.path.getsize(path) > 60_000:
                continue
            src = open(path, encoding="utf-8", errors="replace").read()
            r = validity.check(src, lang, allow_unresolved=True)
            counts[r.verdict] += 1
            named = [p for p in r.problems if any(w in p.message for w in ("find", "resolve", "undeclared"))]
            if not r.ok and r.level.startswith("compiler") and named:
                counts["invalid with name errors"] += 1
                lines = src.splitlines()
                for p in named[:3]:
                    print(f"{os.path.relpath(path, args.corpus)}:{p.start_line} {p.message[:60]} | "
                          f"{lines[p.start_line - 1].strip()[:90]}")
        print(f"{lang}: {dict(counts)}")


if __name__ == "__main__":
    main()
