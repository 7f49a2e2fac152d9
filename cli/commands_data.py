"""Data commands: ``treediff tokenizer train``, ``treediff data prepare`` and ``treediff data gather``."""

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

_CORPUS_HELP = ("Directories, source files, .zip archives, .jsonl files (fields: code, language, path), Parquet/Arrow "
                "shards (columns content, lang) or a `data gather` output.")


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
    sample_mb_per_language: float = typer.Option(0.0, "--sample-mb-per-language", help="Train on at most this many MB per language (0 = all)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Train a byte-level BPE whose tokens never cross a tree-sitter leaf (a gather output: its train split).

    Examples:

      treediff tokenizer train examples/corpus --vocab-size 2048 --out tok/
    """
    from treediff.data import train_tokenizer

    _, stats = train_tokenizer(
        corpus, out=out, vocab_size=vocab_size, min_frequency=min_frequency, max_bytes=max_bytes,
        max_error_fraction=max_error_fraction, workers=workers or None,
        sample_bytes_per_language=int(sample_mb_per_language * 1e6), show_progress=not quiet,
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
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache matches (replaces any shards in --out)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace shards of another corpus or other settings in --out."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Scan, filter, dedup, split and tokenize a corpus into memory-mapped shards (cached).

    An --out that holds shards of another corpus or other settings is left alone (exit 2, naming what
    differs) unless --overwrite.

    Examples:

      treediff data prepare examples/corpus --tokenizer tok/ --out data/
    """
    from treediff.data import prepare_corpus

    stats = prepare_corpus(
        corpus, tokenizer, out, max_bytes=max_bytes, max_error_fraction=max_error_fraction,
        val_fraction=val_fraction, seq_len=seq_len, workers=workers or None, force=force, overwrite=overwrite,
        show_progress=not quiet,
    )
    _print_stats("data prepare (cached)" if stats.cached else "data prepare", stats.to_dict())
    typer.echo(str(out))


@data_app.command("gather")
def data_gather(
    out: Path = typer.Option(..., "--out", help="Directory for files/, manifest.jsonl, skipped.jsonl, stats.json."),
    languages: str = typer.Option(",".join(("python", "javascript", "typescript", "java", "c", "cpp", "go", "rust")),
                                  "--languages", help="Comma-separated language families to keep."),
    max_mb_per_language: float = typer.Option(50.0, "--max-mb-per-language", help="Stop taking a language's files past this many MB."),
    sources: str = typer.Option("", "--sources", help="Comma-separated source names or kinds (default: all in the sources file)."),
    sources_file: Path = typer.Option(None, "--sources-file", help="A sources TOML (default: treediff/data/sources.toml)."),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Download/extraction cache, reused across runs (default: OUT/cache)."),
    max_file_bytes: int = typer.Option(1_000_000, "--max-file-bytes", help="Skip files larger than this."),
    heldout_fraction: float = typer.Option(0.1, "--heldout-fraction", help="Share of packages (by name hash) held out."),
    near_dup_threshold: float = typer.Option(0.85, "--near-dup-threshold", help="Estimated Jaccard at which a file is a near duplicate."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-source progress lines."),
) -> None:
    """Gather a license-filtered, deduplicated multi-language corpus from pinned local and registry sources.

    Examples:

      treediff data gather --out corpus/ --languages python,go --max-mb-per-language 20
      treediff tokenizer train corpus/ --vocab-size 8192 --sample-mb-per-language 3 --out tok/
    """
    from treediff.data.gather import GatherOptions, gather_corpus

    options = GatherOptions(
        languages=tuple(x for x in languages.split(",") if x.strip()), max_mb_per_language=max_mb_per_language,
        max_file_bytes=max_file_bytes, heldout_fraction=heldout_fraction, near_dup_threshold=near_dup_threshold,
        sources=tuple(x for x in sources.split(",") if x.strip()), sources_file=str(sources_file or ""),
    )
    log = (lambda msg: None) if quiet else (lambda msg: typer.echo(msg, err=True))
    stats = gather_corpus(out, options, cache_dir=cache_dir, log=log)
    rows: dict[str, Any] = {
        lang: f"{v['files']:,} files, {v['bytes'] / 1e6:.1f} MB (held out {v['heldout_files']:,})"
        for lang, v in stats.languages.items()
    }
    rows["total"] = f"{stats.num_files:,} files, {stats.num_bytes / 1e6:.1f} MB in {stats.seconds:.0f} s"
    rows["skipped"] = {k: v for k, v in stats.skipped.items() if v}
    rows["failed sources"] = ", ".join(k for k, v in stats.sources.items() if v["status"].startswith("failed")) or "none"
    _print_stats("data gather", rows)
    typer.echo(str(out))


@data_app.command("ngram")
def data_ngram(
    prepared: Path = typer.Argument(..., help="A directory of prepared shards (`treediff data prepare --out`)."),
    out: Path = typer.Option(..., "--out", help="The n-gram prior file to write (ngram_prior.npz)."),
    top_k: int = typer.Option(8, "--top-k", help="Next tokens kept per context."),
    min_count: int = typer.Option(3, "--min-count", help="Least count of a kept n-gram."),
) -> None:
    """Count the corpus n-gram prior of a model bundle (back-off trigrams per language, docs/sampling.md).

    Examples:

      treediff data ngram runs/corpus/multi --out ngram_prior.npz
      treediff export runs/multi -o my_model --prior ngram_prior.npz
    """
    from treediff.model.ngram import build_prior_from_shards

    if top_k < 1 or min_count < 1:
        raise typer.BadParameter("--top-k and --min-count must be >= 1")
    prior = build_prior_from_shards(prepared, top_k=top_k, min_count=min_count)
    path = prior.save(out)
    typer.echo(f"wrote {path} ({prior.num_entries} n-grams, {path.stat().st_size / 1e6:.1f} MB, "
               f"{len(prior.languages)} languages)", err=True)
