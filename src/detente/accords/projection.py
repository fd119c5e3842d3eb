"""The projection: the state of every party, exchange, declaration, protest and incident, by replay.

Invariants:
- :meth:`Projection.apply` either applies a whole statement or raises and changes nothing: every check
  runs before the first assignment. So replaying the log from scratch gives the same state as applying
  the statements one by one as they were accepted (tested).
- A statement is checked against the keyset of its party in force at that point of the log; a keyset
  change needs the root thresholds (:func:`~detente.statements.keysets.check_keyset_change`).
- Each statement id appears once (no replay); each id (``xid``, ``did``, ``pid``, ``iid``) names one thing.
- :attr:`Projection.known_keys` holds every key any applied keyset listed, in force or not. It is
  replaced, never changed in place, so a reference to it may be read from another thread. Knowing a key
  authorises nothing: it only lets signatures be checked early (see :mod:`detente.registry.precheck`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from msgspec.structs import replace

from detente.errors import ConflictError, MalformedError, NotFoundError, VerificationError
from detente.statements.canonical import parse_canonical, parse_time
from detente.statements.keys import PublicKey
from detente.statements.keysets import Keyset, check_keyset_change
from detente.statements.kinds import SIGNERS
from detente.statements.statement import Statement

from .exchange import Exchange, apply_act, close_by_counter, open_exchange
from .letters import TERMS_SCHEMA, check_terms
from .records import Act, Declaration, Incident, Protest

BlobLookup = Callable[[str], bytes | None]


def read_terms(document: bytes, originator: str, responder: str) -> tuple[tuple[str, ...], int]:
    """Check a terms document against the offer's parties; return its clause ids and notice days."""
    value: Any = parse_canonical(document, "terms document")
    if not isinstance(value, dict) or value.get("schema") != TERMS_SCHEMA:
        raise MalformedError(f"the terms blob is not a {TERMS_SCHEMA} document")
    try:
        check_terms(value, "terms")
    except MalformedError as exc:
        raise MalformedError(f"the terms document is not valid: {exc}") from exc
    letters = value["letters"]
    if [letter["author"]["party"] for letter in letters] != [originator, responder]:
        raise VerificationError("the terms' letters must be by the offeror and the addressee, in that order")
    if [letter["addressee"]["party"] for letter in letters] != [responder, originator]:
        raise VerificationError("each letter of the terms must be addressed to the other party")
    clauses = sorted({c for letter in letters for c in letter["clauses"]})
    return tuple(clauses), value["notice_days"]


@dataclass
class Projection:
    """Everything the log says, as of the entries applied so far."""

    notary: PublicKey
    blobs: BlobLookup
    keysets: dict[str, Keyset] = field(default_factory=dict)
    keyset_history: dict[str, list[tuple[int, Keyset]]] = field(default_factory=dict)
    known_keys: Mapping[str, PublicKey] = field(default_factory=dict)
    exchanges: dict[str, Exchange] = field(default_factory=dict)
    # exchange ids by their two parties: what is in force between two parties is asked for every
    # incident, and must not cost a walk over every exchange of every party
    between: dict[frozenset[str], list[str]] = field(default_factory=dict)
    declarations: dict[str, Declaration] = field(default_factory=dict)
    # (log index, declaration id) by author, in log order: for the same reason, what is in force
    # between two parties must not walk every declaration of every party
    declared: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    protests: dict[str, Protest] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    # incident ids by (reporter, origin state, evidence digest): one incident is reported once
    reported: dict[tuple[str, str, str], str] = field(default_factory=dict)
    terminations: dict[str, datetime] = field(default_factory=dict)
    acts: list[Act] = field(default_factory=list)
    sids: dict[str, int] = field(default_factory=dict)
    size: int = 0

    # --- checks shared by every kind ----------------------------------------------------------

    def _authority(self, st: Statement) -> None:
        if st.kind == "keyset":
            return  # checked by check_keyset_change against the current version
        if st.kind == "decision":
            if self.notary.keyid not in st.envelope.verified_by({self.notary.keyid: self.notary}):
                raise VerificationError("a decision must be signed by this registry's notary key")
            return
        keyset = self.keysets.get(st.party)
        if keyset is None:
            raise NotFoundError(f"party {st.party} has no registered keyset")
        if keyset.authorised(st.envelope, SIGNERS[st.kind]) is None:
            roles = " or ".join(SIGNERS[st.kind])
            raise VerificationError(
                f"the {st.kind} is not signed by the threshold of {st.party}'s {roles} keys in force "
                f"(keyset version {keyset.version})"
            )

    def _fresh_id(self, value: str) -> None:
        if (
            value in self.exchanges
            or value in self.declarations
            or value in self.protests
            or value in self.incidents
        ):
            raise ConflictError(f"id {value} is already used in the log")

    # --- apply --------------------------------------------------------------------------------

    def apply(self, st: Statement, received: datetime) -> None:
        """Check ``st`` as the next log entry and apply it, or raise and change nothing."""
        if st.sid in self.sids:
            raise ConflictError(
                f"this {st.kind} is already in the log at index {self.sids[st.sid]} (a replay)"
            )
        self._authority(st)
        commit = _KIND_HANDLERS[st.kind](self, st, received)
        commit()
        counterparty, ref = _summary(st, self)
        self.acts.append(Act(self.size, received, st.issued, st.kind, st.party, counterparty, ref, st.sid))
        self.sids[st.sid] = self.size
        self.size += 1

    def _keyset(self, st: Statement, received: datetime) -> Callable[[], None]:
        new = check_keyset_change(self.keysets.get(st.party), st)

        def commit() -> None:
            self.keysets[st.party] = new
            self.keyset_history.setdefault(st.party, []).append((self.size, new))
            self.known_keys = {**self.known_keys, **new.keys}  # a new mapping: see the invariant

        return commit

    def _offer(self, st: Statement, received: datetime) -> Callable[[], None]:
        xid = st.body["xid"]
        self._fresh_id(xid)
        blob = self.blobs(st.body["terms"])
        if blob is None:
            raise NotFoundError(f"the terms blob {st.body['terms'][:16]}... is not in the blob store")
        clauses, notice = read_terms(blob, st.party, st.body["to"])
        ex = open_exchange(st, received, self.notary.keyid, clauses, notice)
        answered = None
        if st.kind == "counter":
            old = self.exchanges.get(st.body["answers"])
            if old is None:
                raise NotFoundError(f"the counter answers unknown exchange {st.body['answers']}")
            answered = close_by_counter(old, st, received)

        def commit() -> None:
            self.exchanges[xid] = ex
            self.between.setdefault(frozenset((ex.originator, ex.responder)), []).append(xid)
            if answered is not None:
                self.exchanges[answered.xid] = answered

        return commit

    def _exchange_act(self, st: Statement, received: datetime) -> Callable[[], None]:
        ex = self.exchanges.get(st.body["xid"])
        if ex is None:
            raise NotFoundError(f"no exchange {st.body['xid']} in the log")
        new = apply_act(ex, st, received)
        return lambda: self.exchanges.__setitem__(ex.xid, new)

    def _declaration(self, st: Statement, received: datetime) -> Callable[[], None]:
        b = st.body
        self._fresh_id(b["did"])
        if b["to"] == st.party:
            raise VerificationError("a party cannot address a declaration to itself (to: null addresses all)")
        decl = Declaration(
            b["did"],
            st.party,
            b["to"],
            tuple(b["clauses"]),
            parse_time(b["effective"]),
            b["notice_days"],
            st.sid,
        )

        def commit() -> None:
            self.declarations[decl.did] = decl
            self.declared.setdefault(decl.party, []).append((self.size, decl.did))

        return commit

    def _termination(self, st: Statement, received: datetime) -> Callable[[], None]:
        ref = st.body["ref"]
        effective = parse_time(st.body["effective"])
        notice = self._notice_for_termination(st, ref)
        if ref in self.terminations:
            raise ConflictError(f"{ref} is already terminated")
        if effective < received + timedelta(days=notice):
            raise ConflictError(f"termination of {ref} needs {notice} days' notice from its reception")
        decl = self.declarations.get(ref)

        def commit() -> None:
            self.terminations[ref] = effective
            if decl is not None:
                self.declarations[ref] = replace(decl, terminated=effective)

        return commit

    def _notice_for_termination(self, st: Statement, ref: str) -> int:
        ex = self.exchanges.get(ref)
        if ex is not None:
            if st.party not in (ex.originator, ex.responder) or not ex.in_force:
                raise ConflictError(
                    f"{st.party} cannot terminate exchange {ref}: not its party or not in force"
                )
            return ex.notice_days
        decl = self.declarations.get(ref)
        if decl is None or decl.party != st.party:
            raise NotFoundError(f"{st.party} has no exchange or declaration {ref} to terminate")
        return decl.notice_days

    def _protest(self, st: Statement, received: datetime) -> Callable[[], None]:
        b = st.body
        self._fresh_id(b["pid"])
        if b["to"] == st.party:
            raise VerificationError("a party cannot protest to itself")
        pledged = self._instrument_clauses(b["ref"], st.party, b["to"])
        unknown = sorted(set(b["clauses"]) - set(pledged))
        if unknown:
            raise VerificationError(f"the protest cites clauses not in {b['ref']}: {', '.join(unknown)}")
        missing = [i for i in b["incidents"] if i not in self.incidents]
        if missing:
            raise NotFoundError(f"the protest cites unknown incident {missing[0]}")
        pair = {st.party, b["to"]}
        foreign = [i for i in b["incidents"] if {self.incidents[i].party, self.incidents[i].to} != pair]
        if foreign:
            raise VerificationError(
                f"the protest cites incident {foreign[0]}, which is not between {st.party} and {b['to']}"
            )
        protest = Protest(b["pid"], st.party, b["to"], b["ref"], tuple(b["clauses"]), st.sid)
        return lambda: self.protests.__setitem__(protest.pid, protest)

    def _instrument_clauses(self, ref: str, party: str, to: str) -> tuple[str, ...]:
        ex = self.exchanges.get(ref)
        if ex is not None and {ex.originator, ex.responder} == {party, to}:
            if ex.concluded is None:
                raise ConflictError(f"exchange {ref} was never concluded: {to} pledged nothing by it")
            return ex.clauses
        decl = self.declarations.get(ref)
        if decl is not None and decl.party == to:
            if decl.to not in (None, party):
                raise ConflictError(f"declaration {ref} by {to} is addressed to {decl.to}, not to {party}")
            return decl.clauses
        raise NotFoundError(f"{ref} is no exchange between {party} and {to} nor a declaration by {to}")

    def _reply(self, st: Statement, received: datetime) -> Callable[[], None]:
        protest = self.protests.get(st.body["pid"])
        if protest is None:
            raise NotFoundError(f"no protest {st.body['pid']} in the log")
        if protest.to != st.party:
            raise VerificationError(
                f"only {protest.to}, to whom protest {protest.pid} is addressed, can reply"
            )
        if protest.reply is not None:
            raise ConflictError(f"protest {protest.pid} already has a reply")
        return lambda: self.protests.__setitem__(protest.pid, replace(protest, reply=st.sid))

    def _incident(self, st: Statement, received: datetime) -> Callable[[], None]:
        b = st.body
        self._fresh_id(b["iid"])
        if b["to"] == st.party:
            raise VerificationError("an incident names an origin state other than the reporting party")
        if b["origin"]["country"] != b["to"]:
            raise VerificationError(
                f"an incident is addressed to its origin state: to is {b['to']}, "
                f"origin.country {b['origin']['country']}"
            )
        check_incident_figures(b)
        # most incidents cite no clause: what is in force is then not asked
        cited = set(b["clauses"])
        extra = sorted(cited - set(self.clauses_in_force(st.party, b["to"], received))) if cited else []
        if extra:
            raise VerificationError(f"the incident cites clauses not in force between the parties: {extra}")
        key = (st.party, b["to"], b["evidence"])
        if key in self.reported:
            raise ConflictError(
                f"{st.party} already reported this incident to {b['to']} as incident {self.reported[key]} "
                f"(the same evidence, {b['evidence'][:16]}...)"
            )
        incident = Incident(b["iid"], st.party, b["to"], tuple(b["clauses"]), b["evidence"], st.sid)

        def commit() -> None:
            self.incidents[incident.iid] = incident
            self.reported[key] = incident.iid

        return commit

    def _incident_reply(self, st: Statement, received: datetime) -> Callable[[], None]:
        incident = self.incidents.get(st.body["iid"])
        if incident is None:
            raise NotFoundError(f"no incident {st.body['iid']} in the log")
        if incident.to != st.party or incident.reply is not None:
            raise ConflictError(f"only {incident.to} replies to incident {incident.iid}, once")
        return lambda: self.incidents.__setitem__(incident.iid, replace(incident, reply=st.sid))

    # --- queries ------------------------------------------------------------------------------

    def keyset_at(self, party: str, index: int) -> Keyset | None:
        """The keyset of ``party`` in force for the entry at ``index``."""
        found = None
        for at, keyset in self.keyset_history.get(party, []):
            if at < index:
                found = keyset
        return found

    def in_force_between(self, a: str, b: str, at: datetime) -> list[str]:
        """Ids of the exchanges and declarations in force between ``a`` and ``b`` at ``at``."""
        found = []
        for xid in self.between.get(frozenset((a, b)), ()):
            ex = self.exchanges[xid]
            ended = self.terminations.get(ex.xid)
            concluded = ex.concluded if ex.in_force else None
            if concluded is not None and concluded <= at and (ended is None or at < ended):
                found.append(ex.xid)
        authors = (a,) if a == b else (a, b)
        for _, did in heapq.merge(*(self.declared.get(p, ()) for p in authors)):  # in log order
            d = self.declarations[did]
            if (d.party, d.to) in ((a, b), (b, a), (a, None), (b, None)) and d.in_force(at):
                found.append(d.did)
        return found

    def clauses_in_force(self, a: str, b: str, at: datetime) -> list[str]:
        """Clause ids of every instrument in force between ``a`` and ``b`` at ``at``."""
        clauses: set[str] = set()
        for ref in self.in_force_between(a, b, at):
            ex = self.exchanges.get(ref)
            clauses.update(ex.clauses if ex is not None else self.declarations[ref].clauses)
        return sorted(clauses)

    def timeline(self, a: str, b: str) -> list[Act]:
        """Every act between ``a`` and ``b``, in log order."""
        xids = set(self.between.get(frozenset((a, b)), ()))

        def between(act: Act) -> bool:
            if act.kind == "decision":
                return act.ref in xids
            if act.counterparty is None:  # a declaration to all or its revocation, or a keyset (no pair)
                return act.kind in ("declaration", "termination") and act.party in (a, b)
            return {act.party, act.counterparty} == {a, b}

        return [act for act in self.acts if between(act)]

    def offers_and_refusals(self, party: str) -> list[Act]:
        """Every offer, counter-offer and refusal made by ``party``."""
        return [a for a in self.acts if a.party == party and a.kind in ("offer", "counter", "refuse")]

    def lapse_due(self, now: datetime) -> list[Exchange]:
        """Exchanges for which the notary must now log ``lapsed``."""
        from .exchange import lapse_due

        return [ex for ex in self.exchanges.values() if lapse_due(ex, now)]


def check_incident_figures(body: Mapping[str, Any]) -> None:
    """Refuse an incident whose figures cannot all be true: it ends before it starts, its peak minute
    holds more requests than the whole incident, or its origin state sent more requests, or from more
    sources, than the whole incident counts. (Times compare as
    text: the schema admits only ``YYYY-MM-DDTHH:MM:SSZ``.)

    Raises:
        VerificationError: the first figure that contradicts another.
    """
    if body["end"] < body["start"]:
        raise VerificationError(f"the incident ends ({body['end']}) before it starts ({body['start']})")
    if body["peak_per_minute"] > body["requests"]:
        raise VerificationError(
            f"the incident's peak ({body['peak_per_minute']} a minute) is above its requests "
            f"({body['requests']})"
        )
    origin = body["origin"]
    for figure in ("requests", "sources"):
        if origin[figure] > body[figure]:
            raise VerificationError(
                f"the incident's origin state sent more {figure} ({origin[figure]}) than the incident "
                f"counts ({body[figure]})"
            )


def _summary(st: Statement, proj: Projection) -> tuple[str | None, str | None]:
    """The counterparty and referenced id of a statement, for the timeline."""
    b = st.body
    if st.kind in ("offer", "counter", "declaration", "protest", "incident"):
        ref = b.get("xid") or b.get("did") or b.get("pid") or b.get("iid")
        return b.get("to"), ref
    if "xid" in b:
        ex = proj.exchanges[b["xid"]]
        other = ex.responder if st.party == ex.originator else ex.originator
        return (None if st.kind == "decision" else other), b["xid"]
    if st.kind == "reply":
        return proj.protests[b["pid"]].party, b["pid"]
    if st.kind == "incident-reply":
        return proj.incidents[b["iid"]].party, b["iid"]
    if st.kind == "termination":
        target = proj.exchanges.get(b["ref"])
        if target is None:  # a declaration revoked: its addressee, or all (None) as the declaration
            return proj.declarations[b["ref"]].to, b["ref"]
        return (target.responder if st.party == target.originator else target.originator), b["ref"]
    return None, None


_KIND_HANDLERS: dict[str, Callable[[Projection, Statement, datetime], Callable[[], None]]] = {
    "keyset": Projection._keyset,
    "offer": Projection._offer,
    "counter": Projection._offer,
    "declaration": Projection._declaration,
    "termination": Projection._termination,
    "protest": Projection._protest,
    "reply": Projection._reply,
    "incident": Projection._incident,
    "incident-reply": Projection._incident_reply,
    **dict.fromkeys(
        ("accept", "refuse", "withdraw", "reveal", "abort", "resolve", "decision"), Projection._exchange_act
    ),
}
