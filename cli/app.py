"""The ``treediff`` command: each command declares its options and makes one library call.

Library exceptions become one-line messages and exit codes here, in one place:
0 = success / everything valid, 1 = invalid code found, 2 = usage or input error.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from treediff.errors import TreediffError

class _Group(TyperGroup):
    """Maps library errors to a one-line message and exit code, for every command.

    Doing it here (not only in :func:`main`) gives the same behaviour under
    ``typer.testing.CliRunner`` as from the console script.
    """

    def invoke(self, ctx):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except TreediffError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="treediff",
    help="Structure-aware syntax-tree diffusion for source code.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Structure-aware syntax-tree diffusion for source code."""


def fail(message: str, code: int = 2) -> "typer.Exit":
    """Print a one-line error to stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


# Command modules register themselves on `app` when imported.
from treediff_cli import commands_syntax  # noqa: E402,F401
from treediff_cli import commands_noise  # noqa: E402,F401
from treediff_cli import commands_data  # noqa: E402,F401
from treediff_cli import commands_train  # noqa: E402,F401
from treediff_cli import commands_sample  # noqa: E402,F401
from treediff_cli import commands_eval  # noqa: E402,F401


def main() -> None:
    """Entry point: run the app, mapping library errors to one-line messages."""
    try:
        rc = app(standalone_mode=False)  # click returns (not raises) a typer.Exit's code here
        sys.exit(rc if isinstance(rc, int) else 0)
    except TreediffError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors and anything unexpected: one line, exit 2
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # a (vendored) click exception
            exc.show()
            sys.exit(2 if exc.exit_code is None else exc.exit_code)
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
