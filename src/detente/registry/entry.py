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
from detente.statements.statement import Statement, open_statement, read_statement

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
        """Parse and open a log entry: typed first (:func:`_read_typed`), strictly where that declines.

        Both accept the same entries and give the same entry (a test holds them together on every
        byte changed), so the replay reads most entries at the typed reading's cost; a refusal always
        comes from :meth:`decode_strictly`, which names the fault.
        """
        typed = _read_typed(data)
        return typed if typed is not None else cls.decode_strictly(data)

    @classmethod
    def decode_strictly(cls, data: bytes) -> LogEntry:
        """Parse and open a log entry strictly: the reference the typed reading is held to."""
        value = parse_canonical(data, "log entry")
        if not isinstance(value, dict) or set(value) != {"envelope", "received"}:
            raise MalformedError("a log entry has exactly envelope and received")
        if not isinstance(value["received"], str) or not _RECEIVED.fullmatch(value["received"]):
            raise MalformedError("a log entry's received time is not YYYY-MM-DDTHH:MM:SSZ")
        statement = open_statement(Envelope.from_json(value["envelope"]))
        return cls(parse_time(value["received"]), statement)


class _EntryWire(msgspec.Struct, forbid_unknown_fields=True):
    """A log entry as its canonical JSON spells it: the envelope's bytes kept as they are."""

    envelope: msgspec.Raw
    received: str


_ENTRY_DECODER = msgspec.json.Decoder(_EntryWire)
_RECEIVED = re.compile(TIME)


def _read_typed(data: bytes) -> LogEntry | None:
    """The entry in ``data`` if it is exactly the splice :meth:`LogEntry.encode` writes, of a time in
    its one spelling and an envelope :func:`read_statement` accepts (so canonical, its payload valid);
    else None, and the strict reading decides."""
    try:
        wire = _ENTRY_DECODER.decode(data)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None
    envelope, received = bytes(wire.envelope), wire.received
    if not _RECEIVED.fullmatch(received):  # ASCII digits and separators: written as read
        return None
    if data != b'{"envelope":%s,"received":"%s"}' % (envelope, received.encode("ascii")):
        return None  # another order, a space, an escape: not the entry's canonical bytes
    try:
        return LogEntry(_received_at(received), read_statement(envelope))
    except Exception:  # declining decides nothing: the strict reading names the fault
        return None


@lru_cache(maxsize=16)
def _received_at(text: str) -> datetime:
    """The parsed time (a batch's entries share one ``received``: parsed once, as it is formatted)."""
    return parse_time(text)


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
