"""CFG-guided vs smallest-enclosing remasking (issue 22): held-out repair and infilling, paired, several seeds.

Cases are ``repair_heldout.py``'s (one-slip corruptions of held-out stdlib functions, repaired with
``edit_attempts=0`` so every fix goes through the statement pass, whose regions the rule also picks:
``repairs.statements.statement_regions(rule=)``) and ``infill_heldout.py``'s (typed holes in the
same functions, ``constraint=full``), drawn once with seed 0.  Each case is run with
``remask_region="smallest"`` (today's rule) and ``"cfg"`` (``syntax.cfg_flow.cfg_region``: the error's
basic block plus the statements holding the last writes of the names it reads) for every sampler seed.
Per case the seeds are averaged; 95 % bootstrap intervals are over cases (2,000 resamples), and the
difference cfg − smallest is paired by case.

    python bench/remask_region.py --only repair --repair-per-kind 3 --seeds 0,1,2 --json repair.json
    python bench/remask_region.py --only infill --infill-per-file 3 --seeds 0,1,2 --json infill.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import infill_heldout  # noqa: E402
import repair_heldout  # noqa: E402
from cfg_ablation import bootstrap  # noqa: E402

RULES = ("smallest", "cfg")


def run_repair(lm, items, rule: str, seed: int) -> list[dict]:
    from treediff import repair

    rows = []
    for _, _, src, bad in items:
        r = repair(bad, "python", model=lm, edit_attempts=0, remask_region=rule, seed=seed)
        rows.append({"rounds": r.record.rounds, "valid_no_fallback": bool(r.record.ok and not r.record.fallback),
                     "exact": r.code == src})
    return rows


def run_infill(lm, items, rule: str, seed: int) -> list[dict]:
    from treediff.sample import infill

    rows = []
    for _, src, a, b, cat, original in items:
        r = infill(src, "python", model=lm, spans=[(a, b, cat)], constraint="full", seed=seed, remask_region=rule)
        rows.append({"rounds": r.record.rounds, "valid_no_fallback": bool(r.record.ok and not r.record.fallback),
                     "exact": r.holes[0].text.strip() == original.strip()})
    return rows


def summarise(per_rule: dict[str, dict[int, list[dict]]]) -> dict:
    out = {}
    arrays = {}
    for rule, by_seed in per_rule.items():
        arrays[rule] = {k: np.mean([[float(r[k]) for r in rows] for rows in by_seed.values()], axis=0)
                        for k in ("rounds", "valid_no_fallback", "exact")}
        out[rule] = {k: {"mean": float(v.mean()), "ci95": bootstrap(v)} for k, v in arrays[rule].items()}
    if set(RULES) <= set(arrays):
        out["cfg_minus_smallest"] = {k: {"mean": float((arrays["cfg"][k] - arrays["smallest"][k]).mean()),
                                         "ci95": bootstrap(arrays["cfg"][k] - arrays["smallest"][k])}
                                     for k in arrays["cfg"]}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--repair-per-kind", type=int, default=6)
    ap.add_argument("--infill-per-file", type=int, default=3)
    ap.add_argument("--max-chars", type=int, default=1200)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--only", choices=("repair", "infill"), default=None, help="run one of the two benchmarks")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from treediff.sample import get_model

    lm = get_model(args.model, device="cpu")
    seeds = [int(s) for s in args.seeds.split(",")]
    benches = {}
    if args.only in (None, "repair"):
        benches["repair"] = (list(repair_heldout.cases(args.max_chars, args.repair_per_kind, 0)), run_repair)
    if args.only in (None, "infill"):
        benches["infill"] = (list(infill_heldout.cases(args.infill_per_file, args.max_chars, 0)), run_infill)
    out: dict = {"seeds": seeds}
    for name, (items, fn) in benches.items():
        t0 = time.perf_counter()
        per_rule = {rule: {s: fn(lm, items, rule, s) for s in seeds} for rule in RULES}
        out[name] = {"cases": len(items), "seconds": time.perf_counter() - t0, **summarise(per_rule)}
        print(f"{name}: {len(items)} cases, {out[name]['seconds']:.0f} s", file=sys.stderr)
        for rule in (*RULES, "cfg_minus_smallest"):
            row = out[name][rule]
            print("  " + f"{rule:<19}" + "  ".join(f"{k} {v['mean']:+.3f} [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}]"
                                                  for k, v in row.items()), file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
