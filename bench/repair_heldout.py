"""Repair of one-slip corruptions of held-out standard-library functions: point edits vs whole statements.

    python bench/repair_heldout.py --per-kind 15            # default model, held-out modules below
    python bench/repair_heldout.py --whole-files 2          # whole modules, one slip each
    python bench/repair_heldout.py --js-files 20            # 20 of npm's own JavaScript files, one slip per kind
    python bench/repair_heldout.py --java-files 20          # 20 of the JDK's own Java sources, one slip per kind

Top-level functions of the modules the default model never saw (bench/infill_heldout.py's list)
get one corruption each, of one of these kinds, kept only when it breaks the full check:

* ``drop_close``: a closing bracket ``)``, ``]`` or ``}`` deleted;
* ``drop_colon``: the ``:`` that ends a compound statement's header deleted;
* ``drop_op``: another operator or delimiter token deleted (``,``, ``=``, ``.``, ``+``, ...);
* ``dup_op``: an operator or delimiter token written twice;
* ``two_slips``: two of the above, at two different tokens of the same function.

With ``--whole-files N``, each held-out module is corrupted whole, ``N`` times per kind (the single
kinds), and repaired as one file: far longer than the default model's 640 positions, so the repair
works on the block of lines around each problem (``edits.chunk_around``).

With ``--js-files N``, ``N`` of the JavaScript files of the npm that ships with node (its ``lib/``, 2,000
to 30,000 characters; 72 files) get one corruption per kind each (``drop_close``, ``drop_op``, ``dup_op``, at
tree-sitter's tokens; kept when ``node --check`` rejects them) and are repaired whole, through the
bracket-delimited ``[layout]`` of ``grammars/javascript.toml``.  The default model was trained on Python
only, and JavaScript has no incremental grammar here, so this measures the language-generic machinery:
the block search, parser inserts, compiler-span edits and the typed fallback.

With ``--java-files N``, the same for ``N`` of the JDK's own sources (``src.zip``; 2,000 to 30,000
characters), taken when they pass the sampler's check: javac compiles each file alone, its errors about
code outside the file set aside (``[compiler] unresolved`` in ``grammars/java.toml``).  Kinds and sites as
for JavaScript, ``;`` among the dropped operators; a case is kept when javac rejects it.

Each case is repaired twice in one run, same seed: with point edits first (the default,
``edit_attempts=6``) and with whole-statement remasking only (``edit_attempts=0``, the old repair).
Per run: validity (must be 100%), validity without fallback, exact recovery of the original
function, bytes of the input replaced, characters between the repair and the original (edit
distance from a diff), mean rounds, mean NFE and seconds per case.  Nothing is executed.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sysconfig
import time
import tokenize
from pathlib import Path

import torch

from infill_heldout import HELD_OUT

SINGLE = ("drop_close", "drop_colon", "drop_op", "dup_op")
KINDS = (*SINGLE, "two_slips")


def _distance(a: str, b: str) -> int:
    from treediff.repairs import edit_size as _edit_size

    return _edit_size(a, b)


def _offsets(src: str) -> list[int]:
    starts, pos = [], 0
    for line in src.splitlines(keepends=True):
        starts.append(pos)
        pos += len(line)
    return starts


def corruptions(src: str, rng: random.Random):
    """``(kind, corrupted)`` for every kind that has a site in ``src`` (one random site each)."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, SyntaxError):
        return
    starts = _offsets(src)

    def span(t):
        return starts[t.start[0] - 1] + t.start[1], starts[t.end[0] - 1] + t.end[1]

    ops = [t for t in toks if t.type == tokenize.OP]
    sites = {
        "drop_close": [t for t in ops if t.string in ")]}"],
        "drop_colon": [t for i, t in enumerate(toks) if t.string == ":" and i + 1 < len(toks)
                       and toks[i + 1].type == tokenize.NEWLINE],
        "drop_op": [t for t in ops if t.string not in ")]}:([{"],
        "dup_op": [t for t in ops if t.string not in "([{"],
    }
    def apply(text: str, kind: str, a: int, b: int) -> str:
        return text[:b] + text[a:b] + text[b:] if kind == "dup_op" else text[:a] + text[b:]

    for kind in SINGLE:
        if sites[kind]:
            yield kind, apply(src, kind, *span(rng.choice(sites[kind])))
    kinds = [k for k in SINGLE if sites[k]]
    if len(kinds) >= 2:
        first, second = rng.sample(kinds, 2)
        s1, s2 = span(rng.choice(sites[first])), span(rng.choice(sites[second]))
        if s1[1] <= s2[0] or s2[1] <= s1[0]:  # disjoint: apply the later one first, offsets stay right
            (k1, p1), (k2, p2) = sorted([(first, s1), (second, s2)], key=lambda kv: kv[1][0], reverse=True)
            yield "two_slips", apply(apply(src, k1, *p1), k2, *p2)


def cases(max_chars: int, per_kind: int, seed: int):
    from treediff.syntax.tree import parse
    from treediff.validity import check

    rng = random.Random(seed)
    lib = Path(sysconfig.get_paths()["stdlib"])
    found: dict[str, list] = {k: [] for k in KINDS}
    for mod in HELD_OUT:
        path = lib / f"{mod}.py"
        if not path.is_file():
            continue
        tree = parse(path.read_bytes(), "python")
        for f in tree.root.children:
            if f.kind != "function_definition" or len(f.text) > max_chars:
                continue
            src = f.text + "\n"
            for kind, bad in corruptions(src, rng):
                if not check(bad, "python").ok:
                    found[kind].append((mod, kind, src, bad))
    for kind in KINDS:
        rng.shuffle(found[kind])
        yield from found[kind][:per_kind]


def file_cases(per_kind: int, seed: int):
    from treediff.validity import check

    rng = random.Random(seed)
    lib = Path(sysconfig.get_paths()["stdlib"])
    for mod in HELD_OUT:
        path = lib / f"{mod}.py"
        if not path.is_file():
            continue
        src = path.read_text()
        for _ in range(per_kind):
            for kind, bad in corruptions(src, rng):
                if kind in SINGLE and not check(bad, "python").ok:
                    yield mod, kind, src, bad


def js_files(min_chars: int = 2000, max_chars: int = 30000) -> list[tuple[str, str]]:
    """``(name, text)`` of the npm-with-node ``lib/`` JavaScript files of 2,000 to 30,000 characters."""
    import shutil

    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm (with node) is needed for --js-files")
    lib = Path(npm).resolve().parent.parent / "lib"
    paths = sorted(p for p in lib.rglob("*.js") if min_chars <= p.stat().st_size <= max_chars)
    return [(p.name, p.read_text()) for p in paths]


def java_files(min_chars: int = 2000, max_chars: int = 30000) -> list[tuple[str, str]]:
    """``(name, text)`` of the JDK's own sources (``lib/src.zip``) of 2,000 to 30,000 characters."""
    import glob
    import zipfile

    zips = sorted(glob.glob("/usr/lib/jvm/*/lib/src.zip")) + sorted(glob.glob("/usr/lib/jvm/*/src.zip"))
    zips = [z for z in zips if Path(z).resolve().is_file()]
    if not zips:
        raise SystemExit("a JDK with lib/src.zip is needed for --java-files")
    with zipfile.ZipFile(Path(zips[-1]).resolve()) as zf:
        names = [i.filename for i in zf.infolist()
                 if i.filename.endswith(".java") and min_chars <= i.file_size <= max_chars]
        return [(n, zf.read(n).decode("utf-8", "replace")) for n in sorted(names)]


#: Per language: where its files come from, and the tree-sitter tokens each kind of slip hits.
CORPORA = {
    "javascript": (js_files, {
        "drop_close": (")", "]", "}"),
        "drop_op": (",", "=", ".", "+", "-", "*", "&&", "||", "===", "!==", "=>", "("),
        "dup_op": (",", "=", ".", "+", "&&", "||", "=>", ")", "]"),
    }),
    "java": (java_files, {
        "drop_close": (")", "]", "}"),
        "drop_op": (",", "=", ".", "+", "-", "*", "&&", "||", "==", "!=", "->", "(", ";"),
        "dup_op": (",", "=", ".", "+", "&&", "||", "->", ")", "]"),
    }),
}


def token_corruptions(src: str, language: str, rng: random.Random):
    """``(kind, corrupted)`` for each single kind but ``drop_colon``, at tree-sitter's anonymous tokens."""
    from treediff.syntax.tree import parse

    leaves = [n for n in parse(src, language).nodes(named=False) if not n.is_named and n.end_byte > n.start_byte]
    data = src.encode("utf-8")
    sites = {kind: [n for n in leaves if n.kind in tokens] for kind, tokens in CORPORA[language][1].items()}
    for kind in ("drop_close", "drop_op", "dup_op"):
        if sites[kind]:
            n = rng.choice(sites[kind])
            a, b = len(data[:n.start_byte].decode()), len(data[:n.end_byte].decode())
            yield kind, (src[:b] + src[a:b] + src[b:] if kind == "dup_op" else src[:a] + src[b:])


def corpus_cases(language: str, files: int, seed: int):
    """One slip per kind in each of ``files`` random files that pass the sampler's check (the compiler's
    errors about code outside the file set aside), kept when the slip breaks it."""
    from treediff.sample.record import check

    rng = random.Random(seed)
    named = CORPORA[language][0]()
    rng.shuffle(named)
    taken = 0
    for name, src in named:
        if taken == files:
            break
        if not check(src, language).ok:
            continue
        taken += 1
        for kind, bad in token_corruptions(src, language, rng):
            if not check(bad, language).ok:
                yield name, kind, src, bad


def run(lm, items, *, label, language="python", **settings):
    from treediff import repair

    rows = []
    t0 = time.perf_counter()
    from treediff.errors import InputError

    for mod, kind, src, bad in items:
        try:
            r = repair(bad, language, model=lm, **settings)
        except InputError as exc:  # refused with a one-line error (a block too long for the model): counted
            print(f"  refused: {mod} {kind}: {exc}", flush=True)
            rows.append({"module": mod, "kind": kind, "ok": False, "fallback": False, "exact": False,
                         "changed_bytes": 0, "distance": _distance(bad, src), "rounds": 0, "nfe": 0, "edits": 0})
            continue
        rows.append({"module": mod, "kind": kind, "ok": r.record.ok, "fallback": r.record.fallback,
                     "exact": r.code == src, "changed_bytes": r.record.extra.get("changed_bytes", 0),
                     "distance": _distance(r.code, src), "rounds": r.record.rounds, "nfe": r.record.nfe,
                     "edits": r.record.extra.get("edits", 0), "model_free_edits": r.record.extra.get("model_free_edits", 0),
                     "seconds": r.record.seconds})
    wall = time.perf_counter() - t0
    n = max(1, len(rows))
    summary = {"run": label, "cases": len(rows), "settings": settings, "seconds_per_case": wall / n}
    print(f"{label}  ({len(rows)} cases, {wall / n:.3f} s/case)")
    for kind in [*KINDS, "all"]:
        sel = [r for r in rows if kind == "all" or r["kind"] == kind]
        if not sel:
            continue
        k = len(sel)
        stats = {
            "n": k, "valid": sum(r["ok"] for r in sel) / k,
            "valid_without_fallback": sum(r["ok"] and not r["fallback"] for r in sel) / k,
            "exact": sum(r["exact"] for r in sel) / k, "point_edit": sum(r["edits"] > 0 for r in sel) / k,
            "model_free": sum(r.get("model_free_edits", 0) > 0 for r in sel) / k,
            "changed_bytes": sum(r["changed_bytes"] for r in sel) / k,
            "distance": sum(r["distance"] for r in sel) / k,
            "rounds": sum(r["rounds"] for r in sel) / k, "nfe": sum(r["nfe"] for r in sel) / k,
        }
        summary[kind] = stats
        print(f"  {kind:<11} n={k:3d}  valid {stats['valid']:7.2%}  w/o fallback {stats['valid_without_fallback']:7.2%}  "
              f"exact {stats['exact']:7.2%}  point edit {stats['point_edit']:7.2%} (model-free {stats['model_free']:6.1%})  replaced {stats['changed_bytes']:5.1f} B  "
              f"to original {stats['distance']:5.1f} ch  rounds {stats['rounds']:.2f}  NFE {stats['nfe']:.1f}", flush=True)
    return summary, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model directory (default: the embedded model)")
    ap.add_argument("--per-kind", type=int, default=15)
    ap.add_argument("--max-chars", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--whole-files", type=int, default=0, metavar="N",
                    help="corrupt whole held-out modules instead, N times per kind, point edits only")
    ap.add_argument("--js-files", type=int, default=0, metavar="N",
                    help="corrupt N of npm's own JavaScript files instead, once per kind")
    ap.add_argument("--java-files", type=int, default=0, metavar="N",
                    help="corrupt N of the JDK's own Java sources (src.zip) instead, once per kind")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from treediff.sample import get_model

    lm = get_model(args.model, device="cpu")
    out = {}
    if args.js_files:
        items = list(corpus_cases("javascript", args.js_files, args.seed))
        out["javascript files"] = run(lm, items, label="npm's JavaScript files, point edits then statements",
                                      language="javascript", seed=args.seed)
    elif args.java_files:
        items = list(corpus_cases("java", args.java_files, args.seed))
        out["java files"] = run(lm, items, label="the JDK's Java sources, point edits then statements",
                                language="java", seed=args.seed)
    elif args.whole_files:
        items = list(file_cases(args.whole_files, args.seed))
        out["whole files"] = run(lm, items, label="whole held-out modules, point edits then statements",
                                 seed=args.seed)
    else:
        items = list(cases(args.max_chars, args.per_kind, args.seed))
        for label, attempts in (("point edits, then statements (default)", 6),
                                ("statements only (edit_attempts=0)", 0)):
            out[label] = run(lm, items, label=label, seed=args.seed, edit_attempts=attempts)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
