"""Control-flow ablation (issue 22): structure encoder off / AST / AST+CFG, and cfg vs AST-span vs random masking.

Every arm trains ``tiny.toml``'s preset for ``--steps`` steps on the same data order (same tokens)
once per seed; arms differ only in the overrides below.  Evaluation is
``masking_ablation.py``'s: held-out AST nodes (the corpus's validation split), every token of the
node masked, filled by confidence decoding, exact match of the text.  Problems are drawn once and
shared by every arm and seed.  Intervals: 95 % bootstrap over held-out items (each item's hit
rate averaged over seeds; 2,000 resamples), and a paired bootstrap of the difference to ``--base``.

* ``enc_off``  — ``ast_span`` masking, no structure encoder (the default model);
* ``enc_ast``  — structure encoder over the AST of the visible program;
* ``enc_cfg``  — the same plus the CFG's labelled edges and Python dataflow edges;
* ``random``, ``cfg_mask`` — ``random`` / control-flow masking, no encoder (``ast_span`` = ``enc_off``).

    python bench/cfg_ablation.py --arms enc_off,enc_ast,enc_cfg --seeds 0,1,2 --steps 100 --json a.json
    python bench/cfg_ablation.py --arms random,cfg_mask --seeds 0,1,2 --steps 100 --json b.json
    python bench/cfg_ablation.py --merge a.json b.json --base enc_off   # cfg_mask and random vs AST-span

``--merge`` summarises the runs of several result files together (same problems, seeds and steps).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from masking_ablation import draw_problems, fill  # noqa: E402

from treediff.train.config import apply_overrides, load_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENC = "model.overrides.use_structure_encoder=true"
ARMS = {
    "enc_off": ["noise.masker=ast_span"],
    "enc_ast": ["noise.masker=ast_span", ENC, 'model.overrides.structure_edges="ast"'],
    "enc_cfg": ["noise.masker=ast_span", ENC, 'model.overrides.structure_edges="ast+cfg"'],
    "ast_span": ["noise.masker=ast_span"],  # the same run as enc_off, named for the masking comparison
    "random": ["noise.masker=random"],
    "cfg_mask": ["noise.masker=cfg"],
    "mixed": ["noise.masker=ast_span", "noise.options.mix_random=0.5"],  # masking_ablation.py's third arm
}


def bootstrap(values: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the mean of ``values`` (one entry per item)."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n, len(values)))].mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def run_arm(name: str, seed: int, cfg0, root: Path, val_ds, problems, tok, steps: int) -> dict:
    from treediff.model import load_denoiser, structure_source
    from treediff.train import train

    out = root / f"{name}-s{seed}"
    cfg = apply_overrides(cfg0, [*ARMS[name], f"seed={seed}", f"out_dir={out}", f"checkpoint.dir={out / 'ckpt'}"])
    t0 = time.perf_counter()
    run = train(cfg)
    seconds = time.perf_counter() - t0
    model = load_denoiser(run.checkpoint / "model").eval()
    source = structure_source(model.config, tok)
    torch.set_num_threads(1)
    token_hits: list[float] = []
    hits = fill(model, val_ds, problems, tok, "confidence", structure=source if callable(source) else None,
                token_hits=token_hits)
    print(f"[{name} seed {seed}] {steps} steps in {seconds:.0f}s, exact {np.mean(hits):.3f}, "
          f"token accuracy {np.mean(token_hits):.3f}", file=sys.stderr, flush=True)
    return {"hits": [bool(h) for h in hits], "token_hits": token_hits, "val_loss": run.val[-1]["val_loss"],
            "train_seconds": seconds}


def relative_gain(values: np.ndarray, ref: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float | None, tuple]:
    """``mean(values) / mean(ref) - 1`` for paired per-item arrays, with its 95 % paired bootstrap interval
    (items resampled together); ``(None, (None, None))`` when ``ref`` never scores.  A resample whose
    ``ref`` mean is 0 counts as an infinite gain (or none, when ``values`` also scores 0 there); the
    percentiles are order statistics, so an infinite one stays infinite."""
    if ref.mean() <= 0:
        return None, (None, None)
    idx = np.random.default_rng(seed).integers(0, len(values), size=(n, len(values)))
    num, den = values[idx].mean(1), ref[idx].mean(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gains = np.where(den > 0, num / np.where(den > 0, den, 1.0) - 1, np.where(num > 0, np.inf, 0.0))
    return float(values.mean() / ref.mean() - 1), (float(np.percentile(gains, 2.5, method="lower")),
                                                   float(np.percentile(gains, 97.5, method="higher")))


def summarise(results: dict, base: str, items: np.ndarray | None = None) -> dict:
    """Per arm: exact match and token accuracy (mean over seeds per item, then over items) with 95 %
    bootstrap intervals, the paired differences to ``base`` and the relative gain over it.  ``items``:
    the indices of the held-out items to summarise (all of them when ``None``)."""
    def per_item(runs: dict, key: str) -> np.ndarray:
        values = np.mean([np.asarray(r[key], dtype=float) for r in runs.values()], axis=0)
        return values if items is None else values[items]

    table = {}
    for name, runs in results.items():
        if not runs:
            continue
        pick = slice(None) if items is None else items
        row = {"seeds": len(runs), "val_loss": float(np.mean([r["val_loss"] for r in runs.values()])),
               "per_seed": {s: float(np.mean(np.asarray(r["hits"], dtype=float)[pick])) for s, r in runs.items()},
               "per_seed_token_acc": {s: float(np.mean(np.asarray(r["token_hits"])[pick])) for s, r in runs.items()}}
        for metric, key in (("exact", "hits"), ("token_acc", "token_hits")):
            values = per_item(runs, key)
            row["n"] = len(values)
            row[metric], row[f"{metric}_ci95"] = float(values.mean()), bootstrap(values)
            if base in results and name != base and set(results[base]) == set(runs):
                ref = per_item(results[base], key)
                row[f"{metric}_diff"], row[f"{metric}_diff_ci95"] = float((values - ref).mean()), bootstrap(values - ref)
                row[f"{metric}_rel"], row[f"{metric}_rel_ci95"] = relative_gain(values, ref)
        table[name] = row
    return table


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "examples" / "configs" / "tiny.toml"))
    ap.add_argument("--arms", default="enc_off,enc_ast,enc_cfg")
    ap.add_argument("--base", default="enc_off")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--per-category", type=int, default=30)
    ap.add_argument("--max-node-tokens", type=int, default=16)
    ap.add_argument("--json", default=None, help="write the results here (after every run)")
    ap.add_argument("--merge", nargs="+", default=None, help="summarise these result files together")
    args = ap.parse_args(argv)
    if args.merge:
        runs: dict = {}
        for path in args.merge:
            for name, by_seed in json.loads(Path(path).read_text())["runs"].items():
                runs.setdefault(name, {}).update(by_seed)
        table = summarise(runs, args.base)
        print(json.dumps(table, indent=1))
        return table
    torch.set_num_threads(1)
    from treediff.tokens.tokenizer import SyntaxTokenizer
    from treediff.train.loop import load_datasets

    names = [a.strip() for a in args.arms.split(",") if a.strip()]
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = [f"optim.max_steps={args.steps}", "checkpoint.every=0", "log.val_every=0", "log.progress=false",
                "log.tensorboard=false", "threads=1", f"data.cache_dir={root / 'data'}"]
        cfg0 = apply_overrides(load_config(args.config), base + [f"out_dir={root / 'probe'}"])
        tok = SyntaxTokenizer.from_pretrained(cfg0.data.tokenizer)
        _, val_ds = load_datasets(cfg0, tok)
        problems = draw_problems(val_ds, args.per_category, args.max_node_tokens, 0)
        results: dict[str, dict[int, dict]] = {n: {} for n in names}
        for s in seeds:  # seed-major: a cut-short run still compares every arm on the same seeds
            for n in names:
                results[n][s] = run_arm(n, s, cfg0, root, val_ds, problems, tok, args.steps)
                out = {"steps": args.steps, "seeds": seeds, "problems": len(problems), "preset": cfg0.model.preset,
                       "tokens_per_run": args.steps * cfg0.data.batch_size * cfg0.data.seq_len, "base": args.base,
                       "arms": summarise(results, args.base), "runs": results}
                if args.json:
                    Path(args.json).write_text(json.dumps(out))
    for name, row in out["arms"].items():
        line = f"{name:<9} exact {row['exact']:.3f} {row['exact_ci95']}, token acc {row['token_acc']:.3f} " \
               f"{row['token_acc_ci95']}"
        if "exact_diff" in row:
            line += f"; vs {args.base}: exact {row['exact_diff']:+.3f} {row['exact_diff_ci95']}, " \
                    f"token acc {row['token_acc_diff']:+.3f} {row['token_acc_diff_ci95']}"
        print(line + f", val_loss {row['val_loss']:.3f}", file=sys.stderr)
    return out


if __name__ == "__main__":
    main()
