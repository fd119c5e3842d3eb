"""Log entries: spliced from the envelope's bytes, they are exactly the RFC 8785 bytes of the entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785

from detente.registry.entry import LogEntry
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
