"""How well the corpus n-gram prior predicts the next token, per language, on the validation split.

    python bench/ngram_prior.py --prepared runs/corpus/multi [--prior FILE] [--tokens 200000] [--json OUT]

Counts the prior from the ``train`` split of a prepared directory (``treediff data ngram``'s settings:
``--top-k``, ``--min-count``) unless ``--prior`` gives one, then reads up to ``--tokens`` tokens of each
language's documents in the ``validation`` split (for a gathered corpus: packages no training file
comes from, docs/data.md) and reports the top-1 accuracy of the next token given the two before it
(back-off included), the share of positions whose trigram context was kept, the table size and the file
size.  The prior file lands in ``--out`` when given.  ``--timing`` also measures what the prior costs the
sampler per step (:class:`~treediff.sample.prior.PriorState` ``apply`` on a 2,048-token row of the embedded
``multi`` model with ``--masked`` masked positions in one run, the hole's left context decided).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from treediff.data.shards import open_split, read_manifest  # noqa: E402
from treediff.model.ngram import NgramPrior, build_prior_from_shards  # noqa: E402


def _validation_docs(prepared: Path, limit: int) -> dict[int, list[np.ndarray]]:
    manifest = read_manifest(prepared)
    lang_ids = {int(i) for i in manifest["lang_ids"].values()}
    out: dict[int, list[np.ndarray]] = {}
    seen: dict[int, int] = {}
    for shard in open_split(prepared, "validation", manifest):
        tokens, starts = np.asarray(shard.tokens), np.asarray(shard.doc_starts)
        for a, b in zip(starts[:-1], starts[1:]):
            lang = int(tokens[a])
            if lang in lang_ids and seen.get(lang, 0) < limit and b - a > 3:
                out.setdefault(lang, []).append(tokens[a + 1:b].astype(np.int64))
                seen[lang] = seen.get(lang, 0) + b - a - 1
    return out


def _accuracy(prior: NgramPrior, lang: int, docs: list[np.ndarray], batch: int = 512) -> tuple[float, float, int]:
    hits = kept = total = 0
    for doc in docs:
        contexts = list(zip(doc[:-2].tolist(), doc[1:-1].tolist()))
        truth = doc[2:]
        for i in range(0, len(contexts), batch):
            part = contexts[i:i + batch]
            pred = prior.log_probs(lang, part).argmax(1)
            hits += int((pred == truth[i:i + batch]).sum())
            kept += int(prior.has_contexts(lang, part).sum())
            total += len(part)
    return hits / max(total, 1), kept / max(total, 1), total


def _timing(num_masked: int, repeats: int = 50) -> str:
    import torch

    from treediff.sample import get_model
    from treediff.sample.prior import PriorState

    lm = get_model("multi", device="cpu")
    text = (ROOT / "examples" / "java").glob("*.java")
    code = "\n".join(p.read_text() for p in sorted(text)) * 8
    ids = (lm.prefix_ids("java") + lm.encode(code, "java"))[:2047] + lm.suffix_ids()
    row = torch.tensor([ids])
    masked = torch.zeros_like(row, dtype=torch.bool)
    masked[0, 1000:1000 + num_masked] = True
    row[masked] = lm.mask_id
    logits = torch.zeros(1, row.shape[1], lm.vocab_size)
    t0 = time.perf_counter()
    state = PriorState(lm, row, masked, weight=1.0)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(repeats):
        state.apply(logits, row, masked, masked, 0)
    per_step = (time.perf_counter() - t0) / repeats
    return (f"prior cost: setup {1e3 * setup:.1f} ms per decode (file cache of {row.shape[1]} tokens), "
            f"{1e3 * per_step:.2f} ms per step with {num_masked} masked positions (1 of them has its left context)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prepared", type=Path, default=ROOT / "runs" / "corpus" / "multi")
    ap.add_argument("--prior", type=Path, help="a prior file to measure instead of counting one")
    ap.add_argument("--top-k", type=int, default=8)
    ap.add_argument("--min-count", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=200_000, help="validation tokens per language")
    ap.add_argument("--out", type=Path, help="write the counted prior here")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--timing", action="store_true", help="also time the prior's work per sampling step")
    ap.add_argument("--masked", type=int, default=24, help="masked positions in the timed row")
    args = ap.parse_args()
    if not (args.prepared / "manifest.json").is_file():
        print(f"error: {args.prepared}: not a prepared directory (no manifest.json)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    if args.prior:
        prior = NgramPrior.load(args.prior)
    else:
        prior = build_prior_from_shards(args.prepared, top_k=args.top_k, min_count=args.min_count)
        if args.out:
            prior.save(args.out)
    built = time.perf_counter() - t0
    names = {int(i): name for name, i in read_manifest(args.prepared)["lang_ids"].items()}
    rows = []
    for lang, docs in sorted(_validation_docs(args.prepared, args.tokens).items()):
        if not prior.knows(lang):
            continue
        acc, kept, n = _accuracy(prior, lang, docs)
        rows.append({"language": names.get(lang, str(lang)), "positions": n, "top1": acc, "context_kept": kept})
    size = args.prior.stat().st_size if args.prior else (args.out.stat().st_size if args.out else None)
    print(f"prior: {prior.num_entries:,} n-grams, {len(prior.languages)} languages, "
          f"{'loaded' if args.prior else 'counted'} in {built:.1f} s" + (f", {size / 1e6:.1f} MB" if size else ""))
    print("| language | positions | next-token top-1 | trigram context kept |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['language']} | {r['positions']:,} | {100 * r['top1']:.1f} % | {100 * r['context_kept']:.1f} % |")
    if args.timing:
        print(_timing(args.masked))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
