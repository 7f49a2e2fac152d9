"""Repair of one-token slips on held-out files of every language: exact restoration, no silent deletions, no false ok.

    python bench/repair_slips.py [--corpus /work/corpus] [--files 5] [--lines 80] [--json OUT]

For each language, ``--files`` held-out files of the gathered corpus (``split == "heldout"`` in its manifest,
docs/data.md), each cut along its syntax tree to the first ``--lines`` lines (:func:`cut`; at least ``--min-lines``
lines of code), taken when the cut passes the sampler's check (``treediff.sample.record.check``: the compiler's
verdict where it is installed, its ``unresolved`` problems set aside) at the compiler's level where one is
installed; a file whose slips the check cannot see does not count.  In each file, one slip of each kind at
a random tree-sitter leaf of the code (never inside a comment or string; seeded per language):

* ``drop_sep``: a ``;``, ``:`` or ``,`` deleted;
* ``drop_close``: a ``)``, ``]`` or ``}`` deleted;
* ``keyword``: a keyword (3+ letters) misspelt: two neighbouring letters swapped, or one letter dropped;
* ``drop_open``: a ``(``, ``[`` or ``{`` deleted.

A slip is kept when the check rejects it (a slip the compiler accepts has nothing to repair).  Then
``treediff.repair`` (default model, seed 0) and, independently of the repair's own verdict, a recheck of its
output against the original (``check(out, given=original)``: a name the repair made up is a problem).
With ``--failing-alone``, the files are cuts that parse and that the compiler rejects alone (a Go or Rust
package's file using its siblings' names), the slips those tree-sitter sees, and the recheck sets the
original's own problems aside (``GivenCode(original, language, ())``); each language's repair then uses the
model ``treediff repair`` picks for it (``multi`` outside Python), as a user gets, where the plain run keeps
the default model for all.
Per language and kind: exact restorations, ok results, refused deletions (``reason`` set), false ok (ok, and
the recheck rejects the output), ok results that lost lines (``removed_lines > 0``), seconds.  Progress goes
to stderr, the table to stdout; ``--json`` gets the table and every case, rewritten after each case.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import zlib
from pathlib import Path

LANGS = ("python", "javascript", "typescript", "java", "c", "cpp", "go", "rust")
KINDS = ("drop_sep", "drop_close", "keyword", "drop_open")
_TOKENS = {"drop_sep": (";", ":", ","), "drop_close": (")", "]", "}"), "drop_open": ("(", "[", "{")}
_LITERAL = ("comment", "string", "char", "template", "heredoc", "regex")


def cut(src: str, language: str, lines: int) -> str:
    """``src`` cut to its first ``lines`` lines along the syntax tree: the top-level items that end in them, and of
    the item that runs past them (an include guard, a namespace, a class, a function) its head, its own first
    items cut alike, and its last token when that closes it (``}``, ``#endif``)."""
    from treediff.syntax.tree import parse

    tree = parse(src, language)
    data = tree.source

    def inner(node, top: bool) -> bytes:
        if node.end_point[0] < lines:
            return data[node.start_byte:node.end_byte]
        children = node.children
        i = next((i for i, ch in enumerate(children) if ch.end_point[0] >= lines), None)
        if i is None:
            return data[node.start_byte:node.end_byte]
        ch, last = children[i], children[-1] if children else None
        text = data[node.start_byte:ch.start_byte]
        if ch is not last and ch.start_point[0] < lines and ch.child_count:
            text += inner(ch, False)
        if not top and last is not None and last is not ch and not last.is_named:
            text = text.rstrip() + b"\n" + data[last.start_byte:last.end_byte]
        return text

    root = tree.ts_tree.root_node
    text = inner(root, True) if root.children else b""
    return text.rstrip().decode("utf-8") + "\n"


def code_lines(src: str, language: str) -> int:
    """The number of lines that hold a tree-sitter leaf outside comments."""
    from treediff.syntax.tree import parse

    tree = parse(src, language)
    return len({leaf.start_point[0] for leaf in _leaves(tree.ts_tree.root_node) if "comment" not in leaf.type})


def heldout_cuts(corpus: Path, language: str, lines: int, min_lines: int, failing_alone: bool = False):
    """``(path, text)`` of the held-out files cut by :func:`cut` that hold ``min_lines`` lines of code and pass
    the sampler's check, at the compiler's level where the compiler is installed.  ``failing_alone``: instead,
    the cuts that parse and that the compiler rejects (a package's file using its siblings' names)."""
    from treediff.data import heldout_files
    from treediff.sample.record import check

    for f in heldout_files(corpus, language, max_bytes=60_000):
        src = cut(f.text, language, lines)
        if code_lines(src, language) < min_lines:
            continue
        verdict = check(src, language)
        if failing_alone:
            if (verdict.verdict == "invalid" and verdict.level != "tree-sitter"
                    and not any(p.kind.startswith("ts_") for p in verdict.problems)):
                yield f.path, src
        elif verdict.ok and (verdict.level != "tree-sitter" or verdict.compiler_missing):
            yield f.path, src


def _in_literal(node) -> bool:
    while node is not None:
        if any(w in node.type for w in _LITERAL):
            return True
        node = node.parent
    return False


def misspell(word: str, rng: random.Random) -> str:
    """``word`` with two neighbouring letters swapped, or (words of 4+ letters) one inner letter dropped."""
    if len(word) >= 4 and rng.random() < 0.5:
        i = rng.randrange(1, len(word) - 1)
        return word[:i] + word[i + 1:]
    i = rng.randrange(0, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def slips(src: str, language: str, rng: random.Random):
    """``(kind, broken)``: one slip per kind that has a site in ``src`` (a random one)."""
    from treediff.syntax.keywords import keywords
    from treediff.syntax.tree import parse

    tree = parse(src, language)
    data = tree.source
    kws = keywords(language, named=False)  # the slips of sessions 4-6 (`this` misspelt is new since)
    leaves = [n for n in _leaves(tree.ts_tree.root_node) if not n.is_named and not _in_literal(n.parent)]
    for kind in KINDS:
        if kind == "keyword":
            sites = [n for n in leaves if n.type in kws and len(n.type) >= 3
                     and data[n.start_byte:n.end_byte].decode() == n.type]
        else:
            sites = [n for n in leaves if n.type in _TOKENS[kind]]
        if not sites:
            continue
        n = rng.choice(sites)
        a, b = len(data[:n.start_byte].decode("utf-8")), len(data[:n.end_byte].decode("utf-8"))
        text = misspell(src[a:b], rng) if kind == "keyword" else ""
        yield kind, src[:a] + text + src[b:]


def _leaves(root) -> list:
    """The non-empty leaves under a tree-sitter node, in order."""
    stack = [root]
    out = []
    while stack:
        node = stack.pop()
        if node.child_count == 0:
            if node.end_byte > node.start_byte:
                out.append(node)
        else:
            stack.extend(reversed(node.children))
    return out


def run_case(lm, language: str, original: str, broken: str, failing_alone: bool = False) -> dict:
    """Repair ``broken``, recheck the output against ``original``; one row of counts."""
    import treediff
    from treediff.errors import InputError
    from treediff.sample.record import GivenCode, check

    t0 = time.perf_counter()
    try:
        r = treediff.repair(broken, language, model=lm, seed=0)
    except InputError as exc:  # refused with one line (a block too long for the model): not ok, counted
        return {"exact": False, "ok": False, "refused_deletion": False, "false_ok": False, "lost_lines": 0,
                "error": str(exc), "seconds": time.perf_counter() - t0}
    seconds = time.perf_counter() - t0
    ok = r.record.ok
    # a file that fails alone: its own problems (all of them) are no repair's; anything else is
    given = GivenCode(original, language, ()) if failing_alone else original
    recheck = check(r.code, language, given=given) if ok else None
    return {"exact": r.code == original, "ok": ok, "refused_deletion": bool(r.record.extra.get("would_remove")),
            "false_ok": ok and not recheck.ok, "lost_lines": r.record.extra.get("removed_lines", 0) if ok else 0,
            "level": r.record.level, "seconds": seconds, "code": r.code}


def _syntax_slip(broken: str, language: str) -> bool:
    """Whether the slip is one tree-sitter sees (in a file failing alone, a slip the parse misses is lost among
    the file's own problems)."""
    from treediff.validity import check

    return any(p.kind.startswith("ts_") for p in check(broken, language, compiler=False).problems)


def summarize(cases: list[dict]) -> dict:
    n = len(cases)
    return {"cases": n, "exact": sum(c["exact"] for c in cases), "ok": sum(c["ok"] for c in cases),
            "refused_deletions": sum(c["refused_deletion"] for c in cases),
            "false_ok": sum(c["false_ok"] for c in cases),
            "ok_lost_lines": sum(c["lost_lines"] > 0 for c in cases),
            "seconds": round(sum(c["seconds"] for c in cases), 1)}


def tabulate(cases: list[dict]) -> dict:
    """:func:`summarize` per language and kind, and over all languages."""
    table = {lang: {kind: summarize(sel) for kind in [*KINDS, "all"]
                    if (sel := [c for c in cases if c["language"] == lang and kind in (c["kind"], "all")])}
             for lang in dict.fromkeys(c["language"] for c in cases)}
    table["all"] = {kind: summarize([c for c in cases if kind in (c["kind"], "all")]) for kind in [*KINDS, "all"]}
    return table


def save(path: str, cases: list[dict]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"table": tabulate(cases), "cases": cases}, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="/work/corpus")
    ap.add_argument("--files", type=int, default=5)
    ap.add_argument("--lines", type=int, default=80)
    ap.add_argument("--min-lines", type=int, default=12, help="lines of code (not comments) a cut must hold")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--languages", default=",".join(LANGS))
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--json", default=None, help="write the table and every case here")
    ap.add_argument("--failing-alone", action="store_true", help="files that parse and fail their check alone "
                    "(a package's file using its siblings' names) instead of files that pass")
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    bad = [k for k in kinds if k not in KINDS] + [x for x in args.languages.split(",") if x not in LANGS]
    if bad:
        print(f"unknown kind or language {bad[0]!r}; choose from {', '.join(KINDS + LANGS)}", file=sys.stderr)
        raise SystemExit(2)
    if not (Path(args.corpus) / "manifest.jsonl").is_file():
        print(f"no manifest.jsonl in {args.corpus}", file=sys.stderr)
        raise SystemExit(2)
    from treediff.sample import get_model
    from treediff.sample.record import check

    lm = get_model(None, device="cpu")
    cases: list[dict] = []
    for language in args.languages.split(","):
        rng = random.Random(args.seed * 1_000_003 + zlib.crc32(language.encode()))
        taken = 0
        for path, src in heldout_cuts(Path(args.corpus), language, args.lines, args.min_lines, args.failing_alone):
            if taken == args.files:
                break
            found = [(kind, broken) for kind, broken in slips(src, language, rng)
                     if kind in kinds and broken != src and not check(broken, language).ok
                     and (not args.failing_alone or _syntax_slip(broken, language))]
            taken += bool(found)  # a file whose slips the check cannot see (code under `#if 0`) does not count
            for kind, broken in found:
                model = get_model(None, device="cpu", language=language) if args.failing_alone else lm
                row = run_case(model, language, src, broken, args.failing_alone)
                row.update(language=language, kind=kind, path=path, broken=broken, original=src)
                cases.append(row)
                if args.json:  # after every case: a run stopped early still leaves its figures
                    save(args.json, cases)
                print(f"{language:<10} {kind:<10} exact={row['exact']!s:<5} ok={row['ok']!s:<5} "
                      f"false_ok={row['false_ok']!s:<5} {row['seconds']:.1f}s  {path}", file=sys.stderr, flush=True)
    table = tabulate(cases)
    print("| language | kind | cases | exact | ok | refused deletions | false ok | ok, lost lines | s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for lang, rows in table.items():
        for kind, s in rows.items():
            print(f"| {lang} | {kind} | {s['cases']} | {s['exact']} | {s['ok']} | {s['refused_deletions']} | "
                  f"{s['false_ok']} | {s['ok_lost_lines']} | {s['seconds']} |")
    if args.json:
        save(args.json, cases)


if __name__ == "__main__":
    main()
