"""The typed first reading of payloads vouches only for what the strict reading accepts.

:func:`detente.statements.statement.check_statement` (the pre-verifiers' reading: the typed one, the
strict one where it does not vouch) must accept exactly what :func:`read_statement` accepts and refuse
the rest with the same message, whatever the payload; and the typed reading must vouch for every valid
canonical payload, or the pre-verifiers would pay for both readings.
"""

from __future__ import annotations

import itertools
import json
import re
import string
from datetime import datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.errors import InputError
from detente.statements import typed
from detente.statements.canonical import canonical
from detente.statements.dsse import Envelope
from detente.statements.kinds import KINDS, PAYLOAD_SCHEMAS, payload_type
from detente.statements.schema import CLAUSE, HEX64, PARTY, TIME
from detente.statements.schema import string as string_schema
from detente.statements.statement import (
    Statement,
    check_statement,
    check_statements,
    read_statement,
    read_strictly,
)
from tests.statements.golden import golden_statements
from tests.statements.test_schema_compiler import GOLDEN, mutated, verdict

PAYLOADS = {s.kind: s.envelope.payload for s in golden_statements()}


def _envelope(kind: str, payload: bytes) -> bytes:
    """An unsigned envelope of ``payload`` (reading a statement checks no signature)."""
    return Envelope(payload_type(kind), payload, ()).encode()


def _outcome(read: Any, data: bytes) -> str:
    """``ok`` and the payload read, or the refusal's message (``read`` returns an envelope)."""
    try:
        return _said(read(data))
    except InputError as exc:
        return _said(exc)


def _said(read: Envelope | InputError) -> str:
    return f"{type(read).__name__}: {read}" if isinstance(read, InputError) else f"ok {read.payload.hex()}"


def _read(data: bytes) -> Envelope:
    return read_strictly(data).envelope


def _opened(read: Any, data: bytes) -> tuple[Statement, type] | str:
    """The statement read and its body's type, or the refusal's message."""
    try:
        statement = read(data)
    except InputError as exc:
        return f"{type(exc).__name__}: {exc}"
    return statement, type(statement.body)


def _agrees(data: bytes) -> str:
    """Check that the typed-first readings read ``data`` as the strict one does; its outcome."""
    strictly = _outcome(_read, data)
    assert _outcome(check_statement, data) == strictly
    assert [_said(read) for read in check_statements([data])] == [strictly]
    assert _opened(read_statement, data) == _opened(read_strictly, data)
    return strictly


def _spelled(value: Any, canonical_form: bool) -> bytes:
    if canonical_form:
        try:
            return canonical(value)
        except InputError:  # a number outside the safe range: the plain spelling below
            pass
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


@pytest.mark.parametrize("kind", KINDS)
def test_every_golden_payload_is_vouched_for_by_the_typed_reading(kind: str) -> None:
    assert typed.accepts(kind, PAYLOADS[kind])
    assert _agrees(_envelope(kind, PAYLOADS[kind])).startswith("ok ")
    assert not typed.accepts(kind, PAYLOADS[kind] + b" ")  # no longer canonical: not vouched for


@settings(max_examples=600)
@given(mutated(), st.booleans())
def test_the_typed_reading_vouches_exactly_for_valid_canonical_payloads(
    case: tuple[str, Any], canonical_form: bool
) -> None:
    kind, value = case
    payload = _spelled(value, canonical_form)
    strictly = verdict(PAYLOAD_SCHEMAS[kind], json.loads(payload)) is None and payload == _spelled(
        value, True
    )
    assert typed.accepts(kind, payload) == strictly
    data = _envelope(kind, payload)
    _agrees(data)


@st.composite
def respelled(draw: st.DrawFn) -> tuple[str, bytes]:
    """A golden payload with a few bytes replaced, inserted or removed (most are no longer JSON)."""
    kind = draw(st.sampled_from(KINDS))
    payload = bytearray(PAYLOADS[kind])
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(payload) - 1))
        action = draw(st.sampled_from(["replace", "insert", "remove"]))
        byte = draw(st.sampled_from(b' "\\,:{}[]0a-\n\xff') | st.integers(0, 255))
        if action == "remove":
            del payload[at]
        elif action == "insert":
            payload.insert(at, byte)
        else:
            payload[at] = byte
    return kind, bytes(payload)


@settings(max_examples=600)
@given(respelled())
def test_a_respelled_payload_is_read_as_the_strict_reading_reads_it(case: tuple[str, bytes]) -> None:
    kind, payload = case
    data = _envelope(kind, payload)
    _agrees(data)


@settings(max_examples=200)
@given(st.lists(respelled() | st.sampled_from(KINDS).map(lambda k: (k, PAYLOADS[k])), max_size=8))
def test_a_chunk_is_read_as_each_of_its_envelopes_alone(cases: list[tuple[str, bytes]]) -> None:
    """The pre-verifiers' two passes over a chunk (:func:`check_statements`): each envelope's reading
    or refusal, in its place."""
    chunk = [_envelope(kind, payload) for kind, payload in cases]
    assert [_said(read) for read in check_statements(chunk)] == [_outcome(_read, data) for data in chunk]


@pytest.mark.parametrize(
    ("kind", "old", "new"),
    [
        ("protest", b'"clauses":["', b'"clauses":["L1","L1","'),  # a duplicate where items are unique
        ("protest", b'"clauses":["L1"]', b'"clauses":["L1","L1"]'),  # the shortest duplicate
        ("incident", b'"requests":', b'"requests":-0,"x":'),  # an unknown member
        ("incident", b'"attributed_actor":null', b'"attributed_actor":"RU"'),  # never names an actor
        ("offer", b'"kind":"offer"', b'"kind":"counter"'),  # another kind than the payloadType's
        ("reply", b'"party":"', b'"party":"\\u0055'),  # an escape the canonical form does not use
        ("keyset", b'"version":1', b'"version":true'),  # true is not 1
        ("decision", b'"accept":', b'"accept":null,"accept":'),  # a duplicate member
    ],
)
def test_payloads_the_typed_reading_must_not_vouch_for(kind: str, old: bytes, new: bytes) -> None:
    payload = PAYLOADS[kind].replace(old, new, 1)
    assert payload != PAYLOADS[kind]
    assert not typed.accepts(kind, payload)
    data = _envelope(kind, payload)
    assert not _agrees(data).startswith("ok ")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("field", ["party", "issued"])
def test_a_pattern_holds_the_whole_string_not_a_line_of_it(kind: str, field: str) -> None:
    """A pattern ends with ``$``, which in a search also matches before a final newline."""
    value = json.loads(PAYLOADS[kind])
    value[field] += "\n"
    payload = canonical(value)
    assert not typed.accepts(kind, payload)
    data = _envelope(kind, payload)
    _agrees(data)


@pytest.mark.parametrize(
    "text",
    [
        b"x\\ud800y",  # a lone surrogate
        b"x\\u2028y",  # an escape the canonical form does not use ...
        "x\u2028y".encode(),  # ... for what it writes as it is
        "x\U0001f600y".encode(),  # beyond the Basic Multilingual Plane
        b"x\x7fy",
        b"x\\u007fy",
        b"x\\/y",
    ],
)
def test_an_awkward_string_is_read_as_the_strict_reading_reads_it(text: bytes) -> None:
    payload = re.sub(rb'"reason":"[^"]*"', lambda _: b'"reason":"' + text + b'"', PAYLOADS["refuse"])
    data = _envelope("refuse", payload)
    strictly = _agrees(data)
    assert typed.accepts("refuse", payload) == strictly.startswith("ok ")


def test_golden_payloads_are_the_ones_the_schema_compiler_tests_mutate() -> None:
    assert {kind: json.loads(payload) for kind, payload in PAYLOADS.items()} == GOLDEN


def _read_as(pattern: str, text: str) -> bool:
    """Whether the typed reading of a string of ``pattern`` accepts ``text``: decoded, checked, and
    written back the same, as the typed reading requires of the whole payload."""
    kind, check = typed._leaf(string_schema(pattern), "string", "text")
    try:
        spelled = canonical(text)
    except InputError:  # a lone surrogate: no canonical payload holds it
        return False
    try:
        value = msgspec.json.decode(spelled, type=kind)
    except msgspec.ValidationError:
        return False
    return (check is None or check(value)) and typed._ENCODE(value) == spelled


def _calendar_time(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


def _edited(text: str) -> st.SearchStrategy[str]:
    """``text`` with one character replaced, inserted or removed."""
    at = st.integers(0, len(text))
    char = st.sampled_from("09afAFZz:-T \n+.") | st.characters()
    return st.one_of(
        st.builds(lambda i, c: text[:i] + c + text[i + 1 :], at, char),
        st.builds(lambda i, c: text[:i] + c + text[i:], at, char),
        st.builds(lambda i: text[:i] + text[i + 1 :], at),
    )


@pytest.mark.parametrize("pattern", [PARTY, CLAUSE])
def test_a_literal_read_instead_of_a_pattern_holds_exactly_its_strings(pattern: str) -> None:
    """Every string of up to two characters over an alphabet around the patterns' own (both are of
    two characters), and of three over a few of them."""
    alphabet = string.ascii_uppercase + string.digits + "@[`az-_ \n\u00c9"
    shorter = (itertools.product(alphabet, repeat=n) for n in range(3))
    for chars in itertools.chain(*shorter, itertools.product("ALMRZ0149 \n", repeat=3)):
        text = "".join(chars)
        assert _read_as(pattern, text) == (re.fullmatch(pattern, text) is not None), text


@pytest.mark.parametrize("pattern", [*typed._PATTERN_TYPES, HEX64, "^[0-9a-f]{16}$"])
@settings(max_examples=300)
@given(data=st.data())
def test_a_type_read_instead_of_a_pattern_never_accepts_more(pattern: str, data: st.DataObject) -> None:
    """A string the pattern matches is accepted (a time: if it is a calendar time); one it does not
    match, an edit of a matching one or any other text, never."""
    matching = data.draw(st.from_regex(pattern, fullmatch=True))
    expected = _calendar_time(matching) if pattern == TIME else True
    assert _read_as(pattern, matching) == expected
    for text in (data.draw(_edited(matching)), data.draw(st.text())):
        if re.fullmatch(pattern, text) is None:
            assert not _read_as(pattern, text), text


@given(st.datetimes())
def test_every_calendar_time_is_read_as_a_time(moment: datetime) -> None:
    text = moment.replace(microsecond=0).isoformat() + "Z"  # strftime writes year 1 as "1"
    assert re.fullmatch(TIME, text)
    assert _read_as(TIME, text)


@pytest.mark.parametrize(("pattern", "text"), [(PARTY, "RU"), (HEX64, "a" * 64)])
def test_a_pattern_whose_length_bounds_exclude_its_strings_keeps_its_regex(pattern: str, text: str) -> None:
    assert _read_as(pattern, text)
    narrow, check = typed._leaf(string_schema(pattern, max_length=len(text) - 1), "string", "text")
    assert check is None
    with pytest.raises(msgspec.ValidationError, match="length"):
        msgspec.json.decode(canonical(text), type=narrow)
