"""The ``detente`` command line: a thin shell over the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from detente.audit.cli import audit_command
from detente.monitor.cli import app as monitor_app
from detente.registry.cli import app as registry_app
from detente.service.cli import serve_command
from detente.shell import reported
from detente.tlog.cli import app as log_app
from detente.witness.cli import app as witness_app

app = typer.Typer(no_args_is_help=True, help="detente: verifiable assurances of non-interference.")
# The acts of the assurances (offer, accept, ..., verify, example) are top-level commands.
app.registered_commands.extend(registry_app.registered_commands)
app.registered_groups.extend(registry_app.registered_groups)
app.add_typer(log_app, name="log")
app.add_typer(witness_app, name="witness")
app.add_typer(monitor_app, name="monitor")
app.command("audit")(audit_command)
app.command("serve")(serve_command)


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Folder for the demonstration log.")] = Path(
        "var/demo"
    ),
) -> None:
    """Demonstrate the log: create, append, sign a checkpoint, prove and verify."""
    from detente.demo import run_demo

    with reported():
        run_demo(directory)


def main() -> None:
    """Entry point of the ``detente`` console script."""
    app()
