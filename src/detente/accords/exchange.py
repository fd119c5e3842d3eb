"""One exchange of letters under the ASW optimistic fair-exchange protocol, with the registry as notary.

The state of an exchange is a frozen :class:`Exchange`; each act is checked by a pure function that
returns the next state or raises with the reason. The notary's decision on an ``abort`` or ``resolve``
request is a function of the state alone (:func:`notary_decision`), so the decision is fixed at the
moment the request is sequenced: of two requests in one batch only the first is decided, and the notary
never gives two decisions for one ``xid``.

Why an abort is refused once the originator's nonce is in the log: the responder then already holds the
standard contract ``(m1, nA, m2, nB)``, and an abort could only mislead the public record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from detente.errors import ConflictError, VerificationError
from detente.statements.canonical import b64d, parse_time
from detente.statements.statement import Statement


class Phase(StrEnum):
    """Where an exchange stands."""

    OPEN = "open"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    COUNTERED = "countered"
    CONCLUDED = "concluded"  # both nonces in the log: the standard contract
    RESOLVED = "resolved"  # the notary's S(m1, m2): a contract too
    ABORTED = "aborted"
    LAPSED = "lapsed"


IN_FORCE = (Phase.CONCLUDED, Phase.RESOLVED)


@dataclass(frozen=True)
class Exchange:
    """The logged state of one exchange."""

    xid: str
    offer: str  # h(m1)
    originator: str
    responder: str
    notary: str
    deadline: datetime
    terms: str
    commit_a: str
    opened: datetime
    clauses: tuple[str, ...] = ()
    notice_days: int = 0
    answers: str | None = None
    accept: str | None = None
    commit_b: str | None = None
    nonce_a: bool = False
    nonce_b: bool = False
    closed: Phase | None = None  # refused, withdrawn or countered
    decision: Phase | None = None  # resolved, aborted or lapsed: fixed when the request is sequenced
    request: str | None = None  # the sid of the abort or resolve request that fixed the decision
    decision_logged: bool = False
    concluded: datetime | None = None
    dated: str = ""  # the offer's own date (``issued``, as its author wrote it); ``opened`` is when logged

    @property
    def phase(self) -> Phase:
        """The current phase (a decision outranks a closure, the standard contract outranks a lapse)."""
        if self.decision is not None and self.decision != Phase.LAPSED:
            return self.decision
        if self.nonce_a and self.nonce_b:
            return Phase.CONCLUDED
        if self.decision is not None:
            return self.decision
        if self.closed is not None:
            return self.closed
        return Phase.ACCEPTED if self.accept else Phase.OPEN

    @property
    def in_force(self) -> bool:
        """Whether the exchange concluded (either way)."""
        return self.phase in IN_FORCE


def open_exchange(
    st: Statement, received: datetime, notary: str, clauses: tuple[str, ...], notice: int
) -> Exchange:
    """Check an ``offer`` or ``counter`` (m1) and open its exchange."""
    body = st.body
    if body["to"] == st.party:
        raise VerificationError("an offer must be addressed to another party")
    if body["notary"] != notary:
        raise VerificationError("the offer names another notary than this registry's notary key")
    deadline = parse_time(body["deadline"])
    if deadline <= received:
        raise ConflictError(f"the offer's deadline {body['deadline']} has already passed")
    answers = body.get("answers")
    return Exchange(
        body["xid"], st.sid, st.party, body["to"], notary, deadline, body["terms"], body["commitment"],
        received, clauses, notice, answers, dated=st.issued,
    )  # fmt: skip


def _check_common(ex: Exchange, st: Statement) -> None:
    if st.body["offer"] != ex.offer:
        raise VerificationError(f"the {st.kind} cites another offer than the one of exchange {ex.xid}")


def _require_open(ex: Exchange, st: Statement, received: datetime) -> None:
    if ex.phase != Phase.OPEN:
        raise ConflictError(f"exchange {ex.xid} is {ex.phase}: a {st.kind} is no longer possible")
    if received >= ex.deadline:
        raise ConflictError(f"the deadline of exchange {ex.xid} has passed")


def close_by_counter(ex: Exchange, counter: Statement, received: datetime) -> Exchange:
    """A counter-offer by the addressee closes the offer it answers."""
    if counter.party != ex.responder or counter.body["to"] != ex.originator:
        raise VerificationError("only the addressee of an offer can counter it, addressed to the offeror")
    if ex.phase != Phase.OPEN or received >= ex.deadline:
        raise ConflictError(f"exchange {ex.xid} is no longer open to a counter-offer")
    return replace(ex, closed=Phase.COUNTERED)


def apply_act(ex: Exchange, st: Statement, received: datetime) -> Exchange:
    """Check one act of an existing exchange and return the next state.

    Raises:
        VerificationError: the act is by the wrong party, cites another offer, or a nonce does not match.
        ConflictError: the act is not allowed in the exchange's current phase or after its deadline.
    """
    if st.kind == "decision":
        return _apply_decision(ex, st, received)
    _check_common(ex, st)
    handler = _HANDLERS[st.kind]
    return handler(ex, st, received)


def _accept(ex: Exchange, st: Statement, received: datetime) -> Exchange:
    if st.party != ex.responder:
        raise VerificationError(f"only {ex.responder}, the addressee, can accept offer {ex.xid}")
    _require_open(ex, st, received)
    if st.body["commitment"] == ex.commit_a:
        # nB would then be nA: the originator's reveal alone would complete the contract
        raise VerificationError(
            f"an acceptance must commit to a nonce of its own: this commitment is offer {ex.xid}'s"
        )
    return replace(ex, accept=st.sid, commit_b=st.body["commitment"])


def _refuse(ex: Exchange, st: Statement, received: datetime) -> Exchange:
    if st.party != ex.responder:
        raise VerificationError(f"only {ex.responder}, the addressee, can refuse offer {ex.xid}")
    _require_open(ex, st, received)
    return replace(ex, closed=Phase.REFUSED)


def _withdraw(ex: Exchange, st: Statement, received: datetime) -> Exchange:
    if st.party != ex.originator:
        raise VerificationError(f"only {ex.originator}, the offeror, can withdraw offer {ex.xid}")
    _require_open(ex, st, received)
    return replace(ex, closed=Phase.WITHDRAWN)


def _reveal(ex: Exchange, st: Statement, received: datetime) -> Exchange:
    if ex.accept is None:
        raise ConflictError(f"a reveal before acceptance of exchange {ex.xid} is refused")
    if ex.decision in (Phase.ABORTED, Phase.LAPSED) or received >= ex.deadline:
        raise ConflictError(f"exchange {ex.xid} is {ex.phase} or past its deadline: no more reveals")
    digest = hashlib.sha256(b64d(st.body["nonce"], "nonce")).hexdigest()
    if st.party == ex.originator and digest == ex.commit_a and not ex.nonce_a:
        return _maybe_concluded(replace(ex, nonce_a=True), received)
    if st.party == ex.responder and digest == ex.commit_b and not ex.nonce_b:
        return _maybe_concluded(replace(ex, nonce_b=True), received)
    mine = (ex.commit_a, ex.nonce_a) if st.party == ex.originator else (ex.commit_b, ex.nonce_b)
    if digest == mine[0] and mine[1]:
        raise ConflictError(f"{st.party} already revealed its nonce in exchange {ex.xid}")
    raise VerificationError(
        f"the nonce does not open a pending commitment of {st.party} in exchange {ex.xid}"
    )


def _maybe_concluded(ex: Exchange, received: datetime) -> Exchange:
    if ex.nonce_a and ex.nonce_b and ex.concluded is None:
        return replace(ex, concluded=received)
    return ex


def notary_decision(ex: Exchange, st: Statement, received: datetime) -> Phase:
    """The notary's decision on an abort or resolve request (ASW), or the reason it is refused."""
    if ex.decision is not None:
        raise ConflictError(
            f"exchange {ex.xid} was already decided: {ex.decision} (the first decision is final)"
        )
    if received >= ex.deadline:
        raise ConflictError(
            f"the deadline of exchange {ex.xid} has passed; the notary takes no more requests"
        )
    if ex.closed is not None:
        raise ConflictError(f"exchange {ex.xid} is {ex.closed}: there is nothing to decide")
    if st.kind == "abort":
        if st.party != ex.originator:
            raise VerificationError(
                f"only {ex.originator}, the originator, can ask to abort exchange {ex.xid}"
            )
        if ex.nonce_a:
            raise ConflictError(
                f"{ex.originator} already revealed its nonce in exchange {ex.xid}: too late to abort"
            )
        if ex.nonce_b:
            # the log already holds m1, m2 and nB: with its own nA the originator holds the contract,
            # so an abort would leave the responder without one and the record saying the opposite
            raise ConflictError(
                f"{ex.responder} already revealed its nonce in exchange {ex.xid}: {ex.originator} holds "
                "the contract; reveal your nonce instead of aborting"
            )
        return Phase.ABORTED
    if st.party not in (ex.originator, ex.responder):
        raise VerificationError(f"only the parties of exchange {ex.xid} can ask to resolve it")
    if ex.accept is None or st.body["accept"] != ex.accept:
        raise VerificationError(f"a resolve of exchange {ex.xid} must cite its logged acceptance")
    return Phase.RESOLVED


def _request(ex: Exchange, st: Statement, received: datetime) -> Exchange:
    decision = notary_decision(ex, st, received)
    concluded = received if decision == Phase.RESOLVED and ex.concluded is None else ex.concluded
    return replace(ex, decision=decision, concluded=concluded, request=st.sid)


def _apply_decision(ex: Exchange, st: Statement, received: datetime) -> Exchange:
    outcome = Phase(st.body["outcome"])
    _check_common(ex, st)
    if ex.decision_logged:
        raise ConflictError(f"exchange {ex.xid} already has a logged decision")
    if outcome == Phase.LAPSED:
        if ex.decision is not None or (ex.nonce_a and ex.nonce_b) or ex.closed is not None:
            raise ConflictError(f"exchange {ex.xid} cannot lapse: it is {ex.phase}")
        if received < ex.deadline:
            raise ConflictError(f"exchange {ex.xid} cannot lapse before its deadline")
        if (st.body["accept"], st.body["request"]) != (None, None):
            raise VerificationError("a lapsed decision answers no request and cites no acceptance")
        return replace(ex, decision=Phase.LAPSED, decision_logged=True)
    if ex.decision != outcome:
        raise ConflictError(
            f"the notary's decision {outcome} does not follow a request decided {ex.decision}"
        )
    if st.body["accept"] != (ex.accept if outcome == Phase.RESOLVED else None):
        raise VerificationError("a resolved decision cites exactly the logged acceptance")
    if st.body["request"] != ex.request:
        raise VerificationError(f"the notary's decision must cite request {ex.request}, the one it answers")
    return replace(ex, decision_logged=True)


_HANDLERS = {
    "accept": _accept,
    "refuse": _refuse,
    "withdraw": _withdraw,
    "reveal": _reveal,
    "abort": _request,
    "resolve": _request,
}


def lapse_due(ex: Exchange, now: datetime) -> bool:
    """Whether the notary must log ``lapsed`` for this exchange at ``now``."""
    undecided = ex.decision is None and ex.closed is None and not (ex.nonce_a and ex.nonce_b)
    return undecided and now >= ex.deadline
