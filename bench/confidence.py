"""How confident is a model where threshold decoding would commit? (Why ``--threshold 0.9`` saves no NFE.)

For a held-out standard-library module (default ``calendar``, which the default model's training
split leaves out), walks positions ``--stride`` apart. At each, the model sees the true code to the
left and a block of ``--block`` masks from there (the state of semi-autoregressive decoding at a
block's start), and the bench records the top-1 probability at the block's first position and
whether the top-1 token is the true one. Prints top-1 accuracy, mean confidence and the share of
positions whose confidence passes each threshold: the share a Fast-dLLM threshold step could
commit beyond its one forced token.

    python bench/confidence.py [--model DIR] [--module calendar] [--block 32] [--stride 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sysconfig

import torch

from treediff.model.formats import default_model_path, load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model directory (default: the embedded default model)")
    ap.add_argument("--module", default="calendar", help="standard-library module to read")
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--stride", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=600)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model or str(default_model_path()), device="cpu")
    path = os.path.join(sysconfig.get_paths()["stdlib"], f"{args.module}.py")
    with open(path, encoding="utf-8") as f:
        src = f.read()[:6000]
    ids = (model.prefix_ids("python") + model.encode(src, "python"))[: args.max_tokens]
    confs, hits = [], []
    with torch.inference_mode():
        for start in range(40, len(ids) - 1, args.stride):
            x = torch.tensor([ids[:start] + [model.mask_id] * args.block])
            logits, _ = model.logits(x)
            c, t = logits[0, start].float().softmax(-1).max(-1)
            confs.append(c.item())
            hits.append(t.item() == ids[start])
    n = len(confs)
    out = {"model": args.model or "default", "module": args.module, "positions": n,
           "top1_accuracy": sum(hits) / n, "mean_confidence": sum(confs) / n,
           "above": {str(th): sum(c > th for c in confs) / n for th in (0.5, 0.7, 0.9)}}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{out['module']}: {n} positions, top-1 accuracy {100 * out['top1_accuracy']:.1f} %, "
          f"mean confidence {out['mean_confidence']:.2f}")
    for th, share in out["above"].items():
        print(f"  confidence > {th}: {100 * share:.1f} % of positions")


if __name__ == "__main__":
    main()
