"""Held-out infilling in every language family: valid without fallback, exact match with 95% CIs.

    python bench/infill_languages.py --corpus /work/corpus --files 4 --models default,multi --json OUT
    python bench/infill_languages.py --files 4 --models auto      # what a user without --model gets

For each language family, ``--files`` held-out files of a gathered corpus (``split == "heldout"`` in its
manifest: packages no training split holds, docs/data.md) of 15-300 lines that pass their own check
(the real compiler where one is installed; with ``--failing-alone``, whether they pass or not: a package's
file that uses its siblings' names fails alone, and the problems it has anyway are set aside).  In each, one node per category (expression, statement,
block; the language's ``[categories]``) of at most ``--max-hole-bytes`` bytes, inside a function's body
(a block: a function's whole body), chosen with ``--seed``, is replaced by a typed hole and filled by ``treediff.infill`` (the hole gets its category's default length,
no length oracle).  Per model, language and category it reports:

* ``valid``: the program passed the check; ``nofb``: valid **without** fallback text and with a non-empty
  fill (the model's own code, possibly with grammar-forced closing tokens; an empty fill, which C-family
  languages often accept, counts as ``empty``, not as written; a **hollow** statement or block fill, one that
  holds no code — only comments, brackets, ``return;``, ``pass`` (``treediff.syntax.hollow``) — counts as
  ``hollow``, not as written either); ``forced``: fills that needed forced tokens;
* ``copied``: written holes whose kept fill came from a context draft (a fragment copied from elsewhere in
  the file, ``num_context_regions > 0``, docs/sampling.md); ``model`` = written and not copied: the model's
  own text;
* ``exact``: the fill equals the original text (whitespace-normalised), with a 95% bootstrap confidence
  interval over the holes (``--boot`` resamples); ``similarity``: the mean character similarity of fill and
  original (difflib's ratio of the whitespace-normalised texts, 0-1, every hole, fallback text included), a
  measure of how close the fills come below exact match;
* ``excused``: valid results whose program has a problem set aside as ``unresolved`` (outside the file's
  reach) that the given file does not have: a verdict that excused the fill's own error (0 when honest).

Every model sees the same holes.  Progress goes to stderr, one line per hole.
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import sys
import time
from pathlib import Path

import torch

LANGS = ("python", "javascript", "typescript", "java", "c", "cpp", "go", "rust")
KINDS = ("expression", "statement", "block")


def norm(text: str) -> str:
    return " ".join(text.split())


def bootstrap_ci(values: list[float], boot: int, seed: int) -> tuple[float, float]:
    """The 2.5% and 97.5% percentiles of the mean over ``boot`` resamples."""
    if not values:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(boot))
    return means[int(0.025 * (boot - 1))], means[int(0.975 * (boot - 1))]


def heldout_sources(corpus: Path, language: str, seed: int, max_lines: int, checks: bool = True):
    """Held-out files of ``language`` (path, text) that parse cleanly and (with ``checks``) pass their check, in a
    seeded order."""
    from treediff.data import heldout_files

    for f in heldout_files(corpus, language, min_bytes=301, max_bytes=15_999, min_lines=15, max_lines=max_lines,
                           order=f"{seed}:{language}", parses=True, checks=checks):
        yield f.path, f.text


def in_body(node, kind: str) -> bool:
    """Holes where infilling happens: expressions and statements inside a function's body, and function
    bodies themselves (not package clauses, imports, attributes or top-level declarations)."""
    if kind == "block":
        return node.parent.category == "definition"
    up = node.parent
    while up is not None:
        if up.category == "block" and up.parent is not None and up.parent.category == "definition":
            return True
        up = up.parent
    return False


def holes_of(src: str, language: str, rng: random.Random, max_bytes: int) -> list[tuple[int, int, str, str]]:
    """One (start, end, category, original text) per category, outermost-first ties broken by ``rng``."""
    from treediff.syntax.tree import parse

    tree = parse(src, language)
    data = tree.source
    out = []
    for kind in KINDS:
        nodes = [nd for nd in tree.nodes(named=True, category=kind)
                 if nd.parent is not None and 2 <= nd.end_byte - nd.start_byte <= max_bytes
                 and b"\n\n" not in data[nd.start_byte:nd.end_byte] and in_body(nd, kind)]
        if nodes:
            nd = rng.choice(nodes)
            out.append((nd.start_byte, nd.end_byte, kind, data[nd.start_byte:nd.end_byte].decode("utf-8", "replace")))
    return out


def run_case(model, src: str, language: str, hole: tuple[int, int, str, str], args, settings=None) -> dict:
    import treediff
    from treediff.errors import TreediffError

    start, end, kind, original = hole
    settings = settings or {}
    t0 = time.perf_counter()
    try:
        res = treediff.infill(src, language, model=model, spans=[(start, end, kind)], constraint=args.constraint,
                              seed=args.seed, **settings)
    except TreediffError as exc:  # one case's failure is a result, not the end of the run
        return {"kind": kind, "error": f"{type(exc).__name__}: {exc}"[:300], "valid": False, "nofb": False,
                "empty": False, "hollow": False, "forced": False, "copied": False, "similarity": 0.0, "exact": False,
                "seconds": time.perf_counter() - t0}
    rec = res.record
    text = res.holes[0].text if res.holes else ""
    written = rec.ok and not rec.fallback
    hollow = written and bool(text.strip()) and bool(res.holes) and res.holes[0].hollow
    copied = written and bool(text.strip()) and not hollow and rec.num_context_regions > 0
    return {"kind": kind, "valid": rec.ok, "nofb": written and bool(text.strip()) and not hollow,
            "added_set_aside": added_set_aside(src, res.code, language) if rec.ok else 0,
            "empty": written and not text.strip(), "hollow": hollow, "forced": rec.num_forced > 0, "copied": copied,
            "similarity": round(difflib.SequenceMatcher(None, norm(text), norm(original)).ratio(), 4),
            "exact": rec.ok and norm(text) == norm(original), "fill": text[:400], "original": original[:400],
            "level": rec.level, "preexisting": len(rec.preexisting), "seconds": round(time.perf_counter() - t0, 2)}


def added_set_aside(given: str, code: str, language: str) -> int:
    """How many problems the check sets aside (``unresolved``: an import, header or crate this machine lacks)
    in the returned program beyond those the given file has itself: each one is a problem the fill added
    and the verdict excused, i.e. a returned program the real compiler rejects for the fill's sake (0 when
    the verdict is honest)."""
    from collections import Counter

    from treediff import validity

    def aside(text: str) -> Counter:
        return Counter(p.message for p in validity.check(text, language, allow_unresolved=True).unresolved)

    return sum((aside(code) - aside(given)).values())


def parse_variant(text: str) -> tuple[str, dict]:
    """``NAME:key=value,key=value`` -> ``(NAME, {key: value})``, values read as JSON where they parse."""
    name, _, body = text.partition(":")
    settings = {}
    for item in filter(None, body.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            sys.exit(f"error: --variant {text!r}: {item!r} is not key=value")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value
    return name, settings


def summarise(rows: list[dict], boot: int, seed: int) -> dict:
    def share(key):
        return sum(r.get(key, 0) for r in rows) / len(rows) if rows else float("nan")

    exact = [float(r["exact"]) for r in rows]
    nofb = [float(r["nofb"]) for r in rows]
    return {"n": len(rows), "valid": share("valid"), "nofb": share("nofb"), "empty": share("empty"),
            "hollow": share("hollow"), "excused": sum(r.get("added_set_aside", 0) > 0 for r in rows),
            "forced": share("forced"), "copied": share("copied"), "model": share("nofb") - share("copied"),
            "similarity": share("similarity"),
            "exact": share("exact"), "exact_ci": bootstrap_ci(exact, boot, seed),
            "nofb_ci": bootstrap_ci(nofb, boot, seed)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/work/corpus", type=Path)
    ap.add_argument("--languages", default=",".join(LANGS))
    ap.add_argument("--models", default="auto", help="comma-separated --model values (embedded names such as "
                    "default or multi, or directories); auto = no --model (the embedded model chosen per language)")
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--max-lines", type=int, default=300)
    ap.add_argument("--failing-alone", action="store_true",
                    help="take held-out files whether or not they pass their own check (a package file that uses "
                         "its siblings' names fails alone): the problems a file has anyway are set aside "
                         "(record.preexisting), and each row counts them")
    ap.add_argument("--max-hole-bytes", type=int, default=240)
    ap.add_argument("--constraint", default="full")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME:key=value,key=value sampler settings of one arm (repeatable; each model runs every "
                         "variant, e.g. --variant one:remask_samples=1 --variant four:remask_samples=4)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    variants = [parse_variant(v) for v in args.variant] or [("", {})]
    torch.set_num_threads(args.threads)
    if not (args.corpus / "manifest.jsonl").is_file():
        sys.exit(f"error: {args.corpus} is not a `treediff data gather` output (no manifest.jsonl)")
    langs = [x for x in args.languages.split(",") if x]
    cases = {}
    for lang in langs:
        rng = random.Random(f"{args.seed}:holes:{lang}")
        cases[lang], files = [], 0
        for path, src in heldout_sources(args.corpus, lang, args.seed, args.max_lines, not args.failing_alone):
            holes = holes_of(src, lang, rng, args.max_hole_bytes)
            if holes:  # files with a function body (headers of declarations only have none)
                cases[lang] += [(path, src, hole) for hole in holes]
                files += 1
                if files == args.files:
                    break
        print(f"{lang}: {files} files, {len(cases[lang])} holes", file=sys.stderr)
    report = {"args": {k: str(v) for k, v in vars(args).items()}, "models": {}}
    arms = [(m, v) for m in args.models.split(",") if m for v in variants]
    for model_name, (variant, settings) in arms:
        name = f"{model_name} {variant}".strip()
        rows_by_lang = {}
        for lang in langs:
            model = None if model_name == "auto" else model_name  # auto: no --model, the library's choice per language
            rows = []
            for i, (path, src, hole) in enumerate(cases[lang]):
                row = {"path": path, **run_case(model, src, lang, hole, args, settings)}
                rows.append(row)
                print(f"[{name} {lang} {i + 1}/{len(cases[lang])}] {row['kind']}: valid={row['valid']} "
                      f"nofb={row['nofb']} copied={row.get('copied')} empty={row.get('empty')} hollow={row.get('hollow')} "
                      f"exact={row['exact']} "
                      f"{row.get('error', '')}", file=sys.stderr)
            rows_by_lang[lang] = rows
        summary = {lang: {"all": summarise(rows, args.boot, args.seed),
                          **{k: summarise([r for r in rows if r["kind"] == k], args.boot, args.seed) for k in KINDS}}
                   for lang, rows in rows_by_lang.items()}
        report["models"][name] = {"summary": summary, "rows": rows_by_lang}
        print(f"\nmodel {name} (constraint {args.constraint})")
        print("| language | holes | valid | written: valid w/o fallback, holding code [95% CI] | of which copied | empty | "
              "hollow | forced | "
              "exact expr | exact stmt | exact block | exact all [95% CI] | similarity | excused |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for lang, s in summary.items():
            a = s["all"]
            lo, hi = a["exact_ci"]
            per = " | ".join(f"{s[k]['exact']:.0%} ({s[k]['n']})" if s[k]["n"] else "–" for k in KINDS)
            nlo, nhi = a["nofb_ci"]
            print(f"| {lang} | {a['n']} | {a['valid']:.0%} | {a['nofb']:.0%} [{nlo:.0%}, {nhi:.0%}] | {a['copied']:.0%} | "
                  f"{a['empty']:.0%} | {a.get('hollow', 0):.0%} | {a['forced']:.0%} | {per} | {a['exact']:.0%} [{lo:.0%}, {hi:.0%}] | "
                  f"{a['similarity']:.2f} | {a.get('excused', 0)} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
