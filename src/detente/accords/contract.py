"""The offline verifier of a contract: does a set of messages make a binding exchange of letters?

"Holds a contract" is decided here and only here, from messages alone (never from a status field): a
valid m1 and m2 signed under the parties' keysets, m2 citing h(m1), and either both nonces matching their
commitments (the standard contract ``(m1, nA, m2, nB)``) or a ``resolved`` decision citing h(m1) and
h(m2) signed by the notary key that m1 names (``S_T(m1, m2)``).

Messages that do not parse or whose signatures fail are ignored: a party's store may hold junk from an
adversary, and junk must never help make a contract.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from detente.errors import InputError
from detente.statements.canonical import b64d
from detente.statements.dsse import Envelope
from detente.statements.keys import PublicKey
from detente.statements.keysets import Keyset
from detente.statements.kinds import MINISTERS
from detente.statements.statement import Statement, open_statement


@dataclass(frozen=True)
class Trust:
    """What the verifier trusts: each party's keyset and the notary keys it knows by key id."""

    keysets: Mapping[str, Keyset] = field(hash=False)
    notaries: Mapping[str, PublicKey] = field(hash=False)


@dataclass(frozen=True)
class Contract:
    """A verified contract: the two letters' exchange and how it was completed."""

    xid: str
    offer: Statement
    accept: Statement
    by: str  # "nonces" or "notary"

    @property
    def parties(self) -> tuple[str, str]:
        """(originator, responder)."""
        return self.offer.party, self.accept.party


def _authorised(st: Statement, trust: Trust) -> bool:
    keyset = trust.keysets.get(st.party)
    if keyset is None:
        return False
    try:
        return keyset.authorised(st.envelope, MINISTERS) is not None
    except InputError:
        return False


def _open_all(envelopes: Iterable[Envelope]) -> list[Statement]:
    opened = []
    for env in envelopes:
        try:
            opened.append(open_statement(env))
        except InputError:
            continue
    return opened


def _nonce_hashes(statements: list[Statement], nonces: Iterable[bytes]) -> set[str]:
    raw = list(nonces)
    for st in statements:
        if st.kind == "reveal":
            raw.append(b64d(st.body["nonce"], "nonce"))
    return {hashlib.sha256(n).hexdigest() for n in raw}


def _notary_signed(decision: Statement, m1: Statement, trust: Trust) -> bool:
    keyid = m1.body["notary"]
    key = trust.notaries.get(keyid)
    if key is None or key.keyid != keyid:
        return False
    try:
        return keyid in decision.envelope.verified_by({keyid: key})
    except InputError:
        return False


def find_contract(
    envelopes: Iterable[Envelope],
    nonces: Iterable[bytes],
    trust: Trust,
    xid: str,
    authorised: Callable[[Statement], bool] | None = None,
) -> Contract | None:
    """Return a contract for exchange ``xid`` that the messages prove, or None.

    Args:
        authorised: decides whether a party's statement is validly signed; by default, under the
            keyset in ``trust`` (a bundle verifier passes its own, keyset-in-force, check).
    """
    statements = _open_all(envelopes)
    check = authorised or (lambda st: _authorised(st, trust))
    offers = [s for s in statements if s.kind in ("offer", "counter") and s.body["xid"] == xid and check(s)]
    hashes = _nonce_hashes(statements, nonces)
    for m1 in offers:
        accepts = [s for s in statements if s.kind == "accept" and s.body["offer"] == m1.sid]
        for m2 in accepts:
            if m2.body["xid"] != xid or m2.party != m1.body["to"] or not check(m2):
                continue
            commitments = (m1.body["commitment"], m2.body["commitment"])
            if commitments[0] != commitments[1] and hashes.issuperset(commitments):
                return Contract(xid, m1, m2, "nonces")
            for d in statements:
                if (
                    d.kind == "decision"
                    and d.body["outcome"] == "resolved"
                    and (d.body["xid"], d.body["offer"], d.body["accept"]) == (xid, m1.sid, m2.sid)
                    and _notary_signed(d, m1, trust)
                ):
                    return Contract(xid, m1, m2, "notary")
    return None
