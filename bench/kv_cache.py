"""Full forward vs cached tail forward (prefix KV cache) vs cached window forward (dual cache) on CPU, side by side.

For each config (``tiny`` and a mid-size one: d_model 256, 6 layers) and each prefix length P
(a block boundary, ``--block`` apart), times in one run on the same random ids:

* **full**: the plain forward over all ``--seq-len`` positions (what every denoising step costs
  without a cache);
* **refresh**: the same forward with ``return_cache=True, prefix_length=P`` (once per block);
* **tail**: the cached forward over positions ``[P, L)`` only (every other step of the block, prefix cache);
* **window**: the cached forward over the block's positions ``[P, P + block)`` only (every other step of the block,
  dual cache: the keys/values after the block are cached too);

and prints full / tail and full / window, the per-step speed-ups inside a block. The three are timed interleaved
(so load from other processes hits them alike) and the best of ``--repeat`` rounds is kept, under
``torch.inference_mode()`` in fp32 with ``--threads`` intra-op threads.

    python bench/kv_cache.py [--seq-len 512] [--block 32] [--prefixes 128,256,384,480] [--repeat 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from treediff.model import TreediffConfig, TreediffForMaskedDiffusion, num_params

CONFIGS = {
    "tiny": dict(preset="tiny"),
    "mid": dict(preset="small", d_model=256, n_layers=6, n_heads=4, d_ff=704),
}


def best_times(fns: dict, repeat: int) -> dict[str, float]:
    """Best wall time of each callable over ``repeat`` interleaved rounds (after one warm-up round)."""
    best = {k: float("inf") for k in fns}
    for r in range(repeat + 1):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            if r:
                best[k] = min(best[k], time.perf_counter() - t0)
    return best


def bench_config(name: str, vocab: int, seq_len: int, block: int, prefixes: list[int], repeat: int) -> dict:
    spec = dict(CONFIGS[name])
    cfg = TreediffConfig.from_preset(spec.pop("preset"), vocab_size=vocab, max_position=max(seq_len, 512), **spec)
    torch.manual_seed(0)
    model = TreediffForMaskedDiffusion(cfg).eval()
    ids = torch.randint(2, vocab, (1, seq_len), generator=torch.Generator().manual_seed(0))
    rows = []
    with torch.inference_mode():
        for p in prefixes:
            if p % block or not 0 < p < seq_len:
                raise SystemExit(f"prefix {p} must be a multiple of --block {block} in (0, {seq_len})")
            cache = model(ids, prefix_length=p, return_cache=True).cache
            q = min(p + block, seq_len)
            dual = model(ids, prefix_length=p, suffix_start=q, return_cache=True).cache
            t = best_times(
                dict(
                    full=lambda: model(ids),
                    refresh=lambda: model(ids, prefix_length=p, return_cache=True),
                    tail=lambda: model(ids[:, p:], prefix_cache=cache),
                    window=lambda: model(ids[:, p:q], prefix_cache=dual),
                ),
                repeat,
            )
            rows.append(dict(prefix=p, tail=seq_len - p, full_ms=1e3 * t["full"], refresh_ms=1e3 * t["refresh"],
                             tail_ms=1e3 * t["tail"], full_over_tail=t["full"] / t["tail"],
                             window_ms=1e3 * t["window"], full_over_window=t["full"] / t["window"]))
    return dict(config=name, d_model=cfg.d_model, n_layers=cfg.n_layers, vocab=vocab,
                non_embedding_params=num_params(model, non_embedding=True), rows=rows)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--prefixes", default="128,256,384,480", help="comma-separated prefix lengths P")
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--repeat", type=int, default=10, help="take the best of R interleaved rounds")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    prefixes = [int(p) for p in args.prefixes.split(",")]
    results = [bench_config(n, args.vocab, args.seq_len, args.block, prefixes, args.repeat) for n in CONFIGS]
    if args.json:
        print(json.dumps(results))
        return results
    print(f"CPU fp32, torch threads={torch.get_num_threads()}, L={args.seq_len}, block={args.block}, "
          f"V={args.vocab}, best of {args.repeat}")
    for r in results:
        print(f"\n{r['config']}: d_model={r['d_model']} n_layers={r['n_layers']} "
              f"non-embedding params={r['non_embedding_params']:,}")
        print(f"{'P':>5} {'L-P':>5} {'full ms':>9} {'refresh ms':>11} {'tail ms':>9} {'full/tail':>10} "
              f"{'window ms':>10} {'full/window':>12}")
        for row in r["rows"]:
            print(f"{row['prefix']:>5} {row['tail']:>5} {row['full_ms']:>9.2f} {row['refresh_ms']:>11.2f} "
                  f"{row['tail_ms']:>9.2f} {row['full_over_tail']:>9.2f}x {row['window_ms']:>10.2f} "
                  f"{row['full_over_window']:>11.2f}x")
    return results


if __name__ == "__main__":
    main()
