"""The sampler's prefix guard in every language: time per committed token, false rejections, overhead.

    python bench/guard_languages.py [--corpus /work/corpus] [--files 4] [--lines 80] [--holes 3] [--json OUT]

Part 1 (guard): for each language, ``--files`` held-out files of the gathered corpus (``split == "heldout"``
in its manifest, docs/data.md) that parse without error; their first ``--lines`` lines are grown one
tree-sitter leaf at a time (the texts a left-to-right sampler commits), in one guard session, and each
prefix is checked with ``viable`` as the guard does on a commit (plus one refused candidate, a stray
closer, per commit).  Reports the time per committed token (median, p95) and the prefixes of valid code
the guard refused (false rejections; must be 0).  Python uses its LALR guard, the others the
incremental tree-sitter guard (treediff.syntax.ts_prefix).

``--agreement``: instead, one incremental session's verdicts against fresh sessions' (closers after every leaf
of the files, :func:`fresh_agreement`).

Part 2 (overhead): ``--holes`` statement holes per language, in the same files, filled with the embedded
model by ``treediff.infill`` with ``constraint`` ``none``, ``grammar`` and ``full`` (same seeds); reports
the wall time ratios grammar/none and full/none (full adds compiler remasking and the fallback).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

LANGS = ("python", "c", "cpp", "go", "java", "javascript", "rust", "typescript")


def heldout_files(corpus: Path, language: str, n: int, lines: int) -> list[str]:
    """The first ``lines`` lines of ``n`` held-out files of ``language`` that parse without error."""
    from treediff.data import heldout_files as heldout

    found = heldout(corpus, language, max_bytes=60_000, min_lines=lines // 2, parses=True)
    return ["".join(f.text.splitlines(keepends=True)[:lines]) for f in itertools.islice(found, n)]


def leaf_cuts(src: str, language: str) -> list[int]:
    """Character offsets where tree-sitter leaves end."""
    from treediff.syntax.tree import parse

    tree = parse(src, language)
    data = tree.source
    ends = sorted({leaf.span[1] for leaf in tree.leaves()})
    return [len(data[:e].decode("utf-8", "replace")) for e in ends if e > 0]


def guard_times(language: str, texts: list[str], grammar=None) -> dict:
    from treediff.sample.constraints import guard_grammar_for

    grammar = guard_grammar_for(language) if grammar is None else grammar
    times, refused, tokens = [], 0, 0
    for src in texts:
        session = grammar.session()
        for cut in leaf_cuts(src, language):
            t0 = time.perf_counter()
            session.viable(src[:cut] + " )]")  # a refused candidate first, as when the model's best is wrong
            ok = session.viable(src[:cut])
            times.append((time.perf_counter() - t0) * 1e6)
            refused += not ok
            tokens += 1
    times.sort()
    return {"tokens": tokens, "median_us": round(statistics.median(times), 1),
            "p95_us": round(times[int(0.95 * (len(times) - 1))], 1), "false_rejections": refused,
            "engine": type(grammar).__name__}


#: candidates the agreement check tries at every cut: closers, alone and after other text
AGREEMENT_CANDIDATES = (" )]", ")", "]", "}", "})", ");", ") {", "}}", "\n}", ")]}", "x)", " ]", "a]", "1)",
                        "} else {", ")\n")


def fresh_agreement(language: str, texts: list[str]) -> dict:
    """Does one incremental session give a fresh session's verdicts?  Every prefix cut (leaf ends) of ``texts``,
    each :data:`AGREEMENT_CANDIDATES` after it, asked through one session as the sampler asks (then the prefix
    itself), and each asked of a fresh session too: ``queries``, ``differ`` (and how: the session ``accepts``
    what a fresh one refuses, or ``refuses`` what it accepts)."""
    from treediff.sample.constraints import guard_grammar_for

    grammar = guard_grammar_for(language)
    out = {"queries": 0, "differ": 0, "accepts": 0, "refuses": 0}
    for src in texts:
        session = grammar.session()
        for cut in leaf_cuts(src, language):
            for c in AGREEMENT_CANDIDATES:
                text = src[:cut] + c
                ok, fresh = session.viable(text), grammar.session().viable(text)
                out["queries"] += 1
                if ok != fresh:
                    out["differ"] += 1
                    out["accepts" if ok else "refuses"] += 1
            session.viable(src[:cut])
    return out


def statement_holes(src: str, language: str, k: int) -> list[tuple[int, int]]:
    from treediff.syntax.tree import parse

    tree = parse(src, language)
    nodes = [n for n in tree.nodes(category="statement") if 8 <= n.span[1] - n.span[0] <= 80
             and b"\n" not in tree.text(n).encode("utf-8")]
    step = max(1, len(nodes) // max(k, 1))
    return [nodes[i].span for i in range(0, len(nodes), step)][:k]


def overhead(language: str, texts: list[str], holes: int) -> dict:
    import treediff
    from treediff.errors import InputError
    from treediff.sample.api import get_model, make_config

    lm = get_model(None, device="cpu")
    wall = {}
    valid = {}
    for constraint in ("none", "grammar", "full"):
        t0 = time.perf_counter()
        ok = n = 0
        for src in texts[:2]:
            data = src.encode("utf-8")
            for a, b in statement_holes(src, language, holes):
                try:
                    res = treediff.infill(data[:a] + b"<|hole:statement|>" + data[b:], language, model=lm,
                                          config=make_config(constraint=constraint, seed=0))
                except InputError:  # no block of lines around the hole fits the model
                    continue
                ok += res.record.ok and not res.record.fallback
                n += 1
        wall[constraint] = time.perf_counter() - t0
        valid[constraint] = f"{ok}/{n}"
    return {"grammar_over_none": round(wall["grammar"] / wall["none"], 2),
            "full_over_none": round(wall["full"] / wall["none"], 2), "ok_without_fallback": valid,
            "seconds": {k: round(v, 1) for k, v in wall.items()}}


def old_guard(rev: str, language: str):
    """The guard of ``language`` as its module was at git revision ``rev``: ``treediff/syntax/prefix_grammar.py``
    (the LALR guard) where the language has a lark grammar, else ``treediff/syntax/ts_prefix.py``."""
    import importlib.util
    import subprocess
    import sys
    import tempfile

    from treediff.sample.constraints import grammar_for

    name = "prefix_grammar" if grammar_for(language) is not None else "ts_prefix"
    text = subprocess.run(["git", "show", f"{rev}:treediff/syntax/{name}.py"], capture_output=True, text=True,
                          check=True).stdout
    path = Path(tempfile.mkdtemp()) / f"{name}_before.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"{name}_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"{name}_before"] = module
    spec.loader.exec_module(module)
    if name == "prefix_grammar":
        return module.PrefixGrammar.for_language(language)
    from treediff.syntax.language import get_language

    lang = get_language(language)  # the table's keys the old module knows (a newer key is the newer code's)
    table = {k: v for k, v in lang.extra["prefix_guard"].items() if k in module.GuardSpec.__dataclass_fields__}
    return module.TreeSitterGrammar(lang, module.GuardSpec.from_table(table, f"{language}.toml"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/work/corpus")
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--lines", type=int, default=80)
    ap.add_argument("--holes", type=int, default=3, help="statement holes per file for the overhead (0: skip)")
    ap.add_argument("--languages", default=",".join(LANGS))
    ap.add_argument("--before", default=None, metavar="REV",
                    help="also time the guard as it was at git revision REV, interleaved, twice each")
    ap.add_argument("--agreement", action="store_true",
                    help="only check one session's verdicts against fresh sessions' (closers after every leaf)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    report = {}
    for language in args.languages.split(","):
        texts = heldout_files(Path(args.corpus), language, args.files, args.lines)
        if not texts:
            print(f"{language}: no held-out file in {args.corpus}")
            continue
        if args.agreement:
            report[language] = row = fresh_agreement(language, texts)
            print(language, json.dumps(row), flush=True)
            continue
        if args.before:
            before = old_guard(args.before, language)
            runs = [(name, guard_times(language, texts, grammar)) for _ in range(2)
                    for name, grammar in (("before", before), ("after", None))]
            row = {name: [r for n, r in runs if n == name] for name in ("before", "after")}
            report[language] = row
            print(language, json.dumps(row), flush=True)
            continue
        row = guard_times(language, texts)
        if args.holes:
            row.update(overhead(language, texts, args.holes))
        report[language] = row
        print(language, json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
