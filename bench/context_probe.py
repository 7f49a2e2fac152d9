"""Does the model read its context?  Masked-token accuracy on held-out files, a few tokens masked at a time.

Infilling mostly asks the model for names that stand elsewhere in the file (``this.name = name``), so the
first thing a code denoiser must learn is to copy them.  The trainer's validation accuracy mixes every
noise level and is dominated by comments and whitespace; this probe asks the plain question instead.  For
each model and language, ``--files`` held-out files (``split == "heldout"`` in the gathered corpus'
manifest: packages no training split holds, docs/data.md), each cut to the model's window (at most
``--window`` tokens), have ``--rate`` of their tokens masked, ``--group`` at a time (the rest of the file
visible), and the model's most likely token is compared with the original.  Masked tokens are counted in
three classes:

* ``name, seen``: a word token (an identifier, not a keyword of the language) whose very token id stands
  elsewhere in the window: copying is enough;
* ``name, new``: a word token that stands nowhere else in the window;
* ``other``: keywords, operators, brackets, literals' pieces, whitespace.

A model that reads its context gets most ``name, seen`` tokens; a unigram model gets almost none.

``--context N`` asks whether the model uses a longer window: only files of at least ``N`` tokens, the
tokens masked in their first ``--window`` tokens, each group scored twice, with ``--window`` and with ``N``
tokens of the file visible (the same masked tokens, the classes counted in the short window).  A model
whose accuracy drops with more text visible was trained on shorter windows than it is asked to read.

    python bench/context_probe.py --models multi,default --languages python,java --files 8
    python bench/context_probe.py --models runs/gpu/model,multi --files 8 --json OUT   # after a GPU run
    python bench/context_probe.py --models multi --window 480 --context 2000 --files 5   # long windows
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

import torch

LANGUAGES = ("python", "java", "go", "rust", "javascript", "typescript", "c", "cpp")
CLASSES = ("name, seen", "name, new", "other")


def token_class(lm, token: int, count: int, words: frozenset[str]) -> str:
    """The class of ``token``, which stands ``count`` times in the window (see the module docstring)."""
    from treediff.syntax.keywords import _WORD

    text = lm.token_text(token).strip()
    if not _WORD.fullmatch(text) or text in words:
        return "other"
    return "name, seen" if count > 1 else "name, new"


def probe_file(lm, text: str, language: str, words: frozenset[str], rng: random.Random, *, window: int,
               rate: float, group: int) -> dict[str, list[int]]:
    """``{class: [hits, masked]}`` for one file."""
    head, tail = lm.prefix_ids(language), lm.suffix_ids()
    body = lm.encode(text, language)[: max(1, min(window, lm.max_length) - len(head) - len(tail))]
    ids = head + body + tail
    positions = [len(head) + i for i in range(len(body)) if rng.random() < rate]
    return _score(lm, ids, positions, Counter(ids), words, group)


def _score(lm, ids: list[int], positions: list[int], counts: Counter, words: frozenset[str],
           group: int) -> dict[str, list[int]]:
    """``{class: [hits, masked]}``: ``positions`` of ``ids`` masked ``group`` at a time, each compared with the
    model's most likely token; classes from ``counts`` (the token counts of the window the classes refer to)."""
    out = {c: [0, 0] for c in CLASSES}
    x = torch.tensor(ids, device=lm.device)[None]
    for k in range(0, len(positions), group):
        chosen = positions[k:k + group]
        inp = x.clone()
        inp[0, chosen] = lm.mask_id
        logits, _ = lm.logits(inp)
        for p, guess in zip(chosen, logits[0, chosen].float().argmax(-1).tolist()):
            cell = out[token_class(lm, ids[p], counts[ids[p]], words)]
            cell[0] += int(guess == ids[p])
            cell[1] += 1
    return out


def probe_contexts(lm, text: str, language: str, words: frozenset[str], rng: random.Random, *, window: int,
                   context: int, rate: float, group: int) -> dict[int, dict[str, list[int]]] | None:
    """``{visible tokens: {class: [hits, masked]}}`` for the same masked tokens (in the first ``window``) seen
    with ``window`` and with ``context`` tokens of the file; ``None`` for a file shorter than ``context``."""
    head, tail = lm.prefix_ids(language), lm.suffix_ids()
    body = lm.encode(text, language)
    if len(body) < context or context + len(head) + len(tail) > lm.max_length:
        return None
    positions = [len(head) + i for i in range(window) if rng.random() < rate]
    counts = Counter(head + body[:window])
    return {visible: _score(lm, head + body[:visible] + tail, positions, counts, words, group)
            for visible in (window, context)}


def _probe_language(lm, name: str, language: str, corpus: Path, args) -> list[tuple[str, dict, int]]:
    """``(row label, {class: [hits, masked]}, files)`` rows of one model and language: one row, or with
    ``--context`` one per visible length (labelled ``name (N tokens)``)."""
    from treediff.data import heldout_files
    from treediff.syntax.keywords import keywords

    words = keywords(language)
    rng = random.Random(f"{args.seed}:{language}")
    lengths = (args.window, args.context) if args.context else (None,)
    cells = {n: {c: [0, 0] for c in CLASSES} for n in lengths}
    files = 0
    max_bytes = 15_999 if not args.context else 400_000
    for f in heldout_files(corpus, language, min_bytes=301, max_bytes=max_bytes, min_lines=15,
                           order=f"{args.seed}:{language}", parses=True):
        if args.context:
            got = probe_contexts(lm, f.text, language, words, rng, window=args.window, context=args.context,
                                 rate=args.rate, group=args.group)
            if got is None:
                continue
        else:
            got = {None: probe_file(lm, f.text, language, words, rng, window=args.window, rate=args.rate,
                                    group=args.group)}
        for n in lengths:
            for c in CLASSES:
                cells[n][c] = [a + b for a, b in zip(cells[n][c], got[n][c])]
        files += 1
        if files >= args.files:
            break
    return [(name if n is None else f"{name} ({n} tokens)", cells[n], files) for n in lengths]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="/work/corpus", help="a gathered corpus (`treediff data gather`)")
    ap.add_argument("--models", default="multi", help="comma-separated embedded names or model directories")
    ap.add_argument("--languages", default=",".join(LANGUAGES))
    ap.add_argument("--files", type=int, default=8, help="held-out files per language")
    ap.add_argument("--window", type=int, default=1024, help="tokens of each file shown to the model (at most)")
    ap.add_argument("--context", type=int, default=None,
                    help="also score the same masked tokens with this many tokens of the file visible")
    ap.add_argument("--rate", type=float, default=0.08, help="share of each file's tokens masked")
    ap.add_argument("--group", type=int, default=16, help="tokens masked together in one forward pass")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None, help="write the table here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from treediff.errors import TreediffError
    from treediff.sample.api import get_model

    corpus = Path(args.corpus)
    if not (corpus / "manifest.jsonl").is_file():
        print(f"error: {corpus} holds no gathered corpus (manifest.jsonl); see `treediff data gather`", file=sys.stderr)
        raise SystemExit(2)
    table: dict[str, dict[str, dict[str, list[int]]]] = {}
    print("| model | language | files | " + " | ".join(f"{c} acc (n)" for c in CLASSES) + " |")
    print("|---|---|---:|" + "---:|" * len(CLASSES))
    for name in args.models.split(","):
        for language in args.languages.split(","):
            try:
                lm = get_model(name, language=language)
            except TreediffError as exc:
                print(f"| {name} | {language} | – | {exc} |")
                continue
            for label, cells, files in _probe_language(lm, name, language, corpus, args):
                table.setdefault(label, {})[language] = cells
                row = " | ".join(f"{h / n:.1%} ({n})" if n else "– (0)" for h, n in (cells[c] for c in CLASSES))
                print(f"| {label} | {language} | {files} | {row} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "table": table}, indent=1))
    return table


if __name__ == "__main__":
    main()
