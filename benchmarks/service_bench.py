"""Submissions through the HTTP API under concurrent load on loopback: rate, and submit-to-proof latency.

Run: ``python -m benchmarks.service_bench [--statements N] [--clients C]``. The registry (SQLite) is
served as it is deployed: ``detente serve`` in a process of its own (with its pre-verifier processes);
C client threads in this process POST pre-signed incident statements; each answer (201) carries the
entry's inclusion proof and checkpoint, so the latency measured is submit-to-proof. Baselines in the
same run: as many statements through the same service in process (``benchmarks.assurances.submit_rate``),
and raw Ed25519 verification. Clients and server share the machine's two cores.
"""

from __future__ import annotations

import argparse
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.assurances.submit_rate import _incident, raw_verify_rate, service_rate, start_service
from benchmarks.common import Result, report
from detente.statements.canonical import format_time


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """``detente serve --dir folder`` on a free loopback port, in a process of its own; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).with_name("detente")), "serve", "--dir", str(folder)]
    proc = subprocess.Popen([*command, "--port", str(port)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)  # a graceful stop: the service closes its workers
        proc.wait(timeout=60)


def _wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"detente serve exited with status {proc.returncode}")
        try:
            if httpx.get(f"{url}/v1/registry", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # polling a starting server, in a benchmark: no test waits on time
    raise SystemExit("detente serve did not answer within 60 s")


def load(url: str, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    """POST every body from ``clients`` threads; return (elapsed, latencies in ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def one(body: bytes) -> None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=url, timeout=60)
        start = time.perf_counter()
        response = local.http.post(
            "/v1/statements", content=body, headers={"content-type": "application/json"}
        )
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 201, response.text
        assert response.json()["tlog_proof"].startswith("c2sp.org/tlog-proof@v1")
        with lock:
            latencies.append(elapsed)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, bodies))
    return time.perf_counter() - start, latencies


def main(argv: list[str] | None = None) -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args(argv)
    raw = raw_verify_rate()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "http"
        service, cert = start_service(folder)  # the home, its limits and one registered party
        service.close()
        now = format_time(datetime.now(UTC))
        envelopes = [_incident(cert, n, now) for n in range(args.statements)]
        bodies = [b'{"envelope":' + e + b',"blobs":[]}' for e in envelopes]
        with served(folder) as url:
            elapsed, latencies = load(url, bodies, args.clients)
        in_process = service_rate(Path(tmp) / "direct", args.statements, None).rate
    cuts = statistics.quantiles(latencies, n=100)
    rate = args.statements / elapsed
    report(
        f"registry service ({args.statements:,} submissions, {args.clients} clients)",
        [
            Result("HTTP submissions", rate, "statements/s", "in process, same writer", in_process),
            Result("HTTP submissions", rate, "statements/s", "raw Ed25519 verify, 1 core", raw),
            Result("submit-to-proof latency p50", cuts[49], "ms"),
            Result("submit-to-proof latency p99", cuts[98], "ms", "aim", 1000.0),
        ],
    )


if __name__ == "__main__":
    main()
