"""Fairness of the exchange, tested, not assumed: a stateful test over honest and dishonest behaviour.

Two parties, A (RU, originator) and B (US, responder), each keep their own store of the messages they
saw; the log is public, so either can read it at any time. "Holds a contract" is decided only by the
offline verifier (:func:`find_contract`) over a party's store plus the public log. After every step:

- no honest party is left unable to obtain a contract that the other party holds: it holds one, or it
  can still resolve with the notary before the deadline (and its timer makes it do so);
- the notary never gives two decisions for one exchange, and a refused request appends nothing.

Honest rules follow the protocol (A logs m2 before revealing nA; B reveals nB after nA, or early to
the log once m2 is logged; each resolves before the deadline if it lacks the contract). Dishonest
parties may do anything they can sign: stop, withhold a nonce, reveal only directly, abort late, refuse
after accepting, replay old messages, resolve twice.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from detente.accords import acts
from detente.accords.contract import Trust, find_contract
from detente.errors import DetenteError
from detente.registry.entry import LogEntry
from detente.statements.dsse import Envelope
from detente.statements.kinds import payload_type
from detente.statements.statement import Statement, open_statement
from tests.accords.world import NOTARY, World, rand, world

HOURS = 12


@dataclass
class Actor:
    """A party: its honesty, its own message store and what it has done."""

    name: str
    honest: bool
    store: set[Envelope] = field(default_factory=set)
    nonces: set[bytes] = field(default_factory=set)
    revealed: bool = False
    accepted: bool = False
    resolved: bool = False


class Fairness(RuleBasedStateMachine):
    """Interleavings of honest and dishonest acts of one exchange."""

    w: World

    @initialize(honesty=st.sampled_from([(True, True), (True, False), (False, True)]))
    def setup(self, honesty: tuple[bool, bool]) -> None:
        self.w = world(("RU", "US"))
        self.a = Actor("RU", honesty[0])
        self.b = Actor("US", honesty[1])
        self.old = self._old_exchange()
        self.m1, self.na, doc = self.w.offer("RU", "US", "main", hours=HOURS)
        self.nb = rand("nb main")
        self.w.registry.submit(self.m1.envelope.encode(), [doc])
        self.a.store.add(self.m1.envelope)
        self.a.nonces.add(self.na)
        self.b.store.add(self.m1.envelope)
        self.b.nonces.add(self.nb)
        self.m2: Statement | None = None
        self.trust = Trust(
            {p: self.w.registry.projection.keysets[p] for p in ("RU", "US")}, {NOTARY.keyid: NOTARY.public}
        )
        self.deadline = self.w.clock.now + timedelta(hours=HOURS)

    def _old_exchange(self) -> list[Envelope]:
        """A concluded earlier exchange: its messages are material for replays."""
        w, reg = self.w, self.w.registry
        m1, na, doc = w.offer("RU", "US", "old")
        nb = rand("nb old")
        m2 = acts.accept(w.parties["US"].fm, w.clock.text(), m1, nb)
        msgs = [m1, m2, acts.reveal(w.parties["RU"].fm, w.clock.text(), m1, na)]
        msgs.append(acts.reveal(w.parties["US"].fm, w.clock.text(), m1, nb))
        reg.submit(msgs[0].envelope.encode(), [doc])
        for m in msgs[1:]:
            reg.submit(m.envelope.encode())
        return [m.envelope for m in msgs]

    # --- helpers ------------------------------------------------------------------------------

    @property
    def xid(self) -> str:
        return str(self.m1.body["xid"])

    def _log(self) -> list[Envelope]:
        reg = self.w.registry
        return [LogEntry.decode(e).statement.envelope for e in reg.log.entries(0, reg.log.size)]

    def _submit(self, statement: Statement) -> bool:
        """Submit; a refusal must append nothing."""
        size = self.w.registry.log.size
        try:
            self.w.registry.submit(statement.envelope.encode())
        except DetenteError:
            assert self.w.registry.log.size == size
            return False
        return True

    def holds(self, actor: Actor) -> bool:
        envelopes = actor.store | set(self._log())
        return find_contract(envelopes, actor.nonces, self.trust, self.xid) is not None

    def _now_text(self) -> str:
        return self.w.clock.text()

    def _fm(self, actor: Actor) -> acts.Authority:
        return self.w.parties[actor.name].fm

    def _m2_logged(self) -> bool:
        return self.w.registry.projection.exchanges[self.xid].accept is not None

    def can_obtain(self, actor: Actor) -> bool:
        """Holds, or can still resolve before the deadline (an honest timer will)."""
        if self.holds(actor):
            return True
        ex = self.w.registry.projection.exchanges[self.xid]
        has_m2 = self.m2 is not None and (self.m2.envelope in actor.store or self._m2_logged())
        return has_m2 and ex.decision is None and ex.closed is None and self.w.clock.now < self.deadline

    def _resolve(self, actor: Actor) -> None:
        assert self.m2 is not None
        if not self._m2_logged():
            self._submit(self.m2)
        self._submit(acts.resolve(self._fm(actor), self._now_text(), self.m1, self.m2))
        actor.resolved = True

    # --- rules --------------------------------------------------------------------------------

    @precondition(lambda self: not self.b.accepted)
    @rule(log=st.booleans(), deliver=st.booleans())
    def b_accepts(self, log: bool, deliver: bool) -> None:
        """B sends m2 to A (the network may deliver it now or later) and, if honest, logs it."""
        self.m2 = acts.accept(self._fm(self.b), self._now_text(), self.m1, self.nb)
        self.b.accepted = True
        self.b.store.add(self.m2.envelope)
        if deliver:
            self.a.store.add(self.m2.envelope)
        if log or self.b.honest:
            self._submit(self.m2)

    @precondition(lambda self: self.m2 is not None)
    @rule()
    def network_delivers_m2_to_a(self) -> None:
        assert self.m2 is not None
        self.a.store.add(self.m2.envelope)

    @precondition(lambda self: self.m2 is not None and self.m2.envelope in self.a.store)
    @rule(direct=st.booleans())
    def a_reveals(self, direct: bool) -> None:
        if self.a.honest:
            if not self._m2_logged() and not self._submit_m2():
                return  # honest A reveals only once m2 is in the log
            ex = self.w.registry.projection.exchanges[self.xid]
            if ex.decision is not None or self.w.clock.now >= self.deadline:
                return
        self.a.revealed = True
        if direct or self.a.honest:  # honest A sends nA both ways
            self.b.nonces.add(self.na)
        if self.a.honest or not direct:
            self._submit(acts.reveal(self._fm(self.a), self._now_text(), self.m1, self.na))

    def _submit_m2(self) -> bool:
        assert self.m2 is not None
        return self._submit(self.m2)

    @precondition(lambda self: self.b.accepted)
    @rule(direct=st.booleans(), early=st.booleans())
    def b_reveals(self, direct: bool, early: bool) -> None:
        if self.b.honest and not self.holds(self.b):
            # Honest B reveals once it has nA (then it holds the contract), or, trusting, early: to the
            # log while the exchange is undecided, and to A only once logged. Fairness must hold for B.
            ex = self.w.registry.projection.exchanges[self.xid]
            undecided = self._m2_logged() and ex.decision is None and ex.closed is None
            reveal = acts.reveal(self._fm(self.b), self._now_text(), self.m1, self.nb)
            if early and undecided and self._submit(reveal):
                self.a.nonces.add(self.nb)
            return
        if direct or self.b.honest:
            self.a.nonces.add(self.nb)
        if self.b.honest or not direct:
            self._submit(acts.reveal(self._fm(self.b), self._now_text(), self.m1, self.nb))

    @precondition(lambda self: not self.a.honest)  # honest A aborts only from its timer
    @rule()
    def a_aborts(self) -> None:
        self._submit(acts.abort(self._fm(self.a), self._now_text(), self.m1))

    @precondition(lambda self: self.m2 is not None)
    @rule(who=st.sampled_from(["a", "b"]))
    def resolves(self, who: str) -> None:
        actor = self.a if who == "a" else self.b
        if actor.honest and (actor.resolved or self.holds(actor)):
            return
        if actor is self.a and self.m2 is not None and self.m2.envelope not in self.a.store:
            return  # A cannot resolve without m2
        self._resolve(actor)

    @precondition(lambda self: not self.b.honest)
    @rule()
    def b_refuses_anyway(self) -> None:
        self._submit(acts.refuse(self._fm(self.b), self._now_text(), self.m1, "no"))

    @precondition(lambda self: not self.a.honest)
    @rule()
    def a_withdraws_anyway(self) -> None:
        self._submit(acts.withdraw(self._fm(self.a), self._now_text(), self.m1, "withdrawn"))

    @rule(which=st.integers(0, 3), into_store=st.booleans())
    def someone_replays_an_old_message(self, which: int, into_store: bool) -> None:
        envelope = self.old[which]
        if into_store:
            self.a.store.add(envelope)
            self.b.store.add(envelope)
        size = self.w.registry.log.size
        with contextlib.suppress(DetenteError):
            self.w.registry.submit(envelope.encode())
        assert self.w.registry.log.size == size, "a replayed message was appended"

    @rule()
    def time_passes(self) -> None:
        if self.w.clock.now + timedelta(hours=1) >= self.deadline:
            self._honest_timers()
        self.w.clock.advance(hours=1)
        self.w.registry.lapse()

    def _honest_timers(self) -> None:
        """Before the deadline an honest party without a contract resolves (A aborts if it never revealed)."""
        if self.a.honest and not self.holds(self.a):
            if self.a.revealed and self.m2 is not None:
                self._resolve(self.a)
            elif not self.a.revealed:
                self._submit(acts.abort(self._fm(self.a), self._now_text(), self.m1))
        if self.b.honest and self.b.accepted and not self.holds(self.b):
            self._resolve(self.b)

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def fair(self) -> None:
        for honest, other in ((self.a, self.b), (self.b, self.a)):
            if honest.honest and self.holds(other):
                assert self.can_obtain(honest), (
                    f"{other.name} holds a contract that honest {honest.name} cannot obtain"
                )

    @invariant()
    def one_decision_per_exchange(self) -> None:
        decisions: dict[str, int] = {}
        for env in self._log():
            if env.payload_type == payload_type("decision"):
                xid = str(open_statement(env).body["xid"])
                decisions[xid] = decisions.get(xid, 0) + 1
        assert all(n == 1 for n in decisions.values()), decisions

    def teardown(self) -> None:
        """At the end of each run, the projection rebuilt from the log equals the incremental one."""
        if hasattr(self, "w"):
            self.projection_rebuilt_equals_incremental()

    def projection_rebuilt_equals_incremental(self) -> None:
        incremental = self.w.registry.projection
        self.w.registry.rebuild()
        assert self.w.registry.projection.exchanges == incremental.exchanges
        assert self.w.registry.projection.acts == incremental.acts


Fairness.TestCase.settings = settings(
    max_examples=400, stateful_step_count=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestFairness = Fairness.TestCase
