"""The Shmatikov-Mitchell attacks on ASW, each refused by the registry and by the offline verifier."""

from __future__ import annotations

import pytest

from detente.accords import acts
from detente.accords.contract import Trust, find_contract
from detente.accords.projection import Projection
from detente.errors import ConflictError, VerificationError
from detente.statements.dsse import Envelope
from detente.statements.keys import SigningKey
from detente.statements.statement import Statement, sign_statement
from tests.accords.world import NOTARY, World, key, rand, world


def trust(w: World, notary: SigningKey = NOTARY) -> Trust:
    return Trust(dict(w.registry.projection.keysets), {notary.keyid: notary.public})


def concluded(w: World, label: str) -> tuple[Statement, Statement, bytes, bytes]:
    m1, na, doc = w.offer("RU", "US", label)
    nb = rand(f"nb {label}")
    m2 = acts.accept(w.parties["US"].fm, w.clock.text(), m1, nb)
    w.registry.submit(m1.envelope.encode(), [doc])
    w.registry.submit(m2.envelope.encode())
    return m1, m2, na, nb


def test_reused_exchange_id_is_refused_and_proves_nothing() -> None:
    w = world()
    m1, m2, na, nb = concluded(w, "reuse")
    other_terms = w.terms("RU", "US", ("L1",))
    again = acts.offer(
        w.parties["RU"].fm, w.clock.text(), xid=m1.body["xid"], to="US", notary=NOTARY.keyid,
        deadline=m1.body["deadline"], terms=acts.commitment(other_terms), nonce=na,
    )  # fmt: skip
    size = w.registry.log.size
    with pytest.raises(ConflictError, match="already used"):
        w.registry.submit(again.envelope.encode(), [other_terms])
    assert w.registry.log.size == size
    found = find_contract([again.envelope, m1.envelope, m2.envelope], [na, nb], trust(w), m1.body["xid"])
    assert found is not None
    assert found.offer.sid == m1.sid


def test_another_notary_is_refused_and_its_decision_proves_nothing() -> None:
    w = world()
    rogue = key("rogue notary")
    m1, _, doc = w.offer("RU", "US", "rogue-offer", notary=rogue.keyid)
    with pytest.raises(VerificationError, match="another notary"):
        w.registry.submit(m1.envelope.encode(), [doc])
    m1, m2, _, _ = concluded(w, "notary")
    body = {"xid": m1.body["xid"], "offer": m1.sid, "outcome": "resolved", "accept": m2.sid, "request": None}
    forged = acts.Authority("x", (rogue,)).sign("decision", w.clock.text(), body)
    store = [m1.envelope, m2.envelope, forged.envelope]
    assert find_contract(store, [], trust(w, rogue), m1.body["xid"]) is None
    assert find_contract(store, [], trust(w), m1.body["xid"]) is None


def test_swapped_roles_the_originator_cannot_accept_its_own_offer() -> None:
    w = world()
    m1, na, doc = w.offer("RU", "US", "swap")
    w.registry.submit(m1.envelope.encode(), [doc])
    own = acts.accept(w.parties["RU"].fm, w.clock.text(), m1, na)
    with pytest.raises(VerificationError, match="only US"):
        w.registry.submit(own.envelope.encode())
    reveal = acts.reveal(w.parties["RU"].fm, w.clock.text(), m1, na)
    assert find_contract([m1.envelope, own.envelope, reveal.envelope], [na], trust(w), m1.body["xid"]) is None


def test_message_replayed_into_another_exchange() -> None:
    w = world()
    _m1, m2, na, nb = concluded(w, "first")
    n1, nc, doc = w.offer("RU", "US", "second")
    w.registry.submit(n1.envelope.encode(), [doc])
    size = w.registry.log.size
    with pytest.raises(ConflictError, match="replay"):
        w.registry.submit(m2.envelope.encode())
    resolve = acts.resolve(w.parties["US"].fm, w.clock.text(), n1, m2)
    with pytest.raises(VerificationError, match="logged acceptance"):
        w.registry.submit(resolve.envelope.encode())  # the second offer has no acceptance at all
    assert w.registry.log.size == size
    store = [n1.envelope, m2.envelope]
    assert find_contract(store, [na, nb, nc], trust(w), n1.body["xid"]) is None


def _log(w: World) -> list[Envelope]:
    return [w.registry.entry(i).statement.envelope for i in range(w.registry.log.size)]


def test_no_abort_once_the_responder_revealed_first() -> None:
    """A responder that reveals before the originator hands it the contract: an abort would then leave
    the originator holding the contract (m1, nA, m2, nB), the responder none, and the record saying
    aborted."""
    w = world()
    m1, m2, na, nb = concluded(w, "early")
    w.registry.submit(acts.reveal(w.parties["US"].fm, w.clock.text(), m1, nb).envelope.encode())
    assert find_contract(_log(w), [na], trust(w), m1.body["xid"]) is not None, "RU holds it now"
    size = w.registry.log.size
    with pytest.raises(ConflictError, match=r"US already revealed its nonce .*: RU holds the contract"):
        w.registry.submit(acts.abort(w.parties["RU"].fm, w.clock.text(), m1).envelope.encode())
    assert w.registry.log.size == size
    resolve = acts.resolve(w.parties["US"].fm, w.clock.text(), m1, m2)
    assert w.registry.submit(resolve.envelope.encode()).decision == "resolved"
    assert find_contract(_log(w), [nb], trust(w), m1.body["xid"]) is not None, "and US obtains it"


def test_an_acceptance_cannot_reuse_the_offers_commitment() -> None:
    """With the offer's commitment in m2, the originator's reveal alone would open both: a contract in
    the log that the registry, still waiting for nB, would later log as lapsed."""
    w = world()
    m1, na, doc = w.offer("RU", "US", "copied")
    w.registry.submit(m1.envelope.encode(), [doc])
    body = {"xid": m1.body["xid"], "offer": m1.sid, "commitment": m1.body["commitment"]}
    m2 = w.parties["US"].fm.sign("accept", w.clock.text(), body)
    size = w.registry.log.size
    with pytest.raises(VerificationError, match="commit to a nonce of its own"):
        w.registry.submit(m2.envelope.encode())
    assert w.registry.log.size == size
    assert find_contract([m1.envelope, m2.envelope], [na], trust(w), m1.body["xid"]) is None


def _replayed_with(w: World, changes: dict[str, str | None]) -> Projection:
    """The projection of ``w``'s log with its last entry, a decision, signed again with ``changes``."""
    *before, decision = [w.registry.entry(i) for i in range(w.registry.log.size)]
    projection = Projection(NOTARY.public, w.registry.blobs.get)
    for entry in before:
        projection.apply(entry.statement, entry.received)
    body = {**decision.statement.body, **changes}
    projection.apply(
        sign_statement("decision", "notary.test", w.clock.text(), body, [NOTARY]), decision.received
    )
    return projection


def test_a_replayed_decision_must_answer_the_request_it_follows() -> None:
    """The notary signs decisions; a log holding one that cites another request, or a lapse that cites
    one, does not replay (an auditor rebuilding the projection sees the operator's error)."""
    w = world()
    m1, _, doc = w.offer("RU", "US", "decided")
    w.registry.submit(m1.envelope.encode(), [doc])
    w.registry.submit(acts.abort(w.parties["RU"].fm, w.clock.text(), m1).envelope.encode())
    assert _replayed_with(w, {}).exchanges[m1.body["xid"]].decision_logged  # the genuine one replays
    with pytest.raises(VerificationError, match="must cite request"):
        _replayed_with(w, {"request": "0" * 64})
    k1, _, doc = w.offer("RU", "US", "lapsing", hours=1)
    w.registry.submit(k1.envelope.encode(), [doc])
    w.clock.advance(hours=2)
    assert w.registry.lapse() == [k1.body["xid"]]
    assert _replayed_with(w, {}).exchanges[k1.body["xid"]].decision_logged
    with pytest.raises(VerificationError, match="answers no request"):
        _replayed_with(w, {"request": "0" * 64})
