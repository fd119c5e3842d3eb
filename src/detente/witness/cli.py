"""``detente witness``: run a C2SP tlog-witness."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from detente.shell import LOG_KEY_HELP, log_key_text, reported
from detente.witness.home import WitnessHome

app = typer.Typer(no_args_is_help=True, help="A C2SP tlog-witness: cosigns consistent checkpoints only.")
DirOption = Annotated[Path, typer.Option("--dir", help="The witness's folder (key, trusted logs, state).")]


@app.command()
def init(directory: DirOption, name: Annotated[str, typer.Option(help="The witness's key name.")]) -> None:
    """Create a witness key (mode 0600) and an empty list of trusted logs."""
    with reported():
        signer = WitnessHome(directory).init(name)
        typer.echo(f"witness verifier key: {signer.vkey}")


@app.command()
def trust(directory: DirOption, log_key: Annotated[str, typer.Argument(help=LOG_KEY_HELP)]) -> None:
    """Trust a log: cosign its checkpoints from now on."""
    with reported():
        origin = WitnessHome(directory).add_log(log_key_text(log_key))
        typer.echo(f"now witnessing {origin}")


@app.command()
def serve(
    directory: DirOption,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
) -> None:
    """Serve POST /add-checkpoint until interrupted."""
    import uvicorn

    from detente.witness.app import create_app

    with reported():
        home = WitnessHome(directory)
        state = home.state()
        app_ = create_app(home.signer(), home.logs(), state)
        try:
            uvicorn.run(app_, host=host, port=port, log_level="info")
        finally:
            state.close()
