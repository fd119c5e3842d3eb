"""Bad input: each refused with a reason, and nothing appended."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from detente.accords import acts
from detente.errors import (
    ConflictError,
    DetenteError,
    InputError,
    MalformedError,
    NotFoundError,
    TooLargeError,
    VerificationError,
)
from detente.registry.claims import recompute_claim
from detente.registry.core import Registry, Request
from detente.registry.entry import LogEntry
from detente.statements.canonical import canonical, sha256_hex
from detente.statements.dsse import Envelope, Signature, sign_envelope
from detente.statements.kinds import payload_type
from detente.statements.statement import Statement
from tests.accords.world import PartyKeys, World, rand, world


@pytest.fixture
def w() -> World:
    return world()


def refused(
    reg: Registry, data: bytes, error: type[DetenteError], match: str, blobs: tuple[bytes, ...] = ()
) -> None:
    size = reg.log.size
    with pytest.raises(error, match=match):
        reg.submit(data, blobs)
    assert reg.log.size == size, "a refused statement was appended"


@pytest.fixture
def open_offer(w: World) -> tuple[Statement, bytes]:
    m1, na, doc = w.offer("RU", "US", "bad")
    w.registry.submit(m1.envelope.encode(), [doc])
    return m1, na


def test_forged_signature(w: World) -> None:
    m1, _, doc = w.offer("RU", "US", "forged")
    sig = m1.envelope.signatures[0]
    forged = Envelope(m1.envelope.payload_type, m1.envelope.payload, (Signature(sig.keyid, bytes(64)),))
    refused(w.registry, forged.encode(), VerificationError, "does not verify", (doc,))


@pytest.mark.parametrize("key", ["root", "cert"])
def test_a_forged_signature_by_another_key_of_the_party_is_refused(w: World, key: str) -> None:
    """Beside a valid signature of the role the kind needs, a signature by any other key of the party's
    keyset in force that does not verify makes the envelope a forgery (formats.md, section 2)."""
    m1, _, doc = w.offer("RU", "US", f"forged {key} beside")
    ru = w.parties["RU"]
    other = ru.roots[0] if key == "root" else ru.cert
    forged = Envelope(
        m1.envelope.payload_type,
        m1.envelope.payload,
        (*m1.envelope.signatures, Signature(other.keyid, bytes(64))),
    )
    refused(w.registry, forged.encode(), VerificationError, "does not verify", (doc,))


def test_wrong_role(w: World) -> None:
    m1, _, doc = w.offer("RU", "US", "role")
    by_cert = sign_envelope(m1.envelope.payload_type, m1.envelope.payload, [w.parties["RU"].cert])
    refused(w.registry, by_cert.encode(), VerificationError, "threshold of RU's", (doc,))


def test_wrong_party(w: World, open_offer: tuple[Statement, bytes]) -> None:
    m1, _ = open_offer
    by_france = acts.accept(w.parties["FR"].fm, w.clock.text(), m1, rand("fr"))
    refused(w.registry, by_france.envelope.encode(), VerificationError, "only US")
    impostor = acts.Authority("US", (w.parties["RU"].minister,)).sign(
        "accept", w.clock.text(), dict(by_france.body)
    )
    refused(w.registry, impostor.envelope.encode(), VerificationError, "threshold of US's")


def test_revoked_key(w: World) -> None:
    old = w.parties["RU"]
    new = PartyKeys.make("RU", generation=1)
    new.version = 2
    v2 = new.keyset(w.clock.text(), previous=w.keysets["RU"], signers=old.roots)
    w.registry.submit(v2.envelope.encode())
    m1, _, doc = w.offer("RU", "US", "revoked")  # signed by the old, now revoked, minister key
    refused(w.registry, m1.envelope.encode(), VerificationError, "keyset version 2", (doc,))


def test_rotation_without_the_current_root_is_refused(w: World) -> None:
    new = PartyKeys.make("RU", generation=7)
    new.version = 2
    v2 = new.keyset(w.clock.text(), previous=w.keysets["RU"])
    refused(w.registry, v2.envelope.encode(), VerificationError, "root threshold of version 1")


def test_kind_mismatch(w: World, open_offer: tuple[Statement, bytes]) -> None:
    m1, _ = open_offer
    m2 = acts.accept(w.parties["US"].fm, w.clock.text(), m1, rand("k"))
    as_refuse = sign_envelope(payload_type("refuse"), m2.envelope.payload, [w.parties["US"].minister])
    refused(w.registry, as_refuse.encode(), MalformedError, "signed as 'refuse'")


def test_replay(w: World, open_offer: tuple[Statement, bytes]) -> None:
    m1, _ = open_offer
    refused(w.registry, m1.envelope.encode(), ConflictError, "a replay")


def test_reveal_before_acceptance(w: World, open_offer: tuple[Statement, bytes]) -> None:
    m1, na = open_offer
    early = acts.reveal(w.parties["RU"].fm, w.clock.text(), m1, na)
    refused(w.registry, early.envelope.encode(), ConflictError, "before acceptance")


def test_decision_asked_twice(w: World, open_offer: tuple[Statement, bytes]) -> None:
    m1, _ = open_offer
    m2 = acts.accept(w.parties["US"].fm, w.clock.text(), m1, rand("twice"))
    w.registry.submit(m2.envelope.encode())
    assert (
        w.registry.submit(acts.abort(w.parties["RU"].fm, w.clock.text(), m1).envelope.encode()).decision
        == "aborted"
    )
    again = acts.resolve(w.parties["US"].fm, w.clock.text(), m1, m2)
    refused(w.registry, again.envelope.encode(), ConflictError, "already decided: aborted")


def test_conflicting_requests_in_one_batch(w: World, open_offer: tuple[Statement, bytes]) -> None:
    m1, _ = open_offer
    m2 = acts.accept(w.parties["US"].fm, w.clock.text(), m1, rand("batch"))
    w.registry.submit(m2.envelope.encode())
    size = w.registry.log.size
    abort = acts.abort(w.parties["RU"].fm, w.clock.text(), m1)
    resolve = acts.resolve(w.parties["US"].fm, w.clock.text(), m1, m2)
    first, second = w.registry.submit_batch(
        [Request(resolve.envelope.encode()), Request(abort.envelope.encode())]
    )
    assert not isinstance(first, DetenteError)
    assert first.decision == "resolved"
    assert isinstance(second, ConflictError)
    assert "already decided" in str(second)
    assert w.registry.log.size == size + 2  # the resolve request and its one decision


def test_deadline_passed(w: World, open_offer: tuple[Statement, bytes]) -> None:
    m1, _ = open_offer
    w.clock.advance(hours=49)
    late = acts.accept(w.parties["US"].fm, w.clock.text(), m1, rand("late"))
    refused(w.registry, late.envelope.encode(), ConflictError, "deadline")
    assert w.registry.lapse() == [m1.body["xid"]]
    assert w.registry.lapse() == []


def test_oversized_and_malformed(w: World) -> None:
    reg = w.registry
    fm = w.parties["RU"].minister
    big = canonical(
        {"body": {"reason": "x" * 40_000}, "issued": w.clock.text(), "kind": "refuse", "party": "RU"}
    )
    refused(reg, sign_envelope(payload_type("refuse"), big, [fm]).encode(), TooLargeError, "limit")
    refused(reg, b'{"payload": ', MalformedError, "not valid JSON")
    refused(reg, b'{"payloadType":"x","payload":"","signatures":[]}', MalformedError, "canonical")
    loose = b'{"kind": "refuse"}'
    refused(reg, sign_envelope(payload_type("refuse"), loose, [fm]).encode(), MalformedError, "canonical")
    bad_schema = canonical({"body": {}, "issued": "yesterday", "kind": "refuse", "party": "RU"})
    refused(reg, sign_envelope(payload_type("refuse"), bad_schema, [fm]).encode(), MalformedError, "issued")
    refused(reg, sign_envelope("text/plain", b"{}", [fm]).encode(), MalformedError, "unknown payloadType")


def test_a_hostile_statement_fails_only_itself_never_its_batch(w: World) -> None:
    stranger = PartyKeys.make("ZZ").minister  # no keys registered: anyone on the internet
    # more digits than int() takes (a ValueError of its own), under a real payload type
    huge = b'{"n":' + b"9" * 4400 + b"}"
    poison = sign_envelope(payload_type("declaration"), huge, [stranger]).encode()
    m1, _, doc = w.offer("RU", "US", "beside the poison")
    size = w.registry.log.size
    results = w.registry.submit_batch([Request(poison), Request(m1.envelope.encode(), (doc,))])
    assert isinstance(results[0], MalformedError)
    assert "outside the safe range" in str(results[0])
    assert not isinstance(results[1], DetenteError), results[1]
    assert w.registry.log.size == size + 1, "the honest offer beside it landed, and only it"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: t["letters"][0].pop("text"), r"terms.letters\[0\] lacks text"),
        (lambda t: t["letters"][0].update(clauses=5), "clauses"),
        (lambda t: t["letters"][0].update(clauses=[{}]), "clauses"),
        (lambda t: t["letters"][0].update(clauses=["<script>"]), "clauses"),
        (lambda t: t.update(notice_days=True), "notice_days"),
        (lambda t: t["letters"].pop(), "letters"),
        (lambda t: t["letters"][1]["addressee"].update(party="FR"), "addressed to the other party"),
    ],
)
def test_a_terms_document_that_does_not_hold_two_proper_letters_is_refused(
    w: World, change: Callable[[dict[str, Any]], object], reason: str
) -> None:
    terms = json.loads(w.terms("RU", "US"))
    change(terms)
    doc = canonical(terms)
    m1, _, _ = w.offer("RU", "US", f"bad terms {reason}", doc=doc)
    refused(w.registry, m1.envelope.encode(), InputError, reason, (doc,))


def test_decisions_and_first_keysets_come_only_from_the_operator(w: World) -> None:
    body = {"xid": "0" * 32, "offer": "0" * 64, "outcome": "aborted", "accept": None, "request": None}
    fake = acts.Authority("notary.test", (w.parties["RU"].minister,)).sign("decision", w.clock.text(), body)
    refused(w.registry, fake.envelope.encode(), ConflictError, "notary")
    de = PartyKeys.make("DE").keyset(w.clock.text())
    refused(w.registry, de.envelope.encode(), ConflictError, "registered by the operator")


def test_the_operator_registers_first_keysets_and_nothing_else(w: World) -> None:
    m1, _, doc = w.offer("RU", "US", "registered as a party")
    size = w.registry.log.size
    with pytest.raises(InputError, match="first keyset only; submit this offer as any other statement"):
        w.registry.submit(m1.envelope.encode(), (doc,), register=True)
    assert w.registry.log.size == size
    again = w.keysets["RU"]
    with pytest.raises(ConflictError, match="RU is already registered"):
        w.registry.submit(again.envelope.encode(), register=True)


def test_missing_blob_and_wrong_terms(w: World) -> None:
    m1, _, doc = w.offer("RU", "US", "blob")
    refused(w.registry, m1.envelope.encode(), NotFoundError, "not supplied")
    refused(w.registry, m1.envelope.encode(), InputError, "not cited", (doc, b"other"))
    m3, _, _ = w.offer("US", "RU", "swapped-terms", doc=doc)
    refused(w.registry, m3.envelope.encode(), VerificationError, "offeror and the addressee", (doc,))


def test_a_blob_is_found_in_its_batch_only_once_its_statement_is_accepted(w: World) -> None:
    """A statement may cite a blob that an earlier statement of its batch supplied, if that one was
    accepted; the blobs of a refused statement are never found."""
    m1, _, doc = w.offer("RU", "US", "supplies the terms")
    m2, _, _ = w.offer("RU", "US", "cites them", doc=doc)
    unsigned = Envelope(m1.envelope.payload_type, m1.envelope.payload, ()).encode()
    m3, _, _ = w.offer("RU", "US", "cites them too", doc=doc)
    refused_first = w.registry.submit_batch([Request(unsigned, (doc,)), Request(m3.envelope.encode())])
    assert [type(r).__name__ for r in refused_first] == ["VerificationError", "NotFoundError"]
    accepted_first = w.registry.submit_batch(
        [Request(m1.envelope.encode(), (doc,)), Request(m2.envelope.encode())]
    )
    assert not any(isinstance(r, DetenteError) for r in accepted_first), accepted_first
    assert w.registry.blobs.get(sha256_hex(doc)) == doc


def test_abort_after_the_originators_reveal(w: World, open_offer: tuple[Statement, bytes]) -> None:
    m1, na = open_offer
    w.registry.submit(acts.accept(w.parties["US"].fm, w.clock.text(), m1, rand("ar")).envelope.encode())
    w.registry.submit(acts.reveal(w.parties["RU"].fm, w.clock.text(), m1, na).envelope.encode())
    late = acts.abort(w.parties["RU"].fm, w.clock.text(), m1)
    refused(w.registry, late.envelope.encode(), ConflictError, "too late to abort")


def test_clock_going_back_never_moves_received_back(w: World) -> None:
    w.clock.advance(hours=-5)
    m1, _, doc = w.offer("RU", "US", "clock")
    receipt = w.registry.submit(m1.envelope.encode(), [doc])
    assert w.registry.entry(receipt.index).received == w.clock.now + timedelta(hours=5)


@pytest.mark.parametrize(
    "day", ["2018-02-29", "2018-02-30", "2016-02-30", "1900-02-29", "2018-04-31", "0000-01-01"]
)
def test_a_day_that_does_not_exist_is_refused(w: World, day: str) -> None:
    """Every reader of a logged time (the projection, the web pages, other implementations) parses it:
    a time the calendar does not hold is refused at the door, in the header and in the body."""
    body: dict[str, Any] = {
        "iid": "1" * 32, "to": "US", "monitor_id": "3f0c9a1b2c3d4e5f",
        "asset": {"kind": "election-body", "name": "cec"}, "attack": "flood", "attributed_actor": None,
        "start": f"{day}T03:00:00Z", "end": "2018-03-01T03:40:00Z", "requests": 12, "peak_per_minute": 9,
        "sources": 8, "origin": {"country": "US", "requests": 5, "sources": 3}, "networks": [],
        "clauses": [], "evidence": "ab" * 32,
    }  # fmt: skip
    certs = w.parties["RU"].certs

    def signed(issued: str) -> bytes:  # signed without the signer's own checks, as a hostile party may
        payload = canonical({"kind": "incident", "party": "RU", "issued": issued, "body": body})
        return sign_envelope(payload_type("incident"), payload, certs.keys).encode()

    with pytest.raises(MalformedError, match="start is not a real UTC time"):
        certs.sign("incident", "2018-03-01T00:00:00Z", body)  # an honest signer is stopped first
    refused(w.registry, signed("2018-03-01T00:00:00Z"), MalformedError, "start is not a real UTC time")
    body["start"] = "2018-03-01T03:00:00Z"
    refused(w.registry, signed(f"{day}T00:00:00Z"), MalformedError, "issued is not a real UTC time")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"start": "2018-03-18T03:00:00Z", "end": "2018-03-01T00:00:00Z"}, "ends .* before it starts"),
        ({"peak_per_minute": 13}, r"peak \(13 a minute\) is above its requests \(12\)"),
        ({"origin": {"country": "US", "requests": 13, "sources": 3}}, r"more requests \(13\) than"),
        ({"origin": {"country": "US", "requests": 5, "sources": 9}}, r"more sources \(9\) than"),
    ],
)
def test_an_incident_whose_figures_contradict_each_other_is_refused(
    w: World, change: dict[str, Any], reason: str
) -> None:
    """By the registry and by a bundle's verifier alike: such a report cannot be true as a whole."""
    body = {
        "iid": "2" * 32, "to": "US", "monitor_id": "3f0c9a1b2c3d4e5f",
        "asset": {"kind": "election-body", "name": "cec"}, "attack": "flood", "attributed_actor": None,
        "start": "2018-03-01T03:00:00Z", "end": "2018-03-01T03:40:00Z", "requests": 12, "peak_per_minute": 9,
        "sources": 8, "origin": {"country": "US", "requests": 5, "sources": 3}, "networks": [],
        "clauses": [], "evidence": "cd" * 32, **change,
    }  # fmt: skip
    signed = w.parties["RU"].certs.sign("incident", "2018-03-02T00:00:00Z", body)
    refused(w.registry, signed.envelope.encode(), VerificationError, reason)
    with pytest.raises(VerificationError, match=reason):
        recompute_claim("incident", [(0, LogEntry(w.clock.now, signed))])
