"""``detente serve``: run the registry service (SQLite by default, PostgreSQL by ``DETENTE_DATABASE_URL``).

The first run creates the keys, the settings and the database, and loads the example record (when the
registry package provides one); later runs reuse them. Ctrl-C stops the server, lets the writer finish
the batches it holds, and closes the database.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import parse_qs, urlsplit

import typer

from detente.shell import reported

if TYPE_CHECKING:  # the service (FastAPI, uvicorn, httpx for webhooks) is loaded by `detente serve` alone
    from detente.service.core import RegistryService
    from detente.service.home import ServiceHome

DEFAULT_DIR = Path("var/registry")
DirOption = Annotated[Path, typer.Option("--dir", help="The registry's folder (made on first run).")]


def describe_store(url: str | None, home: ServiceHome) -> str:
    """Where the data lives, without any password the URL may hold."""
    if not url:
        return f"SQLite {home.log_home.path / 'log.db'}"
    parts = urlsplit(url)
    schema = parse_qs(parts.query).get("schema", [""])[0]
    where = f"{parts.hostname or 'localhost'}{f':{parts.port}' if parts.port else ''}{parts.path}"
    return f"PostgreSQL {where}" + (f", schema {schema}" if schema else "")


def load_example(service: RegistryService) -> int:
    """Load the example record into the new registry (before the writer starts); return the entries.

    The example parties' keys are generated for the occasion and not kept: the example is a record to
    read, not parties to act as.
    """
    from detente.registry.example import build_example

    before = service.registry.log.size
    build_example(service.registry, os.urandom)
    return service.registry.log.size - before


def prepare(home: ServiceHome) -> tuple[RegistryService, bool]:
    """Open the registry in ``home``, creating it on the first run; return it and whether it is new.

    A registry made by ``detente init`` or ``detente example`` is served as it is (default settings
    are written beside it); only an empty folder gets a new registry with the example record.
    """
    from detente.service.core import RegistryService
    from detente.service.home import DATABASE_ENV, Settings

    if home.adoptable():
        home.adopt()
    created = not home.exists()
    if created:
        home.init(Settings(), os.environ.get(DATABASE_ENV) or None)
    service = RegistryService.open(home)
    if created:
        try:
            load_example(service)
        except BaseException:
            service.close()
            raise
    return service, created


def _stop(signum: int, frame: object) -> None:
    """SIGTERM after uvicorn's graceful shutdown: leave through ``finally``, like Ctrl-C."""
    raise SystemExit(0)


def serve_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="The registry's folder (made on first run).")
    ] = DEFAULT_DIR,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    # a TCP port: out of range is a usage error (exit 2), as a port that is not a number is; 0 would
    # listen on a port the system picks, which the URLs printed could not name
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Run the registry: HTTP API, C2SP tiles, witnesses, and the public web pages."""
    import uvicorn

    from detente.service.app import create_app
    from detente.service.core import tune_collector
    from detente.service.home import ServiceHome

    home = ServiceHome(directory)
    with reported():
        _check_listenable(host, port)
        service, created = prepare(home)
    try:
        tune_collector()  # after the replay: the projection is frozen out of the collector's sight
        service.start(warm=True)
        url = f"http://{host}:{port}"
        size = service.read(lambda reg: reg.log.size)
        typer.echo(f"{'created' if created else 'opened'} the registry in {directory} ({size} entries)")
        typer.echo(f"data: {describe_store(home.log_home.config()['database'], home)}")
        typer.echo(f"log key: {(home.log_home.path / 'log.vkey').read_text(encoding='utf-8').strip()}")
        typer.echo(f"notary key: {service.registry.notary.public.b64}")
        typer.echo(f"web: {url}/   API: {url}/docs   checkpoint: {url}/checkpoint   verify: {url}/verify")
        typer.echo("stop with Ctrl-C")
        # uvicorn stops gracefully on SIGTERM and then raises the signal again under the handler it found:
        # the default one would end the process here, before the service (and its worker processes)
        # is closed below.
        signal.signal(signal.SIGTERM, _stop)
        proxies = service.settings.trusted_proxies
        uvicorn.run(
            create_app(service),
            host=host,
            port=port,
            log_level="warning",
            # X-Forwarded-For names the client (for the rate limit) only when a trusted proxy sends it
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies or None,
        )
    finally:
        service.close()
        typer.echo("stopped; every acknowledged statement is in the log")


def _check_listenable(host: str, port: int) -> None:
    """Refuse at once, before the registry opens, an address this process cannot listen on (uvicorn
    would report it only after start-up, with its own exit code 3, which detente keeps for security).

    Raises:
        ConfigError: the address is taken, or not this machine's, or the port is not allowed.
    """
    from detente.errors import ConfigError

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): stop what holds it, or choose "
            "another --port or --host"
        ) from None
