"""The happy paths through submit: an exchange concluded by nonces, one resolved by the notary."""

from __future__ import annotations

from detente.accords import acts
from detente.accords.exchange import Phase
from tests.accords.world import rand, world


def test_exchange_concluded_by_both_nonces() -> None:
    w = world()
    reg = w.registry
    m1, na, doc = w.offer("RU", "US", "x1")
    reg.submit(m1.envelope.encode(), [doc])
    nb = rand("nb")
    m2 = acts.accept(w.parties["US"].fm, w.clock.text(), m1, nb)
    reg.submit(m2.envelope.encode())
    reg.submit(acts.reveal(w.parties["RU"].fm, w.clock.text(), m1, na).envelope.encode())
    receipt = reg.submit(acts.reveal(w.parties["US"].fm, w.clock.text(), m1, nb).envelope.encode())
    ex = reg.projection.exchanges[m1.body["xid"]]
    assert ex.phase == Phase.CONCLUDED
    assert receipt.index == reg.log.size - 1
    assert reg.projection.in_force_between("RU", "US", w.clock.now) == [ex.xid]


def test_resolve_appends_the_notary_decision() -> None:
    w = world()
    reg = w.registry
    m1, _, doc = w.offer("RU", "US", "x2")
    reg.submit(m1.envelope.encode(), [doc])
    m2 = acts.accept(w.parties["US"].fm, w.clock.text(), m1, rand("nb2"))
    reg.submit(m2.envelope.encode())
    receipt = reg.submit(acts.resolve(w.parties["US"].fm, w.clock.text(), m1, m2).envelope.encode())
    assert receipt.decision == "resolved"
    last = reg.entry(reg.log.size - 1).statement
    assert last.kind == "decision"
    assert last.body["outcome"] == "resolved"
    assert reg.projection.exchanges[m1.body["xid"]].phase == Phase.RESOLVED
