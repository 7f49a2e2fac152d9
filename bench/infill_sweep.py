"""Robustness sweep: infill one random node in held-out files nobody chose, in every language.

    python bench/infill_sweep.py --corpus /work/corpus --seed 22 --files 6 --json OUT
    python bench/infill_sweep.py --languages go,rust --seed 21 --files 6

Unlike ``bench/infill_languages.py`` (files that pass their own check, holes inside function bodies), each
file here is any held-out file of 5-2,000 lines that tree-sitter accepts, whether or not it passes its own
check alone (a package's file that uses its siblings' names does not), and the hole is one random
expression, statement or block node of at most ``--max-hole-bytes`` bytes anywhere in the file (top level
included), filled by ``treediff.infill`` with its defaults.  Per language it counts:

* ``fails alone``: files whose own check fails (their problems are the file's: ``record.preexisting``);
* ``valid``, ``written`` (valid, no fallback, a fill that holds code), ``hollow`` (valid, no fallback, a fill
  with no code in it), ``set aside`` (results with problems set aside as the file's own);
* ``outside changed``: results whose text outside the hole differs from the file (must be 0);
* ``user errors`` (a clear ``TreediffError``), ``crashes`` (any other exception) and ``hangs`` (no answer
  within ``--timeout`` seconds): crashes and hangs must be 0.

Progress goes to stderr, one line per file.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path

LANGUAGES = "python,java,go,rust,javascript,typescript,c,cpp"
KINDS = ("expression", "statement", "block")


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang()


def run_file(path: str, src: str, language: str, rng: random.Random, args) -> dict | None:
    import treediff
    from treediff.errors import TreediffError
    from treediff.sample.record import check
    from treediff.syntax.tree import parse

    tree = parse(src, language)
    data = tree.source
    kind = rng.choice(KINDS)
    nodes = [n for n in tree.nodes(named=True, category=kind)
             if n.parent is not None and 1 <= n.end_byte - n.start_byte <= args.max_hole_bytes]
    if not nodes:
        return None
    node = rng.choice(nodes)
    row = {"path": path, "kind": kind, "lines": src.count("\n"), "fails_alone": not check(src, language).ok}
    t0 = time.perf_counter()
    signal.alarm(args.timeout)
    try:
        res = treediff.infill(src, language, spans=[(node.start_byte, node.end_byte, kind)], seed=args.seed)
        code, (s, e) = res.code.encode("utf-8"), res.holes[0].span
        written = res.record.ok and not res.record.fallback
        row.update(valid=res.record.ok, written=written and not res.holes[0].hollow,
                   hollow=written and res.holes[0].hollow, set_aside=bool(res.record.preexisting),
                   outside_changed=code[:s] != data[:node.start_byte] or code[e:] != data[node.end_byte:])
    except _Hang:
        row.update(hang=True)
    except TreediffError as exc:
        row.update(user_error=f"{type(exc).__name__}: {exc}"[:200])
    except Exception as exc:  # the sweep's point: any other exception is a crash to report, not to stop at
        row.update(crash="".join(traceback.format_exception(exc))[-1500:])
    finally:
        signal.alarm(0)
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    ap.add_argument("--languages", default=LANGUAGES)
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--files", type=int, default=6, help="files per language")
    ap.add_argument("--max-hole-bytes", type=int, default=600)
    ap.add_argument("--timeout", type=int, default=240, help="seconds per file before it counts as a hang")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import torch

    from treediff.data import heldout_files

    torch.set_num_threads(args.threads)
    signal.signal(signal.SIGALRM, _alarm)
    rows: dict[str, list[dict]] = defaultdict(list)
    for language in filter(None, args.languages.split(",")):
        rng = random.Random(f"sweep{args.seed}{language}")
        files = heldout_files(args.corpus, language, min_bytes=200, max_bytes=60_000, min_lines=5, max_lines=2000,
                              order=f"sweep{args.seed}:{language}", parses=False, checks=False)
        for f in files:
            if len(rows[language]) >= args.files:
                break
            row = run_file(str(f.path), f.text, language, rng, args)
            if row is None:
                continue
            rows[language].append(row)
            print(f"[{language} {len(rows[language])}/{args.files}] {json.dumps(row)[:300]}", file=sys.stderr)
    keys = ("fails_alone", "valid", "written", "hollow", "set_aside", "outside_changed", "user_error", "crash",
            "hang")
    print("| language | files | fails alone | valid | written | hollow | set aside | outside changed | user errors "
          "| crashes | hangs |")
    print("|---|" + "---:|" * (len(keys) + 1))
    total = defaultdict(int)
    for language, got in rows.items():
        counts = [sum(bool(r.get(k)) for r in got) for k in keys]
        for k, c in zip(keys, counts):
            total[k] += c
        total["files"] += len(got)
        print(f"| {language} | {len(got)} | " + " | ".join(map(str, counts)) + " |")
    print(f"| all | {total['files']} | " + " | ".join(str(total[k]) for k in keys) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows},
                                              indent=1))


if __name__ == "__main__":
    main()
