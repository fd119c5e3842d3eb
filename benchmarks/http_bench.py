"""Reads of ``/checkpoint`` and tiles per second: detente's service against nginx serving the same files.

Needs Debian's ``nginx`` and ``wrk``. Both servers get one process; wrk runs one thread with 16
connections for 5 seconds per URL, on loopback.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.common import Result, report
from detente.tlog.export import export_tiles
from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.storage.sqlite import SQLiteStore
from detente.tlog.tiles import TileRef, tile_path

NGINX_CONF = """
user root;
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ default_type application/octet-stream; }}
    }}
}}
"""


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, tries: int = 200) -> None:
    """Wait (bounded) until a server accepts connections on ``port``."""
    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def running(command: list[str], port: int) -> Iterator[None]:
    """Run a server process for the duration of the block."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        yield
    finally:
        process.terminate()
        process.wait()


def wrk(url: str) -> float:
    """Requests per second that wrk measures for ``url`` (which must answer 200)."""
    assert httpx.get(url).status_code == 200, url
    out = subprocess.run(
        ["wrk", "-t1", "-c16", "-d5s", url], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    assert match is not None, out
    return float(match.group(1))


def main() -> None:
    """Build a log, export it, serve it both ways and measure."""
    if not (shutil.which("nginx") and shutil.which("wrk")):
        print("http benchmark skipped: install Debian's nginx and wrk (apt-get install nginx wrk)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        signer = Signer.generate("bench.example/http")
        log = Log.create(SQLiteStore.connect(folder / "log.db"), signer)
        for start in range(0, 100_000, 10_000):
            log.append([f"entry {i}".encode() for i in range(start, start + 10_000)])
        export_tiles(log, folder / "static")
        log.close()
        (folder / "tmp").mkdir()
        ours_port, nginx_port = free_port(), free_port()
        conf = folder / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=folder, port=nginx_port, root=folder / "static"))
        paths = ["/checkpoint", "/" + tile_path(TileRef(0, 389, 256)), "/" + tile_path(TileRef(1, 1, 134))]
        ours_cmd = [
            sys.executable,
            "-m",
            "benchmarks.http_server",
            str(folder / "log.db"),
            signer.vkey,
            str(ours_port),
        ]
        with running(ours_cmd, ours_port):
            ours = {p: wrk(f"http://127.0.0.1:{ours_port}{p}") for p in paths}
        with running(["nginx", "-c", str(conf), "-p", str(folder)], nginx_port):
            theirs = {p: wrk(f"http://127.0.0.1:{nginx_port}{p}") for p in paths}
    report(
        "HTTP reads of the log (100,000 entries)",
        [Result(f"GET {p}", ours[p], "req/s", "nginx, same files", theirs[p]) for p in paths],
    )


if __name__ == "__main__":
    main()
