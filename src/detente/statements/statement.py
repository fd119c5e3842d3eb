"""Statements: build, sign and open.

Invariants: an opened :class:`Statement` came from a payload that is canonical, at most
:data:`MAX_PAYLOAD` bytes, valid against its kind's schema, and whose ``kind`` matches the envelope's
``payloadType``. Opening does not check signatures against a keyset: that needs the keyset in force,
which the registry (or the offline verifier) supplies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from detente.errors import InputError, MalformedError, TooLargeError
from detente.statements import typed
from detente.statements.canonical import (
    canonical,
    parse_canonical,
    parse_time,
    reparse_canonical,
    sha256_hex,
)
from detente.statements.dsse import Envelope, Outcomes, sign_envelope
from detente.statements.keys import SigningKey
from detente.statements.kinds import BODIES, PAYLOAD_SCHEMAS, PAYLOAD_TYPES, payload_type

MAX_PAYLOAD = 32_768


@dataclass(frozen=True)
class Statement:
    """An opened statement: its header, body, payload bytes and envelope."""

    kind: str
    party: str
    issued: str
    body: Mapping[str, Any] = field(hash=False)
    envelope: Envelope

    @cached_property
    def sid(self) -> str:
        """The statement id: SHA-256 of the payload bytes."""
        return sha256_hex(self.envelope.payload)

    @property
    def issued_at(self) -> datetime:
        """The author's date as a datetime."""
        return parse_time(self.issued)


def make_payload(kind: str, party: str, issued: str, body: Mapping[str, Any]) -> bytes:
    """Return the canonical payload bytes after checking them against the kind's schema."""
    if kind not in BODIES:
        raise MalformedError(f"unknown statement kind {kind[:40]!r}")
    value = {"kind": kind, "party": party, "issued": issued, "body": dict(body)}
    PAYLOAD_SCHEMAS[kind](value)
    payload = canonical(value)
    if len(payload) > MAX_PAYLOAD:
        raise TooLargeError(f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD}")
    return payload


def sign_statement(
    kind: str, party: str, issued: str, body: Mapping[str, Any], keys: Iterable[SigningKey]
) -> Statement:
    """Build, sign and return a statement (signing is local: no network, no clock)."""
    payload = make_payload(kind, party, issued, body)
    return open_statement(sign_envelope(payload_type(kind), payload, keys))


def read_statement(data: bytes) -> Statement:
    """Decode envelope bytes and open their statement: what a registry does first with a submission.

    The payload is read first by its kind's msgspec types (:mod:`.typed`), and strictly
    (:func:`read_strictly`) only where that reading does not vouch for it: so this accepts exactly
    what :func:`read_strictly` accepts, gives the same statement, and refuses the rest with the same
    message (property tests hold the two together), at a little over half the cost for a valid one.

    Raises:
        InputError: the bytes are not an acceptable statement.
    """
    read = _first_reading(data)
    return read if isinstance(read, Statement) else _statement_of(read, reparse_canonical(read.payload))


def read_strictly(data: bytes) -> Statement:
    """The strict reading of envelope bytes: the reference that the typed readings are held to.

    Any failure is this input's refusal, never the caller's crash: the parsers raise
    :class:`MalformedError` for everything they know of, and anything else they let through (a bug of
    theirs or of a library, met on hostile bytes) is refused as malformed too, so that one submission
    can never fail the others of its batch.

    Raises:
        InputError: the bytes are not an acceptable statement.
    """
    try:
        return open_statement(Envelope.decode(data))
    except InputError:
        raise
    except Exception as exc:  # opening is stateless: refusing is always safe
        raise MalformedError(f"the statement cannot be read ({type(exc).__name__})") from exc


def check_statement(data: bytes) -> Envelope:
    """What :func:`read_statement` checks of ``data``, without building the statement: its envelope.

    Raises:
        InputError: the bytes are not an acceptable statement.
    """
    read = _first_reading(data)
    return read.envelope if isinstance(read, Statement) else read


def check_statements(chunk: Sequence[bytes]) -> list[Envelope | InputError]:
    """:func:`check_statement` of each of ``chunk``: its envelope, or its refusal in its place.

    In two passes, every envelope read and then every payload: one kind of work many times in a row,
    which the core's caches reward (a pre-verifier's chunk, docs/performance.md, twenty-third session).
    """
    envelopes = [_typed_envelope(data) for data in chunk]
    out: list[Envelope | InputError] = []
    for data, envelope in zip(chunk, envelopes, strict=True):
        if envelope is not None and _vouched(envelope):
            out.append(envelope)
            continue
        try:
            out.append(read_strictly(data).envelope)
        except InputError as exc:
            out.append(exc)
    return out


def _first_reading(data: bytes) -> Envelope | Statement:
    """The envelope of ``data`` if the typed reading vouches for its payload (then it is a canonical,
    valid payload of its kind, within the size limit); else the statement read strictly.

    Raises:
        InputError: the bytes are not an acceptable statement (only the strict reading refuses).
    """
    envelope = _typed_envelope(data)
    if envelope is not None and _vouched(envelope):
        return envelope
    return read_strictly(data)


def _typed_envelope(data: bytes) -> Envelope | None:
    """The envelope in ``data``, or None: the strict reading then names the fault."""
    try:
        return Envelope.decode(data)
    except Exception:  # the strict reading names the fault, or accepts
        return None


def _vouched(envelope: Envelope) -> bool:
    """Whether the typed reading vouches for the envelope's payload (False decides nothing)."""
    kind = PAYLOAD_TYPES.get(envelope.payload_type)
    try:
        return (
            kind is not None
            and len(envelope.payload) <= MAX_PAYLOAD
            and typed.accepts(kind, envelope.payload)
        )
    except Exception:  # the strict reading names the fault, or accepts
        return False


def reopen_statement(data: bytes, outcomes: Outcomes, sid: str) -> Statement:
    """The statement :func:`read_statement` opened from ``data`` elsewhere, with its signature outcomes
    and statement id.

    Nothing is checked again: only for bytes that :func:`read_statement` (or :func:`check_statement`,
    which accepts the same) accepted in this service (a pre-verifier's, which sends back only the
    outcomes and the id, so that the writer need not receive the whole statement). The bytes are parsed
    again as :func:`read_statement` parses them, so the result equals what it returns (a property test
    holds the two to it). ``sid`` is the id the pre-verifier computed from these bytes (hashed there, off the
    writer's thread), taken as given.
    """
    envelope = Envelope.reopen(data, outcomes)
    statement = _statement_of(envelope, reparse_canonical(envelope.payload))
    # the id the writer asks for at once, set here: the cached property's first reading takes a lock
    statement.__dict__["sid"] = sid
    return statement


def _statement_of(envelope: Envelope, value: dict[str, Any]) -> Statement:
    """The statement of an accepted payload's ``value`` (built without the dataclass's checks)."""
    statement = object.__new__(Statement)
    statement.__dict__.update(
        kind=value["kind"],
        party=value["party"],
        issued=value["issued"],
        body=value["body"],
        envelope=envelope,
    )
    return statement


def open_statement(envelope: Envelope) -> Statement:
    """Parse and validate an envelope's payload.

    Raises:
        MalformedError: unknown payloadType, non-canonical or invalid payload, or a kind that does not
            match the payloadType.
        TooLargeError: the payload is over the limit.
    """
    kind = PAYLOAD_TYPES.get(envelope.payload_type)
    if kind is None:
        raise MalformedError(f"unknown payloadType {envelope.payload_type[:80]!r}")
    if len(envelope.payload) > MAX_PAYLOAD:
        raise TooLargeError(f"payload is {len(envelope.payload)} bytes; the limit is {MAX_PAYLOAD}")
    value = parse_canonical(envelope.payload, "statement payload")
    if isinstance(value, dict) and value.get("kind") != kind:
        raise MalformedError(f"payload says kind {str(value.get('kind'))[:40]!r} but is signed as {kind!r}")
    PAYLOAD_SCHEMAS[kind](value)
    return Statement(kind, value["party"], value["issued"], value["body"], envelope)
