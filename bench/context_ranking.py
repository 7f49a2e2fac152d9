"""How well the denoiser ranks a hole's context fragments: the rank of the lost text among them.

    python bench/context_ranking.py --report runs/bench/infill_languages.json --model treediff/assets/multi_model

For every one-line expression or statement hole of a ``bench/infill_languages.py --json`` report, the hole's
context fragments (``treediff.sample.context.fragments``, nearest 16) plus the text the hole lost are ranked:

* ``shipped``: :func:`treediff.sample.context.score_fragments` (one forward pass, the region masked to the
  longest fragment; a fragment's tokens and the end-of-hole after it);
* ``each``: one forward pass per fragment at its own token count (the mean log-probability of its tokens).

Prints, per scorer, the mean rank of the lost text (0 = first; random ≈ half the candidates) and how often it
is first and in the top 4 (what ``context_drafts = 4`` tries).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", required=True, type=Path, help="a bench/infill_languages.py --json output")
    ap.add_argument("--corpus", default="/work/corpus", type=Path)
    ap.add_argument("--model", default="treediff/assets/multi_model")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from treediff.sample import context as cx
    from treediff.sample.api import get_model
    from treediff.sample.segments import layout_segments
    from treediff.syntax.tree import parse

    if not args.report.is_file():
        sys.exit(f"error: {args.report} does not exist")
    lm = get_model(args.model, device="cpu", language="java")
    report = json.loads(args.report.read_text())
    rows = next(iter(report["models"].values()))["rows"]

    def each(lang, data, region, texts):
        before, after = data[: region[0]].decode(), data[region[1]:].decode()
        out = {}
        for text in texts:
            tokens = lm.encode(text, lang)
            layout = layout_segments(lm, lang, [before, after], [len(tokens)], cap=False)
            logits, _ = lm.logits(torch.tensor([layout.ids]))
            lo, hi = layout.ranges[0]
            logp = torch.log_softmax(logits[0, lo:hi].float(), -1)
            out[text] = float(logp.gather(-1, torch.tensor(tokens)[:, None]).mean())
        return sorted(texts, key=lambda t: -out[t])

    ranks: dict[str, list[int]] = {"shipped": [], "each": []}
    for lang, cases in rows.items():
        for case in cases:
            lost = case["original"]
            if case["kind"] == "block" or "\n" in lost:
                continue
            data = (args.corpus / case["path"]).read_bytes()
            start = data.find(lost.encode())
            if start < 0:
                continue
            region = (start, start + len(lost.encode()))
            frags = cx.fragments(parse(data, lang), region, [region], case["kind"])
            if not frags:
                continue
            texts = list(dict.fromkeys(frags + [lost]))
            shipped = [t for _, t in cx.score_fragments(lm, lang, data, region, texts)]
            got = {"shipped": shipped.index(lost), "each": each(lang, data, region, texts).index(lost)}
            for name, rank in got.items():
                ranks[name].append(rank)
            print(f"{lang} {case['kind']}: {len(texts)} candidates, rank {got}", file=sys.stderr)
    for name, rs in ranks.items():
        if rs:
            print(f"{name}: mean rank {sum(rs) / len(rs):.2f}, first {sum(r == 0 for r in rs)}, "
                  f"top 4 {sum(r < 4 for r in rs)} of {len(rs)}")


if __name__ == "__main__":
    main()
