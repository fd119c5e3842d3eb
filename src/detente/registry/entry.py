"""Log entries and blobs.

A log entry is the RFC 8785 bytes of ``{"envelope": ENVELOPE, "received": time}`` (docs/formats.md,
section 5), at most 65,535 bytes. ``received`` is the registry's attestation of when it received the
statement; deadlines and the keyset in force are judged by it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Protocol

import msgspec

from detente.errors import MalformedError, TooLargeError
from detente.statements.canonical import format_time, parse_canonical, parse_time, sha256_hex
from detente.statements.dsse import Envelope
from detente.statements.schema import TIME
from detente.statements.statement import Statement, open_statement

MAX_ENTRY = 0xFFFF


class LogEntry(msgspec.Struct, frozen=True):
    """One log entry: a statement and when the registry received it (a struct: one is built for every
    statement the writer appends)."""

    received: datetime
    statement: Statement

    def encode(self) -> bytes:
        """The entry bytes.

        Raises:
            TooLargeError: over 65,535 bytes (long bodies belong in blobs).
        """
        # RFC 8785 writes an object as its members in key order, each value in its own canonical form:
        # "envelope" sorts before "received", the envelope's bytes are canonical, and a formatted time
        # needs no escaping. So the entry is spliced from the envelope's bytes, not encoded again.
        envelope = self.statement.envelope.encode()
        data = b'{"envelope":%s,"received":"%s"}' % (envelope, _time_bytes(self.received))
        if len(data) > MAX_ENTRY:
            raise TooLargeError(f"the log entry would be {len(data)} bytes; the limit is {MAX_ENTRY}")
        return data

    @classmethod
    def decode(cls, data: bytes) -> LogEntry:
        """Parse and open a log entry strictly."""
        value = parse_canonical(data, "log entry")
        if not isinstance(value, dict) or set(value) != {"envelope", "received"}:
            raise MalformedError("a log entry has exactly envelope and received")
        if not isinstance(value["received"], str) or not re.fullmatch(TIME, value["received"]):
            raise MalformedError("a log entry's received time is not YYYY-MM-DDTHH:MM:SSZ")
        statement = open_statement(Envelope.from_json(value["envelope"]))
        return cls(parse_time(value["received"]), statement)


@lru_cache(maxsize=16)
def _time_bytes(moment: datetime) -> bytes:
    """The formatted time (a batch's entries share one ``received``, so it is formatted once)."""
    return format_time(moment).encode("ascii")


class BlobStore(Protocol):
    """Content-addressed blobs beside the log."""

    def get(self, digest: str) -> bytes | None:
        """The blob with this SHA-256, or None."""
        ...

    def put(self, data: bytes) -> str:
        """Store a blob; return its SHA-256."""
        ...


@dataclass
class MemoryBlobs:
    """Blobs in a dictionary (tests, and a registry's pending overlay)."""

    items: dict[str, bytes] = field(default_factory=dict)

    def get(self, digest: str) -> bytes | None:
        """The blob with this SHA-256, or None."""
        return self.items.get(digest)

    def put(self, data: bytes) -> str:
        """Store a blob; return its SHA-256."""
        digest = sha256_hex(data)
        self.items[digest] = data
        return digest

    def update(self, blobs: Iterable[bytes]) -> None:
        """Store several blobs."""
        for blob in blobs:
            self.put(blob)
