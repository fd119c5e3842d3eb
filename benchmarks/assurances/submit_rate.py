"""Statements per second through ``Registry.submit_batch`` on SQLite, against the raw Ed25519 verify rate.

Run: ``python -m benchmarks.assurances.submit_rate [--statements N] [--batch B]``. Statements are signed
before the clock starts (signing happens on the parties' machines); the timed path is what the registry
does: decode, schema, signature against the keyset in force, protocol checks, entry encoding, append
with a signed checkpoint in one SQLite transaction per batch.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nacl.signing

from detente.accords.acts import Authority
from detente.registry.core import Registry, Request
from detente.registry.home import RegistryHome
from detente.statements.canonical import format_time, sha256_hex
from detente.statements.keys import SigningKey
from detente.statements.keysets import keyset_body, sign_keyset


def raw_verify_rate(seconds: float = 2.0) -> float:
    """Ed25519 verifications per second with PyNaCl, one core."""
    key = nacl.signing.SigningKey.generate()
    message = os.urandom(400)
    signed = key.sign(message)
    verify = key.verify_key.verify
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(500):
            verify(signed)
        count += 500
    return count / (time.perf_counter() - start)


def _incident(by: Authority, n: int, now: str) -> bytes:
    body = {
        "iid": os.urandom(16).hex(), "to": "US", "monitor_id": f"{n:016x}",
        "asset": {"name": "cec", "kind": "election-body"}, "attack": "flood", "start": now, "end": now,
        "requests": 1000 + n, "peak_per_minute": 60, "sources": 3,
        "origin": {"country": "US", "requests": 1000, "sources": 3}, "networks": [], "clauses": [],
        "evidence": sha256_hex(n.to_bytes(8, "big")), "attributed_actor": None,
    }  # fmt: skip
    return by.sign("incident", now, body).envelope.encode()


def setup(folder: Path) -> tuple[Registry, Authority]:
    """A registry on SQLite with one registered party."""
    home = RegistryHome(folder)
    home.init("bench.registry", "notary")
    registry = home.open(lambda: datetime.now(UTC).replace(microsecond=0))
    root, fm, cert = (SigningKey.generate(os.urandom) for _ in range(3))
    roles = {"root": ([root.public], 1), "foreign-minister": ([fm.public], 1), "cert": ([cert.public], 1)}
    now = format_time(datetime.now(UTC))
    keyset = sign_keyset("RU", now, keyset_body(1, None, roles), [root])
    registry.submit(keyset.envelope.encode(), register=True)
    return registry, Authority("RU", (cert,))


def main(argv: list[str] | None = None) -> None:
    """Measure and print both rates."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args(argv)
    raw = raw_verify_rate()
    with tempfile.TemporaryDirectory() as tmp:
        registry, cert = setup(Path(tmp) / "reg")
        now = format_time(datetime.now(UTC))
        envelopes = [_incident(cert, n, now) for n in range(args.statements)]
        start = time.perf_counter()
        for i in range(0, len(envelopes), args.batch):
            results = registry.submit_batch([Request(e) for e in envelopes[i : i + args.batch]])
            assert all(not isinstance(r, Exception) for r in results)
        elapsed = time.perf_counter() - start
        getattr(registry.log, "close", lambda: None)()
    rate = args.statements / elapsed
    print(f"raw Ed25519 verify (PyNaCl, 1 core): {raw:,.0f}/s")
    print(f"submit on SQLite (batch {args.batch}): {rate:,.0f} statements/s = {rate / raw:.0%} of 1 core raw")


if __name__ == "__main__":
    main()
