"""Strict JSON in, RFC 8785 canonical bytes out.

Invariants: :func:`parse_canonical` accepts bytes only if they are exactly the RFC 8785 serialisation of
the value they parse to, so one value has one spelling and one hash. Numbers are integers only (our
formats have no floats, and float spelling is where canonicalisers disagree). Duplicate keys, NaN and
invalid UTF-8 are refused; every foreign error becomes :class:`~detente.errors.MalformedError`.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, NoReturn

import msgspec
import rfc8785

from detente.errors import MalformedError
from detente.tlog.note import b64decode, b64encode

# Strict, canonical standard base64: one implementation for the whole project (detente.tlog.note).
b64d = b64decode
b64e = b64encode

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


MAX_SAFE = 2**53 - 1


def _fast_path_ok(value: Any) -> bool:
    """Whether the fast encoder (:func:`_dumps`) gives the RFC 8785 bytes of ``value``.

    It does for null, booleans, safe integers, strings and containers of them whose object keys are all
    in the Basic Multilingual Plane (RFC 8785 sorts keys by UTF-16 code units, Python by code points:
    the two orders differ only when a key holds a character above U+FFFF). Floats are left to rfc8785.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if any(not isinstance(k, str) or (not k.isascii() and max(map(ord, k)) > 0xFFFF) for k in item):
                return False
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        elif not isinstance(item, int) or not -MAX_SAFE <= item <= MAX_SAFE:
            return False
    return True


# One encoder and one decoder, built once (building them is a good part of a small document's cost).
# Both are safe to share between threads: neither keeps state between documents. msgspec's encoder, keys
# sorted, writes what the standard library's does (sorted keys, no spaces, UTF-8, the escapes of
# ECMAScript's JSON.stringify) four times faster; it is only ever given values without floats.
_ENCODER = msgspec.json.Encoder(order="sorted")


def _dumps(value: Any) -> bytes:
    return _ENCODER.encode(value)


def canonical(value: Any) -> bytes:
    """Return the RFC 8785 bytes of ``value``.

    The fast path (msgspec's C encoder: sorted keys, no spaces, UTF-8, the same escapes as ECMAScript's
    JSON.stringify) is taken only where it is byte-identical to RFC 8785; a test compares both on random
    values.
    """
    try:
        if _fast_path_ok(value):
            return _dumps(value)
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, msgspec.EncodeError, TypeError, ValueError) as exc:
        raise MalformedError(f"value cannot be written as canonical JSON: {exc}") from exc


def _refuse_float(text: str) -> NoReturn:
    raise MalformedError(f"JSON number {text[:20]!r} is not an integer")


def _safe_int(text: str) -> int:
    # length first: int() of a long digit string costs quadratic time, and past 4300 digits raises a
    # ValueError of its own; no safe integer has more than 16 digits and a sign
    if len(text) > 17:
        raise MalformedError(f"JSON integer {text[:20]}... is outside the safe range of RFC 8785")
    value = int(text)
    if not -MAX_SAFE <= value <= MAX_SAFE:
        raise MalformedError(f"JSON integer {text[:20]}... is outside the safe range of RFC 8785")
    return value


# msgspec's decoder for the fast path: strict JSON, and floats refused through the hook. It reads integers
# of any length (the safe range is checked before it runs: _may_hold_a_long_number) and keeps the last
# of duplicate keys (the canonical re-encoding is then shorter than the input, so it is refused).
_DECODER = msgspec.json.Decoder(float_hook=_refuse_float)
_BEYOND_BMP = re.compile(b"[\xf0-\xf4]")  # the lead bytes of UTF-8's four-byte sequences


def _number_shapes() -> bytes:
    table = bytearray(b"." * 256)
    table[ord("0") : ord("9") + 1] = b"0" * 10
    for byte in b":,[":
        table[byte] = ord(":")
    table[ord("-")] = ord("-")
    return bytes(table)


# Every number of canonical JSON follows a ':', ',' or '[' (or starts the text); one of 16 digits or more
# may be outside the safe range. Bytes are mapped to their shape (digits to 0, those three to ':') and the
# shape searched, at C speed (a regular expression took 20 times longer). A string that happens to hold
# such a run only sends its document to the strict path.
_SHAPES = _number_shapes()
_LONG = b"0" * 16


def _may_hold_a_long_number(data: bytes) -> bool:
    shape = b":" + data.translate(_SHAPES)
    return b":" + _LONG in shape or b":-" + _LONG in shape


def _parse(data: bytes, what: str) -> tuple[Any, bool]:
    """Parse strictly; also report whether every object key is in the BMP (the fast path applies)."""
    bmp = True

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal bmp
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                raise MalformedError(f"duplicate JSON key {key[:40]!r}")
            if not key.isascii() and max(map(ord, key)) > 0xFFFF:
                bmp = False
            result[key] = value
        return result

    try:
        text = data.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=pairs,
            parse_float=_refuse_float,
            parse_constant=_refuse_float,
            parse_int=_safe_int,
        )
    except MalformedError as exc:
        raise MalformedError(f"{what}: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError among them
        raise MalformedError(f"{what} is not valid JSON: {exc}") from exc
    return value, bmp


def parse_json(data: bytes, what: str) -> Any:
    """Parse JSON strictly (UTF-8, no duplicate keys, safe integers only)."""
    return _parse(data, what)[0]


def parse_canonical(data: bytes, what: str) -> Any:
    """Parse JSON and require that ``data`` is its canonical spelling.

    The fast path parses with msgspec's decoder alone and accepts only when re-encoding gives ``data``
    back byte for byte, every character being in the Basic Multilingual Plane (where the encoder's key
    order is RFC 8785's) and no number long enough to leave the safe range. That also refuses duplicate
    keys: the decoder keeps one of them, so the re-encoding is shorter. Whatever the fast path does not
    accept goes through the strict parser, so a refusal always carries its precise reason (a duplicate
    key, a float, a bad byte).
    """
    try:
        if (
            (data.isascii() or _BEYOND_BMP.search(data) is None)
            and not _may_hold_a_long_number(data)
            and _dumps(value := _DECODER.decode(data)) == data
        ):
            return value
    except (MalformedError, msgspec.MsgspecError, ValueError, RecursionError):
        pass  # the strict parser below says exactly what is wrong
    return _parse_canonical_strictly(data, what)


def reparse_canonical(data: bytes) -> Any:
    """Parse again bytes that :func:`parse_canonical` accepted, without checking them again.

    It gives the value :func:`parse_canonical` gave: both paths of that function read canonical JSON of
    integers, strings, booleans, null, arrays and objects without duplicate keys, where every JSON
    decoder gives the same value (a property test holds the two to it). Only for bytes already accepted
    in this service (a pre-verifier's): on any other bytes its result means nothing.
    """
    return _DECODER.decode(data)


def _parse_canonical_strictly(data: bytes, what: str) -> Any:
    value, bmp = _parse(data, what)
    try:
        # The decoder already established the fast path's conditions, so no second walk is needed.
        again = _dumps(value) if bmp else bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, msgspec.EncodeError, ValueError) as exc:
        raise MalformedError(f"{what} cannot be written as canonical JSON: {exc}") from exc
    if again != data:
        raise MalformedError(f"{what} is not RFC 8785 canonical JSON")
    return value


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC to the second."""
    if moment.tzinfo is None:
        raise MalformedError("times must be timezone-aware (UTC)")
    utc = moment.astimezone(UTC)
    # by hand: strftime's %Y does not pad years before 1000 on every platform (glibc gives "1-01-01")
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


def parse_time(text: str) -> datetime:
    """Parse ``YYYY-MM-DDTHH:MM:SSZ`` (already matched by the schema pattern) into an aware datetime."""
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise MalformedError(f"{text[:30]!r} is not a time of the form YYYY-MM-DDTHH:MM:SSZ") from exc
