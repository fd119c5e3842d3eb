"""Log entries: spliced from the envelope's bytes, they are exactly the RFC 8785 bytes of the entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785

from detente.errors import InputError, MalformedError
from detente.registry.entry import LogEntry, _read_typed
from detente.statements.canonical import format_time
from detente.statements.dsse import Envelope
from detente.statements.statement import Statement, open_statement
from tests.statements.golden import golden_statements

MOMENTS = [datetime(2018, 6, 7, 9, 0, tzinfo=UTC), datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC)]


@pytest.mark.parametrize("st", golden_statements(), ids=lambda st: st.kind)
def test_an_entry_is_the_canonical_json_of_envelope_and_received(st: Statement) -> None:
    decoded = open_statement(Envelope.decode(st.envelope.encode()))
    for received in [*MOMENTS, MOMENTS[0].astimezone(UTC) + timedelta(hours=3)]:
        value: Any = {"envelope": st.envelope.to_json(), "received": format_time(received)}
        expected = bytes(rfc8785.dumps(value))
        assert LogEntry(received, st).encode() == expected  # an envelope encoded here
        assert LogEntry(received, decoded).encode() == expected  # an envelope decoded from bytes
        again = LogEntry.decode(expected)
        assert (again.received, again.statement.envelope) == (received, st.envelope)


def _outcome(decode: Callable[[bytes], LogEntry], data: bytes) -> object:
    """The entry read (its statement's body type too), or the refusal's message."""
    try:
        entry = decode(data)
    except InputError as exc:
        return f"{type(exc).__name__}: {exc}"
    return entry.received, entry.statement, type(entry.statement.body)


@pytest.mark.parametrize("st", golden_statements(), ids=lambda st: st.kind)
def test_the_typed_reading_of_an_entry_agrees_with_the_strict_one_whatever_byte_changes(
    st: Statement,
) -> None:
    data = LogEntry(MOMENTS[1], st).encode()
    assert _read_typed(data) is not None  # a logged entry is read the fast way
    assert _outcome(LogEntry.decode, data) == _outcome(LogEntry.decode_strictly, data)
    for at in range(len(data)):
        changed = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
        assert _outcome(LogEntry.decode, changed) == _outcome(LogEntry.decode_strictly, changed)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'{"envelope":', b'{ "envelope":'),  # a space
        (b',"received":"2026', b',"received":"\\u0032026'),  # an escape the canonical form does not use
        (b'Z"}', b'Z\\n"}'),  # a time with a newline after it
        (b'Z"}', b'Z","received":"2026-11-29T23:59:59Z"}'),  # a duplicate member
        (b'{"envelope":', b'{"extra":1,"envelope":'),  # an unknown member
        (b'Z"}', b'Z"}\n'),  # a trailing newline
    ],
)
def test_entries_the_typed_reading_declines_are_read_strictly(old: bytes, new: bytes) -> None:
    data = LogEntry(MOMENTS[1], golden_statements()[0]).encode()
    changed = data.replace(old, new, 1)
    assert changed != data
    assert _read_typed(changed) is None
    assert _outcome(LogEntry.decode, changed) == _outcome(LogEntry.decode_strictly, changed)


def test_an_entry_with_its_members_swapped_is_refused_by_both_readings() -> None:
    data = LogEntry(MOMENTS[1], golden_statements()[0]).encode()
    envelope, received = (
        data[len(b'{"envelope":') : -len(b',"received":"2026-11-29T23:59:59Z"}')],
        b"2026-11-29T23:59:59Z",
    )
    swapped = b'{"received":"%s","envelope":%s}' % (received, envelope)
    assert _read_typed(swapped) is None
    with pytest.raises(MalformedError, match="canonical"):
        LogEntry.decode(swapped)
