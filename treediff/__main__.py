"""``python -m treediff``: the CLI (the library itself never imports typer)."""

from treediff_cli.app import main

if __name__ == "__main__":
    main()
