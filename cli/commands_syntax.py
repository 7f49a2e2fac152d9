"""Syntax-layer commands: languages, parse, cfg, graph, validate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from treediff_cli.app import app

_LANG = typer.Option(None, "--lang", "-l", help="Language name; detected from the extension by default.")
_OUT = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout.")


def _emit(text: str, out: Optional[Path]) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


@app.command()
def languages(as_json: bool = typer.Option(False, "--json", help="One JSON object per language.")) -> None:
    """List languages, grammar versions and compiler availability.

    Examples:

      treediff languages
      treediff languages --json
    """
    from treediff.validity import language_table

    rows = language_table()
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("language", "extensions", "grammar", "compiler", "available")
    for row in rows:
        table.add_row(
            row["name"],
            " ".join(row["extensions"]),
            f"{row['grammar_package']} {row['grammar_version']}",
            row["compiler"] or "-",
            "yes" if row["compiler_available"] else "no",
        )
    Console().print(table)


@app.command()
def parse(
    file: Path = typer.Argument(..., help="Source file."),
    lang: Optional[str] = _LANG,
    fmt: str = typer.Option("sexp", "--format", "-f", help="sexp | json | dot"),
    out: Optional[Path] = _OUT,
) -> None:
    """Parse a file and print its syntax tree (sexp: indented, one node a line).

    Examples:

      treediff parse examples/python/inventory.py | head
      treediff parse examples/python/inventory.py --format json -o tree.json
    """
    from treediff.syntax.export import export_tree

    _emit(export_tree(file, fmt, language=lang), out)


@app.command()
def cfg(
    file: Path = typer.Argument(..., help="Source file."),
    function: Optional[str] = typer.Option(None, "--function", help="Only this function's CFG."),
    lang: Optional[str] = _LANG,
    fmt: str = typer.Option("dot", "--format", "-f", help="dot | json | png"),
    blocks: bool = typer.Option(False, "--blocks", help="Basic-block graph instead of statements."),
    out: Optional[Path] = _OUT,
) -> None:
    """Build control-flow graphs (module and every function) and print them.

    Examples:

      treediff cfg examples/python/inventory.py --function restock --format dot > restock.dot
      treediff cfg examples/python/inventory.py --format json --blocks
    """
    from treediff.syntax.cfg import export_cfg

    result = export_cfg(file, fmt, function=function, language=lang, blocks=blocks, out=out)
    if result is not None:
        _emit(result, None)


@app.command()
def graph(
    file: Path = typer.Argument(..., help="Source file."),
    lang: Optional[str] = _LANG,
    fmt: str = typer.Option("json", "--format", "-f", help="json | dot | pyg"),
    out: Optional[Path] = _OUT,
) -> None:
    """Export the program graph (AST, tokens, CFG, dataflow) for machine learning.

    Examples:

      treediff graph examples/python/inventory.py --format pyg -o graph.pt
      treediff graph examples/python/inventory.py --format json | head
    """
    from treediff.syntax.export import export_graph

    result = export_graph(file, fmt, language=lang, out=out)
    if result is not None:
        _emit(result, None)


@app.command()
def validate(
    paths: List[Path] = typer.Argument(..., help="Files, directories or JSONL files of samples."),
    lang: Optional[str] = _LANG,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per input."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write a report (.html, .md or .json)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Parallel workers (default: all cores)."),
    no_compiler: bool = typer.Option(False, "--no-compiler", help="Tree-sitter check only."),
    max_bytes: Optional[int] = typer.Option(None, "--max-bytes", help="Size cap per file."),
    compare: Optional[List[Path]] = typer.Option(
        None, "--compare", help="A second run (file, dir or JSONL) to show beside the first in --report."
    ),
    labels: Optional[str] = typer.Option(None, "--labels", help="Run names for the report, e.g. constrained,unconstrained."),
    allow_unresolved: bool = typer.Option(
        False, "--allow-unresolved",
        help="Pass files whose only compiler errors are references to code outside them (missing imports, headers, crates).",
    ),
) -> None:
    """Check syntactic validity with tree-sitter and the language's compiler front end.

    Exit code 0 when everything is valid, 1 when invalid code is found, 2 on input errors.

    Exit code 2 also when there is nothing to check.

    Directories are walked; JSONL files there that are not samples files are skipped.

    Examples:

      treediff validate examples/ --json
      treediff validate samples.jsonl --report report.html
      treediff validate Foo.java --allow-unresolved
    """
    from treediff.validity import run_validate

    code = run_validate(
        paths,
        language=lang,
        as_json=as_json,
        report=report,
        jobs=jobs,
        compiler=not no_compiler,
        max_bytes=max_bytes,
        compare=compare or None,
        labels=None if labels is None else [s.strip() for s in labels.split(",")],
        allow_unresolved=allow_unresolved,
    )
    raise typer.Exit(code)
