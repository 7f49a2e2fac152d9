"""Syntax-layer commands: languages, parse, cfg, graph, validate."""

from __future__ import annotations

import json

import typer

from treediff_cli.app import app


@app.command()
def languages(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List languages, grammar versions and compiler availability."""
    from treediff.syntax import list_languages

    rows = [
        {
            "name": lang.name,
            "extensions": list(lang.extensions),
            "grammar": f"{lang.grammar_package} {lang.grammar_version}",
        }
        for lang in list_languages()
    ]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("language", "extensions", "grammar")
    for row in rows:
        table.add_row(row["name"], " ".join(row["extensions"]), row["grammar"])
    Console().print(table)
