"""Submissions through the HTTP API under concurrent load on loopback: rate, and submit-to-proof latency.

Run: ``python -m benchmarks.service_bench [--statements N] [--clients C]``. A real uvicorn serves the
registry (SQLite); C client threads POST pre-signed incident statements; each answer (201) carries the
entry's inclusion proof and checkpoint, so the latency measured is submit-to-proof. Baselines in the
same run: as many statements through the same service in process (``benchmarks.assurances.submit_rate``),
and raw Ed25519 verification.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

from benchmarks.assurances.submit_rate import _incident, raw_verify_rate, service_rate, start_service
from benchmarks.common import Result, report
from detente.service.app import create_app
from detente.service.core import RegistryService
from detente.statements.canonical import format_time


def serve(service: RegistryService) -> tuple[str, uvicorn.Server, threading.Thread]:
    """uvicorn on a free loopback port, in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    server = uvicorn.Server(uvicorn.Config(create_app(service), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


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
        service, cert = start_service(Path(tmp) / "http")
        now = format_time(datetime.now(UTC))
        envelopes = [_incident(cert, n, now) for n in range(args.statements)]
        bodies = [b'{"envelope":' + e + b',"blobs":[]}' for e in envelopes]
        url, server, thread = serve(service)
        elapsed, latencies = load(url, bodies, args.clients)
        server.should_exit = True
        thread.join()
        service.close()
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
