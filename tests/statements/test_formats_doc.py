"""docs/formats.md cannot rot: its schemas and golden vectors are the code's, and every vector verifies."""

from __future__ import annotations

import re

import pytest

from detente.statements.canonical import sha256_hex
from detente.statements.dsse import Envelope
from detente.statements.kinds import KINDS
from detente.statements.statement import open_statement
from tests.statements.golden import DOC, golden_statements, render, seed_key


def test_the_document_is_regenerated_identically() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert render(text) == text, "run: python -m tests.statements.golden --write (and bump the version)"


def _vectors() -> dict[str, tuple[str, bytes, bytes]]:
    text = DOC.read_text(encoding="utf-8").split("<!-- generated:vectors -->")[1]
    found = re.findall(r"### `([a-z-]+)`\n\nsigned by key id `([0-9a-f]{64})`; sid `([0-9a-f]{64})`\n\n"
                       r"```json\n(.*?)\n```\n\n```json\n(.*?)\n```", text, re.S)  # fmt: skip
    return {kind: (sid, payload.encode(), env.encode()) for kind, _, sid, payload, env in found}


def test_every_kind_has_a_vector() -> None:
    assert sorted(_vectors()) == sorted(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_vector_opens_verifies_and_reproduces(kind: str) -> None:
    sid, payload, envelope_bytes = _vectors()[kind]
    envelope = Envelope.decode(envelope_bytes)
    st = open_statement(envelope)
    assert st.kind == kind
    assert envelope.payload == payload
    assert sha256_hex(payload) == sid == st.sid
    keys = {
        k.keyid: k.public
        for k in (seed_key(f"{p} {r}") for p in ("RU", "US") for r in ("root", "foreign-minister", "cert"))
    }
    keys[seed_key("notary").keyid] = seed_key("notary").public
    assert envelope.verified_by(keys) == {s.keyid for s in envelope.signatures}
    regenerated = {s.kind: s for s in golden_statements()}[kind]
    assert regenerated.envelope.encode() == envelope_bytes  # Ed25519 is deterministic: byte for byte
