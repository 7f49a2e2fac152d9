"""The ``treediff`` command: each command declares its options and makes one library call.

Library exceptions become one-line messages and exit codes here, in one place:
0 = success / everything valid, 1 = invalid code found, 2 = usage or input error.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from treediff.errors import TreediffError

__all__ = ["app", "main", "fail", "CommandGroup"]

def _show_flags_as_flags(command, ctx) -> None:
    """Boolean flags take no value: show ``--json``, not ``--json <bool>``, in ``--help``."""
    for param in command.get_params(ctx) if command is not None else ():
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


class CommandGroup(TyperGroup):
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

    def get_command(self, ctx, cmd_name):  # type: ignore[override]
        command = super().get_command(ctx, cmd_name)
        _show_flags_as_flags(command, ctx)
        return command

    def format_help(self, ctx, formatter):  # type: ignore[override]
        _show_flags_as_flags(self, ctx)
        return super().format_help(ctx, formatter)


app = typer.Typer(
    cls=CommandGroup,
    name="treediff",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from treediff import __version__

        typer.echo(f"treediff {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Structure-aware syntax-tree diffusion for source code.

    Examples:

      treediff synth examples/specs/humaneval_head.jsonl --json > programs.jsonl
      treediff validate examples/ --report report.html
      treediff COMMAND --help
    """


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
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # a (vendored) click exception
            where = getattr(getattr(exc, "ctx", None), "command_path", None)
            hint = f" (see '{where} --help')" if where else ""
            typer.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(2 if exc.exit_code is None else exc.exit_code)
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
