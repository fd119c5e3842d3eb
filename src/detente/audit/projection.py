"""Rebuild the registry's projections from the log's entries alone and compare them with the API.

The auditor replays every entry it fetched into its own :class:`~detente.accords.projection.Projection`
(blobs fetched from the API and checked against their SHA-256), renders it with the same views the
service uses, and compares: parties and keysets, exchanges, declarations' records, protests, incidents.
A difference is an alarm. If the log grew while comparing, the comparison waits for the next step
rather than raise a false alarm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx

from detente.accords.projection import Projection
from detente.errors import TamperError
from detente.registry import views
from detente.registry.entry import LogEntry
from detente.statements.canonical import sha256_hex
from detente.statements.keys import PublicKey
from detente.tlog.checkpoint import open_checkpoint
from detente.tlog.note import Ed25519Verifier

ProjectionCheck = Callable[[Sequence[bytes], httpx.Client], list[str]]


def _blob_fetcher(http: httpx.Client) -> Callable[[str], bytes | None]:
    cache: dict[str, bytes] = {}

    def get(digest: str) -> bytes | None:
        if digest not in cache:
            response = http.get(f"/v1/blobs/{digest}")
            if response.status_code == 404:
                return None
            data = response.raise_for_status().content
            if sha256_hex(data) != digest:
                raise TamperError(f"the registry served blob {digest[:16]}... with other content")
            cache[digest] = data
        return cache[digest]

    return get


def rebuild(entries: Sequence[bytes], notary: PublicKey, http: httpx.Client) -> Projection:
    """The projection of ``entries``, replayed from nothing."""
    projection = Projection(notary, _blob_fetcher(http))
    for data in entries:
        entry = LogEntry.decode(data)
        projection.apply(entry.statement, entry.received)
    return projection


def _expected(projection: Projection) -> dict[str, Any]:
    return {
        "/v1/exchanges": [views.exchange_json(e) for e in projection.exchanges.values()],
        "/v1/protests": [views.protest_json(p) for p in projection.protests.values()],
        "/v1/incidents": [views.incident_json(i) for i in projection.incidents.values()],
        "/v1/parties": sorted(projection.keysets),
    }


def _served(http: httpx.Client, path: str) -> Any:
    body = http.get(path).raise_for_status().json()
    if path == "/v1/parties":
        return sorted(p["party"] for p in body)
    return body


def projection_check(notary: PublicKey, log_key: Ed25519Verifier) -> ProjectionCheck:
    """A check for :class:`~detente.audit.follow.Auditor`, given the notary key obtained independently
    and the log's key (the check reads the log's size from a checkpoint it verifies: an unsigned one
    could otherwise claim the log moved, and silence every comparison)."""

    def check(entries: Sequence[bytes], http: httpx.Client) -> list[str]:
        expected = _expected(rebuild(entries, notary, http))
        served = {path: _served(http, path) for path in expected}
        note = http.get("/checkpoint").raise_for_status().text
        if open_checkpoint(note, log_key).checkpoint.size != len(entries):
            return []  # the log moved while comparing: compare at the next step
        return [
            f"{path}: the registry serves {_short(served[path])}, the log implies {_short(want)}"
            for path, want in expected.items()
            if served[path] != want
        ]

    return check


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 160 else text[:157] + "..."
