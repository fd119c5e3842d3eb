"""Shared helpers of the command-line shell: error reporting in one place.

Exit codes (documented in docs/cli.md): 0 success, 2 usage (Typer), those of the error tree
(:func:`detente.errors.exit_code`; 66 also for a file the command was given that does not exist), and
for files: 73 a file it would create exists already (EX_CANTCREAT), 74 any other file error
(EX_IOERR), 77 no permission (EX_NOPERM).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from detente.errors import DetenteError, MalformedError, SecurityError, exit_code, file_problem

err = Console(stderr=True, soft_wrap=True)  # an error is one line, however long (docs/cli.md)


@contextmanager
def reported() -> Iterator[None]:
    """Turn a DetenteError, or a file the command cannot read or write, into one line and an exit code."""
    try:
        yield
    except DetenteError as error:
        label = "SECURITY" if isinstance(error, SecurityError) else "error"
        err.print(f"[bold red]{label}:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(exit_code(error)) from None
    except OSError as error:  # a path the user gave: say which and why, never a traceback
        code, advice = file_problem(error)
        path, why = escape(str(error.filename or "file")), escape(str(error.strerror or error))
        err.print(
            f"[bold red]error:[/] {path}: {why}{advice}",
            highlight=False,
        )
        raise typer.Exit(code) from None


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


LOG_KEY_HELP = "The log's verifier key: its text, or a file holding it (such as DIR/log/log.vkey)."


def log_key_text(value: str) -> str:
    """A verifier key given on the command line as its text or as the path of a file holding it.

    A key's text (``name+hash+base64``) is never the name of an existing file by accident, so an
    existing file is read. A key's text always holds a ``+``: a value without one can only name a file,
    so one that cannot be read is reported as that file (exit 66 for one that does not exist), not as a
    malformed key. Anything else is taken as the key itself (and refused if it is not one).
    """
    path = Path(value)
    try:
        is_file = path.is_file()
    except OSError:  # a long key's text is too long for a file name: it is the key itself
        return value.strip()
    if not is_file and "+" in value:
        return value.strip()
    try:
        return path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as exc:
        raise MalformedError(f"{path} is not a verifier key: it is not even text") from exc
