"""Negotiation and other records: withdraw, counter, lapse, declarations, terminations, protests."""

from __future__ import annotations

from datetime import timedelta

import pytest

from detente.accords import acts
from detente.accords.exchange import Phase
from detente.errors import ConflictError, VerificationError
from detente.registry.claims import recompute_claim
from detente.registry.entry import LogEntry
from detente.registry.views import concerning
from detente.statements.canonical import format_time, sha256_hex
from tests.accords.world import World, rand, world, xid


def test_withdraw_then_accept_is_refused() -> None:
    w = world()
    m1, _, doc = w.offer("RU", "US", "w")
    w.registry.submit(m1.envelope.encode(), [doc])
    w.registry.submit(acts.withdraw(w.parties["RU"].fm, w.clock.text(), m1, "no").envelope.encode())
    with pytest.raises(ConflictError, match="withdrawn"):
        w.registry.submit(acts.accept(w.parties["US"].fm, w.clock.text(), m1, rand("x")).envelope.encode())


def test_counter_closes_the_offer_it_answers_and_opens_a_new_exchange() -> None:
    w = world()
    m1, _, doc = w.offer("RU", "US", "c1")
    w.registry.submit(m1.envelope.encode(), [doc])
    back = w.terms("US", "RU")
    counter = acts.offer(
        w.parties["US"].fm, w.clock.text(), xid=xid("c2"), to="RU", notary=m1.body["notary"],
        deadline=m1.body["deadline"], terms=sha256_hex(back), nonce=rand("c2"), answers=m1.body["xid"],
    )  # fmt: skip
    w.registry.submit(counter.envelope.encode(), [back])
    p = w.registry.projection
    assert p.exchanges[m1.body["xid"]].phase == Phase.COUNTERED
    assert p.exchanges[xid("c2")].phase == Phase.OPEN
    assert p.exchanges[xid("c2")].originator == "US"


def test_lapse_at_the_deadline_but_not_of_concluded_exchanges() -> None:
    w = world()
    m1, na, doc = w.offer("RU", "US", "l1", hours=1)
    k1, _, doc2 = w.offer("RU", "US", "l2", hours=1)
    w.registry.submit(m1.envelope.encode(), [doc])
    w.registry.submit(k1.envelope.encode(), [doc2])
    nb = rand("l1b")
    for st in (
        acts.accept(w.parties["US"].fm, w.clock.text(), m1, nb),
        acts.reveal(w.parties["RU"].fm, w.clock.text(), m1, na),
        acts.reveal(w.parties["US"].fm, w.clock.text(), m1, nb),
    ):
        w.registry.submit(st.envelope.encode())
    assert w.registry.lapse() == []  # not yet
    w.clock.advance(hours=1)
    assert w.registry.lapse() == [k1.body["xid"]]
    assert w.registry.projection.exchanges[m1.body["xid"]].phase == Phase.CONCLUDED


def test_a_second_reveal_is_a_conflict_whenever_it_is_signed() -> None:
    w = world()
    m1, na, doc = w.offer("RU", "US", "r2")
    w.registry.submit(m1.envelope.encode(), [doc])
    w.registry.submit(acts.accept(w.parties["US"].fm, w.clock.text(), m1, rand("r2b")).envelope.encode())
    w.registry.submit(acts.reveal(w.parties["RU"].fm, w.clock.text(), m1, na).envelope.encode())
    w.clock.advance(hours=1)  # a new statement, not a replay of the first
    again = acts.reveal(w.parties["RU"].fm, w.clock.text(), m1, na)
    with pytest.raises(ConflictError, match="RU already revealed its nonce"):
        w.registry.submit(again.envelope.encode())
    with pytest.raises(VerificationError, match="does not open a pending commitment"):
        w.registry.submit(
            acts.reveal(w.parties["RU"].fm, w.clock.text(), m1, rand("other")).envelope.encode()
        )


def _concluded(w: World) -> str:
    m1, na, doc = w.offer("RU", "US", "t")
    nb = rand("tb")
    w.registry.submit(m1.envelope.encode(), [doc])
    for st in (
        acts.accept(w.parties["US"].fm, w.clock.text(), m1, nb),
        acts.reveal(w.parties["RU"].fm, w.clock.text(), m1, na),
        acts.reveal(w.parties["US"].fm, w.clock.text(), m1, nb),
    ):
        w.registry.submit(st.envelope.encode())
    return str(m1.body["xid"])


def test_termination_needs_notice_and_ends_force() -> None:
    w = world()
    x = _concluded(w)
    soon = format_time(w.clock.now + timedelta(days=10))
    with pytest.raises(ConflictError, match="90 days"):
        w.registry.submit(
            acts.termination(w.parties["US"].fm, w.clock.text(), x, "ends", soon).envelope.encode()
        )
    end = w.clock.now + timedelta(days=90)
    w.registry.submit(
        acts.termination(w.parties["US"].fm, w.clock.text(), x, "ends", format_time(end)).envelope.encode()
    )
    p = w.registry.projection
    assert p.in_force_between("RU", "US", end - timedelta(seconds=1)) == [x]
    assert p.in_force_between("RU", "US", end) == []
    with pytest.raises(ConflictError, match="not its party"):
        w.registry.submit(
            acts.termination(w.parties["FR"].fm, w.clock.text(), x, "x", format_time(end)).envelope.encode()
        )


def test_declaration_protest_reply_and_incident_records() -> None:
    w = world()
    text = b"We declare."
    did = xid("d")
    decl = acts.declaration(
        w.parties["RU"].fm, w.clock.text(), did=did, to="US", clauses=["L1", "M2"], summary="s",
        text=sha256_hex(text), effective=w.clock.text(), notice_days=30,
    )  # fmt: skip
    w.registry.submit(decl.envelope.encode(), [text])
    p = w.registry.projection
    assert p.clauses_in_force("US", "RU", w.clock.now) == ["L1", "M2"]
    body = {
        "iid": xid("i"), "to": "RU", "monitor_id": "0" * 16, "asset": {"name": "a", "kind": "election-body"},
        "attack": "flood", "start": w.clock.text(), "end": w.clock.text(), "requests": 1,
        "peak_per_minute": 1,
        "sources": 1, "origin": {"country": "RU", "requests": 1, "sources": 1}, "networks": [],
        "clauses": ["M2"], "evidence": "0" * 64, "attributed_actor": None,
    }  # fmt: skip
    w.registry.submit(w.parties["US"].certs.sign("incident", w.clock.text(), body).envelope.encode())
    bad = {**body, "iid": xid("i2"), "clauses": ["M4"]}
    with pytest.raises(VerificationError, match="not in force"):
        w.registry.submit(w.parties["US"].certs.sign("incident", w.clock.text(), bad).envelope.encode())
    elsewhere = {**body, "iid": xid("i3"), "origin": {"country": "CN", "requests": 1, "sources": 1}}
    signed = w.parties["US"].certs.sign("incident", w.clock.text(), elsewhere)
    with pytest.raises(VerificationError, match=r"its origin state: to is RU, origin\.country CN"):
        w.registry.submit(signed.envelope.encode())
    with pytest.raises(VerificationError, match="origin state is not the state it is addressed to"):
        recompute_claim("incident", [(0, LogEntry(w.clock.now, signed))])
    pid = xid("p")
    protest = acts.protest(
        w.parties["US"].fm, w.clock.text(), pid=pid, to="RU", ref=did, clauses=["M2"], summary="breach",
        incidents=[xid("i")],
    )  # fmt: skip
    w.registry.submit(protest.envelope.encode())
    with pytest.raises(VerificationError, match="only RU"):
        w.registry.submit(
            acts.reply(w.parties["FR"].fm, w.clock.text(), pid, "rejects", "no").envelope.encode()
        )
    w.registry.submit(acts.reply(w.parties["RU"].fm, w.clock.text(), pid, "rejects", "no").envelope.encode())
    with pytest.raises(ConflictError, match="already has a reply"):
        w.registry.submit(
            acts.reply(w.parties["RU"].fm, w.clock.text(), pid, "accepts", "yes").envelope.encode()
        )
    reply = acts.incident_reply(w.parties["RU"].certs, w.clock.text(), xid("i"), "neither", "looking")
    w.registry.submit(reply.envelope.encode())
    assert p.incidents[xid("i")].reply == reply.sid
    revoke_at = format_time(w.clock.now + timedelta(days=30))
    w.registry.submit(
        acts.termination(w.parties["RU"].fm, w.clock.text(), did, "revoked", revoke_at).envelope.encode()
    )
    assert p.in_force_between("RU", "US", w.clock.now + timedelta(days=31)) == []
    revoked = p.timeline("RU", "US")[-1]  # the revocation is an act between them, as the declaration
    assert (revoked.kind, revoked.counterparty, revoked.ref) == ("termination", "US", did)
    assert "termination" in [act.kind for act in concerning(w.registry, "US")]
    to_all = acts.declaration(
        w.parties["RU"].fm, w.clock.text(), did=xid("all"), to=None, clauses=["L1"], summary="s",
        text=sha256_hex(text), effective=w.clock.text(), notice_days=0,
    )  # fmt: skip
    w.registry.submit(to_all.envelope.encode(), [text])
    w.registry.submit(
        acts.termination(
            w.parties["RU"].fm, w.clock.text(), xid("all"), "revoked", w.clock.text()
        ).envelope.encode()
    )
    assert [a.kind for a in p.timeline("FR", "RU")] == ["declaration", "termination"]
    assert [a.kind for a in concerning(w.registry, "FR")][:2] == ["termination", "declaration"]


def test_a_protest_cites_only_what_binds_the_two_parties() -> None:
    """An exchange that never took effect binds no one; another pair's incident is not this pair's; a
    declaration to a third state pledged nothing to the protester; and no one declares to itself."""
    w = world(("RU", "US", "FR", "DE"))
    m1, _, doc = w.offer("RU", "US", "refused")
    w.registry.submit(m1.envelope.encode(), [doc])
    w.registry.submit(acts.refuse(w.parties["US"].fm, w.clock.text(), m1, "no").envelope.encode())
    body = {
        "iid": xid("fr-de"), "to": "DE", "monitor_id": "0" * 16,
        "asset": {"name": "a", "kind": "election-body"}, "attack": "flood", "start": w.clock.text(),
        "end": w.clock.text(), "requests": 1, "peak_per_minute": 1, "sources": 1,
        "origin": {"country": "DE", "requests": 1, "sources": 1}, "networks": [], "clauses": [],
        "evidence": "0" * 64, "attributed_actor": None,
    }  # fmt: skip
    w.registry.submit(w.parties["FR"].certs.sign("incident", w.clock.text(), body).envelope.encode())
    text = b"We declare."
    decl = acts.declaration(
        w.parties["RU"].fm, w.clock.text(), did=xid("to-fr"), to="FR", clauses=["L1"], summary="s",
        text=sha256_hex(text), effective=w.clock.text(), notice_days=30,
    )  # fmt: skip
    w.registry.submit(decl.envelope.encode(), [text])

    def protest(label: str, ref: str, incidents: tuple[str, ...] = ()) -> bytes:
        return acts.protest(
            w.parties["US"].fm, w.clock.text(), pid=xid(label), to="RU", ref=ref, clauses=["L1"],
            summary="breach", incidents=incidents,
        ).envelope.encode()  # fmt: skip

    size = w.registry.log.size
    with pytest.raises(ConflictError, match="was never concluded: RU pledged nothing"):
        w.registry.submit(protest("p1", m1.body["xid"]))
    with pytest.raises(ConflictError, match="addressed to FR, not to US"):
        w.registry.submit(protest("p2", xid("to-fr")))
    assert w.registry.log.size == size
    ok_decl = acts.declaration(
        w.parties["RU"].fm, w.clock.text(), did=xid("to-us"), to="US", clauses=["L1"], summary="s",
        text=sha256_hex(text), effective=w.clock.text(), notice_days=30,
    )  # fmt: skip
    w.registry.submit(ok_decl.envelope.encode(), [text])
    size = w.registry.log.size
    with pytest.raises(VerificationError, match=f"incident {xid('fr-de')}, which is not between US and RU"):
        w.registry.submit(protest("p3", xid("to-us"), (xid("fr-de"),)))
    to_itself = acts.declaration(
        w.parties["RU"].fm, w.clock.text(), did=xid("self"), to="RU", clauses=["L1"], summary="s",
        text=sha256_hex(text), effective=w.clock.text(), notice_days=30,
    )  # fmt: skip
    with pytest.raises(VerificationError, match="cannot address a declaration to itself"):
        w.registry.submit(to_itself.envelope.encode(), [text])
    assert w.registry.log.size == size
    w.registry.submit(protest("p4", xid("to-us")))  # what does bind them is protested
