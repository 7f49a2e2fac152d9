"""Repair of misspelt keywords on held-out files of every language: exact restoration, no silent deletions.

    python bench/keyword_slips.py [--corpus /work/corpus] [--files 3] [--lines 40] [--json OUT]

For each language, ``--files`` held-out files of the gathered corpus (``split == "heldout"``, docs/data.md)
whose first ``--lines`` lines pass the language's check; in each, one keyword token (a tree-sitter leaf, not
in a comment or string; a random one, seed 0) gets two neighbouring letters swapped (``return`` → ``retrun``), and ``treediff.repair`` runs with the
default model.  Reports exact restorations, valid results, refused deletions and ok results that lost lines.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

LANGS = ("python", "c", "cpp", "go", "java", "javascript", "rust", "typescript")


def cases(corpus: Path, language: str, n: int, lines: int, rng: random.Random):
    from treediff.syntax.keywords import keywords
    from treediff.syntax.tree import parse
    from treediff.validity import check

    kws = sorted(k for k in keywords(language, named=False) if len(k) >= 4)
    with open(corpus / "manifest.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(x) for x in fh]
    found = 0
    for row in rows:
        if row.get("split") != "heldout" or row.get("language") != language or row.get("bytes", 0) > 60_000:
            continue
        try:
            src = "".join((corpus / row["path"]).read_text(encoding="utf-8").splitlines(keepends=True)[:lines])
        except (OSError, UnicodeDecodeError):
            continue
        tree = parse(src, language)
        kwset = set(kws)
        hits = [leaf.span for leaf in tree.leaves() if leaf.kind in kwset and tree.text(leaf) == leaf.kind]
        if not hits or not check(src, language).ok:
            continue
        a, b = rng.choice(hits)
        data = src.encode("utf-8")
        start, end = len(data[:a].decode("utf-8")), len(data[:b].decode("utf-8"))
        word = src[start:end]
        i = rng.randrange(1, len(word) - 1)
        slip = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if slip == word:
            continue
        yield row["path"], src, src[:start] + slip + src[end:]
        found += 1
        if found == n:
            return


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/work/corpus")
    ap.add_argument("--files", type=int, default=3)
    ap.add_argument("--lines", type=int, default=40)
    ap.add_argument("--languages", default=",".join(LANGS))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import treediff

    rng = random.Random(0)
    report = {}
    for language in args.languages.split(","):
        row = {"cases": 0, "exact": 0, "ok": 0, "refused_deletions": 0, "ok_but_lost_lines": 0, "seconds": 0.0}
        for path, original, broken in cases(Path(args.corpus), language, args.files, args.lines, rng):
            t0 = time.perf_counter()
            r = treediff.repair(broken, language)
            row["seconds"] += time.perf_counter() - t0
            row["cases"] += 1
            row["exact"] += r.code == original
            row["ok"] += r.record.ok
            row["refused_deletions"] += bool(r.record.reason)
            row["ok_but_lost_lines"] += r.record.ok and r.record.extra.get("removed_lines", 0) > 2
        row["seconds"] = round(row["seconds"], 1)
        report[language] = row
        print(language, json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
