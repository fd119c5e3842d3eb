"""Shared helpers of the command-line shell: error reporting and exit codes in one place.

Exit codes (documented in docs/cli.md): 0 success, 2 usage (Typer), 3 security (tampering or a fork:
treat as an incident), 65 bad input (sysexits EX_DATAERR), 66 not found (EX_NOINPUT), 75 conflict, try
again later (EX_TEMPFAIL), 78 configuration (EX_CONFIG).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from detente.errors import (
    ConfigError,
    ConflictError,
    DetenteError,
    InputError,
    NotFoundError,
    SecurityError,
)

EXIT_CODES: list[tuple[type[DetenteError], int]] = [
    (SecurityError, 3),
    (InputError, 65),
    (NotFoundError, 66),
    (ConflictError, 75),
    (ConfigError, 78),
]

err = Console(stderr=True)


def exit_code(error: DetenteError) -> int:
    """The process exit code for an error."""
    return next((code for kind, code in EXIT_CODES if isinstance(error, kind)), 1)


@contextmanager
def reported() -> Iterator[None]:
    """Turn a DetenteError into a one-line message on stderr and its exit code."""
    try:
        yield
    except DetenteError as error:
        label = "SECURITY" if isinstance(error, SecurityError) else "error"
        err.print(f"[bold red]{label}:[/] {error}", highlight=False)
        raise typer.Exit(exit_code(error)) from None


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on stderr; yields a function that advances it."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
