"""The ``detente`` command line: a thin shell over the library."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="detente: verifiable assurances of non-interference.")


def main() -> None:
    """Entry point of the ``detente`` console script."""
    app()
