"""Monitor incident JSON into signed incident statements: one per origin state, clauses in force cited."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from detente.accords import acts
from detente.errors import ConflictError, MalformedError, VerificationError
from detente.monitor import EVIDENCE_SCHEMA
from detente.monitor.evidence import Evidence
from detente.registry.incidents import check_evidence, incident_statements
from detente.statements.canonical import sha256_hex
from tests.accords.world import world, xid
from tests.registry.example_world import seeded


def share(key: str, requests: int, sources: int) -> dict[str, Any]:
    return {
        "key": key,
        "name": key,
        "requests": requests,
        "request_share": 0.5,
        "sources": sources,
        "source_share": 0.5,
    }


def document(party: str = "RU") -> dict[str, Any]:
    incident = {
        "id": "3f0c9a1b2c3d4e5f", "asset": "cec", "party": party, "asset_kind": "election-body",
        "kind": "distributed-flood", "start": "2018-06-07T03:00:00Z", "end": "2018-06-07T03:40:00Z",
        "requests": {"total": 1000, "peak_per_minute": 90}, "sources": {"distinct": 40},
        "origins": {
            "countries": [share("US", 600, 20), share("FR", 300, 15), share("unknown", 100, 5)],
            "networks": [share("64500", 600, 20)],
        },
        "top_prefixes": [], "reasons": ["many sources"], "evidence": {"sha256": sha256_hex(b"evidence")},
    }  # fmt: skip
    return {"schema": "detente.monitor.incidents/1", "incidents": [incident]}


def test_one_statement_per_origin_state_citing_clauses_in_force() -> None:
    w = world()
    text = b"US assurance"
    decl = acts.declaration(
        w.parties["US"].fm, w.clock.text(), did=xid("us-decl"), to="RU", clauses=["M2", "M3"], summary="s",
        text=sha256_hex(text), effective=w.clock.text(), notice_days=0,
    )  # fmt: skip
    w.registry.submit(decl.envelope.encode(), [text])
    sts = incident_statements(
        document(), None, w.parties["RU"].certs, w.registry.projection, w.clock.now, seeded("iid")
    )
    assert [s.body["to"] for s in sts] == ["US", "FR"]
    assert sts[0].body["clauses"] == ["M2", "M3"]
    assert sts[1].body["clauses"] == []
    assert all(s.body["attributed_actor"] is None for s in sts)
    assert sts[0].body["evidence"] == sha256_hex(b"evidence")
    for s in sts:
        w.registry.submit(s.envelope.encode())
    assert len(w.registry.projection.incidents) == 2


def test_only_approved_incidents_of_the_signing_party() -> None:
    w = world()
    cert = w.parties["RU"].certs
    assert incident_statements(document(), [], cert, w.registry.projection, w.clock.now, seeded("x")) == []
    with pytest.raises(MalformedError, match="protects US"):
        incident_statements(document("US"), None, cert, w.registry.projection, w.clock.now, seeded("x"))
    with pytest.raises(MalformedError):
        incident_statements({"schema": "other"}, None, cert, w.registry.projection, w.clock.now, seeded("x"))


def test_the_counterparty_checks_the_evidence_file_against_the_signed_digest() -> None:
    w = world()
    entry = Evidence(
        "3f0c9a1b2c3d4e5f", [{"source": "198.51.100.7", "requests": 120}], ["GET / HTTP/1.1 ..."]
    )
    record: dict[str, Any] = {**asdict(entry), "sha256": entry.digest()}
    evidence = {"schema": EVIDENCE_SCHEMA, "incidents": [record]}
    doc = document()
    doc["incidents"][0]["evidence"]["sha256"] = entry.digest()
    (st, *_) = incident_statements(
        doc, None, w.parties["RU"].certs, w.registry.projection, w.clock.now, seeded("e")
    )
    assert check_evidence(st, evidence)["sources"] == entry.sources
    record["sources"][0]["requests"] = 121  # edited after the report was signed
    with pytest.raises(VerificationError, match="no entry of the evidence file"):
        check_evidence(st, evidence)
    with pytest.raises(MalformedError, match="evidence/1"):
        check_evidence(st, {"schema": "something else"})


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda i: i["origins"].update(countries=[]), None),  # no origin abroad: nothing to sign, no error
        (lambda i: i.update(origins=[]), "AttributeError"),
        (lambda i: i.pop("requests"), "KeyError"),
        (lambda i: i["requests"].update(total="lots"), "ValueError"),
        (lambda i: i["origins"]["networks"][0].update(key="AS64500"), "ValueError"),
    ],
)
def test_a_document_edited_by_hand_is_refused_with_a_reason(edit: Any, reason: str | None) -> None:
    w = world()
    doc = document()
    edit(doc["incidents"][0])
    sign = (w.parties["RU"].certs, w.registry.projection, w.clock.now, seeded("x"))
    if reason is None:
        assert incident_statements(doc, None, *sign) == []
        return
    with pytest.raises(MalformedError, match=f"incident 3f0c9a1b2c3d4e5f cannot be read \\({reason}"):
        incident_statements(doc, None, *sign)


def test_an_unknown_approved_id_and_a_document_of_another_shape_are_refused() -> None:
    w = world()
    sign = (w.parties["RU"].certs, w.registry.projection, w.clock.now, seeded("x"))
    with pytest.raises(MalformedError, match="no incident deadbeefdeadbeef in the document"):
        incident_statements(document(), ["3f0c9a1b2c3d4e5f", "deadbeefdeadbeef"], *sign)
    with pytest.raises(MalformedError, match="must be a list of objects"):
        incident_statements({"schema": "detente.monitor.incidents/1", "incidents": ["x"]}, None, *sign)


def test_an_evidence_file_of_another_shape_is_refused_with_a_reason() -> None:
    w = world()
    (st, *_) = incident_statements(
        document(), None, w.parties["RU"].certs, w.registry.projection, w.clock.now, seeded("e")
    )
    with pytest.raises(MalformedError, match="must be a list"):
        check_evidence(st, {"schema": EVIDENCE_SCHEMA, "incidents": 5})
    lone = {"incident": "3f0c9a1b2c3d4e5f", "sources": [], "sample": ["\ud800"]}
    with pytest.raises(MalformedError, match="cannot be read"):
        check_evidence(st, {"schema": EVIDENCE_SCHEMA, "incidents": [lone]})


def test_an_incident_is_reported_once() -> None:
    w = world()
    sign = (w.parties["RU"].certs, w.registry.projection, w.clock.now)
    first = incident_statements(document(), None, *sign, seeded("first run"))
    for st in first:
        w.registry.submit(st.envelope.encode())
    again = incident_statements(document(), None, *sign, seeded("second run"))  # other random ids
    size = w.registry.log.size
    with pytest.raises(ConflictError, match="RU already reported this incident to US as incident"):
        w.registry.submit(again[0].envelope.encode())
    assert w.registry.log.size == size
    doubled = document()
    doubled["incidents"] *= 2
    with pytest.raises(MalformedError, match="appears twice in the document"):
        incident_statements(doubled, None, *sign, seeded("x"))


def test_the_signed_statement_names_networks_by_number_never_by_organisation() -> None:
    # some registries' organisations are private persons: a signed statement is permanent
    w = world()
    person = "Mr David John Benwell"
    doc = document()
    incident = doc["incidents"][0]
    incident["origins"]["networks"] = [
        {**share("64500", 500, 15), "name": person},
        {**share("64501", 100, 5), "name": f"Andreas Fink trading as {person}"},
    ]
    incident["shift"] = {
        "rising": [{"key": "64500", "name": person, "share_before": 0.0, "share_during": 0.5}]
    }
    incident["reasons"].append(f"AS64500 ({person}) carried 50% of the attack's requests.")
    sts = incident_statements(
        doc, None, w.parties["RU"].certs, w.registry.projection, w.clock.now, seeded("p")
    )
    assert sts
    for st in sts:
        assert st.body["networks"] == [
            {"asn": 64500, "name": "", "requests": 500},
            {"asn": 64501, "name": "", "requests": 100},
        ]
        assert b"Benwell" not in st.envelope.payload  # the signed bytes (the envelope holds them in base64)
        w.registry.submit(st.envelope.encode())  # still a valid version 1 statement
