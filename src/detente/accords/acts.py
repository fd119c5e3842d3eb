"""Builders for each act: a party's authority signs a statement (offline: no clock, no network).

Randomness (exchange ids, nonces) and dates are passed in, so the same inputs give the same signed
bytes (the golden vectors rely on it: Ed25519 signatures are deterministic).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from detente.statements.canonical import b64e
from detente.statements.keys import SigningKey
from detente.statements.statement import Statement, sign_statement


@dataclass(frozen=True)
class Authority:
    """A party acting through the keys of one role (enough of them to meet its threshold)."""

    party: str
    keys: tuple[SigningKey, ...]

    def sign(self, kind: str, issued: str, body: dict[str, Any]) -> Statement:
        """Sign a statement of ``kind`` as this party."""
        return sign_statement(kind, self.party, issued, body, self.keys)


def commitment(nonce: bytes) -> str:
    """The commitment to a nonce: hex SHA-256 of its 32 raw bytes."""
    return hashlib.sha256(nonce).hexdigest()


def offer(
    by: Authority, issued: str, *, xid: str, to: str, notary: str, deadline: str, terms: str, nonce: bytes,
    answers: str | None = None,
) -> Statement:  # fmt: skip
    """m1 (or a counter-offer when ``answers`` names the exchange it answers)."""
    body: dict[str, Any] = {
        "xid": xid, "to": to, "notary": notary, "deadline": deadline, "terms": terms,
        "commitment": commitment(nonce),
    }  # fmt: skip
    if answers is None:
        return by.sign("offer", issued, body)
    return by.sign("counter", issued, {**body, "answers": answers})


def accept(by: Authority, issued: str, m1: Statement, nonce: bytes) -> Statement:
    """m2 = S_B(h(m1), h(nB))."""
    return by.sign(
        "accept", issued, {"xid": m1.body["xid"], "offer": m1.sid, "commitment": commitment(nonce)}
    )


def refuse(by: Authority, issued: str, m1: Statement, reason: str) -> Statement:
    """Refuse an offer, with the reason given."""
    return by.sign("refuse", issued, {"xid": m1.body["xid"], "offer": m1.sid, "reason": reason})


def withdraw(by: Authority, issued: str, m1: Statement, reason: str) -> Statement:
    """Withdraw one's own offer before any acceptance."""
    return by.sign("withdraw", issued, {"xid": m1.body["xid"], "offer": m1.sid, "reason": reason})


def reveal(by: Authority, issued: str, m1: Statement, nonce: bytes) -> Statement:
    """Reveal the nonce behind one's commitment."""
    return by.sign("reveal", issued, {"xid": m1.body["xid"], "offer": m1.sid, "nonce": b64e(nonce)})


def abort(by: Authority, issued: str, m1: Statement) -> Statement:
    """Ask the notary to abort (the originator, before revealing)."""
    return by.sign("abort", issued, {"xid": m1.body["xid"], "offer": m1.sid})


def resolve(by: Authority, issued: str, m1: Statement, m2: Statement) -> Statement:
    """Ask the notary to resolve with m1 and m2."""
    return by.sign("resolve", issued, {"xid": m1.body["xid"], "offer": m1.sid, "accept": m2.sid})


def declaration(
    by: Authority, issued: str, *, did: str, to: str | None, clauses: Sequence[str], summary: str, text: str,
    effective: str, notice_days: int,
) -> Statement:  # fmt: skip
    """A unilateral declaration; ``text`` is the SHA-256 of its full text (a blob)."""
    body = {
        "did": did, "to": to, "clauses": list(clauses), "summary": summary, "text": text,
        "effective": effective, "notice_days": notice_days,
    }  # fmt: skip
    return by.sign("declaration", issued, body)


def termination(by: Authority, issued: str, ref: str, summary: str, effective: str) -> Statement:
    """Terminate an exchange or revoke a declaration, effective after notice."""
    return by.sign("termination", issued, {"ref": ref, "summary": summary, "effective": effective})


def protest(
    by: Authority, issued: str, *, pid: str, to: str, ref: str, clauses: Sequence[str], summary: str,
    text: str | None = None, incidents: Sequence[str] = (),
) -> Statement:  # fmt: skip
    """A protest citing clause ids of an exchange or declaration."""
    body = {
        "pid": pid, "to": to, "ref": ref, "clauses": list(clauses), "incidents": list(incidents),
        "summary": summary, "text": text,
    }  # fmt: skip
    return by.sign("protest", issued, body)


def reply(
    by: Authority, issued: str, pid: str, position: str, summary: str, text: str | None = None
) -> Statement:
    """A reply to a protest."""
    return by.sign("reply", issued, {"pid": pid, "position": position, "summary": summary, "text": text})


def incident_reply(
    by: Authority, issued: str, iid: str, position: str, summary: str, text: str | None = None
) -> Statement:
    """The origin state's answer to an incident."""
    return by.sign(
        "incident-reply", issued, {"iid": iid, "position": position, "summary": summary, "text": text}
    )
