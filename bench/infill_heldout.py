"""Infilling on held-out standard-library code: validity, category kept, exact match.

    python bench/infill_heldout.py --per-file 6            # default model, held-out modules below
    python bench/infill_heldout.py --per-file 6 --whole-files   # the same holes in whole modules

The default model never saw these modules (examples/configs/default.toml's corpus excludes them).
For each module, top-level functions of at most --max-chars characters are taken as the context;
inside each, AST nodes of the categories expression, statement and block are replaced by a typed
hole (no length oracle: the hole gets the category's default length, the model shortens it with
<|endofhole|>) and filled with ``treediff.infill``.  Reports validity (must be 100%), the rate at
which the fill parses as the declared category, and exact match (whitespace-trimmed).
"""

from __future__ import annotations

import argparse
import json
import random
import sysconfig
import time
from pathlib import Path

import torch

from treediff.data.gather import BENCHMARK_UNITS

HELD_OUT = [unit.split("/", 1)[1] for unit in BENCHMARK_UNITS]  # never in a gathered training split
KINDS = {"expression": ("call", "binary_operator", "comparison_operator", "attribute", "subscript"),
         "statement": ("expression_statement", "return_statement", "if_statement", "for_statement"),
         "block": ("block",)}


def cases(per_file: int, max_chars: int, seed: int, whole_files: bool = False):
    from treediff.syntax.tree import parse

    rng = random.Random(seed)
    lib = Path(sysconfig.get_paths()["stdlib"])
    for mod in HELD_OUT:
        path = lib / f"{mod}.py"
        if not path.is_file():
            continue
        tree = parse(path.read_bytes(), "python")
        funcs = [n for n in tree.root.children if n.kind == "function_definition" and len(n.text) <= max_chars]
        picked = []
        for f in funcs:
            src = f.text
            sub = parse(src, "python")
            for cat, kinds in KINDS.items():
                nodes = [n for n in sub.nodes() if n.kind in kinds and n.parent is not None and n.end_byte - n.start_byte > 1
                         and not (cat == "block" and n.parent.kind != "function_definition")]
                for n in nodes:
                    if whole_files:  # the same hole, with the whole module as its context
                        picked.append((mod, tree.source.decode("utf-8"), f.start_byte + n.start_byte,
                                       f.start_byte + n.end_byte, cat, n.text))
                    else:
                        picked.append((mod, src, n.start_byte, n.end_byte, cat, n.text))
        rng.shuffle(picked)
        by_cat: dict[str, list] = {}
        for c in picked:
            by_cat.setdefault(c[4], []).append(c)
        for cat in KINDS:
            yield from by_cat.get(cat, [])[: per_file // len(KINDS) or 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--per-file", type=int, default=6)
    ap.add_argument("--max-chars", type=int, default=1200)
    ap.add_argument("--constraint", default="full")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=None, help="confidence-threshold parallel decoding")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--use-cache", default="auto", choices=("auto", "on", "off"),
                    help="the block KV cache (SamplerConfig.use_cache; the dual cache for treediff models)")
    ap.add_argument("--oracle-length", action="store_true",
                    help="give each hole exactly the original's token count (an upper bound; not a real setting)")
    ap.add_argument("--whole-files", action="store_true",
                    help="the same holes with the whole module as context (far longer than the model: filled "
                         "one block of lines at a time)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from treediff.sample import SamplerConfig, get_model, infill
    from treediff.syntax.holes import find_holes
    from treediff.sample.pipeline import fill_template

    lm = get_model(args.model, device="cpu")
    rows = []
    t0 = time.perf_counter()
    for mod, src, a, b, cat, original in cases(args.per_file, args.max_chars, args.seed, args.whole_files):
        if args.oracle_length:
            template = find_holes(src, "python", spans=[(a, b, cat)])
            cfg = SamplerConfig(constraint=args.constraint, seed=args.seed, device="cpu", threshold=args.threshold,
                                use_cache=args.use_cache)
            r = fill_template(lm, template, cfg, lengths=[len(lm.encode(original, "python"))])[0]
        else:
            r = infill(src, "python", model=lm, spans=[(a, b, cat)], constraint=args.constraint, seed=args.seed,
                       threshold=args.threshold, use_cache=args.use_cache)
        h = r.holes[0]
        rows.append({"module": mod, "category": cat, "ok": r.record.ok, "category_ok": h.category_ok,
                     "exact": h.text.strip() == original.strip(), "fallback": r.record.fallback, "hollow": h.hollow,
                     "rounds": r.record.rounds, "nfe": r.record.nfe})
    print(f"{len(rows)} holes in {len({r['module'] for r in rows})} held-out modules, constraint {args.constraint}, threshold {args.threshold}, "
          f"{'oracle' if args.oracle_length else 'default'} hole lengths, "
          f"{'whole modules' if args.whole_files else 'functions'} as context, use_cache {args.use_cache}, "
          f"{time.perf_counter() - t0:.1f} s")
    for cat in [*KINDS, "all"]:
        sel = [r for r in rows if cat == "all" or r["category"] == cat]
        if not sel:
            continue
        k = len(sel)
        print(f"{cat:<11} n={k:4d}  valid {sum(r['ok'] for r in sel) / k:7.2%}  category kept "
              f"{sum(r['category_ok'] for r in sel) / k:7.2%}  exact {sum(r['exact'] for r in sel) / k:7.2%}  "
              f"fallback {sum(r['fallback'] for r in sel) / k:7.2%}  "
              f"hollow {sum(r['hollow'] and not r['fallback'] for r in sel) / k:7.2%}  rounds {sum(r['rounds'] for r in sel) / k:.2f}  "
              f"NFE {sum(r['nfe'] for r in sel) / k:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
