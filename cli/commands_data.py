"""Data commands: ``treediff tokenizer train`` and ``treediff data prepare``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from treediff_cli.app import CommandGroup, app

tokenizer_app = typer.Typer(cls=CommandGroup, no_args_is_help=True,
                            help="Train the syntax-aligned BPE tokenizer.\n\nExamples:\n\n  treediff tokenizer train examples/corpus --out tok/")
data_app = typer.Typer(cls=CommandGroup, no_args_is_help=True,
                       help="Prepare corpora into memory-mapped training shards.\n\nExamples:\n\n  treediff data prepare examples/corpus --tokenizer tok/ --out data/")
app.add_typer(tokenizer_app, name="tokenizer")
app.add_typer(data_app, name="data")

_CORPUS_HELP = "Directories, source files, .zip archives or .jsonl files (fields: code, language, path)."


def _print_stats(title: str, rows: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    for key, value in rows.items():
        if key == "splits":
            for split, sizes in value.items():
                table.add_row(split, ", ".join(f"{v:,} {k.replace('num_', '')}" for k, v in sizes.items()))
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, float):
            value = f"{value:,.2f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in value.items() if v) or "-"
        table.add_row(key, str(value))
    Console(stderr=True).print(table)


@tokenizer_app.command("train")
def tokenizer_train(
    corpus: list[Path] = typer.Argument(..., help=_CORPUS_HELP),
    vocab_size: int = typer.Option(8192, "--vocab-size", help="Vocabulary size, special tokens included."),
    out: Path = typer.Option(Path("tokenizer"), "--out", help="Directory to write tokenizer.json and configs to."),
    min_frequency: int = typer.Option(2, "--min-frequency", help="Minimum pair count for a merge."),
    max_bytes: int = typer.Option(1_000_000, "--max-bytes", help="Skip files larger than this (0 = no cap)."),
    max_error_fraction: float = typer.Option(0.1, "--max-error-fraction", help="Skip files whose parse errors cover more of their bytes."),
    workers: int = typer.Option(0, "--workers", help="Worker processes (0 = one per core)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Train a byte-level BPE whose tokens never cross a tree-sitter leaf.

    Examples:

      treediff tokenizer train examples/corpus --vocab-size 2048 --out tok/
    """
    from treediff.data import train_tokenizer

    _, stats = train_tokenizer(
        corpus, out=out, vocab_size=vocab_size, min_frequency=min_frequency, max_bytes=max_bytes,
        max_error_fraction=max_error_fraction, workers=workers or None, show_progress=not quiet,
    )
    _print_stats("tokenizer train", stats.to_dict())
    typer.echo(str(out))


@data_app.command("prepare")
def data_prepare(
    corpus: list[Path] = typer.Argument(..., help=_CORPUS_HELP),
    tokenizer: Path = typer.Option(..., "--tokenizer", help="Directory of a trained tokenizer."),
    out: Path = typer.Option(..., "--out", help="Directory for shards, manifest.json and stats.json."),
    max_bytes: int = typer.Option(1_000_000, "--max-bytes", help="Skip files larger than this (0 = no cap)."),
    max_error_fraction: float = typer.Option(0.1, "--max-error-fraction", help="Skip files whose parse errors cover more of their bytes."),
    val_fraction: float = typer.Option(0.05, "--val-fraction", help="Share of files (by content hash) for validation."),
    seq_len: int = typer.Option(1024, "--seq-len", help="Default training window length recorded in the manifest."),
    workers: int = typer.Option(0, "--workers", help="Worker processes (0 = one per core)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache matches."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Scan, filter, dedup, split and tokenize a corpus into memory-mapped shards (cached).

    Examples:

      treediff data prepare examples/corpus --tokenizer tok/ --out data/
    """
    from treediff.data import prepare_corpus

    stats = prepare_corpus(
        corpus, tokenizer, out, max_bytes=max_bytes, max_error_fraction=max_error_fraction,
        val_fraction=val_fraction, seq_len=seq_len, workers=workers or None, force=force, show_progress=not quiet,
    )
    _print_stats("data prepare (cached)" if stats.cached else "data prepare", stats.to_dict())
    typer.echo(str(out))
