"""Masking ablation on the 8-language corpus (issue 16): random vs AST-span vs mixed, per language, with seeds.

The arms are ``cfg_ablation.py``'s ``random``, ``ast_span`` and ``mixed`` (``ast_span`` with
``mix_random = 0.5``): ``examples/configs/ablation_multi.toml``'s model trained for ``--steps`` steps
per arm and seed, on the same data in the same order per seed (equal tokens).

Data: a fixed subset of a ``treediff data gather`` output (``--corpus``), written as a gathered
directory under ``--work`` (``manifest.jsonl`` plus a link to the corpus's ``files/``) and prepared
there with the multi-language tokenizer: per language, the training-split files first in SHA-256
order up to ``--train-kb`` kB, and held-out-package files (``treediff.data.heldout_files``: seeded
order, clean parse) up to ``--heldout-kb`` kB.  The held-out files become the validation split,
so no evaluated file is in any training split.

Items: per language, ``--per-category`` named nodes of each of block, statement, expression,
identifier and literal (1..``--max-node-tokens`` tokens) inside the held-out files' windows, drawn
once with a fixed seed and shared by every arm and seed.  Each item: all of its tokens masked in
its window, filled by confidence decoding (``masking_ablation.fill``), scored by exact match of the
text and token accuracy.  Summary (``cfg_ablation.summarise``): per language and overall, each
arm's mean with a 95 % bootstrap interval over items (per item the mean over seeds), the paired
differences to ``random`` and the relative gain, with a verdict on TreeDiff's +13.3 %.

    python bench/masking_ablation_multi.py --steps 800 --seeds 0,1,2 --json /work/ablation/result.json
    python bench/masking_ablation_multi.py --merge /work/ablation/result.json    # the tables again

``--json`` is rewritten after every run, and ``--resume`` skips the runs it already holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfg_ablation import ARMS, run_arm, summarise  # noqa: E402
from masking_ablation import draw_problems  # noqa: E402

from treediff.errors import TreediffError  # noqa: E402
from treediff.train.config import apply_overrides, load_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("c", "cpp", "go", "java", "javascript", "python", "rust", "typescript")
NODE_CATEGORIES = ("block", "statement", "expression", "identifier", "literal")
BASE = "random"
CLAIM = 0.133  # TreeDiff's relative gain of AST-span over random masking (claim)


def write_subset(corpus: Path, out: Path, languages: Sequence[str], train_kb: int, heldout_kb: int,
                 max_file_kb: int = 40) -> dict:
    """Write the gathered-corpus subset described in the module docstring into ``out``; returns the
    bytes and files taken per language and split.  The same arguments write the same manifest."""
    from treediff.data import heldout_files

    if not (corpus / "manifest.jsonl").is_file():
        raise TreediffError(f"{corpus} is not a `treediff data gather` output (no manifest.jsonl)")
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").open(encoding="utf-8")]
    by_path = {r["path"]: r for r in rows}
    chosen, counts = [], {}
    for lang in languages:
        taken = 0
        for row in sorted((r for r in rows if r["language"] == lang and r["split"] == "train"
                           and 0 < r["bytes"] <= max_file_kb * 1000), key=lambda r: r["sha256"]):
            if taken >= train_kb * 1000:
                break
            chosen.append(row)
            taken += row["bytes"]
        held, num_held = 0, 0
        for f in heldout_files(corpus, lang, min_bytes=1, max_bytes=max_file_kb * 1000, order=0, parses=True):
            if held >= heldout_kb * 1000:
                break
            chosen.append(by_path[f.path])
            held, num_held = held + len(f.data), num_held + 1
        if not taken or not num_held:
            raise TreediffError(f"{corpus}: no {'training' if not taken else 'held-out'} files of {lang}")
        counts[lang] = {"train_bytes": taken, "heldout_bytes": held, "heldout_files": num_held}
    out.mkdir(parents=True, exist_ok=True)
    manifest = "".join(json.dumps(r, sort_keys=True) + "\n" for r in chosen)
    if not (out / "manifest.jsonl").is_file() or (out / "manifest.jsonl").read_text(encoding="utf-8") != manifest:
        (out / "manifest.jsonl").write_text(manifest, encoding="utf-8")
    if not (out / "files").exists():
        (out / "files").symlink_to((corpus / "files").resolve(), target_is_directory=True)
    return counts


def language_of(ds, lang_ids: dict[str, int]) -> Callable[[int, int, int], str | None]:
    """``(window, start, end) -> language`` of the file holding tokens ``start..end`` of window ``window``
    of the prepared split ``ds`` (``None`` when they straddle two files).  A file starts with its
    language tag, at the offsets of ``doc_starts``."""
    names = {tag: name for name, tag in lang_ids.items()}
    first = np.cumsum([0] + [-(-s.num_tokens // ds.seq_len) for s in ds.shards])
    starts = [np.asarray(s.doc_starts) for s in ds.shards]

    def lang(w: int, s: int, e: int) -> str | None:
        k = int(np.searchsorted(first, w, side="right")) - 1
        offset = (w - int(first[k])) * ds.seq_len
        doc, last = np.searchsorted(starts[k], [offset + s, offset + e - 1], side="right") - 1
        return names.get(int(ds.shards[k].tokens[starts[k][doc]])) if doc == last else None

    return lang


def draw_items(val_ds, lang_ids: dict[str, int], languages: Sequence[str], per_category: int, max_tokens: int,
               seed: int = 0) -> tuple[list, list[str]]:
    """The problems (``masking_ablation.draw_problems`` rows) and each one's language."""
    lang = language_of(val_ds, lang_ids)
    problems, langs = [], []
    for name in languages:
        rows = draw_problems(val_ds, per_category, max_tokens, seed, categories=NODE_CATEGORIES,
                             keep=lambda w, s, e, name=name: lang(w, s, e) == name)
        problems += rows
        langs += [name] * len(rows)
    order = sorted(range(len(problems)), key=lambda i: problems[i][2] - problems[i][1])  # fill's batches: few passes
    return [problems[i] for i in order], [langs[i] for i in order]


@dataclass(frozen=True)
class Window:
    """The tokens of one item's window (all that ``masking_ablation.fill`` reads of an example)."""

    input_ids: np.ndarray


def crop_items(val_ds, problems: Sequence, context: int) -> tuple[list[Window], list[tuple[int, int, int, int]]]:
    """Each problem in a window of its own: up to ``context`` tokens of its prepared window, the node in the
    middle where the window allows; the problems renumbered to index those windows."""
    windows, cropped = [], []
    for i, (w, s, e, c) in enumerate(problems):
        ids = val_ds[w].input_ids
        lo = max(0, min(s - (context - (e - s)) // 2, len(ids) - context))
        windows.append(Window(np.asarray(ids[lo: lo + context])))
        cropped.append((i, s - lo, e - lo, c))
    return windows, cropped


def summarise_by_language(runs: dict, langs: Sequence[str]) -> dict:
    """``cfg_ablation.summarise`` over all items (``"all"``) and over each language's items."""
    langs = np.asarray(langs)
    out = {"all": summarise(runs, BASE)}
    for name in dict.fromkeys(langs.tolist()):
        out[name] = summarise(runs, BASE, np.flatnonzero(langs == name))
    return out


def verdict(row: dict | None, metric: str = "exact") -> str:
    """Reproduced when AST-span beats random (difference and relative gain intervals above 0), refuted when
    a gain as large as +13.3 % is outside the relative gain's interval, unresolved otherwise."""
    if row is None or f"{metric}_diff_ci95" not in row:
        return "unresolved (no paired runs)"
    lo, hi = row[f"{metric}_diff_ci95"]
    rel, (rel_lo, rel_hi) = row[f"{metric}_rel"], row[f"{metric}_rel_ci95"]
    if lo > 0 and (rel_lo is None or rel_lo > 0):
        size = "" if rel is None else f", {rel:+.1%} relative [{rel_lo:+.1%}, {rel_hi:+.1%}]"
        smaller = rel_hi is not None and rel_hi < CLAIM
        return f"reproduced{' in direction, smaller than claimed' if smaller else ''}{size}"
    if hi < 0 or (rel_hi is not None and rel_hi < CLAIM):
        return f"refuted (difference [{lo:+.3f}, {hi:+.3f}]" + (
            "" if rel is None else f", relative gain {rel:+.1%} [{rel_lo:+.1%}, {rel_hi:+.1%}]") + ")"
    return f"unresolved (difference [{lo:+.3f}, {hi:+.3f}] includes 0)"


def _ci(mean: float, ci: Sequence[float], fmt: str = ".3f") -> str:
    return f"{mean:{fmt}} [{ci[0]:{fmt}}, {ci[1]:{fmt}}]"


def _per_seed(values: dict) -> str:
    return ", ".join(f"{v:.3f} (seed {s})" for s, v in values.items())


def markdown(summary: dict, arms: Sequence[str], metric: str) -> str:
    """One table: a row per language (then ``all``), each arm's mean [95 % CI], the paired differences to
    ``random`` and AST-span's relative gain over it."""
    others = [a for a in arms if a != BASE]
    head = ["language", "n", *arms, *(f"{a} − {BASE}" for a in others), f"ast_span / {BASE} − 1"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for group in [g for g in summary if g != "all"] + ["all"]:
        table = summary[group]
        row = [f"**{group}**" if group == "all" else group, str(next(iter(table.values()))["n"])]
        row += [_ci(table[a][metric], table[a][f"{metric}_ci95"]) if a in table else "—" for a in arms]
        row += [_ci(table[a][f"{metric}_diff"], table[a][f"{metric}_diff_ci95"], "+.3f")
                if f"{metric}_diff" in table.get(a, {}) else "—" for a in others]
        ast = table.get("ast_span", {})
        rel, ci = ast.get(f"{metric}_rel"), ast.get(f"{metric}_rel_ci95", (None, None))
        row.append("—" if rel is None else _ci(rel, ci, "+.1%"))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def report(out: dict, arms: Sequence[str]) -> str:
    """Both tables and a verdict per language (exact match, then token accuracy)."""
    summary = out["summary"]
    if not any(summary.values()):
        return "no seed has finished every arm yet"
    parts = []
    for metric, title in (("exact", "exact match"), ("token_acc", "token accuracy")):
        parts.append(f"{title}, {out['steps']} steps × {out['tokens_per_step']:,} tokens, seeds {out['seeds_done']}:\n")
        parts.append(markdown(summary, arms, metric) + "\n")
    for arm, row in summary["all"].items():
        parts.append(f"- {arm} per seed, all items: exact {_per_seed(row['per_seed'])}; "
                     f"token accuracy {_per_seed(row['per_seed_token_acc'])}")
    for group in summary:
        ast = summary[group].get("ast_span")
        parts.append(f"- {group}: exact match {verdict(ast, 'exact')}; token accuracy {verdict(ast, 'token_acc')}")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "examples" / "configs" / "ablation_multi.toml"))
    ap.add_argument("--corpus", default="/work/corpus", help="a `treediff data gather` output")
    ap.add_argument("--work", default="/work/ablation", help="subset corpus, prepared data and runs go here")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="config override key=value (all runs)")
    ap.add_argument("--arms", default="random,ast_span,mixed")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--languages", default=",".join(LANGUAGES))
    ap.add_argument("--train-kb", type=int, default=1500, help="training files per language, kB")
    ap.add_argument("--heldout-kb", type=int, default=150, help="held-out files per language, kB")
    ap.add_argument("--per-category", type=int, default=8, help="items per language and category")
    ap.add_argument("--max-node-tokens", type=int, default=16)
    ap.add_argument("--context", type=int, default=256, help="tokens of an item's window (the node in the middle)")
    ap.add_argument("--json", default=None, help="write the results here (after every run)")
    ap.add_argument("--resume", action="store_true", help="keep the runs --json already holds")
    ap.add_argument("--merge", default=None, help="print the tables of this result file and stop")
    args = ap.parse_args(argv)
    try:
        return _run(args)
    except (TreediffError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _run(args) -> dict:
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if BASE not in arms or any(a not in ARMS for a in arms):
        raise TreediffError(f"--arms {args.arms!r}: must hold {BASE!r}, arms among {', '.join(sorted(ARMS))}")
    if args.merge:
        out = json.loads(Path(args.merge).read_text())
        done = [str(s) for s in out["seeds_done"]]
        out["summary"] = summarise_by_language({a: {s: out["runs"][a][s] for s in done} for a in out["arms"]},
                                               [item[-1] for item in out["items"]])
        print(report(out, out["arms"]))
        return out
    import torch

    from treediff.data.shards import read_manifest
    from treediff.tokens.tokenizer import SyntaxTokenizer
    from treediff.train.loop import load_datasets

    torch.set_num_threads(1)
    work, seeds = Path(args.work), [int(s) for s in args.seeds.split(",")]
    languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    counts = write_subset(Path(args.corpus), work / "corpus", languages, args.train_kb, args.heldout_kb)
    base = [f"optim.max_steps={args.steps}", f"data.corpus={work / 'corpus'}", f"data.cache_dir={work / 'data'}",
            f"out_dir={work / 'runs' / 'probe'}", *args.sets]
    cfg0 = apply_overrides(load_config(args.config), base)
    tok = SyntaxTokenizer.from_pretrained(cfg0.data.tokenizer)
    train_ds, val_ds = load_datasets(cfg0, tok)
    problems, langs = draw_items(val_ds, read_manifest(work / "data")["lang_ids"], languages, args.per_category,
                                 args.max_node_tokens)
    windows, cropped = crop_items(val_ds, problems, args.context)
    print(f"{len(train_ds)} training windows ({train_ds.num_tokens:,} tokens), {len(problems)} held-out items",
          file=sys.stderr, flush=True)
    results: dict[str, dict] = {a: {} for a in arms}
    if args.resume and args.json and Path(args.json).is_file():
        previous = json.loads(Path(args.json).read_text())
        if previous["items"] != [list(p) + [g] for p, g in zip(problems, langs)] or previous["steps"] != args.steps \
                or previous.get("context") != args.context:
            raise TreediffError(f"{args.json} holds runs of other items or steps; drop --resume")
        for a in arms:
            results[a] = {int(s): r for s, r in previous["runs"].get(a, {}).items()}
    tokens_per_step = cfg0.data.batch_size * cfg0.optim.grad_accum * cfg0.data.seq_len
    out: dict = {}
    for seed in seeds:  # seed-major: a cut-short run still compares every arm on the same seeds
        for arm in arms:
            if seed not in results[arm]:
                results[arm][seed] = run_arm(arm, seed, cfg0, work / "runs", windows, cropped, tok, args.steps)
            done = sorted(set.intersection(*(set(results[a]) for a in arms)))
            out = {"steps": args.steps, "tokens_per_step": tokens_per_step, "tokens_per_run": args.steps * tokens_per_step,
                   "preset": cfg0.model.preset, "seq_len": cfg0.data.seq_len,
                   "context": args.context, "arms": arms, "seeds": seeds,
                   "seeds_done": done, "subset": counts, "train_tokens": train_ds.num_tokens,
                   "items": [list(p) + [g] for p, g in zip(problems, langs)],
                   "summary": summarise_by_language({a: {s: results[a][s] for s in done} for a in arms}, langs)
                   if done else {}, "runs": results}
            if args.json:
                Path(args.json).write_text(json.dumps(out))
    print(report(out, arms))
    return out


if __name__ == "__main__":
    main()
