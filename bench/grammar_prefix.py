"""Incremental prefix checks against checking from scratch, growing files one token at a time.

For each file (its first ``--lines`` lines), calls ``PrefixSession.viable`` on every
token-boundary prefix in order, in one session (incremental). The baselines run on
every ``--every``-th prefix and are extrapolated to all prefixes: a fresh session per
prefix (the same check, re-lexed and re-parsed from the start), and ``Lark.parse`` of
the prefix (lark's own full parse; it raises at the cut, and is timed until it does).

    python bench/grammar_prefix.py [--lines 300] [--every 10] [--json] [FILE ...]
"""

from __future__ import annotations

import argparse
import io
import json
import sysconfig
import time
import tokenize
from pathlib import Path

from treediff.syntax.prefix_grammar import PrefixGrammar

DEFAULT_FILES = ("textwrap.py", "bisect.py", "heapq.py", "colorsys.py")


def token_cuts(src: str) -> list[int]:
    """Offsets where CPython tokens end: the texts a left-to-right sampler would check."""
    starts = [0]
    for line in src.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    cuts = {starts[tok.end[0] - 1] + tok.end[1] for tok in tokenize.generate_tokens(io.StringIO(src).readline)
            if tok.end[0] - 1 < len(starts)}
    return sorted(c for c in cuts if 0 < c <= len(src))


def measure(grammar: PrefixGrammar, path: Path, lines: int, every: int) -> dict:
    src = "".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:lines])
    cuts = token_cuts(src)
    session = grammar.session()
    t0 = time.perf_counter()
    viable = sum(session.viable(src[:k]) for k in cuts)
    incremental = time.perf_counter() - t0
    sample = cuts[::every]
    t0 = time.perf_counter()
    for k in sample:
        grammar.session().viable(src[:k])
    scratch = (time.perf_counter() - t0) / len(sample) * len(cuts)
    t0 = time.perf_counter()
    for k in sample:
        try:
            grammar.lark.parse(src[:k])
        except Exception:  # noqa: BLE001 - a prefix is rarely a whole program
            pass
    lark_full = (time.perf_counter() - t0) / len(sample) * len(cuts)
    return {"file": path.name, "lines": len(src.splitlines()), "prefixes": len(cuts), "viable": viable,
            "incremental_s": incremental, "scratch_s": scratch, "lark_parse_s": lark_full,
            "ratio_scratch": scratch / incremental, "ratio_lark": lark_full / incremental,
            "chars_relexed": session.stats["chars_relexed"], "chars_from_scratch": sum(cuts)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--lines", type=int, default=300, help="use the first N lines of each file")
    ap.add_argument("--every", type=int, default=10, help="baselines run on every N-th prefix")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = args.files or [stdlib / name for name in DEFAULT_FILES]
    grammar = PrefixGrammar.for_language("python")
    grammar.session().viable("x")  # build the grammar (about a second) outside the timings
    rows = [measure(grammar, path, args.lines, args.every) for path in files]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'file':<14}{'lines':>6}{'prefixes':>9}{'incremental':>13}{'from scratch':>14}{'ratio':>8}"
          f"{'Lark.parse':>12}{'ratio':>8}{'relexed':>10}")
    for r in rows:
        print(f"{r['file']:<14}{r['lines']:>6}{r['prefixes']:>9}{r['incremental_s']:>12.2f}s{r['scratch_s']:>13.2f}s"
              f"{r['ratio_scratch']:>7.1f}x{r['lark_parse_s']:>11.2f}s{r['ratio_lark']:>7.1f}x"
              f"{r['chars_relexed'] / r['chars_from_scratch']:>9.1%}")
    inc = sum(r["incremental_s"] for r in rows)
    scratch = sum(r["scratch_s"] for r in rows)
    lark_full = sum(r["lark_parse_s"] for r in rows)
    calls = sum(r["prefixes"] for r in rows)
    print(f"total: {calls} prefixes, incremental {inc:.2f}s ({inc / calls * 1e6:.0f} us/call), "
          f"from scratch {scratch:.1f}s ({scratch / inc:.0f}x), Lark.parse {lark_full:.1f}s ({lark_full / inc:.0f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
