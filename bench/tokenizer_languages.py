"""Tokens per line and bytes per token, per language, for two tokenizers side by side on held-out files.

    python bench/tokenizer_languages.py --corpus /work/corpus --new runs/tokenizer-multi \
        [--baseline treediff/assets/default_model] [--files 60] [--json out.json]

``--corpus`` is a ``treediff data gather`` output; only files of its ``heldout`` split are measured
(packages the new tokenizer never saw).  Per language, the first ``--files`` held-out files in
SHA-256 order (at most 200 KB each) that both tokenizers can encode (tree-sitter errors ≤ 10 % of the
bytes, as in ``data prepare``) are encoded exactly (``SyntaxTokenizer.encode``).  Prints a Markdown
table: files, MB, lines, then tokens/line and bytes/token of each tokenizer and the ratio of token counts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["heldout_files", "measure", "main"]


def heldout_files(corpus: Path, per_language: int, max_bytes: int = 200_000) -> dict[str, list[Path]]:
    """Held-out files per language, in SHA-256 order."""
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").open(encoding="utf-8")]
    rows = sorted((r for r in rows if r["split"] == "heldout" and r["bytes"] <= max_bytes), key=lambda r: r["sha256"])
    out: dict[str, list[Path]] = {}
    for r in rows:
        out.setdefault(r["language"], []).append(corpus / r["path"])
    return {lang: paths[: per_language * 3] for lang, paths in sorted(out.items())}


def measure(files: dict[str, list[Path]], tokenizers: dict[str, object], per_language: int) -> list[dict[str, object]]:
    """One row per language: files, bytes, lines, and tokens per tokenizer."""
    from treediff.data import error_fraction
    from treediff.syntax import parse

    rows = []
    for lang, paths in files.items():
        row: dict[str, object] = {"language": lang, "files": 0, "bytes": 0, "lines": 0,
                                  **{f"tokens_{name}": 0 for name in tokenizers}}
        for path in paths:
            if row["files"] == per_language:
                break
            source = path.read_bytes()
            tree = parse(source, lang, max_bytes=0)
            if error_fraction(tree) > 0.1:
                continue
            counts = {name: len(tok.encode(tree).ids) for name, tok in tokenizers.items()}
            row["files"] += 1
            row["bytes"] += len(source)
            row["lines"] += source.count(b"\n") + (not source.endswith(b"\n"))
            for name, n in counts.items():
                row[f"tokens_{name}"] += n
        rows.append(row)
    return rows


def _table(rows: list[dict[str, object]], names: list[str]) -> str:
    head = "| language | files | MB | lines | " + " | ".join(
        f"{n} tokens/line | {n} bytes/token" for n in names) + f" | tokens {names[1]}/{names[0]} |"
    lines = [head, "|" + "---|" * (5 + 2 * len(names))]
    for r in rows:
        cells = [str(r["language"]), str(r["files"]), f"{r['bytes'] / 1e6:.2f}", f"{r['lines']:,}"]
        for n in names:
            t = r[f"tokens_{n}"] or 1
            cells += [f"{t / max(r['lines'], 1):.2f}", f"{r['bytes'] / t:.2f}"]
        cells.append(f"{r[f'tokens_{names[1]}'] / max(r[f'tokens_{names[0]}'], 1):.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", required=True, type=Path, help="a `treediff data gather` output directory")
    p.add_argument("--new", required=True, help="the tokenizer directory to compare")
    p.add_argument("--baseline", default=str(ROOT / "treediff" / "assets" / "default_model"))
    p.add_argument("--files", type=int, default=60, help="held-out files per language")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = p.parse_args(argv)
    from treediff.tokens.tokenizer import SyntaxTokenizer

    if not (args.corpus / "manifest.jsonl").is_file():
        raise SystemExit(f"error: {args.corpus} is not a `treediff data gather` output (no manifest.jsonl)")
    toks = {"baseline": SyntaxTokenizer.from_pretrained(args.baseline), "new": SyntaxTokenizer.from_pretrained(args.new)}
    rows = measure(heldout_files(args.corpus, args.files), toks, args.files)
    print(f"baseline: {args.baseline} (vocab {toks['baseline'].vocab_size}); new: {args.new} "
          f"(vocab {toks['new'].vocab_size})\n")
    print(_table(rows, list(toks)))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
